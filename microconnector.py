"""The `microconnector` command: connector.py's CLI, started once the name
`connector` is known to mean the connector.py beside this file.

Lumos's SDK, connector-py, installs a package that is also called `connector`.
Installed side by side, the package wins (Python prefers a package to a module
of the same name), so `import connector` finds the other SDK and fails deep in
its imports. This entry point looks before it imports and, when the name is
taken, says by what and what to do. `python -m microconnector` does the same.
"""

from __future__ import annotations

import importlib.util
import os
import sys

__all__ = ["main"]


def main() -> int:
    """Runs `connector.main()`, or explains why `connector` is not ours (exit 2)."""
    ours = os.path.join(os.path.dirname(os.path.abspath(__file__)), "connector.py")
    found = _origin("connector")
    if found is None or not _same_file(found, ours):
        sys.stderr.write(_clash_message(found, ours))
        return 2
    import connector

    return connector.main()


def _origin(name: str) -> str | None:
    """The file `import name` would load, without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None


def _same_file(a: str, b: str) -> bool:
    """True when both name one existing file (a missing one is never the same)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _clash_message(found: str | None, ours: str) -> str:
    if found is None:
        return f"microconnector: `import connector` finds nothing ({ours} expected); reinstall\n"
    owners = _owners()
    by = f" (installed by {', '.join(owners)})" if owners else ""
    head = (
        f"microconnector: `import connector` finds {found}{by}, not microconnector's {ours}.\n"
        "Only one module named `connector` can be imported in an environment.\n"
    )
    if owners:
        return head + (
            f"Use a virtual environment without {' or '.join(owners)} for microconnector:"
            " `python -m venv VENV`, then `VENV/bin/python -m pip install` the wheel or"
            " checkout you installed microconnector from.\n"
        )
    return head + "Rename or move it, or run microconnector from another folder.\n"


def _owners() -> list[str]:
    """The installed distributions, other than microconnector, that provide `connector`."""
    from importlib import metadata

    try:
        provides = metadata.packages_distributions().get("connector", [])
    except Exception:  # a broken distribution's metadata must not hide the message
        return []
    return sorted({name for name in provides if name.lower() != "microconnector"})


if __name__ == "__main__":
    raise SystemExit(main())
