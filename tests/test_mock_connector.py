"""Every capability of examples/mock_connector.py, through `integration.dispatch`."""

from __future__ import annotations

import base64
import inspect
import threading
from typing import Any

import mock_connector  # examples/ is on sys.path (tests/conftest.py)
import msgspec
import pytest
from _payloads import PAYLOADS as VALID_PAYLOADS

import connector
from connector import ErrorResponse

pytestmark = pytest.mark.anyio

BASIC = {"basic": {"username": "admin", "password": "correct-horse"}}
WRONG_PASSWORD = {"basic": {"username": "admin", "password": "not-the-horse"}}
SEEDED_IDS = [f"user-{n:04d}" for n in range(1, 26)]

RESPONSE_TYPES: dict[str, type[Any]] = {
    "validate_credentials": connector.ValidateCredentialsResponse,
    "list_accounts": connector.ListAccountsResponse,
    "list_resources": connector.ListResourcesResponse,
    "list_entitlements": connector.ListEntitlementsResponse,
    "find_entitlement_associations": connector.FindEntitlementAssociationsResponse,
    "get_last_activity": connector.GetLastActivityResponse,
    "assign_entitlement": connector.AssignEntitlementResponse,
    "unassign_entitlement": connector.UnassignEntitlementResponse,
    "create_account": connector.CreateAccountResponse,
    "activate_account": connector.ActivateAccountResponse,
    "deactivate_account": connector.DeactivateAccountResponse,
    "delete_account": connector.DeleteAccountResponse,
    "list_custom_attributes_schema": connector.ListCustomAttributesSchemaResponse,
    "app_info": connector.AppInfoResponse,
    "probe_integration": connector.ProbeIntegrationResponse,
}


@pytest.fixture(autouse=True)
def _fresh_directory() -> Any:
    mock_connector.reset()
    yield
    mock_connector.reset()


# ---- helpers -------------------------------------------------------------------


def envelope(
    payload: dict[str, Any] | None = None,
    *,
    auth: dict[str, Any] | None = None,
    page: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    include_raw_data: bool | None = None,
) -> bytes:
    body: dict[str, Any] = {"auth": BASIC if auth is None else auth, "request": payload or {}}
    if page is not None:
        body["page"] = page
    if settings is not None:
        body["settings"] = settings
    if include_raw_data is not None:
        body["include_raw_data"] = include_raw_data
    return msgspec.json.encode(body)


async def ok(name: str, payload: dict[str, Any] | None = None, **options: Any) -> Any:
    """Dispatches and decodes a success response of the capability's type."""
    out = await mock_connector.integration.dispatch(name, envelope(payload, **options))
    assert isinstance(out, bytes)
    assert b'"is_error":true' not in out, out
    return msgspec.json.decode(out, type=RESPONSE_TYPES[name])


async def fail(name: str, payload: dict[str, Any] | None = None, **options: Any) -> connector.Error:
    """Dispatches, checks the envelope is an error, and returns its `error`."""
    out = await mock_connector.integration.dispatch(name, envelope(payload, **options))
    result = msgspec.json.decode(out, type=ErrorResponse)
    assert result.is_error is True
    assert result.response is None
    assert result.error.app_id == "mock"
    return result.error


async def all_accounts(**options: Any) -> list[connector.FoundAccountData]:
    result = await ok("list_accounts", page={"size": 1000}, **options)
    assert result.page is None
    return list(result.response)


async def associations(**options: Any) -> set[tuple[str, str]]:
    result = await ok("find_entitlement_associations", page={"size": 1000}, **options)
    assert result.page is None
    pairs = [(a.account_id, a.integration_specific_entitlement_id) for a in result.response]
    assert len(pairs) == len(set(pairs)), "duplicate association"
    return set(pairs)


def grant(account_id: str, kind: str, key: str, resource: str = "workspace") -> dict[str, str]:
    return {
        "account_integration_specific_id": account_id,
        "resource_integration_specific_id": resource,
        "resource_type": "workspace",
        "entitlement_type": kind,
        "entitlement_integration_specific_id": key,
    }


def token_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# ---- registration --------------------------------------------------------------


def test_registers_the_13_non_oauth_capabilities() -> None:
    assert set(mock_connector.integration.capabilities) == set(RESPONSE_TYPES)
    info = mock_connector.integration.info().response
    assert info.app_id == "mock"
    assert sorted(info.capabilities) == sorted(RESPONSE_TYPES)


@pytest.mark.parametrize("name", sorted(VALID_PAYLOADS))
async def test_every_capability_succeeds_with_the_right_password(name: str) -> None:
    await ok(name, VALID_PAYLOADS[name])


# app_info needs no credential; probe_integration reports a refusal in its checks.
AUTHED = sorted(set(VALID_PAYLOADS) - {"app_info"})
PASSWORD_CHECKED = sorted(set(AUTHED) - {"probe_integration"})


@pytest.mark.parametrize("name", PASSWORD_CHECKED)
async def test_every_capability_checks_the_password(name: str) -> None:
    error = await fail(name, VALID_PAYLOADS[name], auth=WRONG_PASSWORD)
    assert error.error_code == "unauthorized"
    assert "not-the-horse" not in error.message
    # and nothing changed on the way
    assert len(await all_accounts()) == 25


@pytest.mark.parametrize("name", AUTHED)
async def test_every_capability_wants_basic_auth(name: str) -> None:
    error = await fail(name, VALID_PAYLOADS[name], auth={"token": {"token": "tok-secret-1"}})
    assert error.error_code == "bad_request"
    assert error.raised_by is None
    assert "tok-secret-1" not in error.message


# ---- validate_credentials ------------------------------------------------------


async def test_validate_credentials_returns_the_tenant() -> None:
    result = await ok("validate_credentials")
    assert result.response == connector.ValidatedCredentials(valid=True, unique_tenant_id="acme")
    result = await ok("validate_credentials", settings={"tenant": "globex"})
    assert result.response.unique_tenant_id == "globex"


async def test_validate_credentials_wrong_password_is_unauthorized() -> None:
    error = await fail("validate_credentials", auth=WRONG_PASSWORD)
    assert error.error_code == "unauthorized"
    assert error.raised_by == "ConnectorError"
    assert error.raised_in == "mock_connector:validate_credentials"


async def test_validate_credentials_wrong_username_is_unauthorized() -> None:
    auth = {"basic": {"username": "root", "password": "correct-horse"}}
    error = await fail("validate_credentials", auth=auth)
    assert error.error_code == "unauthorized"


async def test_validate_credentials_token_auth_is_a_bad_request() -> None:
    error = await fail("validate_credentials", auth={"token": {"token": "abcdefgh"}})
    assert error.error_code == "bad_request"
    assert error.raised_by is None
    assert error.raised_in is None
    assert "auth.basic" in error.message


@pytest.mark.parametrize("name", AUTHED)
@pytest.mark.parametrize("auth", ["absent", "null"])
async def test_missing_auth_is_a_bad_request(name: str, auth: str) -> None:
    """`auth` is optional in the 4.x structs; the connector's auth check still wants it."""
    body: dict[str, Any] = {"request": VALID_PAYLOADS[name]}
    if auth == "null":
        body["auth"] = None
    out, code = await mock_connector.integration.dispatch_result(name, msgspec.json.encode(body))
    assert code is connector.ErrorCode.BAD_REQUEST
    error = msgspec.json.decode(out, type=ErrorResponse).error
    assert error.error_code == "bad_request"
    assert error.message.startswith("Missing `auth.basic`"), error.message
    assert error.raised_by is None
    assert len(await all_accounts()) == 25


async def test_errors_carry_the_metadata_of_their_code() -> None:
    error = await fail("validate_credentials", auth=WRONG_PASSWORD)
    assert error.error_metadata == connector.ErrorMetadata(
        fault=connector.ErrorFault.UPSTREAM,
        category=connector.ErrorCategory.AUTHENTICATION,
        retryable=False,
        throttled=False,
        refreshable=True,
    )
    error = await fail("activate_account", {"account_id": "user-9999"})
    assert error.error_metadata is not None
    assert (error.error_metadata.fault, error.error_metadata.retryable) == ("caller", False)


async def test_invalid_settings_are_a_bad_request() -> None:
    error = await fail("validate_credentials", settings={"users": "many"})
    assert error.error_code == "bad_request"
    assert "settings.users" in error.message


# ---- list_accounts -------------------------------------------------------------


async def test_list_accounts_walks_every_user_once() -> None:
    seen: list[str] = []
    sizes: list[int] = []
    page: dict[str, Any] = {"size": 7}
    for _ in range(10):
        result = await ok("list_accounts", page=page)
        sizes.append(len(result.response))
        seen += [a.integration_specific_id for a in result.response]
        if result.page is None:
            break
        assert result.page.size == 7
        assert result.page.token
        page = {"size": 7, "token": result.page.token}
    else:
        pytest.fail("pagination never ended")
    assert sizes == [7, 7, 7, 4]
    assert seen == SEEDED_IDS


async def test_list_accounts_fields() -> None:
    first = (await ok("list_accounts", page={"size": 1})).response[0]
    assert first == connector.FoundAccountData(
        integration_specific_id="user-0001",
        email="user-0001@example.com",
        given_name="User",
        family_name="0001",
        username="user-0001",
        user_status=connector.AccountStatus.ACTIVE,
        account_type=connector.AccountType.USER,
    )


async def test_list_accounts_default_page_size_is_10() -> None:
    result = await ok("list_accounts")
    assert len(result.response) == 10
    assert result.page is not None and result.page.token


async def test_list_accounts_last_page_has_no_token() -> None:
    result = await ok("list_accounts", page={"size": 25})
    assert len(result.response) == 25
    assert result.page is None


@pytest.mark.parametrize("users", [0, 1, 3, 40])
async def test_settings_users_changes_the_count(users: int) -> None:
    accounts = await all_accounts(settings={"users": users})
    assert [a.integration_specific_id for a in accounts] == [
        f"user-{n:04d}" for n in range(1, users + 1)
    ]


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "not base64 at all!",
        "ünïcødé",
        token_of("other:5"),
        token_of("mock"),
        token_of("mock:"),
        token_of("mock:abc"),
        token_of("mock:-1"),
        token_of("mock:26"),
        token_of("mock:99999999999999999999"),
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    ],
)
async def test_list_accounts_garbage_token_is_invalid_page_token(token: str) -> None:
    error = await fail("list_accounts", page={"token": token, "size": 5})
    assert error.error_code == "invalid_page_token"
    assert error.raised_by == "InvalidPageTokenError"


async def test_page_tokens_are_opaque_but_reusable() -> None:
    first = await ok("list_accounts", page={"size": 5})
    assert first.page is not None and first.page.token is not None
    token = first.page.token
    assert token != "5"  # not the bare offset, and not editable into another one
    edited = token[:-1] + ("A" if token[-1] != "A" else "B")
    refused = await fail("list_accounts", page={"size": 5, "token": edited})
    assert refused.error_code == "invalid_page_token"
    again = await ok("list_accounts", page={"size": 5, "token": token})
    assert again.response[0].integration_specific_id == "user-0006"
    # a token carries an offset, so a different size from there works too
    wider = await ok("list_accounts", page={"size": 10, "token": token})
    assert [a.integration_specific_id for a in wider.response] == SEEDED_IDS[5:15]


@pytest.mark.parametrize("size", [0, -1, 1001, 10**9])
async def test_list_accounts_bad_page_size_is_bad_request(size: int) -> None:
    error = await fail("list_accounts", page={"size": size})
    assert error.error_code == "bad_request"


@pytest.mark.parametrize("size", [1, 1000])
async def test_list_accounts_page_size_bounds_are_accepted(size: int) -> None:
    result = await ok("list_accounts", page={"size": size})
    assert len(result.response) == min(size, 25)


async def test_list_accounts_custom_attributes() -> None:
    result = await ok("list_accounts", {"custom_attributes": ["department"]}, page={"size": 25})
    departments = [a.custom_attributes for a in result.response]
    assert all(d is not None and set(d) == {"department"} for d in departments)
    assert {d["department"] for d in departments if d} == set(mock_connector.DEPARTMENTS)
    plain = await ok("list_accounts", page={"size": 25})
    assert all(a.custom_attributes is None for a in plain.response)
    other = await ok("list_accounts", {"custom_attributes": ["shoe_size"]})
    assert all(a.custom_attributes is None for a in other.response)


async def test_list_accounts_raw_data_only_when_asked() -> None:
    asked = await ok("list_accounts", page={"size": 7}, include_raw_data=True)
    assert isinstance(asked.raw_data, dict)
    raw_ids = [u["integration_specific_id"] for u in asked.raw_data["users"]]
    assert raw_ids == [a.integration_specific_id for a in asked.response] == SEEDED_IDS[:7]
    for flag in (False, None):
        result = await ok("list_accounts", page={"size": 7}, include_raw_data=flag)
        assert result.raw_data is None


async def test_list_accounts_raw_data_is_absent_on_the_wire_when_not_asked() -> None:
    out = await mock_connector.integration.dispatch("list_accounts", envelope())
    assert msgspec.json.decode(out)["raw_data"] is None


# ---- list_resources / list_entitlements ----------------------------------------


async def test_list_resources_is_the_tenant_workspace() -> None:
    result = await ok("list_resources")
    assert result.page is None
    assert result.response == [
        connector.FoundResourceData(
            integration_specific_id="workspace", label="acme workspace", resource_type="workspace"
        )
    ]
    other = await ok("list_resources", settings={"tenant": "globex"})
    assert other.response[0].label == "globex workspace"


async def test_list_entitlements_groups_and_roles() -> None:
    result = await ok("list_entitlements", page={"size": 100})
    assert result.page is None
    by_kind: dict[str, set[str]] = {}
    for e in result.response:
        assert e.integration_specific_resource_id == "workspace"
        assert e.is_assignable is True
        by_kind.setdefault(e.entitlement_type, set()).add(e.integration_specific_id)
    assert by_kind == {"group": set(mock_connector.GROUPS), "role": set(mock_connector.ROLES)}
    labels = {e.integration_specific_id: e.label for e in result.response}
    assert labels["admins"] == "Administrators"
    assert labels["owner"] == "Owner"


async def test_list_entitlements_paginates() -> None:
    first = await ok("list_entitlements", page={"size": 4})
    assert len(first.response) == 4 and first.page is not None
    second = await ok("list_entitlements", page={"size": 4, "token": first.page.token})
    assert len(second.response) == 2 and second.page is None
    ids = [e.integration_specific_id for e in first.response + second.response]
    assert sorted(ids) == sorted([*mock_connector.GROUPS, *mock_connector.ROLES])


async def test_list_entitlements_garbage_token() -> None:
    error = await fail("list_entitlements", page={"token": "garbage"})
    assert error.error_code == "invalid_page_token"


# ---- find_entitlement_associations ---------------------------------------------


async def test_associations_paginate_and_match_the_seed() -> None:
    pairs: list[tuple[str, str]] = []
    page: dict[str, Any] = {"size": 7}
    while True:
        result = await ok("find_entitlement_associations", page=page)
        assert len(result.response) <= 7
        for a in result.response:
            assert a.integration_specific_resource_id == "workspace"
            pairs.append((a.account_id, a.integration_specific_entitlement_id))
        if result.page is None:
            break
        page = {"size": 7, "token": result.page.token}
    assert len(pairs) == len(set(pairs))
    # every user is a viewer, and in the group of their department when it is one
    accounts = await ok("list_accounts", {"custom_attributes": ["department"]}, page={"size": 25})
    expected = set()
    for a in accounts.response:
        expected.add((a.integration_specific_id, "viewer"))
        department = (a.custom_attributes or {})["department"]
        if department in mock_connector.GROUPS:
            expected.add((a.integration_specific_id, department))
    assert set(pairs) == expected
    assert len(expected) > 25


async def test_associations_garbage_token() -> None:
    error = await fail("find_entitlement_associations", page={"token": token_of("mock:9999")})
    assert error.error_code == "invalid_page_token"


# ---- get_last_activity ---------------------------------------------------------


async def test_get_last_activity_known_and_unknown_ids() -> None:
    result = await ok("get_last_activity", {"account_ids": ["user-0001", "nobody", "user-0025"]})
    assert [a.account_id for a in result.response] == ["user-0001", "user-0025"]
    for activity in result.response:
        assert activity.event_type == "login"
        assert activity.happened_at.endswith("Z") and activity.happened_at.startswith("2026-")
    assert (await ok("get_last_activity", {"account_ids": ["ghost"]})).response == []
    assert (await ok("get_last_activity", {"account_ids": []})).response == []


async def test_get_last_activity_needs_account_ids() -> None:
    error = await fail("get_last_activity", {})
    assert error.error_code == "bad_request"
    assert "account_ids" in error.message


# ---- assign / unassign ---------------------------------------------------------


async def test_assign_group_shows_in_associations() -> None:
    before = await associations()
    assert ("user-0002", "admins") not in before
    result = await ok("assign_entitlement", grant("user-0002", "group", "admins"))
    assert result.response.assigned is True
    assert await associations() == before | {("user-0002", "admins")}
    # assigning again is idempotent
    await ok("assign_entitlement", grant("user-0002", "group", "admins"))
    assert await associations() == before | {("user-0002", "admins")}


async def test_assign_role_replaces_the_previous_role() -> None:
    roles = set(mock_connector.ROLES)
    held = {e for a, e in await associations() if a == "user-0003" and e in roles}
    assert held == {"viewer"}
    await ok("assign_entitlement", grant("user-0003", "role", "owner"))
    held = {e for a, e in await associations() if a == "user-0003" and e in roles}
    assert held == {"owner"}
    await ok("assign_entitlement", grant("user-0003", "role", "editor"))
    held = {e for a, e in await associations() if a == "user-0003" and e in roles}
    assert held == {"editor"}
    # other users keep theirs
    assert ("user-0004", "viewer") in await associations()


async def test_unassign_removes_and_then_is_not_found() -> None:
    before = await associations()
    assert ("user-0001", "sales") in before
    result = await ok("unassign_entitlement", grant("user-0001", "group", "sales"))
    assert result.response.unassigned is True
    after = await associations()
    assert after == before - {("user-0001", "sales")}
    error = await fail("unassign_entitlement", grant("user-0001", "group", "sales"))
    assert error.error_code == "not_found"


async def test_unassign_something_never_held_is_not_found() -> None:
    error = await fail("unassign_entitlement", grant("user-0001", "group", "admins"))
    assert error.error_code == "not_found"
    error = await fail("unassign_entitlement", grant("user-0001", "role", "owner"))
    assert error.error_code == "not_found"


@pytest.mark.parametrize("name", ["assign_entitlement", "unassign_entitlement"])
@pytest.mark.parametrize(
    "payload",
    [
        grant("user-9999", "group", "admins"),
        grant("user-0001", "group", "no-such-group"),
        grant("user-0001", "team", "admins"),
        grant("user-0001", "group", "viewer"),  # a role id under the group kind
        grant("user-0001", "group", "admins", resource="other-workspace"),
    ],
    ids=["account", "entitlement", "kind", "kind-mismatch", "resource"],
)
async def test_unknown_account_or_entitlement_is_not_found(
    name: str, payload: dict[str, str]
) -> None:
    before = await associations()
    error = await fail(name, payload)
    assert error.error_code == "not_found"
    assert error.raised_by == "ConnectorError"
    assert await associations() == before


# ---- create_account ------------------------------------------------------------


async def test_create_account_appears_with_its_fields_and_entitlements() -> None:
    payload = {
        "email": "ada@example.com",
        "username": "ada",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "entitlements": [
            {"integration_specific_id": "admins", "entitlement_type": "group"},
            {
                "integration_specific_id": "editor",
                "entitlement_type": "role",
                "integration_specific_resource_id": "workspace",
            },
        ],
    }
    result = await ok("create_account", payload)
    assert result.response == connector.CreatedAccount(
        status=connector.AccountStatus.ACTIVE, created=True
    )
    accounts = await all_accounts()
    assert len(accounts) == 26
    created = accounts[-1]
    assert created.integration_specific_id not in SEEDED_IDS
    assert (created.email, created.username) == ("ada@example.com", "ada")
    assert (created.given_name, created.family_name) == ("Ada", "Lovelace")
    assert created.user_status == connector.AccountStatus.ACTIVE
    held = {e for a, e in await associations() if a == created.integration_specific_id}
    assert held == {"admins", "editor"}


async def test_create_account_with_username_only_and_a_status() -> None:
    payload = {"username": "bob", "user_status": "PENDING", "entitlements": []}
    result = await ok("create_account", payload)
    assert result.response.status == connector.AccountStatus.PENDING
    created = [a for a in await all_accounts() if a.username == "bob"]
    assert len(created) == 1
    assert created[0].user_status == connector.AccountStatus.PENDING


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "user-0001@example.com", "entitlements": []},
        {"email": "fresh@example.com", "username": "user-0002", "entitlements": []},
    ],
    ids=["email", "username"],
)
async def test_create_account_duplicate_is_bad_request(payload: dict[str, Any]) -> None:
    error = await fail("create_account", payload)
    assert error.error_code == "bad_request"
    assert len(await all_accounts()) == 25


async def test_create_account_twice_is_bad_request() -> None:
    payload = {"email": "twice@example.com", "entitlements": []}
    await ok("create_account", payload)
    error = await fail("create_account", payload)
    assert error.error_code == "bad_request"
    assert len(await all_accounts()) == 26


@pytest.mark.parametrize(
    "payload",
    [{"entitlements": []}, {"email": "", "username": "", "entitlements": []}],
    ids=["absent", "empty"],
)
async def test_create_account_needs_email_or_username(payload: dict[str, Any]) -> None:
    error = await fail("create_account", payload)
    assert error.error_code == "bad_request"
    assert len(await all_accounts()) == 25


async def test_create_account_needs_entitlements_field() -> None:
    error = await fail("create_account", {"email": "x@example.com"})
    assert error.error_code == "bad_request"
    assert "entitlements" in error.message


@pytest.mark.parametrize("status", ["bogus", "active", "DELETED", "SUSPENDED"])
async def test_create_account_bad_user_status_is_bad_request(status: str) -> None:
    payload = {"email": "s@example.com", "user_status": status, "entitlements": []}
    error = await fail("create_account", payload)
    assert error.error_code == "bad_request"
    assert len(await all_accounts()) == 25


async def test_create_account_unknown_entitlement_creates_nothing() -> None:
    payload = {
        "email": "e@example.com",
        "entitlements": [{"integration_specific_id": "wizards", "entitlement_type": "group"}],
    }
    error = await fail("create_account", payload)
    assert error.error_code == "not_found"
    assert len(await all_accounts()) == 25


# ---- activate / deactivate / delete --------------------------------------------


async def test_deactivate_then_activate() -> None:
    result = await ok("deactivate_account", {"account_id": "user-0003"})
    assert result.response == connector.DeactivatedAccount(
        status=connector.AccountStatus.INACTIVE, deactivated=True
    )
    statuses = {a.integration_specific_id: a.user_status for a in await all_accounts()}
    assert statuses["user-0003"] == connector.AccountStatus.INACTIVE
    assert statuses["user-0004"] == connector.AccountStatus.ACTIVE
    result = await ok("activate_account", {"account_id": "user-0003"})
    assert result.response == connector.ActivatedAccount(
        status=connector.AccountStatus.ACTIVE, activated=True
    )
    statuses = {a.integration_specific_id: a.user_status for a in await all_accounts()}
    assert statuses["user-0003"] == connector.AccountStatus.ACTIVE


@pytest.mark.parametrize("name", ["activate_account", "deactivate_account", "delete_account"])
async def test_unknown_account_is_not_found(name: str) -> None:
    error = await fail(name, {"account_id": "user-9999"})
    assert error.error_code == "not_found"
    assert error.raised_in == f"mock_connector:{name}"


async def test_delete_removes_account_memberships_and_activity() -> None:
    assert any(a == "user-0004" for a, _ in await associations())
    result = await ok("delete_account", {"account_id": "user-0004"})
    assert result.response == connector.DeletedAccount(
        status=connector.AccountStatus.DELETED, deleted=True
    )
    ids = [a.integration_specific_id for a in await all_accounts()]
    assert ids == [i for i in SEEDED_IDS if i != "user-0004"]
    assert not any(a == "user-0004" for a, _ in await associations())
    activity = await ok("get_last_activity", {"account_ids": ["user-0004"]})
    assert activity.response == []
    for name in ("delete_account", "activate_account", "deactivate_account"):
        error = await fail(name, {"account_id": "user-0004"})
        assert error.error_code == "not_found"
    error = await fail("assign_entitlement", grant("user-0004", "group", "admins"))
    assert error.error_code == "not_found"


async def test_pagination_after_delete_still_walks_everyone_once() -> None:
    for victim in ("user-0001", "user-0013", "user-0025"):
        await ok("delete_account", {"account_id": victim})
    seen: list[str] = []
    page: dict[str, Any] = {"size": 7}
    while True:
        result = await ok("list_accounts", page=page)
        seen += [a.integration_specific_id for a in result.response]
        if result.page is None:
            break
        page = {"size": 7, "token": result.page.token}
    assert seen == [i for i in SEEDED_IDS if i not in {"user-0001", "user-0013", "user-0025"}]


# ---- list_custom_attributes_schema ---------------------------------------------


async def test_list_custom_attributes_schema() -> None:
    result = await ok("list_custom_attributes_schema")
    assert result.response == [
        connector.CustomAttributeSchema(
            customized_type=connector.CustomAttributeCustomizedType.ACCOUNT,
            name="department",
            attribute_type=connector.CustomAttributeType.STRING,
        )
    ]


async def test_list_custom_attributes_schema_runs_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not inspect.iscoroutinefunction(mock_connector.list_custom_attributes_schema)
    threads: list[int] = []
    check = mock_connector._check_credentials

    def spy(request: object) -> None:
        threads.append(threading.get_ident())
        check(request)

    monkeypatch.setattr(mock_connector, "_check_credentials", spy)
    await ok("list_custom_attributes_schema")
    await ok("validate_credentials")
    schema_thread, validate_thread = threads
    assert validate_thread == threading.get_ident()
    assert schema_thread != threading.get_ident()


# ---- tenants -------------------------------------------------------------------


async def test_tenants_are_isolated() -> None:
    a, b = {"tenant": "a"}, {"tenant": "b"}
    await ok("deactivate_account", {"account_id": "user-0001"}, settings=a)
    await ok("delete_account", {"account_id": "user-0002"}, settings=a)
    await ok("create_account", {"email": "only-a@example.com", "entitlements": []}, settings=a)
    await ok("assign_entitlement", grant("user-0003", "group", "admins"), settings=a)

    in_a = {x.integration_specific_id: x for x in await all_accounts(settings=a)}
    in_b = {x.integration_specific_id: x for x in await all_accounts(settings=b)}
    assert len(in_a) == 25 and "user-0002" not in in_a
    assert in_a["user-0001"].user_status == connector.AccountStatus.INACTIVE
    assert any(x.email == "only-a@example.com" for x in in_a.values())
    assert list(in_b) == SEEDED_IDS
    assert all(x.user_status == connector.AccountStatus.ACTIVE for x in in_b.values())
    assert ("user-0003", "admins") in await associations(settings=a)
    assert ("user-0003", "admins") not in await associations(settings=b)
    # the default tenant is untouched too
    assert [x.integration_specific_id for x in await all_accounts()] == SEEDED_IDS


async def test_changes_persist_within_a_tenant_until_reset() -> None:
    await ok("delete_account", {"account_id": "user-0005"})
    assert len(await all_accounts()) == 24
    assert len(await all_accounts()) == 24
    mock_connector.reset()
    assert len(await all_accounts()) == 25


# ---- bounds (the example is used to load-test the server) ----------------------------


async def test_tenants_are_kept_in_a_bounded_lru() -> None:
    mock_connector.reset()
    first = mock_connector._directory(mock_connector.MockSettings(tenant="t-0"))
    for n in range(1, mock_connector.MAX_TENANTS):
        mock_connector._directory(mock_connector.MockSettings(tenant=f"t-{n}"))
    assert (
        mock_connector._directory(mock_connector.MockSettings(tenant="t-0")) is first
    )  # used again
    for n in range(mock_connector.MAX_TENANTS, mock_connector.MAX_TENANTS + 50):
        mock_connector._directory(mock_connector.MockSettings(tenant=f"t-{n}"))
    assert len(mock_connector._directories) == mock_connector.MAX_TENANTS
    assert ("t-0", 25) in mock_connector._directories  # recently used, so kept
    assert ("t-1", 25) not in mock_connector._directories  # the least recently used went
    mock_connector.reset()


async def test_the_users_setting_is_bounded() -> None:
    error = await fail("list_accounts", {}, settings={"users": 300_000})
    assert error.error_code == "bad_request"
    assert "$.settings.users" in error.message
