"""connector.py - identity-platform connectors as a handful of decorated functions.

One vendorable file: the Lumos connector wire types as msgspec structs, a
``@capability`` registry, the error-wrapping chain behind ``dispatch``, ``info``,
an HTTP client and OAuth helper on httpcore, and the CLI (``python -m connector``).

    integration = Integration(app_id="acme", version="1.0.0", auth=BasicCredential)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        return ListAccountsResponse(response=[FoundAccountData(integration_specific_id="1")])

    body = await integration.dispatch("list_accounts", b'{"auth": ..., "request": {}}')

Runtime dependencies: msgspec; anyio and httpcore only where they are used.
Licence: MIT.
"""

import enum
import sys
import typing
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, TypeVar, overload

import msgspec

__version__: Final = "0.1.0"

__all__ = (
    "AccountStatus",
    "AccountType",
    "ActivateAccount",
    "ActivateAccountRequest",
    "ActivateAccountResponse",
    "ActivatedAccount",
    "AppCategory",
    "AssignEntitlement",
    "AssignEntitlementRequest",
    "AssignEntitlementResponse",
    "AssignedEntitlement",
    "AuthCredential",
    "AuthorizationUrl",
    "BasicCredential",
    "Capability",
    "CapabilityName",
    "CapabilitySchema",
    "ConnectorError",
    "CreateAccount",
    "CreateAccountEntitlement",
    "CreateAccountRequest",
    "CreateAccountResponse",
    "CreatedAccount",
    "CustomAttributeCustomizedType",
    "CustomAttributeSchema",
    "CustomAttributeType",
    "DeactivateAccount",
    "DeactivateAccountRequest",
    "DeactivateAccountResponse",
    "DeactivatedAccount",
    "DeleteAccount",
    "DeleteAccountRequest",
    "DeleteAccountResponse",
    "DeletedAccount",
    "DescriptionData",
    "EntitlementType",
    "Error",
    "ErrorCode",
    "ErrorResponse",
    "ExceptionHandler",
    "FindEntitlementAssociations",
    "FindEntitlementAssociationsRequest",
    "FindEntitlementAssociationsResponse",
    "FormData",
    "FoundAccountData",
    "FoundEntitlementAssociation",
    "FoundEntitlementData",
    "FoundResourceData",
    "GetAuthorizationUrl",
    "GetAuthorizationUrlRequest",
    "GetAuthorizationUrlResponse",
    "GetLastActivity",
    "GetLastActivityRequest",
    "GetLastActivityResponse",
    "HTTPHandler",
    "HandleAuthorizationCallback",
    "HandleAuthorizationCallbackRequest",
    "HandleAuthorizationCallbackResponse",
    "HandleClientCredentials",
    "HandleClientCredentialsRequest",
    "HandleClientCredentialsResponse",
    "Info",
    "InfoResponse",
    "Integration",
    "LastActivityData",
    "ListAccounts",
    "ListAccountsRequest",
    "ListAccountsResponse",
    "ListCustomAttributesSchema",
    "ListCustomAttributesSchemaRequest",
    "ListCustomAttributesSchemaResponse",
    "ListEntitlements",
    "ListEntitlementsRequest",
    "ListEntitlementsResponse",
    "ListResources",
    "ListResourcesRequest",
    "ListResourcesResponse",
    "OAuthCredential",
    "OauthCredentials",
    "Page",
    "RefreshAccessToken",
    "RefreshAccessTokenRequest",
    "RefreshAccessTokenResponse",
    "RegistrationError",
    "ResourceType",
    "TokenCredential",
    "TokenType",
    "UnassignEntitlement",
    "UnassignEntitlementRequest",
    "UnassignEntitlementResponse",
    "UnassignedEntitlement",
    "ValidateCredentials",
    "ValidateCredentialsRequest",
    "ValidateCredentialsResponse",
    "ValidatedCredentials",
    "error_envelope",
    "get_basic_auth",
    "get_oauth",
    "get_page",
    "get_settings",
    "get_token_auth",
    "main",
    "run",
)

if typing.TYPE_CHECKING:
    import argparse
    import logging


def _logger() -> "logging.Logger":
    # logging is imported on first use: most runs never log, and the import
    # costs a few milliseconds of CLI start-up.
    import logging

    return logging.getLogger("connector")


# `python -m connector` runs this file as __main__; alias it so that user code
# doing `import connector` gets these very classes, not a second copy.
if __name__ == "__main__":
    sys.modules.setdefault("connector", sys.modules[__name__])


# ---- Enums ----------------------------------------------------------------


class CapabilityName(enum.StrEnum):
    ACTIVATE_ACCOUNT = "activate_account"
    ASSIGN_ENTITLEMENT = "assign_entitlement"
    CREATE_ACCOUNT = "create_account"
    DEACTIVATE_ACCOUNT = "deactivate_account"
    DELETE_ACCOUNT = "delete_account"
    FIND_ENTITLEMENT_ASSOCIATIONS = "find_entitlement_associations"
    GET_AUTHORIZATION_URL = "get_authorization_url"
    GET_LAST_ACTIVITY = "get_last_activity"
    HANDLE_AUTHORIZATION_CALLBACK = "handle_authorization_callback"
    HANDLE_CLIENT_CREDENTIALS_REQUEST = "handle_client_credentials_request"
    LIST_ACCOUNTS = "list_accounts"
    LIST_CUSTOM_ATTRIBUTES_SCHEMA = "list_custom_attributes_schema"
    LIST_ENTITLEMENTS = "list_entitlements"
    LIST_RESOURCES = "list_resources"
    REFRESH_ACCESS_TOKEN = "refresh_access_token"
    UNASSIGN_ENTITLEMENT = "unassign_entitlement"
    VALIDATE_CREDENTIALS = "validate_credentials"


class ErrorCode(enum.StrEnum):
    NOT_FOUND = "not_found"
    INTERNAL_ERROR = "internal_error"
    API_ERROR = "api_error"
    UNAUTHORIZED = "unauthorized"
    BAD_REQUEST = "bad_request"
    PERMISSION_DENIED = "permission_denied"
    NOT_IMPLEMENTED = "not_implemented"
    UNEXPECTED_ERROR = "unexpected_error"
    UNSUPPORTED_OPERATION = "unsupported_operation"
    UNKNOWN_VALUE = "unknown_value"
    INVALID_VALUE = "invalid_value"
    UNAUTHENTICATED = "unauthenticated"
    REQUEST_TIMEOUT = "request_timeout"
    CONNECTION_TIMEOUT = "connection_timeout"
    CONNECTION_REJECTED = "connection_rejected"
    RATE_LIMIT = "rate_limit"
    AUTHENTICATION_EXPIRED = "authentication_expired"
    SERVICE_ERROR = "service_error"
    INVALID_RESPONSE = "invalid_response"
    CLIENT_CALL_ERROR = "client_call_error"
    CONNECTION_CLOSED = "connection_closed"
    CREDS_REVOKED = "creds_revoked"
    INVALID_PAGE_TOKEN = "invalid_page_token"
    INTEGRATION_MISSING_PARAMETER = "integration_missing_parameter"


class AccountStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    SUSPENDED = "SUSPENDED"
    DEPROVISIONED = "DEPROVISIONED"
    PENDING = "PENDING"
    DELETED = "DELETED"


class AccountType(enum.StrEnum):
    SERVICE = "service"
    USER = "user"


class AppCategory(enum.StrEnum):
    HR_AND_LEARNING = "HR_AND_LEARNING"
    OFFICE_AND_LEGAL = "OFFICE_AND_LEGAL"
    SALES_AND_SUPPORT = "SALES_AND_SUPPORT"
    COMMERCE_AND_MARKETPLACES = "COMMERCE_AND_MARKETPLACES"
    IT_AND_SECURITY = "IT_AND_SECURITY"
    COMMUNICATION = "COMMUNICATION"
    DESIGN_AND_CREATIVITY = "DESIGN_AND_CREATIVITY"
    OTHER = "OTHER"
    MARKETING_AND_ANALYTICS = "MARKETING_AND_ANALYTICS"
    DEVELOPERS = "DEVELOPERS"
    ACCOUNTING_AND_FINANCE = "ACCOUNTING_AND_FINANCE"
    COLLABORATION = "COLLABORATION"
    CONTENT_AND_SOCIAL_MEDIA = "CONTENT_AND_SOCIAL_MEDIA"
    INTERNAL = "INTERNAL"


class CustomAttributeCustomizedType(enum.StrEnum):
    ACCOUNT = "account"


class CustomAttributeType(enum.StrEnum):
    STRING = "string"
    USER = "user"


class TokenType(enum.StrEnum):
    BEARER = "bearer"


# ---- Wire types -------------------------------------------------------------
# Field names, types and required fields follow the Lumos Connector API 3.5
# schema. Every struct is keyword-only, so required fields may follow optional
# ones in the schema's order. Unknown fields in input are ignored (msgspec's
# default), which keeps old connectors working with newer platforms.


class _Wire(msgspec.Struct, kw_only=True):
    """Base of every wire struct."""


class Page(_Wire, kw_only=True):
    token: str | None = None
    size: int | None = None


class BasicCredential(_Wire, kw_only=True):
    username: str
    password: str


class TokenCredential(_Wire, kw_only=True):
    token: str


class OAuthCredential(_Wire, kw_only=True):
    access_token: str


class AuthCredential(_Wire, kw_only=True):
    oauth: OAuthCredential | None = None
    basic: BasicCredential | None = None
    token: TokenCredential | None = None


class ResourceType(_Wire, kw_only=True):
    type_id: str
    type_label: str


class EntitlementType(_Wire, kw_only=True):
    type_id: str
    type_label: str
    resource_type_id: str
    min: int
    max: int | None = None


class DescriptionData(_Wire, kw_only=True):
    user_friendly_name: str | None = None
    categories: list[AppCategory] | None = None
    description: str | None = None
    logo_url: str | None = None


class FormData(_Wire, kw_only=True):
    key: str
    value: str


# Capability payloads (the `request` member of a request envelope).


class ValidateCredentials(_Wire, kw_only=True):
    pass


class ListAccounts(_Wire, kw_only=True):
    custom_attributes: list[str] | None = None


class ListResources(_Wire, kw_only=True):
    pass


class ListEntitlements(_Wire, kw_only=True):
    pass


class FindEntitlementAssociations(_Wire, kw_only=True):
    pass


class GetLastActivity(_Wire, kw_only=True):
    account_ids: list[str]


class AssignEntitlement(_Wire, kw_only=True):
    account_integration_specific_id: str
    resource_integration_specific_id: str
    resource_type: str
    entitlement_type: str
    entitlement_integration_specific_id: str


class UnassignEntitlement(_Wire, kw_only=True):
    account_integration_specific_id: str
    resource_type: str
    resource_integration_specific_id: str
    entitlement_type: str
    entitlement_integration_specific_id: str


class CreateAccountEntitlement(_Wire, kw_only=True):
    integration_specific_id: str
    integration_specific_resource_id: str | None = None
    entitlement_type: str


class CreateAccount(_Wire, kw_only=True):
    email: str | None = None
    username: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    user_status: str | None = None
    extra_data: dict[str, Any] | None = None
    entitlements: list[CreateAccountEntitlement]


class ActivateAccount(_Wire, kw_only=True):
    account_id: str


class DeactivateAccount(_Wire, kw_only=True):
    account_id: str


class DeleteAccount(_Wire, kw_only=True):
    account_id: str


class ListCustomAttributesSchema(_Wire, kw_only=True):
    pass


class GetAuthorizationUrl(_Wire, kw_only=True):
    client_id: str
    scopes: list[str]
    redirect_uri: str
    state: str
    form_data: dict[str, FormData] | None = None


class HandleAuthorizationCallback(_Wire, kw_only=True):
    client_id: str
    client_secret: str
    redirect_uri_with_code: str
    state: str | None = None
    # Not in the 3.5 schema: carries a PKCE verifier back (as later versions do).
    code_verifier: str | None = None


class HandleClientCredentials(_Wire, kw_only=True):
    client_id: str
    client_secret: str
    scopes: list[str]


class RefreshAccessToken(_Wire, kw_only=True):
    client_id: str
    client_secret: str
    refresh_token: str
    state: str | None = None


# Capability results (the `response` member of a success envelope).


class ValidatedCredentials(_Wire, kw_only=True):
    valid: bool
    unique_tenant_id: str


class FoundAccountData(_Wire, kw_only=True):
    integration_specific_id: str
    email: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    username: str | None = None
    user_status: AccountStatus | None = None
    account_type: AccountType | None = None
    extra_data: dict[str, Any] | None = None
    custom_attributes: dict[str, str] | None = None


class FoundResourceData(_Wire, kw_only=True):
    integration_specific_id: str
    label: str
    resource_type: str
    extra_data: dict[str, str] | None = None


class FoundEntitlementData(_Wire, kw_only=True):
    integration_specific_id: str
    integration_specific_resource_id: str
    entitlement_type: str
    label: str
    is_assignable: bool | None = None
    extra_data: dict[str, Any] | None = None


class FoundEntitlementAssociation(_Wire, kw_only=True):
    account_id: str
    integration_specific_entitlement_id: str
    integration_specific_resource_id: str


class LastActivityData(_Wire, kw_only=True):
    account_id: str
    event_type: str
    happened_at: str


class AssignedEntitlement(_Wire, kw_only=True):
    assigned: bool


class UnassignedEntitlement(_Wire, kw_only=True):
    unassigned: bool


class CreatedAccount(_Wire, kw_only=True):
    status: AccountStatus
    created: bool


class ActivatedAccount(_Wire, kw_only=True):
    status: AccountStatus
    activated: bool


class DeactivatedAccount(_Wire, kw_only=True):
    status: AccountStatus
    deactivated: bool


class DeletedAccount(_Wire, kw_only=True):
    status: AccountStatus
    deleted: bool


class CustomAttributeSchema(_Wire, kw_only=True):
    customized_type: CustomAttributeCustomizedType
    name: str
    attribute_type: CustomAttributeType


class AuthorizationUrl(_Wire, kw_only=True):
    authorization_url: str
    # Not in the 3.5 schema: the PKCE verifier to send back with the callback.
    code_verifier: str | None = None


class OauthCredentials(_Wire, kw_only=True):
    access_token: str
    refresh_token: str | None = None
    token_type: TokenType
    state: str | None = None


# Envelopes. A request carries `auth` except for the OAuth capabilities, which
# run before any credential exists.


class _RequestBase(_Wire, kw_only=True):
    page: Page | None = None
    include_raw_data: bool | None = None
    settings: dict[str, Any] | None = None


class _AuthedRequest(_RequestBase, kw_only=True):
    auth: AuthCredential


class _ResponseBase(_Wire, kw_only=True):
    """Marker base of success envelopes; each declares `response` first."""


class ValidateCredentialsRequest(_AuthedRequest, kw_only=True):
    request: ValidateCredentials


class ListAccountsRequest(_AuthedRequest, kw_only=True):
    request: ListAccounts


class ListResourcesRequest(_AuthedRequest, kw_only=True):
    request: ListResources


class ListEntitlementsRequest(_AuthedRequest, kw_only=True):
    request: ListEntitlements


class FindEntitlementAssociationsRequest(_AuthedRequest, kw_only=True):
    request: FindEntitlementAssociations


class GetLastActivityRequest(_AuthedRequest, kw_only=True):
    request: GetLastActivity


class AssignEntitlementRequest(_AuthedRequest, kw_only=True):
    request: AssignEntitlement


class UnassignEntitlementRequest(_AuthedRequest, kw_only=True):
    request: UnassignEntitlement


class CreateAccountRequest(_AuthedRequest, kw_only=True):
    request: CreateAccount


class ActivateAccountRequest(_AuthedRequest, kw_only=True):
    request: ActivateAccount


class DeactivateAccountRequest(_AuthedRequest, kw_only=True):
    request: DeactivateAccount


class DeleteAccountRequest(_AuthedRequest, kw_only=True):
    request: DeleteAccount


class ListCustomAttributesSchemaRequest(_AuthedRequest, kw_only=True):
    request: ListCustomAttributesSchema


class GetAuthorizationUrlRequest(_RequestBase, kw_only=True):
    request: GetAuthorizationUrl


class HandleAuthorizationCallbackRequest(_RequestBase, kw_only=True):
    request: HandleAuthorizationCallback


class HandleClientCredentialsRequest(_RequestBase, kw_only=True):
    request: HandleClientCredentials


class RefreshAccessTokenRequest(_RequestBase, kw_only=True):
    request: RefreshAccessToken


class ValidateCredentialsResponse(_ResponseBase, kw_only=True):
    response: ValidatedCredentials
    raw_data: Any = None
    page: Page | None = None


class ListAccountsResponse(_ResponseBase, kw_only=True):
    response: list[FoundAccountData]
    raw_data: Any = None
    page: Page | None = None


class ListResourcesResponse(_ResponseBase, kw_only=True):
    response: list[FoundResourceData]
    raw_data: Any = None
    page: Page | None = None


class ListEntitlementsResponse(_ResponseBase, kw_only=True):
    response: list[FoundEntitlementData]
    raw_data: Any = None
    page: Page | None = None


class FindEntitlementAssociationsResponse(_ResponseBase, kw_only=True):
    response: list[FoundEntitlementAssociation]
    raw_data: Any = None
    page: Page | None = None


class GetLastActivityResponse(_ResponseBase, kw_only=True):
    response: list[LastActivityData]
    raw_data: Any = None
    page: Page | None = None


class AssignEntitlementResponse(_ResponseBase, kw_only=True):
    response: AssignedEntitlement
    raw_data: Any = None
    page: Page | None = None


class UnassignEntitlementResponse(_ResponseBase, kw_only=True):
    response: UnassignedEntitlement
    raw_data: Any = None
    page: Page | None = None


class CreateAccountResponse(_ResponseBase, kw_only=True):
    response: CreatedAccount
    raw_data: Any = None
    page: Page | None = None


class ActivateAccountResponse(_ResponseBase, kw_only=True):
    response: ActivatedAccount
    raw_data: Any = None
    page: Page | None = None


class DeactivateAccountResponse(_ResponseBase, kw_only=True):
    response: DeactivatedAccount
    raw_data: Any = None
    page: Page | None = None


class DeleteAccountResponse(_ResponseBase, kw_only=True):
    response: DeletedAccount
    raw_data: Any = None
    page: Page | None = None


class ListCustomAttributesSchemaResponse(_ResponseBase, kw_only=True):
    response: list[CustomAttributeSchema]
    raw_data: Any = None
    page: Page | None = None


class GetAuthorizationUrlResponse(_ResponseBase, kw_only=True):
    response: AuthorizationUrl
    raw_data: Any = None
    page: Page | None = None


class HandleAuthorizationCallbackResponse(_ResponseBase, kw_only=True):
    response: OauthCredentials
    raw_data: Any = None
    page: Page | None = None


class HandleClientCredentialsResponse(_ResponseBase, kw_only=True):
    response: OauthCredentials
    raw_data: Any = None
    page: Page | None = None


class RefreshAccessTokenResponse(_ResponseBase, kw_only=True):
    response: OauthCredentials
    raw_data: Any = None
    page: Page | None = None


class Error(_Wire, kw_only=True):
    message: str
    status_code: int | None = None
    # "<app_id>.<ErrorCode value>" on the wire; a bare ErrorCode while handlers run.
    error_code: str
    app_error_code: str | None = None
    app_id: str
    raised_by: str | None = None
    raised_in: str | None = None


class ErrorResponse(_Wire, kw_only=True):
    is_error: bool
    error: Error
    response: None = None
    raw_data: dict[str, Any] | None = None
    page: Page | None = None


class CapabilitySchema(_Wire, kw_only=True):
    argument: dict[str, Any]
    output: dict[str, Any]


class Info(_Wire, kw_only=True):
    app_id: str
    version: str
    capabilities: list[CapabilityName]
    capability_schema: dict[str, CapabilitySchema]
    authentication_schema: dict[str, Any]
    entitlement_types: list[EntitlementType]
    resource_types: list[ResourceType]
    request_settings_schema: dict[str, Any]
    user_friendly_name: str | None = None
    description: str | None = None
    categories: list[AppCategory] | None = None
    logo_url: str | None = None
    oauth_scopes: dict[str, str] | None = None


class InfoResponse(_ResponseBase, kw_only=True):
    response: Info
    raw_data: Any = None
    page: Page | None = None


# Which envelope types belong to which capability. Registration checks
# annotations against this table (subclasses allowed).
_CAPABILITY_TYPES: Final[dict[CapabilityName, tuple[type[_RequestBase], type[_ResponseBase]]]] = {
    CapabilityName.VALIDATE_CREDENTIALS: (ValidateCredentialsRequest, ValidateCredentialsResponse),
    CapabilityName.LIST_ACCOUNTS: (ListAccountsRequest, ListAccountsResponse),
    CapabilityName.LIST_RESOURCES: (ListResourcesRequest, ListResourcesResponse),
    CapabilityName.LIST_ENTITLEMENTS: (ListEntitlementsRequest, ListEntitlementsResponse),
    CapabilityName.FIND_ENTITLEMENT_ASSOCIATIONS: (
        FindEntitlementAssociationsRequest,
        FindEntitlementAssociationsResponse,
    ),
    CapabilityName.GET_LAST_ACTIVITY: (GetLastActivityRequest, GetLastActivityResponse),
    CapabilityName.ASSIGN_ENTITLEMENT: (AssignEntitlementRequest, AssignEntitlementResponse),
    CapabilityName.UNASSIGN_ENTITLEMENT: (UnassignEntitlementRequest, UnassignEntitlementResponse),
    CapabilityName.CREATE_ACCOUNT: (CreateAccountRequest, CreateAccountResponse),
    CapabilityName.ACTIVATE_ACCOUNT: (ActivateAccountRequest, ActivateAccountResponse),
    CapabilityName.DEACTIVATE_ACCOUNT: (DeactivateAccountRequest, DeactivateAccountResponse),
    CapabilityName.DELETE_ACCOUNT: (DeleteAccountRequest, DeleteAccountResponse),
    CapabilityName.LIST_CUSTOM_ATTRIBUTES_SCHEMA: (
        ListCustomAttributesSchemaRequest,
        ListCustomAttributesSchemaResponse,
    ),
    CapabilityName.GET_AUTHORIZATION_URL: (GetAuthorizationUrlRequest, GetAuthorizationUrlResponse),
    CapabilityName.HANDLE_AUTHORIZATION_CALLBACK: (
        HandleAuthorizationCallbackRequest,
        HandleAuthorizationCallbackResponse,
    ),
    CapabilityName.HANDLE_CLIENT_CREDENTIALS_REQUEST: (
        HandleClientCredentialsRequest,
        HandleClientCredentialsResponse,
    ),
    CapabilityName.REFRESH_ACCESS_TOKEN: (RefreshAccessTokenRequest, RefreshAccessTokenResponse),
}
_CAPABILITY_BY_REQUEST: Final = {req: name for name, (req, _) in _CAPABILITY_TYPES.items()}

_encode: Final = msgspec.json.Encoder().encode


# ---- Errors -----------------------------------------------------------------
# Raising strategy: a capability raises ConnectorError (or lets an upstream
# HTTPStatusError / transport error escape); the guard link of the chain turns
# every exception into an ErrorResponse at one boundary. Failures found before
# a capability runs (JSON, auth, settings) never reach author code and carry no
# raised_by / raised_in.


class ConnectorError(Exception):
    """An expected failure with its ErrorCode; the chain turns it into an envelope.

    raise ConnectorError("No such user", ErrorCode.NOT_FOUND)
    """

    def __init__(
        self,
        message: str,
        error_code: ErrorCode | str = ErrorCode.UNEXPECTED_ERROR,
        app_error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = ErrorCode(error_code)
        self.app_error_code = app_error_code


class RegistrationError(Exception):
    """A capability or an Integration was declared wrongly; the message names it."""


class ExceptionHandler:
    """Adjusts the pre-filled ErrorResponse for one kind of exception.

    Subclass it and list it as ``(SomeError, MyHandler, None)`` in
    ``Integration(exception_handlers=...)``; a non-None third element is the
    code to use when the entry matches.
    """

    @staticmethod
    def handle(
        e: Exception,
        original_func: Callable[..., Any],
        response: ErrorResponse,
        error_code: ErrorCode | None = None,
    ) -> ErrorResponse:
        if error_code is not None:
            response.error.error_code = error_code
        return response


# Upstream HTTP status -> ErrorCode (DESIGN.md's table); anything else >= 400
# is api_error.
_HTTP_STATUS_CODES: Final[dict[int, ErrorCode]] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    408: ErrorCode.REQUEST_TIMEOUT,
    409: ErrorCode.BAD_REQUEST,
    422: ErrorCode.BAD_REQUEST,
    429: ErrorCode.RATE_LIMIT,
    500: ErrorCode.SERVICE_ERROR,
    502: ErrorCode.SERVICE_ERROR,
    503: ErrorCode.SERVICE_ERROR,
    504: ErrorCode.REQUEST_TIMEOUT,
}


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not break the error path
        return type(exc).__name__


def _status_of(exc: BaseException) -> int | None:
    try:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    except Exception:
        return None
    return status if isinstance(status, int) and not isinstance(status, bool) else None


class HTTPHandler(ExceptionHandler):
    """Maps the upstream status of any exception with ``.response.status_code``."""

    @staticmethod
    def handle(
        e: Exception,
        original_func: Callable[..., Any],
        response: ErrorResponse,
        error_code: ErrorCode | None = None,
    ) -> ErrorResponse:
        status = _status_of(e)
        if error_code is not None:
            response.error.error_code = error_code
        elif status is not None and status >= 400:
            response.error.error_code = _HTTP_STATUS_CODES.get(status, ErrorCode.API_ERROR)
        response.error.status_code = status
        return response


HandlerEntry = tuple[type[BaseException], type[ExceptionHandler], ErrorCode | None]

# httpcore's exceptions by class name, for authors who call httpcore directly;
# matched by name so that `import connector` never imports httpcore.
_HTTPCORE_CODES: Final[dict[str, ErrorCode]] = {
    "ConnectTimeout": ErrorCode.CONNECTION_TIMEOUT,
    "ReadTimeout": ErrorCode.REQUEST_TIMEOUT,
    "WriteTimeout": ErrorCode.REQUEST_TIMEOUT,
    "PoolTimeout": ErrorCode.REQUEST_TIMEOUT,
    "ConnectError": ErrorCode.CONNECTION_REJECTED,
    "ReadError": ErrorCode.CONNECTION_CLOSED,
    "WriteError": ErrorCode.CONNECTION_CLOSED,
    "RemoteProtocolError": ErrorCode.CONNECTION_CLOSED,
}


def _classify_foreign(exc: BaseException) -> ErrorCode | None:
    if type(exc).__module__.startswith("httpcore"):
        return _HTTPCORE_CODES.get(type(exc).__name__)
    return None


class _Failure(Exception):
    """Carries a finished error envelope from deep in the chain to dispatch."""

    def __init__(self, code: ErrorCode, envelope: ErrorResponse) -> None:
        super().__init__(code)
        self.code = code
        self.envelope = envelope


def error_envelope(
    app_id: str, code: ErrorCode, message: str, *, status_code: int | None = None
) -> bytes:
    """The encoded error envelope for a failure found outside any capability.

    error_envelope("github", ErrorCode.NOT_FOUND, "No route /x")
    """
    error = Error(
        message=message, status_code=status_code, error_code=f"{app_id}.{code}", app_id=app_id
    )
    return _encode(ErrorResponse(is_error=True, error=error))


# ---- Secrets ----------------------------------------------------------------
# A secret is every string of 6+ characters under a request's auth and settings,
# plus the OAuth payload's client secret, refresh token, PKCE verifier and the
# authorization code. They are scrubbed from every error message and log line.

_MIN_SECRET: Final = 6
_REDACTED: Final = "[redacted]"
_OAUTH_SECRET_FIELDS: Final = ("client_secret", "refresh_token", "code_verifier")


def _walk_strings(value: Any, out: set[str]) -> None:
    if isinstance(value, str):
        if len(value) >= _MIN_SECRET:
            out.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _walk_strings(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            _walk_strings(item, out)
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            _walk_strings(getattr(value, name), out)


def _member(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _secrets_of(request: Any) -> list[str]:
    """Secrets of a decoded request struct or of a plain decoded JSON object."""
    found: set[str] = set()
    _walk_strings(_member(request, "auth"), found)
    _walk_strings(_member(request, "settings"), found)
    payload = _member(request, "request")
    if payload is not None:
        for name in _OAUTH_SECRET_FIELDS:
            _walk_strings(_member(payload, name), found)
        redirect = _member(payload, "redirect_uri_with_code")
        if isinstance(redirect, str):
            from urllib.parse import parse_qsl, urlsplit

            for key, value in parse_qsl(urlsplit(redirect).query):
                if key == "code":
                    _walk_strings(value, found)
    return sorted(found, key=len, reverse=True)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text


def _describe_decode_error(exc: msgspec.DecodeError, prefix: str = "") -> str:
    """msgspec's located message without any echoed value.

    Messages name the path (kept); a few quote the offending value
    (``Invalid enum value 'x'``), which may be a secret: that part goes.
    """
    text = str(exc)
    head, sep, where = text.partition(" - at `$")
    if "'" in head:
        head = head[: head.index("'")].rstrip() + head[head.rindex("'") + 1 :]
    if prefix:
        where = prefix + where if sep else prefix + "`"
        sep = " - at `$"
    return f"{head}{sep}{where}"


# ---- Registry and the error-wrapping chain ----------------------------------

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S")

_CO_COROUTINE: Final = 0x80  # inspect.CO_COROUTINE, without importing inspect
_AUTH_FIELDS: Final[dict[type[_Wire], str]] = {
    BasicCredential: "basic",
    TokenCredential: "token",
    OAuthCredential: "oauth",
}

# A link takes (request, settings) and returns an awaitable of the response.
Link = Callable[[Any, Any], Awaitable[Any]]


class Capability:
    """One registered capability: its function, types and the composed chain."""

    __slots__ = ("chain", "decoder", "default", "func", "name", "request_type", "response_type")

    def __init__(
        self,
        name: CapabilityName,
        func: Callable[..., Any],
        request_type: type[Any],
        response_type: type[Any],
        default: bool,
    ) -> None:
        self.name = name
        self.func = func
        self.request_type = request_type
        self.response_type = response_type
        self.default = default
        self.decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(request_type)
        self.chain: Link = _unbuilt_chain

    def __repr__(self) -> str:
        return f"<Capability {self.name} -> {_where(self.func)}>"


async def _unbuilt_chain(request: Any, settings: Any) -> Any:
    raise RuntimeError("capability chain not composed")


def _where(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '?')}:{getattr(func, '__name__', repr(func))}"


def _is_async(func: Callable[..., Any]) -> bool:
    code = getattr(func, "__code__", None)
    return bool(code is not None and code.co_flags & _CO_COROUTINE)


# Each link is one small function taking the next callable; a link with nothing
# to do returns it unchanged. `Integration._compose` strings them together.


def _call_link(func: Callable[..., Any], wants_settings: bool) -> Link:
    """Calls the author's function: async directly, sync in a worker thread."""
    if _is_async(func):
        if wants_settings:
            return func
        return lambda request, settings: func(request)

    async def in_thread(request: Any, settings: Any) -> Any:
        import anyio.to_thread

        args = (request, settings) if wants_settings else (request,)
        result = await anyio.to_thread.run_sync(func, *args)
        if hasattr(result, "__await__"):  # a sync wrapper around a coroutine function
            result = await result
        return result

    return in_thread


def _response_link(inner: Link, integration: "Integration", cap: Capability) -> Link:
    """Checks the returned type; drops raw_data unless the request asked for it."""
    expected = cap.response_type

    async def checked(request: Any, settings: Any) -> Any:
        result = await inner(request, settings)
        if not isinstance(result, expected):
            message = (
                f"{_where(cap.func)} returned {type(result).__name__}, expected {expected.__name__}"
            )
            raise integration._failure(ErrorCode.INVALID_RESPONSE, message, cap=cap)
        if result.raw_data is not None and not request.include_raw_data:
            result = msgspec.structs.replace(result, raw_data=None)
        return result

    return checked


def _guard_link(inner: Link, integration: "Integration", cap: Capability) -> Link:
    """Turns any exception raised by the capability into an error envelope."""

    async def guarded(request: Any, settings: Any) -> Any:
        try:
            return await inner(request, settings)
        except _Failure:
            raise
        except Exception as exc:
            raise integration._from_exception(exc, cap, request) from None

    return guarded


def _settings_link(inner: Link, integration: "Integration") -> Link:
    """Validates `settings` against the settings model before anything runs."""
    model = integration.settings_model
    if model is None:
        return inner

    def with_settings(request: Any, settings: Any) -> Awaitable[Any]:
        try:
            value = msgspec.convert(request.settings or {}, model)
        except msgspec.ValidationError as exc:
            message = "Invalid settings: " + _describe_decode_error(exc, prefix=".settings")
            raise integration._failure(ErrorCode.BAD_REQUEST, message, request=request) from None
        return inner(request, value)

    return with_settings


def _auth_link(inner: Link, integration: "Integration", cap: Capability) -> Link:
    """Checks that the request carries the kind of credential the connector takes."""
    expected = integration._auth_field
    if expected is None or not issubclass(cap.request_type, _AuthedRequest):
        return inner

    def with_auth(request: Any, settings: Any) -> Awaitable[Any]:
        if getattr(request.auth, expected) is None:
            given = [name for name in ("basic", "token", "oauth") if getattr(request.auth, name)]
            message = f"Missing `auth.{expected}`: this connector takes {expected} credentials"
            if given:
                message += f", not {given[0]}"
            raise integration._failure(ErrorCode.BAD_REQUEST, message, request=request)
        return inner(request, settings)

    return with_auth


class Integration:
    """A connector: metadata plus the capabilities registered on it.

    integration = Integration(app_id="github", version="1.0.0", auth=BasicCredential)
    """

    def __init__(
        self,
        *,
        app_id: str,
        version: str,
        auth: type[Any] | None = None,
        settings_model: type[Any] | None = None,
        exception_handlers: Iterable[HandlerEntry] = (),
        handle_errors: bool = True,
        description_data: DescriptionData | None = None,
        resource_types: Iterable[ResourceType] = (),
        entitlement_types: Iterable[EntitlementType] = (),
        oauth_settings: Any = None,
    ) -> None:
        if not isinstance(app_id, str) or not app_id:
            raise RegistrationError("Integration: app_id must be a non-empty string")
        self.app_id = app_id
        self.version = version
        self.auth = auth
        self._auth_field: str | None = None
        if auth is not None:
            base = next(
                (b for b in _AUTH_FIELDS if isinstance(auth, type) and issubclass(auth, b)), None
            )
            if base is None:
                raise RegistrationError(
                    f"Integration {app_id!r}: auth must be BasicCredential, TokenCredential "
                    f"or OAuthCredential, not {auth!r}"
                )
            self._auth_field = _AUTH_FIELDS[base]
        if settings_model is not None:
            if not (
                isinstance(settings_model, type) and issubclass(settings_model, msgspec.Struct)
            ):
                raise RegistrationError(
                    f"Integration {app_id!r}: settings_model must be a msgspec.Struct subclass"
                )
            try:
                msgspec.json.Decoder(settings_model)
            except (NameError, TypeError) as exc:
                raise RegistrationError(
                    f"Integration {app_id!r}: cannot use settings_model "
                    f"{settings_model.__qualname__}: {exc}; define it at module level"
                ) from None
        self.settings_model = settings_model
        self.exception_handlers: list[HandlerEntry] = list(exception_handlers)
        for entry in self.exception_handlers:
            if not (
                isinstance(entry, tuple)
                and len(entry) == 3
                and isinstance(entry[0], type)
                and issubclass(entry[0], BaseException)
                and isinstance(entry[1], type)
                and issubclass(entry[1], ExceptionHandler)
            ):
                raise RegistrationError(
                    f"Integration {app_id!r}: exception_handlers entries are "
                    f"(ExceptionType, ExceptionHandler subclass, ErrorCode | None), not {entry!r}"
                )
        self.handle_errors = handle_errors
        self.description_data = description_data or DescriptionData()
        self.resource_types = list(resource_types)
        self.entitlement_types = list(entitlement_types)
        self.oauth_settings = oauth_settings
        self.capabilities: dict[str, Capability] = {}
        self._info: bytes | None = None
        if oauth_settings is not None:
            _install_oauth(self)

    def __repr__(self) -> str:
        return f"<Integration {self.app_id} {self.version}: {', '.join(sorted(self.capabilities))}>"

    # -- registration --

    @overload
    def capability(self, name_or_func: F) -> F: ...

    @overload
    def capability(self, name_or_func: CapabilityName | str) -> Callable[[F], F]: ...

    def capability(self, name_or_func: Any) -> Any:
        """Registers a capability; bare, the name comes from the request annotation.

        @integration.capability
        async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse: ...
        """
        if callable(name_or_func) and not isinstance(name_or_func, str):
            self._register(None, name_or_func)
            return name_or_func
        return self.register_capability(name_or_func)

    def register_capability(self, name: CapabilityName | str) -> Callable[[F], F]:
        """Registers a capability under an explicit name (the seed's spelling).

        @integration.register_capability(CapabilityName.LIST_ACCOUNTS)
        """
        if not isinstance(name, str):
            raise RegistrationError(
                f"register_capability: expected a capability name, got {name!r}"
            )

        def decorator(func: F) -> F:
            self._register(name, func)
            return func

        return decorator

    def _register(
        self, name: CapabilityName | str | None, func: Callable[..., Any], default: bool = False
    ) -> None:
        where = getattr(func, "__qualname__", repr(func))
        code = getattr(func, "__code__", None)
        if code is None:
            raise RegistrationError(f"{where}: a capability must be a function")
        try:
            hints = typing.get_type_hints(func)
        except Exception as exc:
            raise RegistrationError(
                f"{where}: cannot resolve its annotations ({type(exc).__name__}: {exc}); "
                "define request, response and settings types at module level"
            ) from None
        params = code.co_varnames[: code.co_argcount]
        if len(params) not in (1, 2):
            raise RegistrationError(
                f"{where}: a capability takes (request) or (request, settings), "
                f"not {len(params)} parameters"
            )
        request_type = hints.get(params[0])
        if request_type is None:
            raise RegistrationError(f"{where}: parameter {params[0]!r} needs a request annotation")
        if name is None:
            name = next(
                (
                    _CAPABILITY_BY_REQUEST[t]
                    for t in getattr(request_type, "__mro__", ())
                    if t in _CAPABILITY_BY_REQUEST
                ),
                None,
            )
            if name is None:
                raise RegistrationError(
                    f"{where}: cannot tell the capability from request type {request_type!r}; "
                    "annotate it with a capability request such as ListAccountsRequest"
                )
        try:
            cap_name = CapabilityName(name)
        except ValueError:
            raise RegistrationError(f"{where}: unknown capability {name!r}") from None
        expected_request, expected_response = _CAPABILITY_TYPES[cap_name]
        if not (isinstance(request_type, type) and issubclass(request_type, expected_request)):
            raise RegistrationError(
                f"{where}: {cap_name} takes {expected_request.__name__}, "
                f"but parameter {params[0]!r} is annotated {request_type!r}"
            )
        response_type = hints.get("return")
        if response_type is None:
            raise RegistrationError(
                f"{where}: needs a return annotation ({expected_response.__name__})"
            )
        if not (isinstance(response_type, type) and issubclass(response_type, expected_response)):
            raise RegistrationError(
                f"{where}: {cap_name} returns {expected_response.__name__}, "
                f"but the return annotation is {response_type!r}"
            )
        wants_settings = len(params) == 2
        if wants_settings:
            settings_type = hints.get(params[1])
            if self.settings_model is None:
                raise RegistrationError(
                    f"{where}: takes a settings parameter but the integration has no settings_model"
                )
            if not (
                isinstance(settings_type, type) and issubclass(self.settings_model, settings_type)
            ):
                raise RegistrationError(
                    f"{where}: parameter {params[1]!r} must be annotated "
                    f"{self.settings_model.__name__} (the integration's settings_model)"
                )
        existing = self.capabilities.get(cap_name)
        if existing is not None:
            if default and not existing.default:
                return  # an author's function is never replaced by a default
            if not (existing.default and not default):
                raise RegistrationError(
                    f"{where}: {cap_name} is already registered by {_where(existing.func)}"
                )
        try:
            cap = Capability(cap_name, func, request_type, response_type, default)
        except (NameError, TypeError) as exc:
            raise RegistrationError(
                f"{where}: msgspec cannot use {request_type.__qualname__} ({exc}); "
                "define request, response and settings types at module level"
            ) from None
        cap.chain = self._compose(cap, func, wants_settings)
        self.capabilities[cap_name] = cap
        self._info = None

    def _compose(self, cap: Capability, func: Callable[..., Any], wants_settings: bool) -> Link:
        """The error-wrapping chain, outermost first: auth, settings, guard, response, call."""
        chain = _call_link(func, wants_settings)
        chain = _response_link(chain, self, cap)
        if self.handle_errors:
            chain = _guard_link(chain, self, cap)
        chain = _settings_link(chain, self)
        return _auth_link(chain, self, cap)

    # -- dispatch --

    async def dispatch(self, name: str, body: bytes | str) -> bytes:
        """Runs capability `name` on a JSON request; returns the JSON response or error envelope.

        body = await integration.dispatch("list_accounts", b'{"auth": {...}, "request": {}}')
        """
        return (await self.dispatch_result(name, body))[0]

    async def dispatch_result(self, name: str, body: bytes | str) -> tuple[bytes, ErrorCode | None]:
        """Like `dispatch`, also returning the envelope's ErrorCode (None on success)."""
        cap = self.capabilities.get(name)
        try:
            if cap is None:
                raise self._failure(
                    ErrorCode.NOT_IMPLEMENTED,
                    f"Capability {name!r} is not implemented by {self.app_id}",
                )
            try:
                request = cap.decoder.decode(body)
            except msgspec.DecodeError as exc:
                raise self._failure(
                    ErrorCode.BAD_REQUEST,
                    f"Invalid request: {_describe_decode_error(exc)}",
                    raw_body=body,
                ) from None
            return _encode(await cap.chain(request, None)), None
        except _Failure as failure:
            return _encode(failure.envelope), failure.code

    def _failure(
        self,
        code: ErrorCode,
        message: str,
        *,
        request: Any = None,
        raw_body: bytes | str | None = None,
        cap: Capability | None = None,
    ) -> _Failure:
        """A wire-level failure (before or around the capability), logged as one line."""
        secrets: list[str] = []
        if request is not None:
            secrets = _secrets_of(request)
        elif raw_body is not None:
            try:
                decoded = msgspec.json.decode(raw_body)
            except msgspec.DecodeError:
                decoded = None
            if isinstance(decoded, dict):
                secrets = _secrets_of(decoded)
        message = _scrub(message, secrets)
        _logger().info("%s", f"{self.app_id}: {code}: {message}")
        error = Error(message=message, error_code=f"{self.app_id}.{code}", app_id=self.app_id)
        return _Failure(code, ErrorResponse(is_error=True, error=error))

    def _from_exception(self, exc: Exception, cap: Capability, request: Any) -> _Failure:
        """The envelope for an exception raised inside a capability."""
        error = Error(
            message=_safe_str(exc) or type(exc).__name__,
            status_code=_status_of(exc),
            error_code=ErrorCode.UNEXPECTED_ERROR,
            app_id=self.app_id,
            raised_by=type(exc).__name__,
            raised_in=_where(cap.func),
        )
        if isinstance(exc, ConnectorError):
            error.error_code = exc.error_code
            error.app_error_code = exc.app_error_code
        elif (foreign := _classify_foreign(exc)) is not None:
            error.error_code = foreign
        secrets = _secrets_of(request)
        response = self._handle(exc, cap, ErrorResponse(is_error=True, error=error), secrets)
        error = response.error
        try:
            code = ErrorCode(str(error.error_code).rpartition(".")[2])
        except ValueError:
            code = ErrorCode.UNEXPECTED_ERROR
        error.message = _scrub(str(error.message), secrets)
        if error.app_error_code is not None:
            error.app_error_code = _scrub(str(error.app_error_code), secrets)
        error.error_code = f"{self.app_id}.{code}"
        error.app_id = self.app_id
        if code is ErrorCode.UNEXPECTED_ERROR:
            # Formatted as text, not exc_info: a traceback repeats str(exc),
            # which may hold a secret that only our scrubbing can remove.
            import traceback

            text = "".join(traceback.format_exception(exc))
            _logger().error("%s", _scrub(f"{cap.name} failed unexpectedly:\n{text}", secrets))
        else:
            _logger().warning("%s", f"{cap.name} failed: {error.error_code}: {error.message}")
        return _Failure(code, response)

    def _handle(
        self, exc: Exception, cap: Capability, response: ErrorResponse, secrets: list[str]
    ) -> ErrorResponse:
        """Applies the first matching exception_handlers entry (or HTTPHandler for
        upstream errors); a handler that fails leaves the pre-filled response."""
        entry = next((e for e in self.exception_handlers if isinstance(exc, e[0])), None)
        if entry is None:
            if response.error.status_code is None or isinstance(exc, ConnectorError):
                return response
            entry = (Exception, HTTPHandler, None)
        try:
            handled = entry[1].handle(exc, cap.func, response, entry[2])
        except Exception as failure:
            text = f"{entry[1].__name__} failed on {type(exc).__name__}: {_safe_str(failure)}"
            _logger().error("%s", _scrub(text, secrets))
            return response
        return handled if isinstance(handled, ErrorResponse) else response

    # -- info --

    def info(self) -> InfoResponse:
        """The connector's metadata and the JSON Schemas of everything it takes and returns."""
        return msgspec.json.decode(self.info_json(), type=InfoResponse)

    def info_json(self) -> bytes:
        """The encoded `info` response, built once per set of capabilities."""
        if self._info is None:
            self._info = _encode(self._build_info())
        return self._info

    def _build_info(self) -> InfoResponse:
        names = sorted(self.capabilities)
        schemas: dict[str, CapabilitySchema] = {}
        for name in names:
            cap = self.capabilities[name]
            schemas[name] = CapabilitySchema(
                argument=msgspec.json.schema(_payload_type(cap.request_type, "request")),
                output=msgspec.json.schema(_payload_type(cap.response_type, "response")),
            )
        described = self.description_data
        scopes = getattr(self.oauth_settings, "scopes", None)
        info = Info(
            app_id=self.app_id,
            version=self.version,
            capabilities=[CapabilityName(name) for name in names],
            capability_schema=schemas,
            authentication_schema=msgspec.json.schema(self.auth) if self.auth else {},
            entitlement_types=self.entitlement_types,
            resource_types=self.resource_types,
            request_settings_schema=(
                msgspec.json.schema(self.settings_model)
                if self.settings_model
                else {"type": "object", "properties": {}}
            ),
            user_friendly_name=described.user_friendly_name,
            description=described.description,
            categories=described.categories,
            logo_url=described.logo_url,
            oauth_scopes={str(k): v for k, v in scopes.items()} if scopes else None,
        )
        return InfoResponse(response=info)


def _payload_type(envelope: type[Any], field: str) -> Any:
    for info in msgspec.structs.fields(envelope):
        if info.name == field:
            return info.type
    raise LookupError(field)  # unreachable for registered envelope types


# ---- Helpers for capability code ----------------------------------------------


def get_settings(request: Any, model: type[S]) -> S:
    """The request's settings converted to `model`; bad_request naming the bad field.

    settings = get_settings(request, GithubSettings)
    """
    try:
        return msgspec.convert(getattr(request, "settings", None) or {}, model)
    except msgspec.ValidationError as exc:
        raise ConnectorError(
            "Invalid settings: " + _describe_decode_error(exc, prefix=".settings"),
            ErrorCode.BAD_REQUEST,
        ) from None


def _credential(request: Any, field: str) -> Any:
    value = getattr(getattr(request, "auth", None), field, None)
    if value is None:
        raise ConnectorError(f"Missing `auth.{field}` in the request", ErrorCode.BAD_REQUEST)
    return value


def get_basic_auth(request: Any) -> BasicCredential:
    """The request's basic credential, or bad_request."""
    return typing.cast(BasicCredential, _credential(request, "basic"))


def get_token_auth(request: Any) -> TokenCredential:
    """The request's token credential, or bad_request."""
    return typing.cast(TokenCredential, _credential(request, "token"))


def get_oauth(request: Any) -> OAuthCredential:
    """The request's OAuth access token credential, or bad_request."""
    return typing.cast(OAuthCredential, _credential(request, "oauth"))


def get_page(request: Any) -> Page:
    """The request's page, or an empty Page() for the first one."""
    page = getattr(request, "page", None)
    return page if page is not None else Page()


# ---- HTTP client ----------------------------------------------------------------


# ---- OAuth ------------------------------------------------------------------------


def _install_oauth(integration: "Integration") -> None:
    raise NotImplementedError("OAuth section not merged yet")


# ---- CLI ----------------------------------------------------------------------------
# A thin argparse shell over the library. Exit codes: 0 success, 1 an error
# envelope was printed, 2 a usage error (argparse's own `error()`).


def _load_target(parser: "argparse.ArgumentParser", target: str) -> Integration:
    """Imports `package.module[:attr]` or `path/to/file.py[:attr]`; attr defaults to integration."""
    import importlib
    import os

    spec_text, _, attr = target.partition(":") if not os.path.exists(target) else (target, "", "")
    attr = attr or "integration"
    try:
        if spec_text.endswith(".py") or os.sep in spec_text or "/" in spec_text:
            # A file: import it by name from its own folder, so that it can also
            # import its neighbours.
            path = os.path.abspath(spec_text)
            if not os.path.isfile(path):
                parser.error(f"no such file: {spec_text}")
            directory, filename = os.path.split(path)
            module_name = filename[:-3] if filename.endswith(".py") else filename
            if directory not in sys.path:
                sys.path.insert(0, directory)
            module = importlib.import_module(module_name)
            found = os.path.abspath(getattr(module, "__file__", "") or "")
            if found != path:
                taken = found or "a built-in module"
                parser.error(f"{spec_text}: the name {module_name!r} is taken by {taken}")
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(spec_text)
    except SystemExit:
        raise
    except ModuleNotFoundError as exc:
        parser.error(f"cannot import {spec_text}: {exc}")
    except Exception as exc:
        parser.error(f"cannot load {target}: {type(exc).__name__}: {exc}")
    integration = getattr(module, attr, None)
    if not isinstance(integration, Integration):
        found = "nothing" if integration is None else type(integration).__name__
        parser.error(f"{spec_text} has no Integration named {attr!r} (found {found})")
    return integration


def _read_body(parser: "argparse.ArgumentParser", args: "argparse.Namespace") -> bytes:
    if args.json is not None:
        return str(args.json).encode()
    if args.json_file is not None:
        if args.json_file == "-":
            return sys.stdin.buffer.read()
        try:
            with open(args.json_file, "rb") as file:
                return file.read()
        except OSError as exc:
            parser.error(f"cannot read {args.json_file}: {exc.strerror}")
    if sys.stdin is None or sys.stdin.isatty():
        parser.error("no request given: use --json, --json-file, or pipe JSON on stdin")
    return sys.stdin.buffer.read()


def _print_json(data: bytes, pretty: bool) -> None:
    if pretty:
        data = msgspec.json.format(data, indent=2)
    sys.stdout.buffer.write(data + b"\n")
    sys.stdout.flush()


def _call(integration: "Integration", name: str, body: bytes, pretty: bool) -> int:
    import asyncio

    out, code = asyncio.run(integration.dispatch_result(name.replace("-", "_"), body))
    _print_json(out, pretty)
    return 0 if code is None else 1


def _serve(
    parser: "argparse.ArgumentParser", integration: "Integration", args: "argparse.Namespace"
) -> int:
    try:
        import server
    except ImportError as exc:
        parser.error(f"serve needs server.py beside connector.py ({exc})")
    token = args.token
    if args.token_file is not None:
        try:
            with open(args.token_file, encoding="utf-8") as file:
                token = file.read().strip()
        except OSError as exc:
            parser.error(f"cannot read {args.token_file}: {exc.strerror}")
    return int(
        server.run(
            integration,
            host=args.host,
            port=args.port,
            token=token,
            max_body_size=args.max_body_size,
        )
    )


def _add_body_options(sub: "argparse.ArgumentParser") -> None:
    group = sub.add_mutually_exclusive_group()
    group.add_argument("--json", metavar="JSON", help="the request envelope as a JSON string")
    group.add_argument(
        "--json-file", metavar="PATH", help="read the request from a file ('-' for stdin)"
    )
    sub.add_argument("--pretty", action="store_true", help="indent the JSON output")


def _add_serve_options(sub: "argparse.ArgumentParser") -> None:
    sub.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sub.add_argument("--port", type=int, default=8000, help="port to bind; 0 picks a free one")
    sub.add_argument(
        "--token",
        default=None,
        help="require 'Authorization: Bearer TOKEN' (default: $CONNECTOR_TOKEN)",
    )
    sub.add_argument("--token-file", metavar="PATH", help="read the bearer token from a file")
    sub.add_argument(
        "--max-body-size", type=int, default=None, metavar="BYTES", help="largest request body"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m connector`: scaffold, serve, info and call any connector."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m connector",
        description="Run, inspect, serve and scaffold identity-platform connectors.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    target_help = "package.module[:attr] or path/to/file.py[:attr] (attr: integration)"
    sub = commands.add_parser("info", help="print the connector's info as JSON")
    sub.add_argument("target", metavar="TARGET", help=target_help)
    sub.add_argument("--pretty", action="store_true", help="indent the JSON output")

    sub = commands.add_parser("call", help="run one capability on a JSON request")
    sub.add_argument("target", metavar="TARGET", help=target_help)
    sub.add_argument("capability", metavar="CAPABILITY", help="e.g. list_accounts or list-accounts")
    _add_body_options(sub)

    sub = commands.add_parser("serve", help="serve the connector over HTTP")
    sub.add_argument("target", metavar="TARGET", help=target_help)
    _add_serve_options(sub)

    sub = commands.add_parser("scaffold", help="create a new connector project")
    sub.add_argument("name", metavar="NAME", help="connector name, e.g. foo-bar")
    sub.add_argument("directory", metavar="DIRECTORY", help="where to create the project")
    sub.add_argument("--author", help="author name (default: git config user.name)")
    sub.add_argument("--email", help="author email (default: git config user.email)")
    sub.add_argument("--force", action="store_true", help="write into a non-empty directory")
    sub.add_argument(
        "--vendor", action="store_true", help="copy connector.py and server.py into the project"
    )

    args = parser.parse_args(argv)
    try:
        if args.command == "scaffold":
            try:
                import scaffold
            except ImportError as exc:
                parser.error(f"scaffold needs scaffold.py beside connector.py ({exc})")
            return int(scaffold.command(parser, args))
        integration = _load_target(parser, args.target)
        if args.command == "info":
            _print_json(integration.info_json(), args.pretty)
            return 0
        if args.command == "call":
            return _call(integration, args.capability, _read_body(parser, args), args.pretty)
        return _serve(parser, integration, args)
    except BrokenPipeError:
        _silence_stdout()
        return 1


def run(integration: "Integration", argv: list[str] | None = None) -> typing.NoReturn:
    """A connector's own CLI: `info`, one sub-command per capability, `serve`.

    if __name__ == "__main__":
        connector.run(integration)
    """
    import argparse
    import os

    parser = argparse.ArgumentParser(
        prog=os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else integration.app_id,
        description=f"{integration.app_id} {integration.version} connector",
    )
    parser.add_argument("--version", action="version", version=integration.version)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub = commands.add_parser("info", help="print the connector's info as JSON")
    sub.add_argument("--json", help=argparse.SUPPRESS)  # accepted and ignored, as in the seed
    sub.add_argument("--json-file", help=argparse.SUPPRESS)
    sub.add_argument("--pretty", action="store_true", help="indent the JSON output")
    for name in sorted(integration.capabilities):
        aliases = [name.replace("_", "-")] if "_" in name else []
        sub = commands.add_parser(name, aliases=aliases, help=f"run {name}")
        sub.set_defaults(capability=name)
        _add_body_options(sub)
    sub = commands.add_parser("serve", help="serve the connector over HTTP")
    _add_serve_options(sub)

    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            _print_json(integration.info_json(), args.pretty)
            code = 0
        elif args.command == "serve":
            code = _serve(parser, integration, args)
        else:
            code = _call(integration, args.capability, _read_body(parser, args), args.pretty)
    except BrokenPipeError:
        _silence_stdout()
        code = 1
    raise SystemExit(code)


def _silence_stdout() -> None:
    # The reader went away (`| head`); point stdout at devnull so the
    # interpreter's final flush does not raise again.
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    raise SystemExit(main())
