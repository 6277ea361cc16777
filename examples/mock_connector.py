"""An in-memory directory served as a connector: every non-OAuth capability, for real.

Users, a workspace with groups and roles, and memberships live in memory per
tenant (the `tenant` setting), so a server process keeps its changes between
calls; each CLI call starts from the same seeded directory.

    python -m connector call examples/mock_connector.py list_accounts --json \
      '{"auth": {"basic": {"username": "admin", "password": "correct-horse"}}, "request": {}}'
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from connector import (
    AccountStatus,
    AccountType,
    ActivateAccountRequest,
    ActivateAccountResponse,
    ActivatedAccount,
    AppCategory,
    AssignedEntitlement,
    AssignEntitlementRequest,
    AssignEntitlementResponse,
    BasicCredential,
    ConnectorError,
    CreateAccountRequest,
    CreateAccountResponse,
    CreatedAccount,
    CustomAttributeCustomizedType,
    CustomAttributeSchema,
    CustomAttributeType,
    DeactivateAccountRequest,
    DeactivateAccountResponse,
    DeactivatedAccount,
    DeleteAccountRequest,
    DeleteAccountResponse,
    DeletedAccount,
    DescriptionData,
    EntitlementType,
    ErrorCode,
    FindEntitlementAssociationsRequest,
    FindEntitlementAssociationsResponse,
    FoundAccountData,
    FoundEntitlementAssociation,
    FoundEntitlementData,
    FoundResourceData,
    GetLastActivityRequest,
    GetLastActivityResponse,
    Integration,
    LastActivityData,
    ListAccountsRequest,
    ListAccountsResponse,
    ListCustomAttributesSchemaRequest,
    ListCustomAttributesSchemaResponse,
    ListEntitlementsRequest,
    ListEntitlementsResponse,
    ListResourcesRequest,
    ListResourcesResponse,
    Page,
    Pages,
    ResourceType,
    UnassignedEntitlement,
    UnassignEntitlementRequest,
    UnassignEntitlementResponse,
    ValidateCredentialsRequest,
    ValidateCredentialsResponse,
    ValidatedCredentials,
    get_basic_auth,
    get_page,
)

USERNAME = "admin"
PASSWORD = "correct-horse"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
WORKSPACE = "workspace"


# Bounds, since the README points people at this example to try the server under
# load: at most MAX_TENANTS directories are kept (the least recently used one is
# dropped), each seeded with at most MAX_USERS users.
MAX_TENANTS = 100
MAX_USERS = 10_000


class MockSettings(msgspec.Struct, kw_only=True):
    """Which in-memory tenant to use, and how many users it starts with."""

    tenant: str = "acme"
    users: Annotated[int, msgspec.Meta(ge=0, le=MAX_USERS)] = 25


class User(msgspec.Struct, kw_only=True):
    id: str
    email: str
    username: str
    given_name: str
    family_name: str
    department: str
    status: AccountStatus = AccountStatus.ACTIVE


class Directory(msgspec.Struct, kw_only=True):
    users: dict[str, User] = {}
    # (entitlement_type, entitlement id) -> label
    entitlements: dict[tuple[str, str], str] = {}
    # (account id, entitlement_type, entitlement id)
    memberships: set[tuple[str, str, str]] = set()
    last_activity: dict[str, str] = {}
    next_id: int = 1


DEPARTMENTS = ("engineering", "sales", "support", "finance")
GROUPS = {"engineering": "Engineering", "sales": "Sales", "admins": "Administrators"}
ROLES = {"viewer": "Viewer", "editor": "Editor", "owner": "Owner"}
_directories: dict[tuple[str, int], Directory] = {}


def _seed(users: int) -> Directory:
    directory = Directory()
    for kind, labels in (("group", GROUPS), ("role", ROLES)):
        for key, label in labels.items():
            directory.entitlements[(kind, key)] = label
    for _ in range(users):
        user = _new_user(directory, given="User", family=f"{directory.next_id:04d}")
        department = user.department
        directory.memberships.add((user.id, "role", "viewer"))
        if department in GROUPS:
            directory.memberships.add((user.id, "group", department))
        directory.last_activity[user.id] = f"2026-11-{1 + int(user.id[5:]) % 28:02d}T09:00:00Z"
    return directory


def _new_user(
    directory: Directory,
    *,
    given: str,
    family: str,
    email: str | None = None,
    username: str | None = None,
) -> User:
    number = directory.next_id
    directory.next_id += 1
    uid = f"user-{number:04d}"
    user = User(
        id=uid,
        email=email or f"{uid}@example.com",
        username=username or uid,
        given_name=given,
        family_name=family,
        department=DEPARTMENTS[number % len(DEPARTMENTS)],
    )
    directory.users[uid] = user
    return user


def _directory(settings: MockSettings) -> Directory:
    key = (settings.tenant, settings.users)
    directory = _directories.pop(key, None)
    if directory is None:
        directory = _seed(settings.users)
        while len(_directories) >= MAX_TENANTS:
            del _directories[next(iter(_directories))]  # the least recently used
    _directories[key] = directory  # most recently used: last
    return directory


def reset() -> None:
    """Forget every tenant's changes (tests use it)."""
    _directories.clear()


def _check_credentials(request: object) -> None:
    basic = get_basic_auth(request)
    if basic.username != USERNAME or basic.password != PASSWORD:
        raise ConnectorError("Invalid username or password", ErrorCode.UNAUTHORIZED)


def _checked_page(request: Any) -> Page:
    page = get_page(request)
    if page.size is not None and not 1 <= page.size <= MAX_PAGE_SIZE:
        raise ConnectorError(
            f"Page size must be between 1 and {MAX_PAGE_SIZE}", ErrorCode.BAD_REQUEST
        )
    return page


async def _paginate(request: Any, items: list[Any]) -> tuple[list[Any], Page | None]:
    """One page of items, and the next page when more remain (signed, opaque tokens)."""
    _checked_page(request)
    return await Pages.from_list(items).fill(request, default_size=DEFAULT_PAGE_SIZE)


def _user(directory: Directory, account_id: str) -> User:
    user = directory.users.get(account_id)
    if user is None:
        raise ConnectorError(f"No account {account_id}", ErrorCode.NOT_FOUND)
    return user


integration = Integration(
    app_id="mock",
    version="1.0.0",
    auth=BasicCredential,
    settings_model=MockSettings,
    description_data=DescriptionData(
        user_friendly_name="Mock Directory",
        description="An in-memory directory of users, groups and roles.",
        categories=[AppCategory.DEVELOPERS, AppCategory.IT_AND_SECURITY],
        logo_url=None,
    ),
    resource_types=[ResourceType(type_id=WORKSPACE, type_label="Workspace")],
    entitlement_types=[
        EntitlementType(type_id="group", type_label="Group", resource_type_id=WORKSPACE, min=0),
        EntitlementType(
            type_id="role", type_label="Role", resource_type_id=WORKSPACE, min=1, max=1
        ),
    ],
)


@integration.capability
async def validate_credentials(
    request: ValidateCredentialsRequest, settings: MockSettings
) -> ValidateCredentialsResponse:
    _check_credentials(request)
    return ValidateCredentialsResponse(
        response=ValidatedCredentials(valid=True, unique_tenant_id=settings.tenant)
    )


@integration.capability
async def list_accounts(
    request: ListAccountsRequest, settings: MockSettings
) -> ListAccountsResponse:
    _check_credentials(request)
    directory = _directory(settings)
    users, next_page = await _paginate(request, list(directory.users.values()))
    wanted = request.request.custom_attributes or []
    accounts = [
        FoundAccountData(
            integration_specific_id=user.id,
            email=user.email,
            given_name=user.given_name,
            family_name=user.family_name,
            username=user.username,
            user_status=user.status,
            account_type=AccountType.USER,
            custom_attributes={"department": user.department} if "department" in wanted else None,
        )
        for user in users
    ]
    raw = {"users": [msgspec.structs.asdict(a) for a in accounts]}
    return ListAccountsResponse(response=accounts, page=next_page, raw_data=raw)


@integration.capability
async def list_resources(
    request: ListResourcesRequest, settings: MockSettings
) -> ListResourcesResponse:
    _check_credentials(request)
    resources = [
        FoundResourceData(
            integration_specific_id=WORKSPACE,
            label=f"{settings.tenant} workspace",
            resource_type=WORKSPACE,
        )
    ]
    chunk, next_page = await _paginate(request, resources)
    return ListResourcesResponse(response=chunk, page=next_page)


@integration.capability
async def list_entitlements(
    request: ListEntitlementsRequest, settings: MockSettings
) -> ListEntitlementsResponse:
    _check_credentials(request)
    directory = _directory(settings)
    found = [
        FoundEntitlementData(
            integration_specific_id=key,
            integration_specific_resource_id=WORKSPACE,
            entitlement_type=kind,
            label=label,
            is_assignable=True,
        )
        for (kind, key), label in directory.entitlements.items()
    ]
    chunk, next_page = await _paginate(request, found)
    return ListEntitlementsResponse(response=chunk, page=next_page)


@integration.capability
async def find_entitlement_associations(
    request: FindEntitlementAssociationsRequest, settings: MockSettings
) -> FindEntitlementAssociationsResponse:
    _check_credentials(request)
    directory = _directory(settings)
    # A nested walk, as a real upstream would need: each entitlement, then its holders.
    holders: dict[tuple[str, str], list[str]] = {}
    for account, kind, key in sorted(directory.memberships):
        holders.setdefault((kind, key), []).append(account)
    _checked_page(request)
    pairs, next_page = await Pages.from_list(sorted(holders)).fill_nested(
        request,
        lambda entitlement: Pages.from_list(holders[entitlement]),
        default_size=DEFAULT_PAGE_SIZE,
    )
    found = [
        FoundEntitlementAssociation(
            account_id=account,
            integration_specific_entitlement_id=key,
            integration_specific_resource_id=WORKSPACE,
        )
        for (_kind, key), account in pairs
    ]
    return FindEntitlementAssociationsResponse(response=found, page=next_page)


@integration.capability
async def get_last_activity(
    request: GetLastActivityRequest, settings: MockSettings
) -> GetLastActivityResponse:
    _check_credentials(request)
    directory = _directory(settings)
    found = [
        LastActivityData(account_id=account, event_type="login", happened_at=when)
        for account in request.request.account_ids
        if (when := directory.last_activity.get(account)) is not None
    ]
    return GetLastActivityResponse(response=found)


def _entitlement(directory: Directory, kind: str, key: str, resource: str) -> tuple[str, str]:
    if resource != WORKSPACE or (kind, key) not in directory.entitlements:
        raise ConnectorError(f"No {kind} entitlement {key} on {resource}", ErrorCode.NOT_FOUND)
    return kind, key


@integration.capability
async def assign_entitlement(
    request: AssignEntitlementRequest, settings: MockSettings
) -> AssignEntitlementResponse:
    _check_credentials(request)
    directory = _directory(settings)
    wanted = request.request
    user = _user(directory, wanted.account_integration_specific_id)
    kind, key = _entitlement(
        directory,
        wanted.entitlement_type,
        wanted.entitlement_integration_specific_id,
        wanted.resource_integration_specific_id,
    )
    if kind == "role":  # a user holds exactly one role
        directory.memberships -= {m for m in directory.memberships if m[:2] == (user.id, "role")}
    directory.memberships.add((user.id, kind, key))
    return AssignEntitlementResponse(response=AssignedEntitlement(assigned=True))


@integration.capability
async def unassign_entitlement(
    request: UnassignEntitlementRequest, settings: MockSettings
) -> UnassignEntitlementResponse:
    _check_credentials(request)
    directory = _directory(settings)
    wanted = request.request
    user = _user(directory, wanted.account_integration_specific_id)
    kind, key = _entitlement(
        directory,
        wanted.entitlement_type,
        wanted.entitlement_integration_specific_id,
        wanted.resource_integration_specific_id,
    )
    membership = (user.id, kind, key)
    if membership not in directory.memberships:
        raise ConnectorError(f"{user.id} does not hold {kind} {key}", ErrorCode.NOT_FOUND)
    directory.memberships.discard(membership)
    return UnassignEntitlementResponse(response=UnassignedEntitlement(unassigned=True))


@integration.capability
async def create_account(
    request: CreateAccountRequest, settings: MockSettings
) -> CreateAccountResponse:
    _check_credentials(request)
    directory = _directory(settings)
    wanted = request.request
    if not wanted.email and not wanted.username:
        raise ConnectorError("An account needs an email or a username", ErrorCode.BAD_REQUEST)
    taken = {u.email for u in directory.users.values()} | {
        u.username for u in directory.users.values()
    }
    for value in (wanted.email, wanted.username):
        if value and value in taken:
            raise ConnectorError(f"An account with {value} already exists", ErrorCode.BAD_REQUEST)
    grants = [
        _entitlement(directory, e.entitlement_type, e.integration_specific_id, WORKSPACE)
        for e in wanted.entitlements
    ]
    new_statuses = (AccountStatus.ACTIVE, AccountStatus.INACTIVE, AccountStatus.PENDING)
    status = {s.value: s for s in new_statuses}.get(wanted.user_status or AccountStatus.ACTIVE)
    if status is None:
        raise ConnectorError("A new account is ACTIVE, INACTIVE or PENDING", ErrorCode.BAD_REQUEST)
    user = _new_user(
        directory,
        given=wanted.given_name or "",
        family=wanted.family_name or "",
        email=wanted.email,
        username=wanted.username,
    )
    user.status = status
    directory.memberships.update((user.id, kind, key) for kind, key in grants)
    return CreateAccountResponse(response=CreatedAccount(status=status, created=True))


@integration.capability
async def activate_account(
    request: ActivateAccountRequest, settings: MockSettings
) -> ActivateAccountResponse:
    _check_credentials(request)
    user = _user(_directory(settings), request.request.account_id)
    user.status = AccountStatus.ACTIVE
    return ActivateAccountResponse(response=ActivatedAccount(status=user.status, activated=True))


@integration.capability
async def deactivate_account(
    request: DeactivateAccountRequest, settings: MockSettings
) -> DeactivateAccountResponse:
    _check_credentials(request)
    user = _user(_directory(settings), request.request.account_id)
    user.status = AccountStatus.INACTIVE
    return DeactivateAccountResponse(
        response=DeactivatedAccount(status=user.status, deactivated=True)
    )


@integration.capability
async def delete_account(
    request: DeleteAccountRequest, settings: MockSettings
) -> DeleteAccountResponse:
    _check_credentials(request)
    directory = _directory(settings)
    user = _user(directory, request.request.account_id)
    del directory.users[user.id]
    directory.memberships = {m for m in directory.memberships if m[0] != user.id}
    directory.last_activity.pop(user.id, None)
    return DeleteAccountResponse(
        response=DeletedAccount(status=AccountStatus.DELETED, deleted=True)
    )


@integration.capability
def list_custom_attributes_schema(
    request: ListCustomAttributesSchemaRequest,
) -> ListCustomAttributesSchemaResponse:
    # A plain `def` on purpose: it runs in a worker thread.
    _check_credentials(request)
    return ListCustomAttributesSchemaResponse(
        response=[
            CustomAttributeSchema(
                customized_type=CustomAttributeCustomizedType.ACCOUNT,
                name="department",
                attribute_type=CustomAttributeType.STRING,
            )
        ]
    )


if __name__ == "__main__":
    import connector

    connector.run(integration)
