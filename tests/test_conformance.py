"""The conformance check (`check_conformance`, `python -m connector check`).

The example connector passes every check, writes included; each planted bug,
one small connector apiece built from the example's functions, fails exactly
the check that names it, with its evidence, and nothing else fails.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mock_connector  # examples/ is on sys.path (tests/conftest.py)
import pytest
from mock_connector import PASSWORD, MockSettings

import connector
from connector import (
    AssignedEntitlement,
    AssignEntitlementRequest,
    AssignEntitlementResponse,
    ConformanceReport,
    ConnectorError,
    ErrorCode,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
    ListEntitlementsRequest,
    ListEntitlementsResponse,
    ListResourcesRequest,
    ListResourcesResponse,
    Page,
    ValidateCredentialsRequest,
    ValidateCredentialsResponse,
    get_basic_auth,
    get_page,
)

pytestmark = pytest.mark.anyio

MOCK = str(Path(mock_connector.__file__))
FIXTURE: dict[str, Any] = {
    "auth": {"basic": {"username": "admin", "password": PASSWORD}},
    "settings": {"tenant": "conformance"},
    "account": {
        "email": "conformance@example.com",
        "username": "conformance",
        "given_name": "Con",
        "family_name": "Formance",
        "entitlements": [],
    },
    "entitlement": {
        "resource_integration_specific_id": "workspace",
        "resource_type": "workspace",
        "entitlement_type": "group",
        "entitlement_integration_specific_id": "admins",
    },
}
MOCK_CAPABILITIES = sorted(
    name for name, cap in mock_connector.integration.capabilities.items() if not cap.default
)


@pytest.fixture(autouse=True)
def _fresh_directory() -> Any:
    mock_connector.reset()
    yield
    mock_connector.reset()


@pytest.fixture
def fixture_file(tmp_path: Path) -> Path:
    path = tmp_path / "fixture.json"
    path.write_text(json.dumps(FIXTURE))
    return path


def planted(**replacements: Callable[..., Any]) -> Integration:
    """The example connector under another app id, with some capabilities replaced."""
    example = mock_connector.integration
    integration = Integration(
        app_id="planted",
        version="0.0.1",
        auth=connector.BasicCredential,
        settings_model=MockSettings,
        resource_types=example.resource_types,
        entitlement_types=example.entitlement_types,
        validate_responses=replacements.pop("validate_responses", True),  # type: ignore[arg-type]
    )
    for name in MOCK_CAPABILITIES:
        func = replacements.get(name, example.capabilities[name].func)
        integration.register_capability(name)(func)
    return integration


def failed(report: ConformanceReport) -> list[str]:
    return [check.name for check in report.failed]


def check(report: ConformanceReport, name: str) -> connector.CheckResult:
    return next(c for c in report.checks if c.name == name)


def assert_no_secret(report: ConformanceReport) -> None:
    for text in (report.as_text(), report.as_json()):
        assert PASSWORD not in text
        assert "correct-horsx" not in text  # the altered password the check sends


# ---- planted bugs ----------------------------------------------------------------------


def _accounts_page(
    request: ListAccountsRequest, settings: MockSettings, *, repeat: bool, endless: bool
) -> ListAccountsResponse:
    """The example's accounts by offset (plain integer tokens), with a planted bug."""
    mock_connector._check_credentials(request)
    users = list(mock_connector._directory(settings).users.values())
    page = get_page(request)
    size = page.size or 10
    offset = int(page.token) if page.token else 0
    start = offset - 1 if repeat and offset else offset  # repeat: the previous page's last
    accounts = [
        connector.FoundAccountData(integration_specific_id=user.id, email=user.email)
        for user in users[start : offset + size]
    ]
    more = endless or offset + size < len(users)
    return ListAccountsResponse(
        response=accounts, page=Page(token=str(offset + size), size=size) if more else None
    )


async def repeating_list_accounts(
    request: ListAccountsRequest, settings: MockSettings
) -> ListAccountsResponse:
    """Every page after the first starts with the previous page's last account."""
    return _accounts_page(request, settings, repeat=True, endless=False)


async def endless_list_accounts(
    request: ListAccountsRequest, settings: MockSettings
) -> ListAccountsResponse:
    """Always a next page, empty ones past the end."""
    return _accounts_page(request, settings, repeat=False, endless=True)


async def forgetful_assign_entitlement(
    request: AssignEntitlementRequest, settings: MockSettings
) -> AssignEntitlementResponse:
    """Says it assigned, changes nothing."""
    mock_connector._check_credentials(request)
    return AssignEntitlementResponse(response=AssignedEntitlement(assigned=True))


async def mistyped_list_entitlements(
    request: ListEntitlementsRequest, settings: MockSettings
) -> ListEntitlementsResponse:
    """A label that is a number."""
    answer = await mock_connector.list_entitlements(request, settings)
    answer.response[0].label = 42  # type: ignore[assignment]
    return answer


_log = logging.getLogger("planted")


async def leaky_validate_credentials(
    request: ValidateCredentialsRequest, settings: MockSettings
) -> ValidateCredentialsResponse:
    """Logs the refused password through its own logger (the envelope is scrubbed, the log not)."""
    basic = get_basic_auth(request)
    if basic.password != PASSWORD:
        message = f"login refused for {basic.username} with password {basic.password}"
        _log.warning("%s", message)
        raise ConnectorError(message, ErrorCode.UNAUTHORIZED)
    return await mock_connector.validate_credentials(request, settings)


async def echoing_list_resources(
    request: ListResourcesRequest, settings: MockSettings
) -> ListResourcesResponse:
    """A success response that carries the password (success responses are not scrubbed)."""
    answer = await mock_connector.list_resources(request, settings)
    answer.response[0].description = f"reached with {get_basic_auth(request).password}"
    return answer


# ---- the example passes -----------------------------------------------------------------


async def test_the_example_passes_everything_with_writes() -> None:
    report = await connector.check_conformance(mock_connector.integration, FIXTURE, write=True)
    assert report.ok, report.as_text()
    names = {c.name for c in report.checks}
    for name in mock_connector.integration.capabilities:
        assert f"envelope:{name}" in names
    passed = {c.name for c in report.checks if c.status == "pass"}
    assert {f"identity:{step}" for step in connector._CHECK_IDENTITY_STEPS} - passed == {
        "identity:get_account"  # the example has no get_account
    }
    for name in ("list_accounts", "list_entitlements", "find_entitlement_associations"):
        assert f"pagination:{name}" in passed and f"page_token:{name}" in passed
    assert {"errors:bad_credentials:auth.basic.password", "errors:malformed_request"} <= passed
    assert "secrets:no_leak" in passed
    assert report.calls["list_accounts"].calls > 25 and report.calls["list_accounts"].median_ms >= 0
    assert_no_secret(report)


async def test_writes_are_undone() -> None:
    settings = MockSettings(tenant="conformance")
    before = set(mock_connector._directory(settings).memberships)
    users = set(mock_connector._directory(settings).users)
    report = await connector.check_conformance(mock_connector.integration, FIXTURE, write=True)
    assert report.ok
    directory = mock_connector._directory(settings)
    assert set(directory.users) == users
    assert directory.memberships == before


async def test_without_write_the_writes_are_skipped() -> None:
    report = await connector.check_conformance(mock_connector.integration, FIXTURE)
    assert report.ok
    assert check(report, "identity").status == "skipped"
    assert not any(c.name.startswith("identity:") for c in report.checks)
    assert check(report, "envelope:create_account").status == "skipped"
    assert len(mock_connector._directory(MockSettings(tenant="conformance")).users) == 25


def test_assert_conformant_and_the_report_formats() -> None:
    report = connector.assert_conformant(mock_connector.integration, FIXTURE)
    data = json.loads(report.as_json())
    assert data["ok"] is True and data["summary"]["fail"] == 0
    assert {c["name"] for c in data["checks"]} == {c.name for c in report.checks}
    text = report.as_text()
    assert text.startswith("Conformance of mock 1.0.0 (API 4)")
    assert "PASS  pagination:list_accounts" in text and "median ms" in text


def test_assert_conformant_raises_with_the_text_report() -> None:
    with pytest.raises(AssertionError, match="FAIL  pagination:list_accounts"):
        connector.assert_conformant(planted(list_accounts=endless_list_accounts), FIXTURE)


# ---- each planted bug fails its check, and only that one ---------------------------------


async def test_an_item_repeated_across_pages() -> None:
    report = await connector.check_conformance(
        planted(list_accounts=repeating_list_accounts), FIXTURE
    )
    assert failed(report) == ["pagination:list_accounts"], report.as_text()
    found = check(report, "pagination:list_accounts")
    assert "page 2 of size 1 repeats an item of page 1" in (found.message or "")
    (evidence,) = found.evidence
    assert evidence["capability"] == "list_accounts"
    assert evidence["request"]["page"]["size"] == 1
    assert evidence["request"]["auth"]["basic"]["password"] == "[redacted]"
    ids = [a["integration_specific_id"] for a in evidence["response"]["response"]]
    assert ids == ["user-0001", "user-0002"]
    assert_no_secret(report)


async def test_pages_that_never_end() -> None:
    report = await connector.check_conformance(
        planted(list_accounts=endless_list_accounts), FIXTURE, max_pages=20
    )
    assert failed(report) == ["pagination:list_accounts"], report.as_text()
    found = check(report, "pagination:list_accounts")
    assert "no last page after 20 pages of size 100" in (found.message or "")
    assert found.evidence[0]["response"]["page"]["token"]
    assert report.calls["list_accounts"].calls <= 25
    assert check(report, "page_token:list_accounts").status == "skipped"


async def test_an_assignment_that_changes_nothing() -> None:
    report = await connector.check_conformance(
        planted(assign_entitlement=forgetful_assign_entitlement), FIXTURE, write=True
    )
    assert failed(report) == ["identity:association_listed"], report.as_text()
    found = check(report, "identity:association_listed")
    assert found.evidence[0]["capability"] == "assign_entitlement"
    assert (
        found.evidence[0]["request"]["request"]["entitlement_integration_specific_id"] == "admins"
    )
    for step in ("unassign_entitlement", "association_gone"):
        skipped = check(report, f"identity:{step}")
        assert skipped.status == "skipped" and "depends on" in (skipped.message or "")
    for step in ("deactivate_account", "activated_status", "delete_account", "gone"):
        assert check(report, f"identity:{step}").status == "pass"
    assert report.notes == []  # deleting the account undid the (unseen) assignment


@pytest.mark.parametrize("validate", [True, False], ids=["dispatch-validates", "check-validates"])
async def test_a_field_of_the_wrong_type(validate: bool) -> None:
    integration = planted(
        list_entitlements=mistyped_list_entitlements,
        validate_responses=validate,  # type: ignore[arg-type]
    )
    report = await connector.check_conformance(integration, FIXTURE)
    assert failed(report) == ["envelope:list_entitlements"], report.as_text()
    found = check(report, "envelope:list_entitlements")
    assert "Expected `str`, got `int` - at `$.response[0].label`" in (found.message or "")
    assert found.evidence[0]["capability"] == "list_entitlements"
    assert check(report, "pagination:list_entitlements").status == "skipped"


async def test_a_password_in_a_log_record() -> None:
    report = await connector.check_conformance(
        planted(validate_credentials=leaky_validate_credentials), FIXTURE
    )
    assert failed(report) == ["secrets:no_leak"], report.as_text()
    found = check(report, "secrets:no_leak")
    assert "a log record of 'planted' (WARNING)" in (found.message or "")
    assert found.evidence[0]["excerpt"] == "login refused for admin with password [redacted]"
    # The library scrubbed the envelope itself: the credential check passes.
    assert check(report, "errors:bad_credentials:auth.basic.password").status == "pass"
    assert_no_secret(report)


async def test_a_password_in_a_success_response() -> None:
    report = await connector.check_conformance(
        planted(list_resources=echoing_list_resources), FIXTURE
    )
    assert failed(report) == ["secrets:no_leak"], report.as_text()
    assert "the response of list_resources" in (check(report, "secrets:no_leak").message or "")
    assert_no_secret(report)


async def test_refused_fixture_credentials_fail_validate_credentials() -> None:
    wrong = {**FIXTURE, "auth": {"basic": {"username": "admin", "password": "not-the-horse"}}}
    report = await connector.check_conformance(mock_connector.integration, wrong)
    found = check(report, "envelope:validate_credentials")
    assert found.status == "fail" and "credentials are refused" in (found.message or "")
    assert "not-the-horse" not in report.as_json()


# ---- options ---------------------------------------------------------------------------------


async def test_only_picks_groups_capabilities_and_checks() -> None:
    report = await connector.check_conformance(
        mock_connector.integration, FIXTURE, only=["pagination", "page_token:list_accounts"]
    )
    names = [c.name for c in report.checks]
    assert all(n.startswith("pagination:") or n == "page_token:list_accounts" for n in names)
    assert "pagination:list_accounts" in names
    report = await connector.check_conformance(
        mock_connector.integration, FIXTURE, only=["errors:bad_credentials"]
    )
    assert [c.name for c in report.checks] == ["errors:bad_credentials:auth.basic.password"]
    report = await connector.check_conformance(
        mock_connector.integration, FIXTURE, only=["list_entitlements"]
    )
    assert [c.name for c in report.checks] == [
        "envelope:list_entitlements",
        "pagination:list_entitlements",
        "page_token:list_entitlements",
    ]


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ([], "must be a JSON object"),
        ({"auth": "correct-horse-secret"}, "`auth` must be an object"),
        ({"credentials": [1]}, "`credentials` must be a list of objects"),
    ],
)
async def test_an_unusable_fixture_is_a_value_error(fixture: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        await connector.check_conformance(mock_connector.integration, fixture)
    assert "correct-horse" not in str(raised.value)


async def test_an_unknown_only_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'list_acounts' names no check"):
        await connector.check_conformance(
            mock_connector.integration, FIXTURE, only=["list_acounts"]
        )


async def test_logging_is_restored() -> None:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    await connector.check_conformance(mock_connector.integration, FIXTURE, only=["errors"])
    assert root.level == level and root.handlers == handlers
    assert all(not h.filters for h in handlers if h not in handlers)


# ---- the command line --------------------------------------------------------------------


def test_cli_exit_0_text(fixture_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert connector.main(["check", MOCK, "--json-file", str(fixture_file), "--write"]) == 0
    out = capsys.readouterr().out
    assert "PASS  identity:gone" in out and PASSWORD not in out


def test_cli_json_format_parses(fixture_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = connector.main(
        ["check", MOCK, "--json-file", str(fixture_file), "--format", "json", "--only", "errors"]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert [c["name"] for c in data["checks"]] == [
        "errors:bad_credentials:auth.basic.password",
        "errors:malformed_request",
    ]


def test_cli_exit_1_when_a_check_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps({"auth": {"basic": {"username": "admin", "password": "nope-nope"}}}))
    assert connector.main(["check", MOCK, "--json-file", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  envelope:validate_credentials" in out and "nope-nope" not in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"auth": {"basic": {"password": "s3cret-value', "is not a JSON document"),
        (b'["s3cret-value"]', "must be a JSON object"),
        (b'{"settings": "s3cret-value"}', "`settings` must be an object"),
    ],
)
def test_cli_exit_2_on_a_bad_fixture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(SystemExit) as raised:
        connector.main(["check", MOCK, "--json-file", str(path)])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err and "s3cret" not in err


def test_cli_exit_2_on_a_missing_fixture_or_unknown_only(
    fixture_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        connector.main(["check", MOCK, "--json-file", str(fixture_file.with_name("none.json"))])
    assert raised.value.code == 2
    assert "cannot read the fixture" in capsys.readouterr().err
    with pytest.raises(SystemExit) as raised:
        connector.main(["check", MOCK, "--json-file", str(fixture_file), "--only", "nothing"])
    assert raised.value.code == 2


def test_a_connectors_own_cli_has_check(
    fixture_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        connector.run(mock_connector.integration, ["check", "--json-file", str(fixture_file)])
    assert raised.value.code == 0
    assert "PASS  pagination:list_accounts" in capsys.readouterr().out
