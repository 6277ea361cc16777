"""scaffold.py: names, refusals, atomic writes, the CLI, and generated projects that work.

The tests marked `slow` build two fresh venvs (one with this library installed
from a wheel built from the working tree, one with only its runtime
dependencies for `--vendor`), install a generated project into each and run
its tests and console script; the `--multi-auth` project's tests run in the
first venv, without another. One more venv is the one the scaffold's printed
steps create, followed literally after the wheel install. They run by
default; `-m "not slow"` leaves them out.
"""

from __future__ import annotations

import builtins
import errno
import gzip
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, TypedDict

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import connector
import scaffold
from scaffold import Names, ScaffoldError, names_for

REPO = Path(__file__).resolve().parents[1]


class Author(TypedDict):
    author: str
    email: str


AUTHOR: Author = {"author": "Ada Lovelace", "email": "ada@example.com"}
NAME_ALPHABET = "abcXYZ019-_ .!é\t/"
# A name as long as allowed, to catch generated lines that grow past 100 columns.
LONG_NAME = "abcdefghij abcdefghij abcdefghij abcdefg"
# The multi-credential API (CredentialConfig, get_credential, ...) is newer than
# the rest of connector.py: without it, a --multi-auth project cannot run.
needs_multi_auth = pytest.mark.skipif(
    not hasattr(connector, "CredentialConfig"),
    reason="connector.py has no CredentialConfig yet (the multi-credential API)",
)


# ---- helpers -------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: this working tree first, no pytest leakage."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    env["PYTHONPATH"] = str(REPO)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def ruff_command() -> list[str]:
    """The ruff installed beside this Python (the [dev] extra), else one on PATH."""
    import importlib.util

    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed (the [dev] extra)")
    return [found]


def ruff(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs ruff in `project`, so that its own pyproject.toml is the configuration."""
    return subprocess.run(
        [*ruff_command(), *args, "--no-cache", "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its content (None for folders)."""
    return {
        path.relative_to(root).as_posix(): (path.read_bytes() if path.is_file() else None)
        for path in sorted(root.rglob("*"))
    }


def uncomment_examples(source: str) -> str:
    """integration.py with every `# needs:` example enabled and its names imported."""
    lines = source.splitlines()
    out: list[str] = []
    needs: list[str] = []
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)# needs: (.*)$", lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent, names = match.groups()
        i += 1
        while names.rstrip().endswith(","):
            names += " " + lines[i].strip().lstrip("#").strip()
            i += 1
        needs += [name.strip() for name in names.split(",") if name.strip()]
        while i < len(lines) and lines[i].startswith(indent + "#"):
            code = lines[i][len(indent) + 1 :]
            out.append(indent + code.removeprefix(" ") if code.strip() else "")
            i += 1
    text = "\n".join(out) + "\n"
    head = "from connector import (\n"
    assert head in text
    return text.replace(head, head + "".join(f"    {name},\n" for name in needs), 1)


# ---- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("foo-bar", Names("foo_bar", "foo-bar", "Foo Bar", "FooBar")),
        ("foo_bar", Names("foo_bar", "foo-bar", "Foo Bar", "FooBar")),
        ("Foo Bar", Names("foo_bar", "foo-bar", "Foo Bar", "FooBar")),
        ("  foo --  Bar_ ", Names("foo_bar", "foo-bar", "Foo Bar", "FooBar")),
        ("GitHub", Names("github", "github", "GitHub", "Github")),
        ("okta 2 SCIM", Names("okta_2_scim", "okta-2-scim", "Okta 2 SCIM", "Okta2Scim")),
        ("x", Names("x", "x", "X", "X")),
    ],
)
def test_names_map_every_spelling(given_name: str, expected: Names) -> None:
    assert names_for(given_name) == expected


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("---", "no letters"),
        ("2fa", "start with a letter"),
        ("_2fa", "start with a letter"),
        ("foo.bar", "contains '.'"),
        ("foo/bar", "contains '/'"),
        ("café", "contains 'é'"),
        ("foo\tbar", "contains"),
        ("class", "keyword"),
        ("Import", "keyword"),
        ("connector", "library module 'connector'"),
        ("server", "library module 'server'"),
        ("scaffold", "library module 'scaffold'"),
        ("tests", "'tests' folder"),
        ("microconnector", "library it depends on"),
        ("msgspec", "dependency 'msgspec'"),
        ("json", "standard library module 'json'"),
        ("Asyncio", "standard library module 'asyncio'"),
        ("Email", "standard library module 'email'"),
        ("x" * 41, "too long"),
    ],
)
def test_names_that_cannot_be_a_package_are_refused(bad: str, reason: str) -> None:
    with pytest.raises(ScaffoldError, match=re.escape(reason)):
        names_for(bad)


def test_a_refused_name_suggests_one_that_works() -> None:
    with pytest.raises(ScaffoldError, match="try 'json-connector'") as refused:
        names_for("json")
    suggestion = re.search(r"try '([^']+)'", str(refused.value))
    assert suggestion is not None
    assert names_for(suggestion.group(1)).package == "json_connector"


def test_no_standard_library_module_can_be_shadowed() -> None:
    for module in sys.stdlib_module_names:
        try:
            names = names_for(module)
        except ScaffoldError:
            continue
        assert names.package not in sys.stdlib_module_names, module


@given(st.text(alphabet=NAME_ALPHABET, max_size=50) | st.text(max_size=50))
@example("Foo Bar")
@example("import")
def test_any_name_is_refused_or_becomes_a_safe_package(name: str) -> None:
    """Every string is refused, or maps to a short ASCII identifier that shadows nothing."""
    try:
        names = names_for(name)
    except ScaffoldError as exc:
        assert str(exc)
        return
    import keyword

    package = names.package
    assert package.isidentifier() and package.isascii() and package == package.lower()
    assert not keyword.iskeyword(package)
    assert package not in sys.stdlib_module_names
    assert package not in {"connector", "server", "scaffold", "tests", "microconnector"}
    assert len(package) <= 40
    assert names.app_id == package.replace("_", "-")
    # Any spelling of the result maps back to the same names.
    assert names_for(names.app_id).package == package
    assert names_for(names.title).package == package
    assert names.class_name.isidentifier()


# ---- rendering -----------------------------------------------------------------------


def test_rendered_pyproject_depends_on_the_library() -> None:
    files = scaffold.render(names_for("foo-bar"), author="A", email="a@example.com")
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["name"] == "foo-bar"
    assert project["project"]["dependencies"] == [f"microconnector>={connector.__version__}"]
    assert project["project"]["scripts"] == {"foo-bar": "foo_bar.__main__:main"}
    assert "pytest>=8" in project["project"]["optional-dependencies"]["test"]
    assert project["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]
    assert project["tool"]["ruff"]["line-length"] == 100
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["only-include"] == ["foo_bar"]
    ours = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert ours["name"] == scaffold.DISTRIBUTION


def test_vendored_pyproject_depends_on_the_runtime_dependencies_only() -> None:
    files = scaffold.render(names_for("foo-bar"), author="A", email="a@e.com", vendor=True)
    project = tomllib.loads(files["pyproject.toml"])
    ours = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert project["project"]["dependencies"] == ours
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["only-include"] == ["foo_bar", "connector.py", "server.py"]
    assert "vendored" in files["README.md"]


@given(st.text(max_size=30), st.text(max_size=30))
@example('Zoë "Q" O\'Brien \\ \x7f', "a@b\n")
def test_author_and_email_survive_toml(author: str, email: str) -> None:
    """Whatever the author and email, the pyproject parses and carries them unchanged."""
    files = scaffold.render(names_for("foo-bar"), author=author, email=email)
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["authors"] == [{"name": author, "email": email}]


def test_generated_python_is_valid_and_names_the_connector() -> None:
    import ast

    files = scaffold.render(names_for("Foo Bar"), author="A", email="a@example.com")
    assert sorted(files) == [
        ".gitignore",
        "README.md",
        "foo_bar/__init__.py",
        "foo_bar/__main__.py",
        "foo_bar/integration.py",
        "pyproject.toml",
        "tests/test_integration.py",
    ]
    for path, text in files.items():
        if path.endswith(".py"):
            ast.parse(text, filename=path)
    assert 'app_id="foo-bar"' in files["foo_bar/integration.py"]
    assert "class FooBarSettings(msgspec.Struct" in files["foo_bar/integration.py"]
    assert "connector.run(integration)" in files["foo_bar/__main__.py"]
    assert 'if __name__ == "__main__":\n    main()' in files["foo_bar/__main__.py"]
    readme = files["README.md"]
    for needed in ("pip install -e '.[test]'", "pytest", "foo-bar info", "foo-bar serve"):
        assert needed in readme
    assert "microconnector" in readme and "not\non PyPI" in readme


def test_multi_auth_renders_a_two_credential_connector() -> None:
    import ast

    files = scaffold.render(names_for("Foo Bar"), author="A", email="a@e.com", multi_auth=True)
    plain = scaffold.render(names_for("Foo Bar"), author="A", email="a@e.com")
    assert sorted(files) == sorted(plain)
    for path, text in files.items():
        if path.endswith(".py"):
            ast.parse(text, filename=path)
    module = files["foo_bar/integration.py"]
    assert 'CredentialConfig(\n            id="oauth",\n            type=OAuthCredential,' in module
    assert 'id="scim",\n            type=TokenCredential,' in module
    assert "optional=True" in module
    assert 'allowed_credentials=[("oauth",), ("oauth", "scim")]' in module
    assert "auth=" not in module.replace("allowed_credentials=", "")
    assert 'get_credential(request, "oauth").access_token' in module
    assert 'get_credential(request, "scim").token' in module
    assert "    scim_url: str  #" in module  # required, like base_url
    # create_account and delete_account are live (on SCIM), so not among the examples.
    assert "# async def create_account(" not in module
    assert "\nasync def create_account(" in module and "\nasync def delete_account(" in module
    assert "# async def update_account(" in module
    assert '"credentials": [{"id": "oauth"' in files["README.md"]
    assert "validate_credential_config" in files["README.md"]
    # The rest of the project is the same.
    for path in ("pyproject.toml", "foo_bar/__init__.py", "foo_bar/__main__.py", ".gitignore"):
        assert files[path] == plain[path]


@pytest.mark.parametrize("multi_auth", [False, True], ids=["token", "multi-auth"])
def test_settings_are_required_and_exception_handlers_left_to_the_default(
    multi_auth: bool,
) -> None:
    """No placeholder URL to call by mistake; no line restating the default handler."""
    import ast

    files = scaffold.render(
        names_for("foo-bar"), author="A", email="a@e.com", multi_auth=multi_auth
    )
    module = files["foo_bar/integration.py"]
    (settings,) = [
        node
        for node in ast.parse(module).body
        if isinstance(node, ast.ClassDef) and node.name == "FooBarSettings"
    ]
    fields = {
        node.target.id: node.value
        for node in settings.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }
    expected = ["base_url", "scim_url"] if multi_auth else ["base_url"]
    assert list(fields) == expected
    assert all(value is None for value in fields.values())  # no defaults
    assert "example.com/v1" not in module.replace('"https://api.example.com/v1"', "")
    assert "exception_handlers" not in module and "HTTPHandler" not in module
    tests = files["tests/test_integration.py"]
    assert '"settings": SETTINGS' in tests and "def test_a_request_without" in tests
    assert "default is a placeholder" not in files["README.md"]
    assert '"settings": {"base_url":' in files["README.md"]


@pytest.mark.parametrize("multi_auth", [False, True], ids=["token", "multi-auth"])
def test_templates_use_the_shared_client_pages_and_the_conformance_check(
    multi_auth: bool,
) -> None:
    """One pool per integration, `Pages` for list_accounts, the fake set on the integration."""
    import ast

    files = scaffold.render(
        names_for("foo-bar"), author="A", email="a@e.com", multi_auth=multi_auth
    )
    module = files["foo_bar/integration.py"]
    tree = ast.parse(module)
    # No module-level `transport` seam, no HTTPClient built per call.
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    assert "transport" not in assigned
    assert "\n    MockTransport,\n" not in module  # not imported: the tests set it
    assert "HTTPClient(" not in module
    clients = 2 if multi_auth else 1
    assert module.count("return integration.http_client(settings.") == clients
    # list_accounts: a few lines around the library's walker.
    (listing,) = [
        node
        for node in tree.body
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "list_accounts"
    ]
    assert len(listing.body) <= 5
    body = ast.get_source_segment(module, listing) or ""
    assert 'Pages.cursor(api, "/users", items="users"' in body
    assert "await users.fill(request" in body
    assert "get_page" not in module and "InvalidPageTokenError(" not in module

    tests = files["tests/test_integration.py"]
    assert 'monkeypatch.setattr(integration_module, "transport"' not in tests
    assert "integration.configure_http(transport=mock)" in tests
    assert "integration.configure_http(transport=None)" in tests
    assert "transport.add(" in tests and "params={" in tests
    assert "transport.assert_all_called()" in tests
    assert "def test_list_accounts_pages_through_every_user(" in tests
    assert "def test_conformance() -> None:" in tests
    fixture = (
        '{"credentials": [OAUTH, SCIM], "settings": SETTINGS}'
        if multi_auth
        else '{"auth": {"token": {"token": TOKEN}}, "settings": SETTINGS}'
    )
    flat = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", tests))
    assert f"connector.assert_conformant(integration, {fixture})" in flat
    readme = files["README.md"]
    assert "foo-bar check --json-file fixture.json" in readme
    assert "integration.configure_http" in readme and "transport.add(" in readme


def test_templates_speak_the_4x_error_contract() -> None:
    for multi_auth in (False, True):
        files = scaffold.render(
            names_for("foo-bar"), author="A", email="a@e.com", multi_auth=multi_auth
        )
        text = "\n".join(files.values())
        assert "foo-bar." not in text.replace("foo-bar.example.com", "")  # no prefixed codes
        assert "{APP_ID}." not in text
        assert "unexpected_error" not in text
        assert 'error["error_metadata"]' in files["tests/test_integration.py"]
        assert '"app_info": {}' in files["tests/test_integration.py"]
    for name in ("update_account", "get_account", "list_updated_accounts"):
        assert f"# async def {name}(" in files["foo_bar/integration.py"]


# ---- the generated code passes ruff under its own settings ---------------------------


@pytest.mark.parametrize(
    ("vendor", "multi_auth"),
    [(False, False), (True, False), (False, True)],
    ids=["library", "vendored", "multi-auth"],
)
@pytest.mark.parametrize("name", ["foo-bar", "x", LONG_NAME])
def test_generated_code_passes_ruff(
    tmp_path: Path, name: str, vendor: bool, multi_auth: bool
) -> None:
    project = tmp_path / "project"
    scaffold.create(name, project, vendor=vendor, multi_auth=multi_auth, **AUTHOR)
    for args in (["check"], ["format", "--check"]):
        done = ruff(project, *args)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("multi_auth", [False, True], ids=["token", "multi-auth"])
@pytest.mark.parametrize("name", ["foo-bar", "x", LONG_NAME])
def test_uncommented_examples_pass_ruff(tmp_path: Path, name: str, multi_auth: bool) -> None:
    project = tmp_path / "project"
    scaffold.create(name, project, multi_auth=multi_auth, **AUTHOR)
    module = project / names_for(name).package / "integration.py"
    enabled = uncomment_examples(module.read_text())
    # 2 + 14 examples, or 4 + the 12 examples of what the multi-auth one lacks.
    assert enabled.count("@integration.capability") == 16
    module.write_text(enabled)
    # The names go in unsorted; sorting them is the author's (and ruff's) job.
    assert ruff(project, "check", "--fix", "--select", "I").returncode == 0
    for args in (["check"], ["format", "--check"]):
        done = ruff(project, *args)
        assert done.returncode == 0, done.stdout + done.stderr


# ---- writing -------------------------------------------------------------------------


def test_create_writes_a_new_folder_and_its_parents(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "foo-bar"
    files = scaffold.create("foo-bar", target, **AUTHOR)
    assert files == sorted(files)
    assert {path.relative_to(target).as_posix() for path in files} == {
        ".gitignore",
        "README.md",
        "foo_bar/__init__.py",
        "foo_bar/__main__.py",
        "foo_bar/integration.py",
        "pyproject.toml",
        "tests/test_integration.py",
    }
    assert all(path.is_absolute() and path.is_file() for path in files)
    assert sorted(p.name for p in target.parent.iterdir()) == ["foo-bar"]  # no staging left
    assert "Ada Lovelace" in (target / "pyproject.toml").read_text()


def test_create_fills_an_existing_empty_folder_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "here"
    target.mkdir()
    inode = target.stat().st_ino
    monkeypatch.chdir(target)
    scaffold.create("foo-bar", ".", **AUTHOR)
    assert target.stat().st_ino == inode  # the same folder, not a replacement
    assert sorted(p.name for p in target.iterdir()) == [
        ".gitignore",
        "README.md",
        "foo_bar",
        "pyproject.toml",
        "tests",
    ]


def test_files_get_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        scaffold.create("foo-bar", tmp_path / "p", **AUTHOR)
    finally:
        os.umask(old)
    assert (tmp_path / "p").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "p" / "pyproject.toml").stat().st_mode & 0o777 == 0o644


def test_a_non_empty_folder_is_refused_without_force(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    before = snapshot(tmp_path)
    with pytest.raises(ScaffoldError, match=r"is not empty \(\.git\); use --force"):
        scaffold.create("foo-bar", tmp_path, **AUTHOR)
    assert snapshot(tmp_path) == before


def test_existing_files_are_refused_without_force(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    with pytest.raises(ScaffoldError, match=r"README\.md.*--force"):
        scaffold.create("foo-bar", tmp_path, **AUTHOR)
    assert (tmp_path / "README.md").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_force_replaces_generated_paths_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    (tmp_path / "NOTES.txt").write_text("keep me\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_old.py").write_text("# old\n")
    created = scaffold._create(
        "foo-bar", tmp_path, force=True, vendor=False, author="A", email="a@e.com"
    )
    assert created.replaced == [tmp_path / "README.md"]
    assert "# Foo Bar connector" in (tmp_path / "README.md").read_text()
    assert (tmp_path / "NOTES.txt").read_text() == "keep me\n"
    assert (tmp_path / "tests" / "test_old.py").read_text() == "# old\n"
    assert (tmp_path / "tests" / "test_integration.py").is_file()
    assert not [p for p in tmp_path.iterdir() if ".scaffold-" in p.name]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: (root / "README.md").mkdir(), "README.md: it is a directory"),
        (lambda root: (root / "tests").write_text("x"), "tests is not a directory"),
    ],
)
def test_force_refuses_to_replace_a_folder_with_a_file_or_back(
    tmp_path: Path, make: Any, message: str
) -> None:
    make(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(ScaffoldError, match=re.escape(message)):
        scaffold.create("foo-bar", tmp_path, force=True, **AUTHOR)
    assert snapshot(tmp_path) == before


def test_a_file_as_target_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ScaffoldError, match="not a directory"):
        scaffold.create("foo-bar", target, force=True, **AUTHOR)
    with pytest.raises(ScaffoldError, match="not a directory"):
        scaffold.create("foo-bar", target / "below", **AUTHOR)


def test_a_bad_name_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="standard library"):
        scaffold.create("json", tmp_path / "json", **AUTHOR)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = scaffold._write_file
    calls = []

    def disk_full(path: Path, data: str | bytes) -> None:
        calls.append(path)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(scaffold, "_write_file", disk_full)
    with pytest.raises(ScaffoldError, match=r"No space left on device.*nothing was left behind"):
        scaffold.create("foo-bar", tmp_path / "new" / "foo-bar", **AUTHOR)
    assert len(calls) == 4
    assert list(tmp_path.iterdir()) == []  # neither the project, nor staging, nor `new/`


def test_an_interrupt_while_writing_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(path: Path, data: str | bytes) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(scaffold, "_write_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        scaffold.create("foo-bar", tmp_path / "foo-bar", **AUTHOR)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_move_under_force_restores_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_old.py").write_text("# old\n")
    before = snapshot(tmp_path)
    real = os.replace
    moves = []

    def flaky(src: Any, dst: Any) -> None:
        moves.append(dst)
        if len(moves) == 5:
            raise OSError(errno.EIO, "Input/output error", str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(ScaffoldError, match="Input/output error"):
        scaffold.create("foo-bar", tmp_path, force=True, **AUTHOR)
    monkeypatch.undo()
    # .gitignore in, README.md aside and in, two package files (the second fails),
    # then README.md put back.
    assert len(moves) == 6 and moves[-1] == tmp_path / "README.md"
    assert snapshot(tmp_path) == before


# ---- author, email, stdin ------------------------------------------------------------


def git_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config: str) -> None:
    """Points git at a global config of our own and no system config."""
    path = tmp_path / "gitconfig"
    path.write_text(config)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def authors_of(project: Path) -> list[dict[str, str]]:
    data = tomllib.loads((project / "pyproject.toml").read_text())
    authors: list[dict[str, str]] = data["project"]["authors"]
    return authors


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_author_and_email_come_from_git_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_identity(monkeypatch, tmp_path, "[user]\n\tname = Grace Hopper\n\temail = gh@example.com\n")
    scaffold.create("foo-bar", tmp_path / "a")
    assert authors_of(tmp_path / "a") == [{"name": "Grace Hopper", "email": "gh@example.com"}]
    scaffold.create("foo-bar", tmp_path / "b", author="Ada")
    assert authors_of(tmp_path / "b") == [{"name": "Ada", "email": "gh@example.com"}]


def test_author_and_email_fall_back_to_placeholders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_identity(monkeypatch, tmp_path, "")
    scaffold.create("foo-bar", tmp_path / "a")
    assert authors_of(tmp_path / "a") == [{"name": "Your Name", "email": "you@example.com"}]
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    scaffold.create("foo-bar", tmp_path / "b")
    assert authors_of(tmp_path / "b") == [{"name": "Your Name", "email": "you@example.com"}]


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ({"email": "not an email"}, "is not an address"),
        ({"email": "ü@example.com"}, "is not an address"),
        ({"author": "two\nlines"}, "no line breaks"),
    ],
)
def test_unusable_author_or_email_is_refused(
    tmp_path: Path, identity: dict[str, Any], message: str
) -> None:
    # hatchling would refuse to build such a project: better say so now.
    with pytest.raises(ScaffoldError, match=message):
        scaffold.create("foo-bar", tmp_path / "p", **identity)
    assert not (tmp_path / "p").exists()


def test_an_unusable_git_email_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git_identity(monkeypatch, tmp_path, "[user]\n\tname = Grace\n\temail = grace\n")
    scaffold.create("foo-bar", tmp_path / "a")
    assert authors_of(tmp_path / "a") == [{"name": "Grace", "email": "you@example.com"}]


def test_scaffolding_never_reads_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class NoStdin:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"stdin.{name} was used")

    runs: list[dict[str, Any]] = []
    real_run = subprocess.run

    def spy(*args: Any, **kwargs: Any) -> Any:
        runs.append(kwargs)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(sys, "stdin", NoStdin())
    monkeypatch.setattr(builtins, "input", NoStdin)
    monkeypatch.setattr(subprocess, "run", spy)
    scaffold.create("foo-bar", tmp_path / "p")  # author and email from git
    assert runs, "git config was not asked"
    assert all(kwargs["stdin"] is subprocess.DEVNULL for kwargs in runs)
    assert all(kwargs["timeout"] for kwargs in runs)


# ---- vendoring -----------------------------------------------------------------------


def test_vendor_copies_the_imported_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An unrelated server.py first on sys.path must not be the one copied.
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "server.py").write_text("DECOY = True\n")
    monkeypatch.syspath_prepend(str(decoy))
    monkeypatch.chdir(decoy)
    files = scaffold.create("foo-bar", tmp_path / "p", vendor=True, **AUTHOR)
    project = tmp_path / "p"
    assert project / "connector.py" in files and project / "server.py" in files
    here = Path(connector.__file__)
    assert (project / "connector.py").read_bytes() == here.read_bytes()
    assert (project / "server.py").read_bytes() == here.with_name("server.py").read_bytes()


def test_vendor_without_server_py_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    lonely = tmp_path / "lib" / "connector.py"
    lonely.parent.mkdir()
    lonely.write_bytes(Path(connector.__file__).read_bytes())
    monkeypatch.setattr(connector, "__file__", str(lonely))
    monkeypatch.delitem(sys.modules, "server", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ScaffoldError, match=r"--vendor needs server\.py"):
        scaffold.create("foo-bar", tmp_path / "p", vendor=True, **AUTHOR)
    assert not (tmp_path / "p").exists()


# ---- where the printed steps install the library from ----------------------------------


def fake_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct_url: dict[str, Any] | None
) -> Path:
    """connector.py as pip installs it (not editable): a site folder with its dist-info.

    `direct_url` is pip's record of the install source (PEP 610); None for an
    install from an index, which records none.
    """
    site = tmp_path / "site"
    info = site / f"microconnector-{connector.__version__}.dist-info"
    info.mkdir(parents=True)
    metadata = f"Metadata-Version: 2.1\nName: microconnector\nVersion: {connector.__version__}\n"
    (info / "METADATA").write_text(metadata)
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
    (site / "connector.py").write_bytes(Path(connector.__file__).read_bytes())
    monkeypatch.setattr(connector, "__file__", str(site / "connector.py"))
    monkeypatch.syspath_prepend(str(site))  # ahead of any other microconnector
    return site


def test_the_source_of_a_checkout_is_the_checkout() -> None:
    assert scaffold._library_source() == str(REPO)  # these tests run from one


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("wheel", "{wheel}"),
        ("wheel-removed", None),
        ("folder", "{folder}"),
        ("git", "microconnector @ git+https://example.com/lib.git@0123abc"),
        ("archive", "microconnector @ https://files.example.com/lib.tar.gz#subdirectory=py"),
        ("index", None),
    ],
)
def test_the_source_of_an_install_is_what_pip_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, expected: str | None
) -> None:
    wheel = tmp_path / "dist dir" / f"microconnector-{connector.__version__}-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK")
    folder = tmp_path / "a checkout"
    folder.mkdir()
    direct_url: dict[str, Any] | None = {
        "wheel": {"url": wheel.as_uri(), "archive_info": {}},
        "wheel-removed": {"url": (tmp_path / "gone.whl").as_uri(), "archive_info": {}},
        "folder": {"url": folder.as_uri(), "dir_info": {}},
        "git": {
            "url": "https://example.com/lib.git",
            "vcs_info": {"vcs": "git", "commit_id": "0123abc", "requested_revision": "main"},
        },
        # Credentials in the recorded URL are never printed.
        "archive": {
            "url": "https://user:s3cret@files.example.com/lib.tar.gz",
            "archive_info": {},
            "subdirectory": "py",
        },
        "index": None,
    }[kind]
    fake_install(tmp_path, monkeypatch, direct_url)
    found = scaffold._library_source()
    if expected is None:
        assert found is None
    else:
        assert found == expected.format(wheel=wheel, folder=folder)


def test_another_copy_installed_elsewhere_is_not_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_install(tmp_path, monkeypatch, {"url": tmp_path.as_uri(), "dir_info": {}})
    vendored = tmp_path / "project" / "connector.py"  # a copy the distribution did not install
    vendored.parent.mkdir()
    vendored.write_bytes(Path(connector.__file__).read_bytes())
    monkeypatch.setattr(connector, "__file__", str(vendored))
    assert scaffold._library_source() is None


def test_steps_and_readme_install_from_the_wheel_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shlex

    wheel = tmp_path / "my wheels" / f"microconnector-{connector.__version__}-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK")
    fake_install(tmp_path, monkeypatch, {"url": wheel.as_uri(), "archive_info": {}})
    scaffold.command("foo-bar", tmp_path / "p", **AUTHOR)
    out = capsys.readouterr().out
    install = f"pip install {shlex.quote(str(wheel))}"
    assert f"\n  {install}\n" in out
    assert "/path/to" not in out and "--vendor" not in out
    readme = (tmp_path / "p" / "README.md").read_text()
    assert f"\n{install}\n" in readme and "/path/to" not in readme


@pytest.mark.parametrize("multi_auth", [False, True], ids=["token", "multi-auth"])
def test_an_unknown_source_recommends_vendor(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    multi_auth: bool,
) -> None:
    import shlex

    fake_install(tmp_path, monkeypatch, None)  # from an index: nothing recorded
    monkeypatch.chdir(tmp_path)
    scaffold.command("Foo Bar", "my project", multi_auth=multi_auth, **AUTHOR)
    out = capsys.readouterr().out
    assert "pip install /" not in out and "/path/to" not in out
    readme = (tmp_path / "my project" / "README.md").read_text()
    assert "/path/to" not in readme
    assert "scaffold foo-bar . --vendor --force" in readme
    assert ("--multi-auth" in readme) is multi_auth
    # The printed command, run as printed, gives the vendored project.
    (again,) = [line.strip() for line in out.splitlines() if "--vendor" in line]
    argv = shlex.split(again)
    assert argv[:4] == ["python", "-m", "connector", "scaffold"]
    monkeypatch.setattr(connector, "__file__", str(REPO / "connector.py"))  # the copy to vendor
    assert connector.main(argv[3:]) == 0
    project = tmp_path / "my project"
    assert (project / "connector.py").is_file() and (project / "server.py").is_file()
    module = (project / "foo_bar" / "integration.py").read_text()
    assert ("CredentialConfig" in module) is multi_auth
    assert authors_of(project) == [{"name": AUTHOR["author"], "email": AUTHOR["email"]}]
    assert "--vendor" not in capsys.readouterr().out  # vendored: nothing left to install


# ---- the command line ----------------------------------------------------------------


def run_cli(*args: str, cwd: Path, module: str = "connector") -> tuple[int, str, str]:
    """`python -m connector ...` with stdin left open: reading it would hang until timeout."""
    reader, writer = os.pipe()  # the writer stays open: a read would block
    try:
        done = subprocess.run(
            [sys.executable, *(["-m", module] if module else []), *args],
            cwd=cwd,
            env=clean_env(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull),
            stdin=reader,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(reader)
        os.close(writer)
    return done.returncode, done.stdout, done.stderr


def test_cli_creates_a_project_and_says_what_next(tmp_path: Path) -> None:
    code, out, err = run_cli(
        "scaffold", "Foo Bar", "foo-bar", "--author", "Ada", "--email", "a@e.com", cwd=tmp_path
    )
    assert code == 0, err
    assert "Created the Foo Bar connector in foo-bar:" in out
    assert "  foo_bar/integration.py\n" in out
    assert "cd foo-bar" in out
    assert f"pip install {REPO}" in out  # where this library can be installed from
    assert "pip install -e '.[test]'" in out and "foo-bar info" in out
    assert (tmp_path / "foo-bar" / "foo_bar" / "__main__.py").is_file()
    code, out, err = run_cli("scaffold", "foo-bar", "vendored", "--vendor", cwd=tmp_path)
    assert code == 0, err
    assert "connector.py" in out and "pip install /" not in out


def test_command_takes_plain_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """scaffold.command: names and flags, no argparse Namespace; multi_auth included."""
    common: dict[str, Any] = {"author": "Ada", "email": "a@e.com", "force": False, "vendor": False}
    assert scaffold.command("foo-bar", tmp_path / "a", multi_auth=False, **common) == 0
    assert "CredentialConfig" not in (tmp_path / "a" / "foo_bar" / "integration.py").read_text()
    assert scaffold.command("foo-bar", str(tmp_path / "b"), multi_auth=True, **common) == 0
    assert "CredentialConfig" in (tmp_path / "b" / "foo_bar" / "integration.py").read_text()
    assert "Created the Foo Bar connector" in capsys.readouterr().out


def test_command_raises_scaffold_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An exception, not a usage error: connector.main decides how to show it.
    with pytest.raises(ScaffoldError, match="standard library module 'json'"):
        scaffold.command("json", tmp_path / "p")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    with pytest.raises(ScaffoldError, match="is not empty"):
        scaffold.command("foo-bar", tmp_path / "full", author="Ada", email="a@e.com")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scaffold", "json", "p"], "shadows the standard library module 'json'"),
        (["scaffold", "2fa", "p"], "must start with a letter"),
        (["scaffold", "foo-bar", "full"], "is not empty"),
    ],
)
def test_cli_refusals_exit_2_without_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    code, _, err = run_cli(*args, cwd=tmp_path)
    assert code == 2
    assert message in err
    assert "error:" in err and "Traceback" not in err
    assert not (tmp_path / "p").exists()
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["file"]


def test_cli_force_writes_into_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("old\n")
    code, out, err = run_cli("scaffold", "foo-bar", ".", "--force", cwd=tmp_path)
    assert code == 0, err
    assert "README.md  (replaced)" in out


def test_cli_multi_auth_writes_the_two_credential_connector(tmp_path: Path) -> None:
    code, out, _ = run_cli("scaffold", "--help", cwd=tmp_path)
    if "--multi-auth" not in out:
        pytest.skip("connector.main() does not define the scaffold option --multi-auth yet")
    code, out, err = run_cli("scaffold", "foo-bar", "p", "--multi-auth", cwd=tmp_path)
    assert code == 0, err
    module = (tmp_path / "p" / "foo_bar" / "integration.py").read_text()
    assert 'allowed_credentials=[("oauth",), ("oauth", "scim")]' in module


def test_python_m_scaffold_is_the_same_command(tmp_path: Path) -> None:
    code, _, err = run_cli("foo-bar", "p", module="scaffold", cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / "p" / "pyproject.toml").is_file()
    code, _, err = run_cli("connector", "q", module="scaffold", cwd=tmp_path)
    assert code == 2 and "library module 'connector'" in err


def test_python_m_scaffold_runs_scaffold_py_once(tmp_path: Path) -> None:
    # Run as __main__, scaffold.py must not be imported again as `scaffold`
    # (through connector.main): -X importtime lists every module imported.
    code, _, err = run_cli(
        "-X", "importtime", "-m", "scaffold", "foo-bar", "p", module="", cwd=tmp_path
    )
    assert code == 0, err
    imported = [line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if "|" in line]
    assert "connector" in imported
    assert "scaffold" not in imported
    assert (tmp_path / "p" / "pyproject.toml").is_file()


# ---- end to end: fresh venvs, the generated tests, the console script ----------------


class FakeApiHandler(http.server.BaseHTTPRequestHandler):
    """A real HTTP upstream for the console script: GET /v1/me and /v1/users."""

    token: ClassVar[str] = "real-token-1234"
    users: ClassVar[list[dict[str, str]]] = [
        {"id": f"u{n}", "email": f"u{n}@example.com"} for n in range(1, 4)
    ]

    def do_GET(self) -> None:
        from urllib.parse import parse_qs, urlsplit

        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self.answer(401, {"error": "bad token"})
        elif url.path == "/v1/me":
            self.answer(200, {"tenant_id": "local"})
        elif url.path == "/v1/users":
            start = int(query.get("cursor", "0"))
            chunk = self.users[start : start + int(query.get("limit", "100"))]
            end = start + len(chunk)
            more = str(end) if end < len(self.users) else None
            self.answer(200, {"users": chunk, "next_cursor": more})
        else:
            self.answer(404, {"error": "not found"})

    def answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeApiHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def run(cmd: list[str | Path], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    del env["PYTHONPATH"]  # the venv alone decides what is importable
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def make_venv(where: Path, *packages: str | Path) -> Path:
    """A fresh venv with `packages` installed; returns its bin folder."""
    done = run([sys.executable, "-m", "venv", where], cwd=where.parent)
    assert done.returncode == 0, done.stderr
    bin_dir = where / ("Scripts" if os.name == "nt" else "bin")
    pip_install(bin_dir, where.parent, *packages)
    return bin_dir


def pip_install(bin_dir: Path, cwd: Path, *packages: str | Path) -> None:
    done = run(
        [
            bin_dir / "python",
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            *packages,
        ],
        cwd=cwd,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def library_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this library, built from the working tree."""
    where = tmp_path_factory.mktemp("wheel")
    done = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", where, REPO], where)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = where.glob("microconnector-*.whl")
    return wheel


@pytest.fixture(scope="session")
def library_venv(tmp_path_factory: pytest.TempPathFactory, library_wheel: Path) -> Path:
    """A venv with this library installed from its wheel (not editable), and pytest.

    pytest comes with it so that the tests running generated tests here need no
    project install first (whatever order they run in).
    """
    return make_venv(tmp_path_factory.mktemp("venvs") / "library", library_wheel, "pytest")


@pytest.fixture(scope="session")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with only the library's runtime dependencies, and pytest to run tests."""
    return make_venv(
        tmp_path_factory.mktemp("venvs") / "bare", *scaffold._RUNTIME_DEPENDENCIES, "pytest"
    )


def envelope(token: str, base_url: str, **fields: Any) -> str:
    body = {"auth": {"token": {"token": token}}, "request": {}, "settings": {"base_url": base_url}}
    return json.dumps({**body, **fields})


def check_project(bin_dir: Path, project: Path, api_url: str) -> None:
    """Installs the generated project, runs its tests, then its console script."""
    pip_install(bin_dir, project, "-e", ".[test]")
    done = run([bin_dir / "python", "-m", "pytest", "-p", "no:cacheprovider"], cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b2[0-9] passed\b", done.stdout), done.stdout

    script = bin_dir / "foo-bar"
    done = run([script, "info"], cwd=project)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)["response"]
    assert info["app_id"] == "foo-bar"
    # app_info and probe_integration: every 4.x integration answers them.
    assert info["capabilities"] == [
        "app_info",
        "list_accounts",
        "probe_integration",
        "validate_credentials",
    ]
    assert info["credentials_schema"] == []
    done = run([bin_dir / "python", "-m", "foo_bar", "info"], cwd=project.parent)
    assert done.returncode == 0 and json.loads(done.stdout)["response"]["app_id"] == "foo-bar"

    # Capabilities over the real network, against a local HTTP server.
    token = FakeApiHandler.token
    done = run([script, "validate-credentials", "--json", envelope(token, api_url)], cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["response"] == {"valid": True, "unique_tenant_id": "local"}
    first = envelope(token, api_url, page={"size": 2})
    done = run([script, "list-accounts", "--json", first], cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert [a["integration_specific_id"] for a in answer["response"]] == ["u1", "u2"]
    rest = envelope(token, api_url, page=answer["page"])
    done = run([script, "list_accounts", "--json", rest], cwd=project)
    answer = json.loads(done.stdout)
    assert [a["integration_specific_id"] for a in answer["response"]] == ["u3"]
    assert answer["page"] is None

    # The connector's own conformance check (the README's), against the same server.
    fixture = project / "fixture.json"
    fixture.write_text(envelope(token, api_url))
    done = run([script, "check", "--json-file", fixture], cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS  pagination:list_accounts" in done.stdout and "FAIL" not in done.stdout

    # Errors are envelopes with exit code 1, never tracebacks.
    done = run(
        [script, "validate-credentials", "--json", envelope("wrong-token", api_url)], cwd=project
    )
    assert done.returncode == 1, done.stdout + done.stderr
    error = json.loads(done.stdout)["error"]
    assert (error["error_code"], error["status_code"]) == ("unauthorized", 401)
    assert "Traceback" not in done.stderr and "wrong-token" not in done.stdout + done.stderr
    done = run([script, "list-accounts", "--json", envelope(token, api_url + "/nope")], cwd=project)
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["error_code"] == "not_found"
    done = run([script, "validate-credentials", "--json", "{not json"], cwd=project)
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["error_code"] == "bad_request"

    # --result-file-path: the result goes to the file (gzip for .gz), exit 0 even for an error.
    result = project / "result.json.gz"
    wrong = envelope("wrong-token", api_url)
    done = run([script, "validate-credentials", "--json", wrong, "--result-file-path", result],
               cwd=project)  # fmt: skip
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    error = json.loads(gzip.decompress(result.read_bytes()))["error"]
    assert (error["error_code"], error["status_code"]) == ("unauthorized", 401)
    assert error["error_metadata"]["refreshable"] is True
    done = run([script, "validate-credentials", "--json", wrong,
                "--result-file-path", project / "no" / "such" / "dir.json"], cwd=project)  # fmt: skip
    assert done.returncode == 2 and done.stdout == "", done.stderr


@pytest.mark.slow
def test_generated_project_works_with_the_library_installed(
    library_venv: Path, tmp_path: Path, api_url: str
) -> None:
    project = tmp_path / "foo-bar"
    scaffold.create("foo-bar", project, **AUTHOR)
    check_project(library_venv, project, api_url)


@pytest.mark.slow
def test_printed_next_steps_work_after_a_wheel_install(
    library_venv: Path, library_wheel: Path, tmp_path: Path
) -> None:
    """The scaffold run from the wheel-installed library; its "Next:" lines run as printed."""
    done = run([library_venv / "python", "-m", "connector", "scaffold", "foo-bar", "my project",
                "--author", AUTHOR["author"], "--email", AUTHOR["email"]], cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    steps = done.stdout.split("\nNext:\n", 1)[1].splitlines()
    assert f"  pip install {library_wheel}" in steps  # where the library came from
    # The user's shell: the library's venv active, as when they ran the scaffold.
    env = clean_env(PATH=f"{library_venv}{os.pathsep}{os.environ.get('PATH', '')}")
    del env["PYTHONPATH"]
    script = "set -eu\n" + "\n".join(line.strip() for line in steps) + "\n"
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, script + done.stdout + done.stderr
    assert re.search(r"\b2[0-9] passed\b", done.stdout), done.stdout  # the generated tests
    info = json.loads(done.stdout[done.stdout.index("\n{") :])  # `foo-bar info --pretty`, last
    assert info["response"]["app_id"] == "foo-bar"
    project_python = tmp_path / "my project" / ".venv" / "bin" / "python"
    where = "import connector; print(connector.__file__)"
    done = run([project_python, "-c", where], cwd=tmp_path)
    assert "site-packages" in done.stdout, done.stderr  # the wheel's, not a checkout


@pytest.mark.slow
def test_console_script_beside_connector_py_says_what_to_do(
    library_wheel: Path, tmp_path: Path
) -> None:
    """The real clash: Lumos's connector-py (its package, installed without its
    dependencies) in the same venv as the wheel. `microconnector` names it and says
    to use another venv instead of failing in connector-py's imports."""
    bin_dir = make_venv(tmp_path / "both", library_wheel)
    pip_install(bin_dir, tmp_path, "--no-deps", "connector-py==4.280.0")
    done = run([bin_dir / "microconnector", "--help"], cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert "Traceback" not in done.stderr
    assert "(installed by connector-py)" in done.stderr
    assert "virtual environment without connector-py" in done.stderr


@pytest.mark.slow
def test_generated_project_works_vendored_without_the_library(
    bare_venv: Path, tmp_path: Path, api_url: str
) -> None:
    project = tmp_path / "foo-bar"
    scaffold.create("foo-bar", project, vendor=True, **AUTHOR)
    check_project(bare_venv, project, api_url)
    done = run([bare_venv / "python", "-m", "pip", "show", "microconnector"], cwd=tmp_path)
    assert done.returncode != 0  # the library itself was never installed
    where = "import connector, server; print(connector.__file__); print(server.__file__)"
    done = run([bare_venv / "python", "-c", where], cwd=tmp_path)
    assert done.stdout.split() == [str(project / "connector.py"), str(project / "server.py")]


@pytest.mark.slow
def test_uncommented_examples_register_and_pass_the_generated_tests(
    library_venv: Path, tmp_path: Path
) -> None:
    # Run from the project folder: its pytest `pythonpath = ["."]` imports this copy.
    project = tmp_path / "foo-bar"
    scaffold.create("foo-bar", project, **AUTHOR)
    module = project / "foo_bar" / "integration.py"
    module.write_text(uncomment_examples(module.read_text()))
    done = run([library_venv / "python", "-m", "pytest", "-p", "no:cacheprovider"], cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b3[0-9] passed\b", done.stdout), done.stdout
    show = "import foo_bar.integration as m; print(len(m.integration.capabilities))"
    done = run([library_venv / "python", "-c", show], cwd=project)
    assert done.stdout.strip() == "18", done.stderr  # 16, app_info and probe_integration


@pytest.mark.slow
@needs_multi_auth
def test_multi_auth_project_passes_its_tests(library_venv: Path, tmp_path: Path) -> None:
    # In the library venv, from the project folder (its pytest `pythonpath = ["."]`):
    # no second install.
    project = tmp_path / "foo-bar"
    scaffold.create("foo-bar", project, multi_auth=True, **AUTHOR)
    python = library_venv / "python"
    done = run([python, "-m", "pytest", "-p", "no:cacheprovider"], cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b3[0-9] passed\b", done.stdout), done.stdout

    done = run([python, "-m", "foo_bar", "info"], cwd=project)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)["response"]
    assert [entry["id"] for entry in info["credentials_schema"]] == ["oauth", "scim"]
    assert info["authentication_schema"] == {}
    assert info["capabilities"] == [
        "app_info",
        "create_account",
        "delete_account",
        "list_accounts",
        "probe_integration",
        "validate_credential_config",
        "validate_credentials",
    ]
    # The console entry point: a SCIM capability without the SCIM token, and a check.
    # The settings are required (no placeholder URLs to call by mistake).
    settings = {"base_url": "https://api.test/v1", "scim_url": "https://api.test/scim/v2"}
    oauth_only = {
        "credentials": [{"id": "oauth", "oauth": {"access_token": "access-token-1234"}}],
        "request": {"account_id": "u1"},
        "settings": settings,
    }
    done = run([python, "-m", "foo_bar", "delete-account", "--json", json.dumps(oauth_only)],
               cwd=project)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["error_code"] == "bad_request" and "'scim'" in error["message"]
    assert "access-token-1234" not in done.stdout + done.stderr
    check = {
        "request": {"credential": {"id": "scim", "token": {"token": ""}}},
        "settings": settings,
    }
    done = run([python, "-m", "foo_bar", "validate-credential-config", "--json",
                json.dumps(check)], cwd=project)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["response"]["valid"] is False

    # Every example uncommented: registered, and covered by the generated tests.
    module = project / "foo_bar" / "integration.py"
    module.write_text(uncomment_examples(module.read_text()))
    done = run([python, "-m", "pytest", "-p", "no:cacheprovider"], cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b5[0-9] passed\b", done.stdout), done.stdout
    show = "import foo_bar.integration as m; print(len(m.integration.capabilities))"
    done = run([python, "-c", show], cwd=project)
    assert done.stdout.strip() == "19", done.stderr  # 16 and the library's three


@pytest.mark.slow
@pytest.mark.parametrize(
    "multi_auth", [False, pytest.param(True, marks=needs_multi_auth)], ids=["token", "multi-auth"]
)
def test_generated_code_passes_mypy_strict(tmp_path: Path, multi_auth: bool) -> None:
    pytest.importorskip("mypy")
    project = tmp_path / "foo-bar"
    scaffold.create("foo-bar", project, multi_auth=multi_auth, **AUTHOR)
    module = project / "foo_bar" / "integration.py"
    module.write_text(uncomment_examples(module.read_text()))
    env = clean_env(MYPYPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "foo_bar", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
