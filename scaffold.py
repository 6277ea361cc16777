"""scaffold.py - create a new connector project that works at once.

    python -m connector scaffold foo-bar ./foo-bar [--author A] [--email E] [--force]
                                                   [--vendor] [--multi-auth]
    scaffold.create("foo-bar", "./foo-bar", author="Ada", email="ada@example.com")
    scaffold.command("foo-bar", "./foo-bar", author=None, email=None, force=False,
                     vendor=False, multi_auth=False)   # create, then print what next

writes ``pyproject.toml``, the package ``foo_bar/`` (``integration.py`` with a
settings model, working ``validate_credentials`` and ``list_accounts`` calling
the upstream through ``integration.http_client`` (one shared connection pool),
``list_accounts`` paging with ``connector.Pages``, the other capabilities as
commented examples; ``__main__.py`` calling ``connector.run``), ``tests/`` that
pass out of the box against an in-process fake of the upstream (a
``MockTransport`` set with ``integration.configure_http``), the non-writing
conformance check included, ``README.md`` (which shows ``foo-bar check``) and
``.gitignore``. The templates live in this file as strings, after the code.

The project speaks the current API (4.x): its tests expect the bare canonical
error codes ("unauthorized", not "foo-bar.unauthorized") with their
``error_metadata``, and the ``app_info`` and ``probe_integration`` every
integration answers. With ``multi_auth`` (``--multi-auth``) the connector takes
two credentials by id, ``Integration(credentials=[CredentialConfig(...)])``:
"oauth", an OAuth access token for the API (``list_accounts``), and "scim", an
optional SCIM bearer token for provisioning (``create_account`` and
``delete_account`` on SCIM 2.0 ``/Users``).

Choices, in one place:

* Names: ``foo-bar``, ``foo_bar`` and ``Foo Bar`` all give the package
  ``foo_bar``, the app id and console script ``foo-bar`` and the title
  ``Foo Bar``. Letters, digits, ``-``, ``_`` and spaces only, starting with a
  letter, at most 40 characters; keywords and names that would shadow a module
  the project needs (``connector``, ``server``, ``scaffold``, ``tests``, the
  standard library, the runtime and test dependencies) are refused.
* The project depends on ``microconnector`` (this library's distribution name,
  not on PyPI). The printed next steps and the project's README install it
  from where this copy came from: the checkout connector.py runs from, else
  the wheel, folder or URL pip recorded for the installed distribution
  (``direct_url.json``); when none is known they recommend ``--vendor``. With
  ``vendor``, ``connector.py`` and ``server.py`` are copied from where the
  imported modules live and the project depends only on msgspec, anyio and
  httpcore.
* The settings model holds the upstream ``base_url`` (and, for
  ``multi_auth``, ``scim_url``) with no default: a request without them is a
  "bad_request", never a call to a placeholder host.
* A directory that exists and is not empty (hidden files count) is refused
  unless ``force``; with ``force`` the generated files replace files of the
  same path and everything else is left alone. Every file is written to a
  staging folder first and moved into place at the end; when anything fails,
  what was moved is taken back, replaced files are restored, and the staging
  folder is removed: nothing partial is left behind.
* Author and email come from the arguments, else ``git config user.name`` /
  ``user.email``, else placeholders; each must be one packaging tools accept
  (an email address such as ``name@example.com``, a name without line breaks):
  an unusable argument is refused, an unusable git value skipped. Nothing here
  ever reads stdin.

Licence: MIT.
"""

from __future__ import annotations

import contextlib
import keyword
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from string import Template
from typing import Final, NamedTuple

# `python -m scaffold` runs this file as __main__, and `main` goes through
# `connector.main`, which imports `scaffold`: alias this module first so that
# the file runs once (one ScaffoldError, one set of templates).
if __name__ == "__main__":
    sys.modules.setdefault("scaffold", sys.modules["__main__"])

import connector

__version__: Final = connector.__version__

__all__ = (
    "DISTRIBUTION",
    "Names",
    "ScaffoldError",
    "command",
    "create",
    "main",
    "names_for",
    "render",
)

# The distribution name of this library, which generated projects depend on.
DISTRIBUTION: Final = "microconnector"
# What a vendored project depends on instead (this library's runtime dependencies).
_RUNTIME_DEPENDENCIES: Final = ("msgspec>=0.18", "anyio>=4", "httpcore>=1.0")
_MAX_NAME: Final = 40
_DEFAULT_AUTHOR: Final = "Your Name"
_DEFAULT_EMAIL: Final = "you@example.com"
_GIT_TIMEOUT: Final = 5.0


# ---- Errors -------------------------------------------------------------------
# Raising strategy: every refusal and every failure to write (an OSError
# underneath) surfaces as one ScaffoldError with a message meant for the user;
# `connector.main` turns it into argparse's usage error (exit 2, no traceback).


class ScaffoldError(Exception):
    """The project cannot be created as asked; the message says why."""


# ---- Names ----------------------------------------------------------------------

# Modules a generated project imports or ships: a package of the same name
# would shadow them (or, for the distribution, clash with the dependency).
_RESERVED: Final[dict[str, str]] = {
    "connector": "the library module 'connector'",
    "server": "the library module 'server'",
    "scaffold": "the library module 'scaffold'",
    "tests": "the project's own 'tests' folder",
    "conftest": "pytest's 'conftest' module",
    DISTRIBUTION: f"the '{DISTRIBUTION}' library it depends on",
    "msgspec": "the dependency 'msgspec'",
    "anyio": "the dependency 'anyio'",
    "httpcore": "the dependency 'httpcore'",
    "h11": "the dependency 'h11'",
    "pytest": "the test dependency 'pytest'",
}
_ALLOWED: Final = re.compile(r"[A-Za-z0-9_ -]+")
_WORD_SEPARATORS: Final = re.compile(r"[-_ ]+")


class Names(NamedTuple):
    """Every spelling of a connector's name that the templates use."""

    package: str  # foo_bar: the Python package
    app_id: str  # foo-bar: Integration(app_id=...), the distribution and the console script
    title: str  # Foo Bar: what people read
    class_name: str  # FooBar: prefix of generated class names


def names_for(name: str) -> Names:
    """All spellings of `name`, or ScaffoldError saying why it cannot be a package.

    names_for("Foo Bar") == Names("foo_bar", "foo-bar", "Foo Bar", "FooBar")
    """
    text = name.strip()
    if not text:
        raise ScaffoldError("the connector name is empty")
    if not _ALLOWED.fullmatch(text):
        shown = "".join(dict.fromkeys(ch for ch in text if not _ALLOWED.fullmatch(ch)))
        raise ScaffoldError(
            f"{name!r} cannot become a Python package name: use ASCII letters, digits, "
            f"'-', '_' or spaces (it contains {shown!r})"
        )
    words = [word for word in _WORD_SEPARATORS.split(text) if word]
    if not words:
        raise ScaffoldError(f"{name!r} cannot become a Python package name: it has no letters")
    package = "_".join(words).lower()
    if not package[0].isalpha():
        raise ScaffoldError(
            f"{name!r} cannot become a Python package name: it must start with a letter"
        )
    if len(package) > _MAX_NAME:
        raise ScaffoldError(
            f"{name!r} is too long for a connector name ({len(package)} characters; "
            f"at most {_MAX_NAME})"
        )
    app_id = "-".join(words).lower()
    if keyword.iskeyword(package):
        raise ScaffoldError(
            f"{name!r} cannot become a Python package name: {package!r} is a Python keyword "
            f"(try {app_id + '-connector'!r})"
        )
    shadowed = _RESERVED.get(package)
    if shadowed is None and package in sys.stdlib_module_names:
        shadowed = f"the standard library module {package!r}"
    if shadowed is not None:
        raise ScaffoldError(
            f"{name!r} would give a package {package!r} that shadows {shadowed} "
            f"(try {app_id + '-connector'!r})"
        )
    title = " ".join(word[0].upper() + word[1:] for word in words)
    class_name = "".join(word[0].upper() + word[1:].lower() for word in words)
    return Names(package=package, app_id=app_id, title=title, class_name=class_name)


# ---- Rendering ------------------------------------------------------------------


def _toml_string(value: str) -> str:
    """A TOML basic string (escapes quotes, backslashes and control characters)."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_list(items: list[str]) -> str:
    return ", ".join(_toml_string(item) for item in items)


def render(
    names: Names,
    *,
    author: str,
    email: str,
    vendor: bool = False,
    multi_auth: bool = False,
) -> dict[str, str]:
    """The text files of a new project, by relative POSIX path (vendored modules excluded).

    files = render(names_for("foo-bar"), author="Ada", email="ada@example.com")

    `multi_auth` gives the two-credential connector (OAuth for the API, a SCIM
    token for provisioning) instead of the one-token one.
    """
    fields = {
        "package": names.package,
        "app_id": names.app_id,
        "title": names.title,
        "class_name": names.class_name,
        "base_url": f"https://api.{names.app_id}.example.com/v1",
        "scim_url": f"https://api.{names.app_id}.example.com/scim/v2",
        "distribution": DISTRIBUTION,
        "version": __version__,
    }
    if vendor:
        dependencies = list(_RUNTIME_DEPENDENCIES)
        include = [names.package, "connector.py", "server.py"]
        wheel_comment = (
            "# The vendored library modules install at the top level, beside the package."
        )
        ruff_exclude = 'extend-exclude = ["connector.py", "server.py"]  # vendored\n'
        install = _INSTALL_VENDORED.substitute(fields)
    else:
        dependencies = [f"{DISTRIBUTION}>={__version__}"]
        include = [names.package]
        wheel_comment = "# Only the package; tests and docs stay in the source tree."
        ruff_exclude = ""
        source = _library_source()
        if source is None:
            again_flags = " --multi-auth" if multi_auth else ""
            install = _INSTALL_UNKNOWN.substitute(fields, again_flags=again_flags)
        else:
            install = _INSTALL_LIBRARY.substitute(fields, source=shlex.quote(source))
    pyproject = _PYPROJECT.substitute(
        fields,
        author=_toml_string(author),
        email=_toml_string(email),
        dependencies=_toml_list(dependencies),
        wheel_comment=wheel_comment,
        wheel_include=_toml_list(include),
        ruff_exclude=ruff_exclude,
    )
    layout_entries = {
        Template(path).substitute(fields): Template(text).substitute(fields)
        for path, text in _LAYOUT.items()
        if vendor or path not in ("connector.py", "server.py")
    }
    width = max(len(path) for path in layout_entries) + 2
    layout = "\n".join(f"{path:<{width}}{text}" for path, text in layout_entries.items())
    readme = {
        key: Template(text).substitute(fields)
        for key, text in (_README_MULTI if multi_auth else _README_SINGLE).items()
    }
    package = names.package
    return {
        "pyproject.toml": pyproject,
        "README.md": _README.substitute(
            {**fields, **readme}, install_section=install, layout=layout
        ),
        ".gitignore": _GITIGNORE,
        f"{package}/__init__.py": _INIT.substitute(fields),
        f"{package}/__main__.py": _MAIN.substitute(fields),
        f"{package}/integration.py": _integration(fields, multi_auth),
        "tests/test_integration.py": _tests(fields, multi_auth),
    }


# Capabilities the multi-credential template implements: left out of its examples.
_MULTI_IMPLEMENTS: Final = frozenset(("create_account", "delete_account"))


def _integration(fields: dict[str, str], multi_auth: bool) -> str:
    """integration.py: the template with the shared parts and the examples it lacks."""
    examples = [
        Template(text).substitute(fields)
        for name, text in _EXAMPLES.items()
        if not (multi_auth and name in _MULTI_IMPLEMENTS)
    ]
    template = _MULTI_INTEGRATION if multi_auth else _INTEGRATION
    return template.substitute(
        fields,
        upstream=_UPSTREAM,
        helpers=_HELPERS,
        list_accounts=_LIST_ACCOUNTS.substitute(fields),
        examples="\n\n".join(examples),
    )


def _tests(fields: dict[str, str], multi_auth: bool) -> str:
    """tests/test_integration.py, with the fake upstream (and SCIM, for multi_auth)."""
    fake_api = _FAKE_API.substitute(
        fields,
        scim_route=_SCIM_ROUTE if multi_auth else "",
        scim_methods=_SCIM_METHODS if multi_auth else "",
    )
    template = _MULTI_TESTS if multi_auth else _TESTS
    return template.substitute(fields, fake_api=fake_api, sample_requests=_SAMPLE_REQUESTS)


# ---- Author, email and the vendored modules ---------------------------------------


def _git_config(key: str, cwd: Path) -> str | None:
    """`git config --get key` run in `cwd`; None when git is missing, slow or unset."""
    try:
        done = subprocess.run(
            ["git", "config", "--get", key],
            cwd=cwd,
            stdin=subprocess.DEVNULL,  # never wait for input
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip() if done.returncode == 0 else ""
    return value or None


def _acceptable(author: str, email: str) -> bool:
    """Whether packaging tools take this author and email (hatchling checks both so)."""
    from email.headerregistry import Address

    try:
        Address(display_name=author, addr_spec=email)
    except Exception:  # HeaderParseError, a defect (ValueError), IndexError, ...
        return False
    return True


def _author_and_email(author: str | None, email: str | None, where: Path) -> tuple[str, str]:
    """The arguments if given (refused if unusable), else git config, else placeholders."""
    if author and not _acceptable(author.strip(), _DEFAULT_EMAIL):
        raise ScaffoldError(f"author {author!r} cannot be used: no line breaks, please")
    if email and not _acceptable(_DEFAULT_AUTHOR, email.strip()):
        raise ScaffoldError(f"email {email!r} is not an address such as name@example.com")
    if not author:
        found = _git_config("user.name", where)
        author = found if found and _acceptable(found, _DEFAULT_EMAIL) else _DEFAULT_AUTHOR
    if not email:
        found = _git_config("user.email", where)
        email = found if found and _acceptable(_DEFAULT_AUTHOR, found) else _DEFAULT_EMAIL
    return author.strip(), email.strip()


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


def _vendored_sources() -> dict[str, Path]:
    """connector.py and server.py as imported here: what `vendor` copies."""
    import importlib.util

    found: dict[str, Path] = {}
    core = getattr(connector, "__file__", None)
    if not core or not core.endswith(".py") or not os.path.isfile(core):
        raise ScaffoldError(f"--vendor needs connector.py as a source file (found {core!r})")
    found["connector.py"] = Path(core)
    # server.py beside connector.py first: an unrelated server.py in the current
    # folder (first on sys.path under `python -m`) must not be vendored instead.
    beside = Path(core).with_name("server.py")
    if beside.is_file():
        found["server.py"] = beside
    else:
        module = sys.modules.get("server")
        origin = getattr(module, "__file__", None)
        if origin is None:
            spec = importlib.util.find_spec("server")
            origin = spec.origin if spec is not None else None
        if not origin or not origin.endswith(".py") or not os.path.isfile(origin):
            raise ScaffoldError("--vendor needs server.py; it is not importable here")
        found["server.py"] = Path(origin)
    return found


# ---- Writing ------------------------------------------------------------------------
# Files go to a staging folder first (beside a new target, inside an existing
# one: the same file system either way, so moves are renames). A new target is
# then one rename of the staging folder; an existing one gets each file moved
# in, replaced files kept aside until the end. Any failure undoes the moves,
# puts replaced files back and removes the staging folder and any folder made.


# ("dir", folder made, None) or ("file", destination, where the replaced file waits | None)
_Undo = tuple[str, Path, Path | None]


class _Created(NamedTuple):
    files: list[Path]
    replaced: list[Path]


def _write_file(path: Path, data: str | bytes) -> None:
    """Writes one staged file (tests patch it to simulate a full disk)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)


def _make_staging(parent: Path, stem: str) -> Path:
    # os.mkdir (not mkdtemp) so that the folder gets the umask's permissions:
    # for a new target it becomes the project folder itself.
    for _ in range(100):
        path = parent / f".{stem}.scaffold-{secrets.token_hex(4)}"
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"cannot create a staging folder in {parent}")


def _check_target(target: Path, relative: list[str], force: bool) -> list[str]:
    """Refusals that need no writing; returns the relative paths that would be replaced."""
    if target.exists() and not target.is_dir():
        raise ScaffoldError(f"{target} exists and is not a directory")
    if not target.exists():
        for ancestor in target.parents:
            if ancestor.exists():
                if not ancestor.is_dir():
                    raise ScaffoldError(f"cannot create {target}: {ancestor} is not a directory")
                break
        return []
    entries = sorted(entry.name for entry in target.iterdir())
    if entries and not force:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise ScaffoldError(
            f"{target} is not empty ({shown}); use --force to write into it "
            "(generated files replace files of the same name, others are left alone)"
        )
    replaced = []
    for rel in relative:
        dest = target / rel
        for parent in reversed(Path(rel).parents[:-1]):
            node = target / parent
            if (node.exists() or node.is_symlink()) and not node.is_dir():
                raise ScaffoldError(f"cannot write {dest}: {node} is not a directory")
        if dest.is_dir() and not dest.is_symlink():
            raise ScaffoldError(f"cannot write {dest}: it is a directory")
        if dest.exists() or dest.is_symlink():
            replaced.append(rel)
    return replaced


def _move_into(staging: Path, target: Path, relative: list[str], undo: list[_Undo]) -> None:
    """Moves each staged file into the existing `target`, recording how to undo it."""
    backups = staging / ".replaced"
    for rel in relative:
        dest = target / rel
        for parent in reversed(Path(rel).parents[:-1]):
            node = target / parent
            if not node.is_dir():
                os.mkdir(node)
                undo.append(("dir", node, None))
        backup: Path | None = None
        if dest.exists() or dest.is_symlink():
            backup = backups / rel
            backup.parent.mkdir(parents=True, exist_ok=True)
            os.replace(dest, backup)
        undo.append(("file", dest, backup))
        os.replace(staging / rel, dest)


def _undo(undo: list[_Undo]) -> None:
    for kind, path, backup in reversed(undo):
        with contextlib.suppress(OSError):  # best effort: undo the rest regardless
            if kind == "dir":
                os.rmdir(path)
            elif backup is not None:
                os.replace(backup, path)
            elif path.exists() or path.is_symlink():
                os.remove(path)


def _create(
    name: str,
    directory: str | os.PathLike[str],
    *,
    author: str | None,
    email: str | None,
    force: bool,
    vendor: bool,
    multi_auth: bool = False,
) -> _Created:
    names = names_for(name)
    target = Path(directory).absolute()
    author, email = _author_and_email(author, email, _existing_ancestor(target))
    rendered = render(names, author=author, email=email, vendor=vendor, multi_auth=multi_auth)
    files: dict[str, str | bytes] = dict(rendered)
    sources = _vendored_sources() if vendor else {}
    relative = sorted([*files, *sources])
    replaced = _check_target(target, relative, force)

    made: list[Path] = []  # folders above a new target, created here
    undo: list[_Undo] = []  # moves into an existing target
    staging: Path | None = None
    try:
        existed = target.is_dir()
        if not existed:
            for ancestor in reversed(target.parents):
                if not ancestor.is_dir():
                    os.mkdir(ancestor)
                    made.append(ancestor)
        staging = _make_staging(target if existed else target.parent, target.name or "project")
        for rel in relative:
            data = sources[rel].read_bytes() if rel in sources else files[rel]
            _write_file(staging / rel, data)
        if existed:
            _move_into(staging, target, relative, undo)
            shutil.rmtree(staging, ignore_errors=True)  # with the replaced files
        else:
            os.rename(staging, target)  # the staging folder becomes the project
        staging = None
    except BaseException as exc:
        _undo(undo)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
            if exc.filename:
                reason += f": {exc.filename}"
            raise ScaffoldError(
                f"could not create {target} ({reason}); nothing was left behind"
            ) from exc
        raise
    return _Created(
        files=[target / rel for rel in relative], replaced=[target / rel for rel in replaced]
    )


def create(
    name: str,
    directory: str | os.PathLike[str],
    *,
    author: str | None = None,
    email: str | None = None,
    force: bool = False,
    vendor: bool = False,
    multi_auth: bool = False,
) -> list[Path]:
    """Writes a new connector project into `directory`; returns the files' absolute paths.

    create("foo-bar", "./foo-bar", author="Ada", email="ada@example.com", vendor=True)

    `multi_auth` writes the two-credential connector (see `render`).

    Raises ScaffoldError (nothing written) for a bad name or a non-empty folder
    without `force`, and (nothing left behind) when writing fails.
    """
    created = _create(
        name,
        directory,
        author=author,
        email=email,
        force=force,
        vendor=vendor,
        multi_auth=multi_auth,
    )
    return created.files


# ---- CLI ------------------------------------------------------------------------------


def command(
    name: str,
    directory: str | os.PathLike[str],
    *,
    author: str | None = None,
    email: str | None = None,
    force: bool = False,
    vendor: bool = False,
    multi_auth: bool = False,
) -> int:
    """`python -m connector scaffold NAME DIRECTORY ...`: creates, prints what next, returns 0.

    command("foo-bar", "./foo-bar", author=None, email=None, force=False, vendor=False)

    Plain values in, so that no argparse Namespace crosses modules. A refusal or
    a failure to write raises ScaffoldError (nothing left behind), whose message
    is meant for the user: `connector.main` makes it a usage error (exit 2).
    """
    created = _create(
        name,
        directory,
        author=author,
        email=email,
        force=force,
        vendor=vendor,
        multi_auth=multi_auth,
    )
    names = names_for(name)
    root = Path(directory).absolute()
    lines = [f"Created the {names.title} connector in {os.fspath(directory)}:"]
    replaced = set(created.replaced)
    for path in created.files:
        note = "  (replaced)" if path in replaced else ""
        lines.append(f"  {path.relative_to(root).as_posix()}{note}")
    lines += ["", "Next:"]
    source = None if vendor else _library_source()
    if not vendor and source is None:
        again = [name, os.fspath(directory), "--vendor", "--force"]
        if multi_auth:
            again.append("--multi-auth")
        for flag, value in (("--author", author), ("--email", email)):
            if value:
                again += [flag, value]
        lines += [
            f"  # {DISTRIBUTION} is not on PyPI, and where this copy was installed from is",
            "  # unknown: carry its two modules inside the project instead, with",
            "  python -m connector scaffold " + " ".join(map(shlex.quote, again)),
            f"  # (or pip install a {DISTRIBUTION} checkout or wheel after activating the venv).",
        ]
    lines.append(f"  cd {shlex.quote(os.fspath(directory))}")
    lines.append("  python -m venv .venv && . .venv/bin/activate")
    if source is not None:
        lines.append(f"  pip install {shlex.quote(source)}")
    lines += [
        "  pip install -e '.[test]'",
        "  pytest",
        f"  {names.app_id} info --pretty",
    ]
    print("\n".join(lines))
    return 0


def _library_source() -> str | None:
    """What `pip install` takes to install this library here, or None when unknown.

    The checkout connector.py runs from (a pyproject.toml naming DISTRIBUTION
    beside it: a clone, or an editable install), else where the installed
    distribution came from, as pip recorded it in its direct_url.json (PEP 610).
    An install from an index records nothing (and the library is not on PyPI);
    a vendored copy belongs to no distribution: None, and the printed steps and
    the README recommend `--vendor`.
    """
    import tomllib

    core = getattr(connector, "__file__", None)
    if not core:
        return None
    here = Path(core).absolute().parent
    try:
        with open(here / "pyproject.toml", "rb") as file:
            if tomllib.load(file).get("project", {}).get("name") == DISTRIBUTION:
                return str(here)
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        pass
    return _installed_source(Path(core))


def _installed_source(core: Path) -> str | None:
    """The install source of the distribution that `core` (connector.py) belongs to."""
    import importlib.metadata
    import json
    from urllib.parse import urlsplit, urlunsplit
    from urllib.request import url2pathname

    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
        # Only the distribution this connector.py was installed by (not another
        # copy elsewhere on the path, nor one that a vendored copy shadows).
        if Path(str(dist.locate_file("connector.py"))).resolve() != core.resolve():
            return None
        info = json.loads(dist.read_text("direct_url.json") or "null")
    except (importlib.metadata.PackageNotFoundError, OSError, ValueError):
        return None
    url = info.get("url") if isinstance(info, dict) else None
    if not isinstance(url, str) or not url:
        return None
    parts = urlsplit(url)
    if parts.password:  # credentials stay out of what is printed and written
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        url = urlunsplit(parts)
    subdirectory = info.get("subdirectory")
    fragment = f"#subdirectory={subdirectory}" if isinstance(subdirectory, str) else ""
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("vcs"), str):
        revision = vcs.get("commit_id") or vcs.get("requested_revision")
        at = f"@{revision}" if isinstance(revision, str) and revision else ""
        return f"{DISTRIBUTION} @ {vcs['vcs']}+{url}{at}{fragment}"
    if parts.scheme == "file":
        path = Path(url2pathname(parts.path))
        if isinstance(subdirectory, str):
            path /= subdirectory
        return str(path) if path.exists() else None  # a wheel or folder since removed: None
    if parts.scheme in ("http", "https"):
        return f"{DISTRIBUTION} @ {url}{fragment}"
    return None


def main(argv: list[str] | None = None, *, prog: str = "python -m scaffold") -> int:
    """`python -m connector scaffold NAME DIRECTORY ...` (or `python -m scaffold ...`):
    this module owns the sub-command's options; connector.py only hands argv over."""
    import argparse

    parser = argparse.ArgumentParser(
        prog=prog, description="Create a new connector project whose tests pass at once."
    )
    parser.add_argument("name", metavar="NAME", help="connector name, e.g. foo-bar")
    parser.add_argument("directory", metavar="DIRECTORY", help="where to create the project")
    parser.add_argument("--author", help="author name (default: git config user.name)")
    parser.add_argument("--email", help="author email (default: git config user.email)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty directory")
    parser.add_argument(
        "--vendor", action="store_true", help="copy connector.py and server.py into the project"
    )
    parser.add_argument(
        "--multi-auth",
        action="store_true",
        help="two credentials: OAuth for the API, a SCIM token for provisioning",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return command(
            args.name,
            args.directory,
            author=args.author,
            email=args.email,
            force=args.force,
            vendor=args.vendor,
            multi_auth=args.multi_auth,
        )
    except ScaffoldError as exc:
        parser.error(str(exc))


# ---- Templates --------------------------------------------------------------------
# string.Template placeholders ($package, $app_id, $title, $class_name, ...), so
# that the braces of Python and TOML need no escaping. The generated code passes
# `ruff check` and `ruff format --check` under the pyproject it comes with.

_PYPROJECT: Final = Template(
    """\
[build-system]
requires = ["hatchling>=1.18"]
build-backend = "hatchling.build"

[project]
name = "$app_id"
dynamic = ["version"]
description = "$title connector: identity-platform capabilities on microconnector."
readme = "README.md"
requires-python = ">=3.11"
authors = [{ name = $author, email = $email }]
dependencies = [$dependencies]

[project.optional-dependencies]
test = ["pytest>=8"]
dev = ["ruff>=0.6"]

[project.scripts]
$app_id = "$package.__main__:main"

[tool.hatch.version]
path = "$package/__init__.py"

[tool.hatch.build.targets.wheel]
$wheel_comment
only-include = [$wheel_include]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
addopts = "-q"

[tool.ruff]
line-length = 100
target-version = "py311"
$ruff_exclude
[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "SIM", "RUF"]

[tool.ruff.lint.isort]
known-first-party = ["$package"]
known-third-party = ["connector", "server"]
"""
)

_INIT: Final = Template(
    '''\
"""The $title connector, built on microconnector.

Its capabilities are in `$package.integration`.
"""

__version__ = "0.1.0"
'''
)

_MAIN: Final = Template(
    '''\
"""The command line: info, one sub-command per capability, serve.

Installed as the `$app_id` console script;
`python -m $package` runs it too.
"""

import connector

from $package.integration import integration


def main() -> None:
    """Entry point of the `$app_id` console script."""
    connector.run(integration)


if __name__ == "__main__":
    main()
'''
)

_INTEGRATION: Final = Template(
    '''\
"""$title connector: capabilities, settings and upstream calls.

Each capability takes one request envelope and returns one response. What a
capability raises becomes an error envelope with a canonical `error_code` and
its `error_metadata` (whose fault it is, whether a retry or a credential
refresh can help). A ConnectorError keeps its code, and the typed ones pick
theirs (NotFoundError "not_found", ConflictError "conflict",
InvalidPageTokenError "invalid_page_token", RateLimitError "rate_limit", ...);
an upstream 401 becomes "unauthorized" (refreshable), 403
"permission_denied", 404 "not_found", 409 "conflict", 429 "rate_limit"
(retryable, after the upstream's Retry-After), 500/502/504 "bad_gateway" and
503 "service_error"; any other exception is an "internal_error". Besides the
capabilities below, every integration answers `app_info` and
`probe_integration` on its own.

The upstream API assumed here is a small REST API (GET /me, GET /users with a
cursor): adapt the structs and paths below to the real one.
"""

from typing import TypeVar
from urllib.parse import quote

import msgspec
from connector import (
    AccountStatus,
    AccountType,
    AppCategory,
    ConnectorError,
    DescriptionData,
    ErrorCode,
    FoundAccountData,
    HTTPClient,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
    Pages,
    Response,
    TokenCredential,
    ValidateCredentialsRequest,
    ValidateCredentialsResponse,
    ValidatedCredentials,
    get_token_auth,
)

from $package import __version__

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100  # accounts per platform page when the request names no size
UPSTREAM_PAGE_SIZE = 100  # users asked of the upstream per request (its `limit`)


class ${class_name}Settings(msgspec.Struct, kw_only=True):
    """Per-tenant settings: the `settings` object of each request envelope.

    Required, with no default: a request without them is a "bad_request"
    naming the missing field, before any capability runs.
    """

    base_url: str  # the tenant's API root, such as "https://api.example.com/v1"


integration = Integration(
    app_id="$app_id",
    version=__version__,
    auth=TokenCredential,
    settings_model=${class_name}Settings,
    description_data=DescriptionData(
        user_friendly_name="$title",
        description="Identity governance for $title.",
        categories=[AppCategory.OTHER],
        logo_url=None,
    ),
    # With list_resources and list_entitlements, declare their types:
    # needs: EntitlementType, ResourceType
    # resource_types=[ResourceType(type_id="workspace", type_label="Workspace")],
    # entitlement_types=[
    #     EntitlementType(type_id="group", type_label="Group", resource_type_id="workspace", min=0)
    # ],
)


$upstream

def client(
    request: object,
    settings: ${class_name}Settings,
) -> HTTPClient:
    """An HTTP client for the tenant's API, sending the request's token as a bearer token.

    `integration.http_client` clients share one connection pool (and the rate
    limits) across calls; tests answer them in-process with
    `integration.configure_http(transport=MockTransport(...))`.
    """
    token = get_token_auth(request).token
    return integration.http_client(settings.base_url, bearer_token=token)


$helpers

# ---- Capabilities ------------------------------------------------------------------


@integration.capability
async def validate_credentials(
    request: ValidateCredentialsRequest,
    settings: ${class_name}Settings,
) -> ValidateCredentialsResponse:
    async with client(request, settings) as api:
        me = decode(await api.get("/me"), Me)
    return ValidateCredentialsResponse(
        response=ValidatedCredentials(valid=True, unique_tenant_id=me.tenant_id)
    )


$list_accounts

# ---- More capabilities -------------------------------------------------------------
# The platform calls only what a connector registers, and `info` lists exactly
# that (with app_info and probe_integration, which every integration answers).
# To add one: uncomment it, add the names after "needs:" to the imports from
# connector above, point it at the real endpoint, and teach the fake API in
# tests/test_integration.py to answer it. For OAuth instead of a token, pass
# `auth=OAuthCredential` and `oauth_settings=OAuthSettings(...)` (which registers
# the OAuth capabilities), and use `get_oauth(request).access_token` in `client`.
# For several credentials at once (an API token and a SCIM token, say), see the
# project `python -m connector scaffold NAME DIR --multi-auth` writes.


$examples'''
)

# What both integration templates share: the upstream's structs, the helpers
# around them, list_accounts, and the commented examples.
_UPSTREAM: Final = """\
# ---- The upstream API ------------------------------------------------------------
# What the upstream API answers, as msgspec structs: decoding checks the shape,
# and fields not listed here are ignored.


class Me(msgspec.Struct):
    tenant_id: str


class User(msgspec.Struct):
    id: str
    email: str | None = None
    username: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    active: bool = True


class UsersPage(msgspec.Struct):
    users: list[User]
    next_cursor: str | None = None
"""

_HELPERS: Final = '''\
def decode(response: Response, model: type[T]) -> T:
    """The upstream's JSON body as `model`; an HTTP error status or a bad body raises."""
    try:
        return msgspec.json.decode(response.raise_for_status().content, type=model)
    except msgspec.DecodeError as exc:
        message = f"Unexpected answer from the upstream API: {exc}"
        raise ConnectorError(message, ErrorCode.INVALID_RESPONSE) from None


def convert(value: object, model: type[T]) -> T:
    """Decoded JSON (the items `Pages` found, say) as `model`; a bad shape raises."""
    try:
        return msgspec.convert(value, type=model)
    except msgspec.ValidationError as exc:
        message = f"Unexpected answer from the upstream API: {exc}"
        raise ConnectorError(message, ErrorCode.INVALID_RESPONSE) from None


def segment(value: str) -> str:
    """`value` quoted as one URL path segment, so that an id with "/" stays one id."""
    return quote(value, safe="")


def account_data(user: User) -> FoundAccountData:
    """An upstream user as the platform's account."""
    return FoundAccountData(
        integration_specific_id=user.id,
        email=user.email,
        username=user.username,
        given_name=user.given_name,
        family_name=user.family_name,
        user_status=AccountStatus.ACTIVE if user.active else AccountStatus.INACTIVE,
        account_type=AccountType.USER,
    )
'''

_LIST_ACCOUNTS: Final = Template(
    """\
@integration.capability
async def list_accounts(
    request: ListAccountsRequest,
    settings: ${class_name}Settings,
) -> ListAccountsResponse:
    # The upstream pages with a cursor in the body (`next_cursor`); `fill` fetches
    # its pages until the platform's page is full and returns the platform's
    # opaque, tamper-evident token (a token not issued here: "invalid_page_token").
    # Pass `key=` to sign the tokens with a secret of yours.
    params = {"limit": UPSTREAM_PAGE_SIZE}
    async with client(request, settings) as api:
        users = Pages.cursor(api, "/users", items="users", params=params)
        found, page = await users.fill(request, default_size=DEFAULT_PAGE_SIZE)
    accounts = [account_data(user) for user in convert(found, list[User])]
    return ListAccountsResponse(response=accounts, page=page)
"""
)

# The commented examples, by capability; a template leaves out the ones it
# implements. Each starts with the line "# needs:" naming what to import.
_EXAMPLES: Final[dict[str, str]] = {
    "list_resources": """\
# needs: FoundResourceData, ListResourcesRequest, ListResourcesResponse
# @integration.capability
# async def list_resources(
#     request: ListResourcesRequest,
#     settings: ${class_name}Settings,
# ) -> ListResourcesResponse:
#     async with client(request, settings) as api:
#         rows = decode(await api.get("/workspaces"), list[dict[str, str]])
#     resources = [
#         FoundResourceData(
#             integration_specific_id=row["id"], label=row["name"], resource_type="workspace"
#         )
#         for row in rows
#     ]
#     return ListResourcesResponse(response=resources)
""",
    "list_entitlements": """\
# needs: FoundEntitlementData, ListEntitlementsRequest, ListEntitlementsResponse
# @integration.capability
# async def list_entitlements(
#     request: ListEntitlementsRequest,
#     settings: ${class_name}Settings,
# ) -> ListEntitlementsResponse:
#     async with client(request, settings) as api:
#         rows = decode(await api.get("/groups"), list[dict[str, str]])
#     entitlements = [
#         FoundEntitlementData(
#             integration_specific_id=row["id"],
#             integration_specific_resource_id=row["workspace_id"],
#             entitlement_type="group",
#             label=row["name"],
#             is_assignable=True,
#         )
#         for row in rows
#     ]
#     return ListEntitlementsResponse(response=entitlements)
""",
    "find_entitlement_associations": """\
# needs: FindEntitlementAssociationsRequest, FindEntitlementAssociationsResponse,
#        FoundEntitlementAssociation
# @integration.capability
# async def find_entitlement_associations(
#     request: FindEntitlementAssociationsRequest,
#     settings: ${class_name}Settings,
# ) -> FindEntitlementAssociationsResponse:
#     async with client(request, settings) as api:
#         rows = decode(await api.get("/memberships"), list[dict[str, str]])
#     associations = [
#         FoundEntitlementAssociation(
#             account_id=row["user_id"],
#             integration_specific_entitlement_id=row["group_id"],
#             integration_specific_resource_id=row["workspace_id"],
#         )
#         for row in rows
#     ]
#     return FindEntitlementAssociationsResponse(response=associations)
""",
    "get_last_activity": """\
# needs: GetLastActivityRequest, GetLastActivityResponse, LastActivityData
# @integration.capability
# async def get_last_activity(
#     request: GetLastActivityRequest,
#     settings: ${class_name}Settings,
# ) -> GetLastActivityResponse:
#     params = {"user_id": request.request.account_ids}  # a list repeats the key
#     async with client(request, settings) as api:
#         rows = decode(await api.get("/logins", params=params), list[dict[str, str]])
#     activity = [
#         LastActivityData(account_id=row["user_id"], event_type="login", happened_at=row["at"])
#         for row in rows
#     ]
#     return GetLastActivityResponse(response=activity)
""",
    "get_account": """\
# needs: GetAccountRequest, GetAccountResponse, NotFoundError
# @integration.capability
# async def get_account(
#     request: GetAccountRequest,
#     settings: ${class_name}Settings,
# ) -> GetAccountResponse:
#     account_id = request.request.account_id
#     async with client(request, settings) as api:
#         answer = await api.get(f"/users/{segment(account_id)}")
#     if answer.status_code == 404:  # not_found either way; this says which account
#         raise NotFoundError(f"No account {account_id!r}")
#     return GetAccountResponse(response=account_data(decode(answer, User)))
""",
    "list_updated_accounts": """\
# needs: ListUpdatedAccountsRequest, ListUpdatedAccountsResponse, UpdatedAccounts
# @integration.capability
# async def list_updated_accounts(
#     request: ListUpdatedAccountsRequest,
#     settings: ${class_name}Settings,
# ) -> ListUpdatedAccountsResponse:
#     # The accounts changed `since` a time (ISO 8601), or after the `cursor` returned
#     # last time: the platform keeps the cursor and sends it back on its next sync.
#     wanted = request.request
#     params = {"updated_since": wanted.since, "cursor": wanted.cursor}
#     async with client(request, settings) as api:
#         found = decode(await api.get("/users", params=params), UsersPage)
#     accounts = [account_data(user) for user in found.users]
#     updated = UpdatedAccounts(accounts=accounts, cursor=found.next_cursor)
#     return ListUpdatedAccountsResponse(response=updated)
""",
    "assign_entitlement": """\
# needs: AssignedEntitlement, AssignEntitlementRequest, AssignEntitlementResponse
# @integration.capability
# async def assign_entitlement(
#     request: AssignEntitlementRequest,
#     settings: ${class_name}Settings,
# ) -> AssignEntitlementResponse:
#     wanted = request.request
#     group = segment(wanted.entitlement_integration_specific_id)
#     member = {"user_id": wanted.account_integration_specific_id}
#     async with client(request, settings) as api:
#         (await api.post(f"/groups/{group}/members", json=member)).raise_for_status()
#     return AssignEntitlementResponse(response=AssignedEntitlement(assigned=True))
""",
    "unassign_entitlement": """\
# needs: UnassignedEntitlement, UnassignEntitlementRequest, UnassignEntitlementResponse
# @integration.capability
# async def unassign_entitlement(
#     request: UnassignEntitlementRequest,
#     settings: ${class_name}Settings,
# ) -> UnassignEntitlementResponse:
#     wanted = request.request
#     group = segment(wanted.entitlement_integration_specific_id)
#     user = segment(wanted.account_integration_specific_id)
#     async with client(request, settings) as api:
#         (await api.delete(f"/groups/{group}/members/{user}")).raise_for_status()
#     return UnassignEntitlementResponse(response=UnassignedEntitlement(unassigned=True))
""",
    "create_account": """\
# needs: CreateAccountRequest, CreateAccountResponse, CreatedAccount
# @integration.capability
# async def create_account(
#     request: CreateAccountRequest,
#     settings: ${class_name}Settings,
# ) -> CreateAccountResponse:
#     wanted = request.request
#     user = {
#         "email": wanted.email,
#         "username": wanted.username,
#         "given_name": wanted.given_name,
#         "family_name": wanted.family_name,
#     }
#     async with client(request, settings) as api:  # an upstream 409 becomes "conflict"
#         row = decode(await api.post("/users", json=user), dict[str, str])
#     created = CreatedAccount(id=row["id"], status=AccountStatus.ACTIVE, created=True)
#     return CreateAccountResponse(response=created)
""",
    "update_account": """\
# needs: UpdateAccount, UpdateAccountRequest, UpdateAccountResponse, UpdatedEffect,
#        execution_summary
# @integration.capability
# async def update_account(
#     request: UpdateAccountRequest,
#     settings: ${class_name}Settings,
# ) -> UpdateAccountResponse:
#     # The payload names only the account (`id`): send the change the upstream needs.
#     account_id = request.request.id
#     changes: dict[str, str] = {}
#     async with client(request, settings) as api:
#         (await api.patch(f"/users/{segment(account_id)}", json=changes)).raise_for_status()
#     return UpdateAccountResponse(
#         response=UpdateAccount(id=account_id),
#         execution_summary=execution_summary(request, UpdatedEffect()),
#     )
""",
    "activate_account": """\
# needs: ActivateAccountRequest, ActivateAccountResponse, ActivatedAccount
# @integration.capability
# async def activate_account(
#     request: ActivateAccountRequest,
#     settings: ${class_name}Settings,
# ) -> ActivateAccountResponse:
#     user = segment(request.request.account_id)
#     async with client(request, settings) as api:
#         (await api.patch(f"/users/{user}", json={"active": True})).raise_for_status()
#     return ActivateAccountResponse(
#         response=ActivatedAccount(status=AccountStatus.ACTIVE, activated=True)
#     )
""",
    "deactivate_account": """\
# needs: DeactivateAccountRequest, DeactivateAccountResponse, DeactivatedAccount
# @integration.capability
# async def deactivate_account(
#     request: DeactivateAccountRequest,
#     settings: ${class_name}Settings,
# ) -> DeactivateAccountResponse:
#     user = segment(request.request.account_id)
#     async with client(request, settings) as api:
#         (await api.patch(f"/users/{user}", json={"active": False})).raise_for_status()
#     return DeactivateAccountResponse(
#         response=DeactivatedAccount(status=AccountStatus.INACTIVE, deactivated=True)
#     )
""",
    "delete_account": """\
# needs: DeleteAccountRequest, DeleteAccountResponse, DeletedAccount
# @integration.capability
# async def delete_account(
#     request: DeleteAccountRequest,
#     settings: ${class_name}Settings,
# ) -> DeleteAccountResponse:
#     user = segment(request.request.account_id)
#     async with client(request, settings) as api:
#         (await api.delete(f"/users/{user}")).raise_for_status()
#     return DeleteAccountResponse(
#         response=DeletedAccount(status=AccountStatus.DELETED, deleted=True)
#     )
""",
    "list_custom_attributes_schema": """\
# needs: CustomAttributeCustomizedType, CustomAttributeSchema, CustomAttributeType,
#        ListCustomAttributesSchemaRequest, ListCustomAttributesSchemaResponse
# @integration.capability
# async def list_custom_attributes_schema(
#     request: ListCustomAttributesSchemaRequest,
# ) -> ListCustomAttributesSchemaResponse:
#     department = CustomAttributeSchema(
#         customized_type=CustomAttributeCustomizedType.ACCOUNT,
#         name="department",
#         attribute_type=CustomAttributeType.STRING,
#     )
#     return ListCustomAttributesSchemaResponse(response=[department])
""",
}


_MULTI_INTEGRATION: Final = Template(
    '''\
"""$title connector: capabilities, settings and upstream calls.

The connector takes two credentials, each sent by id in the request's
`credentials` list (not `auth`):

* "oauth", an OAuth access token for the $title API
  (GET /me, GET /users), which every call needs;
* "scim", a SCIM bearer token for the provisioning endpoints (SCIM 2.0
  /Users: create_account, delete_account), which only those need.

`allowed_credentials` says which sets a request may carry, and dispatch
refuses any other with a "bad_request" naming what is missing, before a
capability runs; a capability asks for its credential with
`get_credential(request, "scim")`, which is a "bad_request" naming "scim"
when the request has none. The library also registers
`validate_credential_config`, which checks one credential without calling the
upstream, and every integration answers `app_info` and `probe_integration`.

What a capability raises becomes an error envelope with a canonical
`error_code` and its `error_metadata`: a ConnectorError keeps its code, and
the typed ones pick theirs (InvalidValueError "invalid_value",
InvalidPageTokenError "invalid_page_token", ...); an upstream 401 becomes
"unauthorized" (refreshable), 404 "not_found", 409 "conflict", 429
"rate_limit" (retryable); any other exception is an "internal_error".
"""

from typing import TypeVar
from urllib.parse import quote

import msgspec
from connector import (
    AccountStatus,
    AccountType,
    AppCategory,
    ConnectorError,
    CreateAccountRequest,
    CreateAccountResponse,
    CreatedAccount,
    CredentialConfig,
    DeleteAccountRequest,
    DeleteAccountResponse,
    DeletedAccount,
    DescriptionData,
    ErrorCode,
    FoundAccountData,
    HTTPClient,
    Integration,
    InvalidValueError,
    ListAccountsRequest,
    ListAccountsResponse,
    OAuthCredential,
    Pages,
    Response,
    TokenCredential,
    ValidateCredentialsRequest,
    ValidateCredentialsResponse,
    ValidatedCredentials,
    get_credential,
)

from $package import __version__

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100  # accounts per platform page when the request names no size
UPSTREAM_PAGE_SIZE = 100  # users asked of the upstream per request (its `limit`)
SCIM_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


class ${class_name}Settings(msgspec.Struct, kw_only=True):
    """Per-tenant settings: the `settings` object of each request envelope.

    Required, with no defaults: a request without them is a "bad_request"
    naming the missing field, before any capability runs.
    """

    base_url: str  # the tenant's API root, such as "https://api.example.com/v1"
    scim_url: str  # its SCIM 2.0 root, such as "https://api.example.com/scim/v2"


integration = Integration(
    app_id="$app_id",
    version=__version__,
    credentials=[
        CredentialConfig(
            id="oauth",
            type=OAuthCredential,
            description="OAuth access token for the $title API",
        ),
        # `validation=` (the credential -> a list of problems) would add a check
        # of your own to validate_credential_config.
        CredentialConfig(
            id="scim",
            type=TokenCredential,
            description="SCIM provisioning token",
            optional=True,
        ),
    ],
    # Only the OAuth token, or both (without it, the non-optional ids: oauth).
    allowed_credentials=[("oauth",), ("oauth", "scim")],
    settings_model=${class_name}Settings,
    description_data=DescriptionData(
        user_friendly_name="$title",
        description="Identity governance for $title.",
        categories=[AppCategory.OTHER],
        logo_url=None,
    ),
)


$upstream

class ScimUser(msgspec.Struct):
    id: str
    active: bool = True


def client(
    request: object,
    settings: ${class_name}Settings,
) -> HTTPClient:
    """An HTTP client for the tenant's API, with the request's "oauth" access token.

    `integration.http_client` clients share one connection pool (and the rate
    limits) across calls; tests answer them in-process with
    `integration.configure_http(transport=MockTransport(...))`.
    """
    token: str = get_credential(request, "oauth").access_token
    return integration.http_client(settings.base_url, bearer_token=token)


def scim_client(
    request: object,
    settings: ${class_name}Settings,
) -> HTTPClient:
    """An HTTP client for the SCIM endpoints, with the request's "scim" token.

    A request without a "scim" credential stops here: get_credential raises a
    "bad_request" naming it, before anything is sent.
    """
    token: str = get_credential(request, "scim").token
    return integration.http_client(settings.scim_url, bearer_token=token)


$helpers

# ---- Capabilities ------------------------------------------------------------------


@integration.capability
async def validate_credentials(
    request: ValidateCredentialsRequest,
    settings: ${class_name}Settings,
) -> ValidateCredentialsResponse:
    async with client(request, settings) as api:
        me = decode(await api.get("/me"), Me)
    if any(credential.id == "scim" for credential in request.credentials or ()):
        # A SCIM token the upstream refuses fails here, not at the first provisioning.
        async with scim_client(request, settings) as scim:
            (await scim.get("/ServiceProviderConfig")).raise_for_status()
    return ValidateCredentialsResponse(
        response=ValidatedCredentials(valid=True, unique_tenant_id=me.tenant_id)
    )


$list_accounts

@integration.capability
async def create_account(
    request: CreateAccountRequest,
    settings: ${class_name}Settings,
) -> CreateAccountResponse:
    wanted = request.request
    user_name = wanted.username or wanted.email
    if not user_name:
        raise InvalidValueError("create_account needs a username or an email")
    user = {
        "schemas": [SCIM_USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": wanted.given_name, "familyName": wanted.family_name},
        "emails": [{"value": wanted.email, "primary": True}] if wanted.email else [],
        "active": True,
    }
    async with scim_client(request, settings) as scim:  # a 409 becomes "conflict"
        created = decode(await scim.post("/Users", json=user), ScimUser)
    status = AccountStatus.ACTIVE if created.active else AccountStatus.INACTIVE
    return CreateAccountResponse(
        response=CreatedAccount(id=created.id, status=status, created=True)
    )


@integration.capability
async def delete_account(
    request: DeleteAccountRequest,
    settings: ${class_name}Settings,
) -> DeleteAccountResponse:
    user = segment(request.request.account_id)
    async with scim_client(request, settings) as scim:
        (await scim.delete(f"/Users/{user}")).raise_for_status()
    return DeleteAccountResponse(
        response=DeletedAccount(status=AccountStatus.DELETED, deleted=True)
    )


# ---- More capabilities -------------------------------------------------------------
# The platform calls only what a connector registers, and `info` lists exactly
# that (with app_info, probe_integration and validate_credential_config, which
# the library adds). To add one: uncomment it, add the names after "needs:" to
# the imports from connector above, point it at the real endpoint (`client` for
# the API, `scim_client` for SCIM), and teach the fake API in
# tests/test_integration.py to answer it.


$examples'''
)


# The fake upstream both test templates share; the multi-credential one adds
# the SCIM endpoints ($scim_route, $scim_methods).
_FAKE_API: Final = Template(
    '''\
class FakeApi:
    """The $title API in memory.

    The MockTransport's handler: it answers what no route of a test answers.
    """

    def __init__(self, users: int = 5) -> None:
        self.users: list[dict[str, Any]] = [
            {"id": f"u{n}", "email": f"user{n}@example.com", "username": f"user{n}"}
            for n in range(1, users + 1)
        ]
        self.users[-1]["active"] = False
        self.created = 0

    def __call__(self, request: Request) -> Response:
${scim_route}        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return Response(401, json={"error": "invalid token"})
        if not request.path.startswith(API_PATH + "/"):
            return Response(404, json={"error": "not found"})
        path = request.path.removeprefix(API_PATH).strip("/").split("/")
        params = dict(request.params)
        users = {user["id"]: user for user in self.users}
        match request.method, path:
            case "GET", ["me"]:
                return Response(200, json={"tenant_id": TENANT})
            case "GET", ["users"]:
                # A cursor in the body: here the offset of the next page, as text.
                start = int(params.get("cursor", "0"))
                chunk = self.users[start : start + int(params.get("limit", "100"))]
                end = start + len(chunk)
                more = str(end) if end < len(self.users) else None
                return Response(200, json={"users": chunk, "next_cursor": more})
            case "GET", ["users", user] if user in users:
                return Response(200, json=users[user])
            case "POST", ["users"]:
                self.created += 1
                return Response(201, json={"id": f"new{self.created}"})
            case "PATCH" | "DELETE", ["users", user] if user in users:
                return Response(204)
            case "GET", ["workspaces"]:
                return Response(200, json=[{"id": "w1", "name": "Main"}])
            case "GET", ["groups"]:
                return Response(200, json=[{"id": "g1", "workspace_id": "w1", "name": "Admins"}])
            case "GET", ["memberships"]:
                row = {"user_id": "u1", "group_id": "g1", "workspace_id": "w1"}
                return Response(200, json=[row])
            case "GET", ["logins"]:
                wanted = [v for k, v in request.params if k == "user_id" and v in users]
                rows = [{"user_id": user, "at": "2026-01-05T09:00:00Z"} for user in wanted]
                return Response(200, json=rows)
            case "POST", ["groups", "g1", "members"]:
                return Response(204)
            case "DELETE", ["groups", "g1", "members", user] if user in users:
                return Response(204)
        return Response(404, json={"error": "not found"})
$scim_methods'''
)

_SCIM_ROUTE: Final = """\
        if request.path.startswith(SCIM_PATH + "/"):
            return self.scim(request)
"""

_SCIM_METHODS: Final = '''
    def scim(self, request: Request) -> Response:
        """The SCIM 2.0 endpoints, which take the SCIM token (and only that)."""
        if request.headers.get("authorization") != f"Bearer {SCIM_TOKEN}":
            return scim_error(401, "invalid SCIM token")
        path = request.path.removeprefix(SCIM_PATH).strip("/").split("/")
        users = {user["id"]: user for user in self.users}
        match request.method, path:
            case "GET", ["ServiceProviderConfig"]:
                return Response(200, json={"schemas": [SCIM_CONFIG], "patch": {"supported": True}})
            case "POST", ["Users"]:
                body = msgspec.json.decode(request.content)
                if any(user["username"] == body["userName"] for user in self.users):
                    return scim_error(409, "userName is taken")
                self.created += 1
                new = {"id": f"new{self.created}", "username": body["userName"]}
                self.users.append(new)
                return Response(201, json={**body, "id": new["id"]})
            case "DELETE", ["Users", user] if user in users:
                self.users.remove(users[user])
                return Response(204)
        return scim_error(404, "not found")


def scim_error(status: int, detail: str) -> Response:
    return Response(status, json={"schemas": [SCIM_ERROR], "status": str(status), "detail": detail})
'''

# A valid `request` payload for every capability, in both test templates, so
# that a capability uncommented in integration.py is covered at once.
_SAMPLE_REQUESTS: Final = """\
ASSIGNMENT = {
    "account_integration_specific_id": "u1",
    "resource_integration_specific_id": "w1",
    "resource_type": "workspace",
    "entitlement_type": "group",
    "entitlement_integration_specific_id": "g1",
}
CLIENT = {"client_id": "client-id", "client_secret": "client-secret"}
SAMPLE_REQUESTS: dict[str, dict[str, Any]] = {
    "app_info": {},
    "probe_integration": {},
    "validate_credentials": {},
    "validate_credential_config": {"credential": {"id": "scim", "token": {"token": "t"}}},
    "list_accounts": {},
    "list_resources": {},
    "list_entitlements": {},
    "find_entitlement_associations": {},
    "get_last_activity": {"account_ids": ["u1"]},
    "get_account": {"account_id": "u1"},
    "list_updated_accounts": {"since": "2026-01-01T00:00:00Z"},
    "assign_entitlement": ASSIGNMENT,
    "unassign_entitlement": ASSIGNMENT,
    "create_account": {"email": "new@example.com", "entitlements": []},
    "update_account": {"id": "u1"},
    "activate_account": {"account_id": "u1"},
    "deactivate_account": {"account_id": "u1"},
    "delete_account": {"account_id": "u1"},
    "list_custom_attributes_schema": {},
    "get_authorization_url": {
        "client_id": "client-id",
        "scopes": ["read"],
        "redirect_uri": "https://example.com/callback",
        "state": "state",
    },
    "handle_authorization_callback": {
        **CLIENT,
        "redirect_uri_with_code": "https://example.com/callback?code=code&state=state",
        "state": "state",
    },
    "handle_client_credentials_request": {**CLIENT, "scopes": ["read"]},
    "refresh_access_token": {**CLIENT, "refresh_token": "refresh-token"},
}


@pytest.mark.parametrize("name", sorted(integration.capabilities))
def test_every_capability_answers(name: str) -> None:
    body = call(name, envelope(SAMPLE_REQUESTS[name]))
    assert "is_error" not in body, body["error"]["message"]
    assert body["response"] is not None


def test_a_capability_not_registered_is_unsupported_operation() -> None:
    missing = next(name for name in connector.CAPABILITIES if name not in integration.capabilities)
    error = error_of(call(missing, envelope()))
    assert error["error_code"] == "unsupported_operation"
    assert error["error_metadata"]["retryable"] is False


def test_a_bug_becomes_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(response: Response, model: Any) -> Any:
        raise RuntimeError("a bug in the connector")

    monkeypatch.setattr(integration_module, "decode", broken)
    error = error_of(call("validate_credentials", envelope()))
    assert error["error_code"] == "internal_error"
    assert error["raised_by"] == "RuntimeError"
    assert error["error_metadata"]["fault"] == "connector"
"""


_TESTS: Final = Template(
    '''\
"""$title connector tests; no test touches the network.

The autouse `transport` fixture sets a MockTransport on the integration, once
(`integration.configure_http`): every HTTP client the capabilities make answers
in-process, from the routes a test adds (`transport.add(...)`) first, else from
`FakeApi`, which answers like the real API. `transport.requests` is every
request sent.
"""

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import connector
import msgspec
import pytest
from connector import MockTransport, Request, Response

from $package import integration as integration_module
from $package.integration import integration

APP_ID = integration.app_id
TOKEN = "test-token-1234"
TENANT = "acme"
# The settings have no defaults: every request carries the tenant's URL.
SETTINGS = {"base_url": "$base_url"}
API_PATH = urlsplit(SETTINGS["base_url"]).path.rstrip("/")
USERS_PATH = f"{API_PATH}/users"


$fake_api

@pytest.fixture
def upstream() -> FakeApi:
    """The fake API of one test, which a test may change."""
    return FakeApi()


@pytest.fixture(autouse=True)
def transport(upstream: FakeApi) -> Iterator[MockTransport]:
    """The fake upstream, set on the integration for every client it makes."""
    mock = MockTransport(upstream)
    integration.configure_http(transport=mock)
    yield mock
    integration.configure_http(transport=None)  # the real network again


def envelope(payload: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A request envelope with the test token and SETTINGS; `fields` adds page, settings, ..."""
    body = {"auth": {"token": {"token": TOKEN}}, "request": payload or {}, "settings": SETTINGS}
    return {**body, **fields}


def call(capability: str, body: dict[str, Any]) -> dict[str, Any]:
    """Dispatch as the platform does: JSON in, JSON out."""
    answer = asyncio.run(integration.dispatch(capability, msgspec.json.encode(body)))
    decoded: dict[str, Any] = msgspec.json.decode(answer)
    return decoded


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    """The `error` of an error envelope; a success fails the test."""
    assert body.get("is_error") is True, body
    error: dict[str, Any] = body["error"]
    return error


def test_validate_credentials(transport: MockTransport) -> None:
    body = call("validate_credentials", envelope())
    assert body["response"] == {"valid": True, "unique_tenant_id": TENANT}
    (sent,) = transport.requests
    assert (sent.method, sent.path) == ("GET", f"{API_PATH}/me")
    assert sent.headers.get("authorization") == f"Bearer {TOKEN}"


def test_list_accounts_maps_users() -> None:
    body = call("list_accounts", envelope())
    first, *_, last = body["response"]
    assert first["integration_specific_id"] == "u1"
    assert first["email"] == "user1@example.com"
    assert first["user_status"] == "ACTIVE"
    assert last["user_status"] == "INACTIVE"
    assert body["page"] is None


def test_list_accounts_pages_through_every_user(
    upstream: FakeApi, transport: MockTransport
) -> None:
    seen: list[str] = []
    page: dict[str, Any] | None = {"size": 2}
    while page is not None:
        body = call("list_accounts", envelope(page=page))
        assert "is_error" not in body, body
        seen += [account["integration_specific_id"] for account in body["response"]]
        page = body["page"]
    assert seen == [user["id"] for user in upstream.users]
    assert len(transport.requests) == 3  # one upstream page per platform page here


def test_list_accounts_follows_the_upstream_cursor(transport: MockTransport) -> None:
    # Routes answer before FakeApi, the first that matches: the second page first.
    second = {"users": [{"id": "b"}], "next_cursor": None}
    transport.add("GET", USERS_PATH, Response(200, json=second), params={"cursor": "c2"})
    first = {"users": [{"id": "a"}], "next_cursor": "c2"}
    transport.add("GET", USERS_PATH, Response(200, json=first))
    body = call("list_accounts", envelope())
    assert [account["integration_specific_id"] for account in body["response"]] == ["a", "b"]
    assert body["page"] is None  # both upstream pages in one platform page
    transport.assert_all_called()


def test_a_page_token_not_issued_here_is_invalid_page_token(transport: MockTransport) -> None:
    error = error_of(call("list_accounts", envelope(page={"token": "stale"})))
    assert error["error_code"] == "invalid_page_token"
    assert error["raised_by"] == "InvalidPageTokenError"
    assert error["error_metadata"]["fault"] == "caller"
    assert transport.requests == []  # refused before any upstream call


def test_upstream_401_becomes_unauthorized() -> None:
    body = call("validate_credentials", {**envelope(), "auth": {"token": {"token": "wrong-token"}}})
    error = error_of(body)
    assert (error["error_code"], error["status_code"]) == ("unauthorized", 401)
    assert error["app_id"] == APP_ID
    metadata = error["error_metadata"]
    assert (metadata["category"], metadata["refreshable"]) == ("authentication", True)
    assert metadata["retryable"] is False  # the same token fails again: refresh it first
    assert "wrong-token" not in str(body)  # credentials never appear in an error


def test_upstream_404_becomes_not_found() -> None:
    settings = {"base_url": "https://api.example.com/nowhere"}
    error = error_of(call("list_accounts", envelope(settings=settings)))
    assert (error["error_code"], error["status_code"]) == ("not_found", 404)
    assert error["error_metadata"]["retryable"] is False


def test_upstream_429_becomes_a_retryable_rate_limit(transport: MockTransport) -> None:
    slow_down = Response(429, headers={"Retry-After": "120"}, json={"error": "slow down"})
    transport.add("GET", USERS_PATH, slow_down)
    error = error_of(call("list_accounts", envelope()))
    assert (error["error_code"], error["status_code"]) == ("rate_limit", 429)
    metadata = error["error_metadata"]
    assert (metadata["retryable"], metadata["throttled"]) == (True, True)
    assert metadata["retry_after_seconds"] == 120  # the upstream's Retry-After
    transport.assert_all_called()


@pytest.mark.parametrize(
    "answer",
    [{"users": "not a list"}, {"users": [{"email": "no-id@example.com"}]}],
    ids=["no-list", "user-without-id"],
)
def test_unexpected_upstream_body_becomes_invalid_response(
    transport: MockTransport, answer: dict[str, Any]
) -> None:
    transport.add("GET", USERS_PATH, Response(200, json=answer))
    error = error_of(call("list_accounts", envelope()))
    assert error["error_code"] == "invalid_response"
    assert error["error_metadata"]["fault"] == "connector"
    transport.assert_all_called()


def test_credentials_of_the_wrong_kind_are_a_bad_request(transport: MockTransport) -> None:
    basic = {"basic": {"username": "user", "password": "password"}}
    error = error_of(call("validate_credentials", {**envelope(), "auth": basic}))
    assert error["error_code"] == "bad_request"
    assert error["raised_by"] is None  # refused before the capability ran
    assert error["error_metadata"]["fault"] == "caller"
    assert transport.requests == []


$sample_requests

def test_conformance() -> None:
    """The non-writing conformance checks pass against the fake upstream."""
    connector.assert_conformant(
        integration, {"auth": {"token": {"token": TOKEN}}, "settings": SETTINGS}
    )


def test_info_lists_the_capabilities() -> None:
    info = integration.info().response
    assert info.app_id == APP_ID
    assert info.capabilities == sorted(integration.capabilities)
    # Every integration answers these two without registering them.
    assert {"app_info", "probe_integration"} <= set(info.capabilities)
    assert "token" in str(info.authentication_schema)
    assert info.credentials_schema == []  # one credential, in `auth`
    assert "base_url" in str(info.request_settings_schema)


def test_a_request_without_settings_is_a_bad_request(transport: MockTransport) -> None:
    body = envelope()
    del body["settings"]
    error = error_of(call("list_accounts", body))
    assert error["error_code"] == "bad_request"
    assert "base_url" in error["message"]
    assert transport.requests == []  # refused before the capability ran


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    request = msgspec.json.encode(envelope()).decode()
    with pytest.raises(SystemExit) as exited:
        connector.run(integration, ["validate-credentials", "--json", request])
    assert exited.value.code == 0
    assert msgspec.json.decode(capsys.readouterr().out)["response"]["valid"] is True
'''
)

_MULTI_TESTS: Final = Template(
    '''\
"""$title connector tests; no test touches the network.

The autouse `transport` fixture sets a MockTransport on the integration, once
(`integration.configure_http`): every HTTP client the capabilities make answers
in-process, from the routes a test adds (`transport.add(...)`) first, else from
`FakeApi`, which answers like the real API: the REST API with the OAuth access
token, the SCIM endpoints with the SCIM token. `transport.requests` is every
request sent.
"""

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import connector
import msgspec
import pytest
from connector import MockTransport, Request, Response

from $package import integration as integration_module
from $package.integration import integration

APP_ID = integration.app_id
TOKEN = "test-access-token-1234"  # the OAuth access token
SCIM_TOKEN = "test-scim-token-5678"
TENANT = "acme"
# The settings have no defaults: every request carries the tenant's URLs.
SETTINGS = {
    "base_url": "$base_url",
    "scim_url": "$scim_url",
}
API_PATH = urlsplit(SETTINGS["base_url"]).path.rstrip("/")
SCIM_PATH = urlsplit(SETTINGS["scim_url"]).path.rstrip("/")
USERS_PATH = f"{API_PATH}/users"
SCIM_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
OAUTH = {"id": "oauth", "oauth": {"access_token": TOKEN}}
SCIM = {"id": "scim", "token": {"token": SCIM_TOKEN}}


$fake_api

@pytest.fixture
def upstream() -> FakeApi:
    """The fake API of one test, which a test may change."""
    return FakeApi()


@pytest.fixture(autouse=True)
def transport(upstream: FakeApi) -> Iterator[MockTransport]:
    """The fake upstream, set on the integration for every client it makes."""
    mock = MockTransport(upstream)
    integration.configure_http(transport=mock)
    yield mock
    integration.configure_http(transport=None)  # the real network again


def envelope(
    payload: dict[str, Any] | None = None,
    credentials: Sequence[dict[str, Any]] = (OAUTH, SCIM),
    **fields: Any,
) -> dict[str, Any]:
    """A request envelope with the test credentials (or those given) and SETTINGS.

    `fields` adds page, replaces settings, ...
    """
    body = {"credentials": list(credentials), "request": payload or {}, "settings": SETTINGS}
    return {**body, **fields}


def call(capability: str, body: dict[str, Any]) -> dict[str, Any]:
    """Dispatch as the platform does: JSON in, JSON out."""
    answer = asyncio.run(integration.dispatch(capability, msgspec.json.encode(body)))
    decoded: dict[str, Any] = msgspec.json.decode(answer)
    return decoded


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    """The `error` of an error envelope; a success fails the test."""
    assert body.get("is_error") is True, body
    error: dict[str, Any] = body["error"]
    return error


def test_validate_credentials_checks_both_credentials(transport: MockTransport) -> None:
    body = call("validate_credentials", envelope())
    assert body["response"] == {"valid": True, "unique_tenant_id": TENANT}
    paths = [r.path for r in transport.requests]
    assert paths == [f"{API_PATH}/me", f"{SCIM_PATH}/ServiceProviderConfig"]


def test_validate_credentials_with_only_the_oauth_token(transport: MockTransport) -> None:
    body = call("validate_credentials", envelope(credentials=[OAUTH]))
    assert body["response"]["valid"] is True
    assert [r.path for r in transport.requests] == [f"{API_PATH}/me"]


@pytest.mark.parametrize("credentials", [[OAUTH], [OAUTH, SCIM]], ids=["oauth", "both"])
def test_list_accounts_needs_only_the_oauth_token(
    transport: MockTransport, credentials: list[dict[str, Any]]
) -> None:
    body = call("list_accounts", envelope(credentials=credentials, page={"size": 2}))
    assert [a["integration_specific_id"] for a in body["response"]] == ["u1", "u2"]
    assert body["page"]["size"] == 2  # and an opaque token for the rest
    assert {r.headers.get("authorization") for r in transport.requests} == {f"Bearer {TOKEN}"}


def test_list_accounts_pages_through_every_user(
    upstream: FakeApi, transport: MockTransport
) -> None:
    seen: list[str] = []
    page: dict[str, Any] | None = {"size": 2}
    while page is not None:
        body = call("list_accounts", envelope(credentials=[OAUTH], page=page))
        assert "is_error" not in body, body
        seen += [account["integration_specific_id"] for account in body["response"]]
        page = body["page"]
    assert seen == [user["id"] for user in upstream.users]
    assert len(transport.requests) == 3  # one upstream page per platform page here


def test_list_accounts_follows_the_upstream_cursor(transport: MockTransport) -> None:
    # Routes answer before FakeApi, the first that matches: the second page first.
    second = {"users": [{"id": "b"}], "next_cursor": None}
    transport.add("GET", USERS_PATH, Response(200, json=second), params={"cursor": "c2"})
    first = {"users": [{"id": "a"}], "next_cursor": "c2"}
    transport.add("GET", USERS_PATH, Response(200, json=first))
    body = call("list_accounts", envelope(credentials=[OAUTH]))
    assert [account["integration_specific_id"] for account in body["response"]] == ["a", "b"]
    assert body["page"] is None  # both upstream pages in one platform page
    transport.assert_all_called()


def test_a_page_token_not_issued_here_is_invalid_page_token(transport: MockTransport) -> None:
    error = error_of(call("list_accounts", envelope(page={"token": "stale"})))
    assert error["error_code"] == "invalid_page_token"
    assert error["error_metadata"]["fault"] == "caller"
    assert transport.requests == []  # refused before any upstream call


def test_create_account_goes_to_scim_with_the_scim_token(transport: MockTransport) -> None:
    new = {"username": "ada", "email": "ada@example.com", "entitlements": []}
    body = call("create_account", envelope(new))
    assert body["response"] == {"status": "ACTIVE", "created": True, "id": "new1"}
    (sent,) = transport.requests
    assert (sent.method, sent.path) == ("POST", f"{SCIM_PATH}/Users")
    assert sent.headers.get("authorization") == f"Bearer {SCIM_TOKEN}"
    assert msgspec.json.decode(sent.content)["userName"] == "ada"
    listed = call("list_accounts", envelope(credentials=[OAUTH]))["response"]
    assert listed[-1]["integration_specific_id"] == "new1"
    # The same userName again: the upstream's 409 is a conflict.
    assert error_of(call("create_account", envelope(new)))["error_code"] == "conflict"
    nameless = error_of(call("create_account", envelope({"entitlements": []})))
    assert nameless["error_code"] == "invalid_value"


def test_delete_account_goes_to_scim(upstream: FakeApi) -> None:
    body = call("delete_account", envelope({"account_id": "u1"}))
    assert body["response"] == {"status": "DELETED", "deleted": True}
    assert "u1" not in [user["id"] for user in upstream.users]
    error = error_of(call("delete_account", envelope({"account_id": "u1"})))
    assert (error["error_code"], error["status_code"]) == ("not_found", 404)


def test_a_throttled_scim_endpoint_is_a_retryable_rate_limit(transport: MockTransport) -> None:
    detail = {"schemas": [SCIM_ERROR], "status": "429", "detail": "too many requests"}
    slow_down = Response(429, headers={"Retry-After": "120"}, json=detail)
    transport.add("DELETE", f"{SCIM_PATH}/Users/u1", slow_down)
    error = error_of(call("delete_account", envelope({"account_id": "u1"})))
    assert (error["error_code"], error["status_code"]) == ("rate_limit", 429)
    metadata = error["error_metadata"]
    assert (metadata["retryable"], metadata["retry_after_seconds"]) == (True, 120)
    transport.assert_all_called()


@pytest.mark.parametrize("capability", ["create_account", "delete_account"])
def test_a_scim_capability_without_the_scim_token_is_a_bad_request(
    transport: MockTransport, capability: str
) -> None:
    error = error_of(call(capability, envelope(SAMPLE_REQUESTS[capability], [OAUTH])))
    assert error["error_code"] == "bad_request"
    assert "'scim'" in error["message"]
    assert error["error_metadata"]["fault"] == "caller"
    assert transport.requests == []  # refused before any upstream call


def test_a_wrong_scim_token_is_unauthorized() -> None:
    wrong = {"id": "scim", "token": {"token": "wrong-scim-token"}}
    body = call("delete_account", envelope({"account_id": "u1"}, [OAUTH, wrong]))
    error = error_of(body)
    assert (error["error_code"], error["status_code"]) == ("unauthorized", 401)
    assert error["error_metadata"]["refreshable"] is True
    assert "wrong-scim-token" not in str(body)  # credentials never appear in an error


def test_a_wrong_oauth_token_is_unauthorized() -> None:
    wrong = {"id": "oauth", "oauth": {"access_token": "wrong-access-token"}}
    body = call("list_accounts", envelope(credentials=[wrong]))
    error = error_of(body)
    assert (error["error_code"], error["status_code"]) == ("unauthorized", 401)
    assert error["error_metadata"]["refreshable"] is True
    assert "wrong-access-token" not in str(body)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"auth": {"token": {"token": TOKEN}}, "credentials": [OAUTH]}, None),
        ({"auth": {"oauth": {"access_token": TOKEN}}}, None),
        ({"credentials": [SCIM]}, "'oauth'"),
        ({"credentials": [OAUTH, {"token": {"token": SCIM_TOKEN}}]}, None),
        ({"credentials": [OAUTH, {**SCIM, "id": "admin"}]}, "'admin'"),
        ({"credentials": [OAUTH, OAUTH]}, None),
        ({"credentials": [OAUTH, {"id": "scim", "oauth": {"access_token": "x"}}]}, None),
    ],
    ids=["auth-and-credentials", "auth", "no-oauth", "no-id", "undeclared", "twice", "wrong-kind"],
)
def test_credentials_the_connector_does_not_take_are_a_bad_request(
    transport: MockTransport, body: dict[str, Any], named: str | None
) -> None:
    error = error_of(call("list_accounts", {"request": {}, "settings": SETTINGS, **body}))
    assert error["error_code"] == "bad_request"
    assert named is None or named in error["message"], error["message"]
    assert error["raised_by"] is None  # refused before the capability ran
    assert transport.requests == []


@pytest.mark.parametrize(
    ("credential", "valid"),
    [
        ({"id": "scim", "token": {"token": SCIM_TOKEN}}, True),
        ({"id": "oauth", "oauth": {"access_token": TOKEN}}, True),
        ({"id": "scim", "token": {"token": ""}}, False),
    ],
    ids=["scim", "oauth", "empty-scim-token"],
)
def test_validate_credential_config(
    transport: MockTransport, credential: dict[str, Any], valid: bool
) -> None:
    # No credentials and no upstream call: the platform checks what a user typed in.
    check = {"request": {"credential": credential}, "settings": SETTINGS}
    body = call("validate_credential_config", check)
    assert body["response"]["valid"] is valid, body
    assert bool(body["response"]["validation_errors"]) is not valid
    assert transport.requests == []


$sample_requests

def test_conformance() -> None:
    """The non-writing conformance checks pass against the fake upstream."""
    connector.assert_conformant(integration, {"credentials": [OAUTH, SCIM], "settings": SETTINGS})


def test_info_lists_the_capabilities_and_both_credentials() -> None:
    info = integration.info().response
    assert info.app_id == APP_ID
    assert info.capabilities == sorted(integration.capabilities)
    # Registered by the library: the first two for every integration, the last
    # for one declared with `credentials=`.
    defaults = {"app_info", "probe_integration", "validate_credential_config"}
    assert defaults <= set(info.capabilities)
    assert [entry["id"] for entry in info.credentials_schema] == ["oauth", "scim"]
    assert info.authentication_schema == {}
    assert "scim_url" in str(info.request_settings_schema)


@pytest.mark.parametrize("missing", ["base_url", "scim_url"])
def test_a_request_without_a_setting_is_a_bad_request(
    transport: MockTransport, missing: str
) -> None:
    settings = {key: value for key, value in SETTINGS.items() if key != missing}
    error = error_of(call("list_accounts", envelope(settings=settings)))
    assert error["error_code"] == "bad_request"
    assert missing in error["message"]
    assert transport.requests == []  # refused before the capability ran


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    request = msgspec.json.encode(envelope()).decode()
    with pytest.raises(SystemExit) as exited:
        connector.run(integration, ["validate-credentials", "--json", request])
    assert exited.value.code == 0
    assert msgspec.json.decode(capsys.readouterr().out)["response"]["valid"] is True
'''
)

_GITIGNORE: Final = """\
__pycache__/
*.py[cod]
*.egg-info/
.venv/
build/
dist/
.pytest_cache/
.ruff_cache/
.mypy_cache/
"""

_README: Final = Template(
    """\
# $title connector

An identity-platform connector for $title, written as a handful of decorated
functions on the `$distribution` library. The same code runs in-process, from
the command line (`$app_id`) and as an HTTP service.

$install_section

## Test

```sh
pytest
ruff check .        # with the [dev] extra
```

The tests never touch the network: `tests/test_integration.py` answers the
$title API in-process with a `connector.MockTransport`, which the autouse
`transport` fixture sets once on the integration,
`integration.configure_http(transport=...)`, and resets to `None` after each
test. Every HTTP client the capabilities make
with `integration.http_client(...)` goes through it: routes a test adds with
`transport.add(method, path, answer, params=...)` answer first, else the
`FakeApi` handler; `transport.requests` holds what was sent and
`transport.assert_all_called()` fails on a route never used.

$tests_text

## Check it before the platform does

```sh
$app_id check --json-file fixture.json            # envelope, pagination, errors, secrets
$app_id check --json-file fixture.json --write    # also create ... delete an account
```

`check` runs the library's conformance checks against whatever upstream the
fixture's settings point at (a sandbox tenant, say) and prints PASS, FAIL or
SKIP per check, with the evidence of failures (secrets scrubbed); it exits 0
when every check that ran passed. The fixture holds what the platform would
send:

```json
$fixture
```

(`--write` also needs an `account`, a `create_account` payload, and an
`entitlement`.) `test_conformance` in the tests runs the non-writing checks
against the fake upstream, with `connector.assert_conformant(integration,
fixture)`.

## Call it

```sh
$app_id info --pretty
$app_id validate-credentials --json '$sample_request'
$app_id list-accounts --json-file request.json
$app_id list-accounts < request.json
python -m $package info
python -m connector call $package.integration list_accounts --json-file request.json
```

$request_text

Output is JSON on stdout; the exit code is 0 on success, 1 when an error
envelope is printed and 2 on a usage error. `--result-file-path PATH` writes
the result to PATH instead (gzip-compressed when PATH ends in `.gz`) and exits
0 whenever a result was written, error or not. Prefer `--json-file` or stdin
for real credentials, so that they stay out of `ps` and shell history.

An error envelope carries a canonical code (`unauthorized`, `not_found`,
`rate_limit`, ...; the app is in `app_id`) and `error_metadata`, which tells
the platform whose fault it is and whether a retry or a credential refresh
can help:

```json
{"is_error": true,
 "error": {"message": "Client error 401 for GET /v1/me", "status_code": 401,
           "error_code": "unauthorized", "app_id": "$app_id",
           "error_metadata": {"fault": "upstream", "category": "authentication",
                              "retryable": false, "throttled": false,
                              "refreshable": true}, ...},
 "response": null}
```

Besides the capabilities in `$package/integration.py`, the connector answers
$default_capabilities, which the library registers.

## Serve it

```sh
$app_id serve --port 8000
curl -s -X POST localhost:8000/validate_credentials -d @request.json
curl -s localhost:8000/info
```

`POST /{capability}` takes the same envelope and answers every envelope, error
or not, with HTTP 200 (the platform reads `is_error`); `serve --http-status`
answers an error envelope with its code's status instead (401, 404, 429, ...).
`GET /healthz` and `GET /openapi.json` are there too. With `--token-file PATH`
(or the `CONNECTOR_TOKEN` environment variable) every call must carry
`Authorization: Bearer <token>`. To scale out, `server.asgi(integration)` (with
`integration` from `$package.integration`) is a plain ASGI app for uvicorn,
hypercorn or granian, with as many workers and hosts as needed.

## Where things are

```
$layout
```

$next_steps
"""
)

_README_SINGLE: Final = {
    "tests_text": (
        "They cover a successful call, pagination (every page walked through\n"
        "dispatch), an upstream 401, 404 and 429 becoming error envelopes with their\n"
        "metadata, every registered capability and the conformance check."
    ),
    "sample_request": (
        '{"auth": {"token": {"token": "TOKEN"}}, "request": {}, '
        '"settings": {"base_url": "https://api.example.com/v1"}}'
    ),
    "request_text": """\
A request envelope carries the credential (`auth`), the capability's payload
(`request`), the tenant's `settings` and optionally `page`
(`{"token": ..., "size": ...}`). The settings model (`${class_name}Settings`)
holds the upstream `base_url`, which has no default: a request without it is a
`bad_request` naming it.

```json
{"auth": {"token": {"token": "TOKEN"}},
 "request": {},
 "page": {"size": 50},
 "settings": {"base_url": "https://api.example.com/v1"}}
```""",
    "fixture": """\
{"auth": {"token": {"token": "TOKEN"}},
 "settings": {"base_url": "https://api.example.com/v1"}}""",
    "default_capabilities": "`app_info` (its OpenAPI document) and `probe_integration`",
    "next_steps": """\
Next steps: fit `${class_name}Settings` and the structs of
`$package/integration.py` to the real $title API; uncomment the other
capabilities it supports (each lists the names to import); teach `FakeApi` in
the tests to answer them (or add routes with `transport.add`); then run
`$app_id check --json-file fixture.json` against a sandbox tenant.""",
}

_README_MULTI: Final = {
    "tests_text": (
        "They cover both credentials (the OAuth token alone for the API, the SCIM\n"
        "token for provisioning), the requests that carry the wrong ones, pagination,\n"
        "upstream errors becoming error envelopes with their metadata,\n"
        "`validate_credential_config`, every registered capability and the\n"
        "conformance check."
    ),
    "sample_request": (
        '{"credentials": [{"id": "oauth", "oauth": {"access_token": "TOKEN"}}], "request": {}, '
        '"settings": {"base_url": "https://api.example.com/v1", '
        '"scim_url": "https://api.example.com/scim/v2"}}'
    ),
    "request_text": """\
The connector takes two credentials, by id, in the envelope's `credentials`
list (not `auth`): `oauth`, an OAuth access token for the $title API, which
every call needs, and `scim`, a SCIM bearer token, which `create_account` and
`delete_account` need. A request carries `oauth` alone or both; any other set
is a `bad_request` naming what is missing. Besides `credentials`, an envelope
carries the capability's payload (`request`), the tenant's `settings` and
optionally `page` (`{"token": ..., "size": ...}`). The settings model
(`${class_name}Settings`) holds the upstream `base_url` and `scim_url`, which
have no defaults: a request without one is a `bad_request` naming it.

```json
{"credentials": [{"id": "oauth", "oauth": {"access_token": "ACCESS_TOKEN"}},
                 {"id": "scim", "token": {"token": "SCIM_TOKEN"}}],
 "request": {"account_id": "u1"},
 "settings": {"base_url": "https://api.example.com/v1",
              "scim_url": "https://api.example.com/scim/v2"}}
```

`validate_credential_config` checks one credential as a user typed it in,
without calling the upstream: `{"request": {"credential": {"id": "scim",
"token": {"token": "..."}}}, "settings": {...}}` answers `{"valid": ...,
"validation_errors": [...]}`. `info` describes both in `credentials_schema`.""",
    "fixture": """\
{"credentials": [{"id": "oauth", "oauth": {"access_token": "ACCESS_TOKEN"}},
                 {"id": "scim", "token": {"token": "SCIM_TOKEN"}}],
 "settings": {"base_url": "https://api.example.com/v1",
              "scim_url": "https://api.example.com/scim/v2"}}""",
    "default_capabilities": "`app_info` (its OpenAPI document), `probe_integration` and\n"
    "`validate_credential_config`",
    "next_steps": """\
Next steps: fit `${class_name}Settings` and the structs of
`$package/integration.py` to the real $title API; uncomment the other
capabilities it supports (each lists the names to import); teach `FakeApi` in
the tests to answer them (or add routes with `transport.add`); then run
`$app_id check --json-file fixture.json` against a sandbox tenant.""",
}

_INSTALL_LIBRARY: Final = Template(
    """\
## Install

This project depends on `$distribution` (the connector library), which is not
on PyPI: install it first (below, from where the copy that scaffolded this
project came from; any checkout of it, or a wheel built from one, will do),
then this project with its test extra.

```sh
python -m venv .venv && . .venv/bin/activate
pip install $source
pip install -e '.[test]'
```

(Or scaffold again with `--vendor` to carry the library's two modules inside
the project instead.)"""
)

# The README's install section when the library's install source is unknown.
_INSTALL_UNKNOWN: Final = Template(
    """\
## Install

This project depends on `$distribution` (the connector library), which is not
on PyPI, and where the copy that scaffolded this project was installed from is
unknown. Either carry the library's two modules inside the project (they need
only msgspec, anyio and httpcore), scaffolding again here with `--vendor`:

```sh
python -m connector scaffold $app_id . --vendor --force$again_flags
```

or install `$distribution` into the venv first, from a checkout of it or a wheel
built from one (`pip install CHECKOUT_OR_WHEEL`). Then:

```sh
python -m venv .venv && . .venv/bin/activate
pip install -e '.[test]'
```"""
)

_INSTALL_VENDORED: Final = Template(
    """\
## Install

`connector.py` and `server.py` at the project root are vendored copies of
`$distribution` $version (MIT), installed beside the package: the project needs
no install of the library, only its runtime dependencies (msgspec, anyio,
httpcore). To update them, copy newer ones over these two files.

```sh
python -m venv .venv && . .venv/bin/activate
pip install -e '.[test]'
```"""
)

_LAYOUT: Final = {
    "pyproject.toml": "the project: console script `$app_id`, extras [test] and [dev]",
    "$package/__init__.py": "the version",
    "$package/integration.py": "settings, the upstream API, the capabilities",
    "$package/__main__.py": "the command line: connector.run(integration)",
    "tests/test_integration.py": "the tests and the fake $title API",
    "connector.py": "vendored: the library core",
    "server.py": "vendored: the HTTP server",
}


# ---- Run as a script (last: the templates above must exist by then) ----------------

if __name__ == "__main__":
    raise SystemExit(main())
