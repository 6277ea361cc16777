"""connector.py - identity-platform connectors as a handful of decorated functions.

One vendorable file: the Lumos connector wire types as msgspec structs, a
``@capability`` registry, the error-wrapping chain behind ``dispatch``, ``info``,
an HTTP client and OAuth helper on httpcore, and the CLI (``python -m connector``).

    integration = Integration(app_id="acme", version="1.0.0", auth=BasicCredential)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        return ListAccountsResponse(response=[FoundAccountData(integration_specific_id="1")])

    body = await integration.dispatch("list_accounts", b'{"auth": ..., "request": {}}')

Sections, in the order a request flows through them (search for "# ---- Name"):

    Enums                    capability names, error codes, statuses, categories
    Wire types               credentials, the payloads and results of the 52
                             capabilities, generic envelopes, errors, info, and
                             the CAPABILITIES table (name -> types, level, version)
    Errors                   ConnectorError and its typed family, classify(), metadata
    Secrets                  what is a secret (_secrets_of), scrubbing (_scrub)
    Registry and the error-wrapping chain
                             Integration, registration, the links of dispatch
    Helpers for capability code
                             get_settings, get_credential, ..., execution_summary
    Default capabilities     app_info, probe_integration, validate_credential_config
    HTTP client              HTTPClient, MockTransport, transport errors
    OAuth                    OAuthSettings and the default OAuth capabilities
    CLI                      python -m connector, run(integration)

Runtime dependencies: msgspec; anyio and httpcore only where they are used.
Licence: MIT.
"""

import enum
import math
import sys
import time
import typing
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Final, Generic, Protocol, TypeAlias, TypeVar, overload

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
    "ClientAuthenticationMethod",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionClosed",
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
    "HTTPClient",
    "HTTPHandler",
    "HTTPStatusError",
    "HandleAuthorizationCallback",
    "HandleAuthorizationCallbackRequest",
    "HandleAuthorizationCallbackResponse",
    "HandleClientCredentials",
    "HandleClientCredentialsRequest",
    "HandleClientCredentialsResponse",
    "Headers",
    "Info",
    "InfoResponse",
    "Integration",
    "InvalidRequest",
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
    "MockTransport",
    "OAuthCapabilities",
    "OAuthCredential",
    "OAuthError",
    "OAuthFlowType",
    "OAuthRequest",
    "OAuthSettings",
    "OauthCredentials",
    "Page",
    "RefreshAccessToken",
    "RefreshAccessTokenRequest",
    "RefreshAccessTokenResponse",
    "RegistrationError",
    "Request",
    "RequestDataType",
    "RequestMethod",
    "RequestTimeout",
    "ResourceType",
    "Response",
    "TokenCredential",
    "TokenType",
    "TransportError",
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

    import httpcore


def _logger() -> "logging.Logger":
    # logging is imported on first use: most runs never log, and the import
    # costs a few milliseconds of CLI start-up.
    import logging

    return logging.getLogger("connector")


# `python -m connector` runs this file as __main__; alias it so that user code
# doing `import connector` gets these very classes, not a second copy, and name
# it `connector` so that classes and messages say so (not `__main__`).
_RUN_AS_MAIN: Final = __name__ == "__main__"
if _RUN_AS_MAIN:
    __name__ = "connector"
    sys.modules.setdefault("connector", sys.modules["__main__"])


# ---- Enums ----------------------------------------------------------------


class CapabilityName(enum.StrEnum):
    ACTIVATE_ACCOUNT = "activate_account"
    APP_INFO = "app_info"
    ASSIGN_APPLICATION = "assign_application"
    ASSIGN_APPLICATION_ENTITLEMENT = "assign_application_entitlement"
    ASSIGN_ENTITLEMENT = "assign_entitlement"
    CREATE_ACCOUNT = "create_account"
    DEACTIVATE_ACCOUNT = "deactivate_account"
    DELETE_ACCOUNT = "delete_account"
    DOWNGRADE_LICENSE = "downgrade_license"
    FIND_ENTITLEMENT_ASSIGNMENTS = "find_entitlement_assignments"
    FIND_ENTITLEMENT_ASSOCIATIONS = "find_entitlement_associations"
    FIND_ENTITLEMENT_GRAPH = "find_entitlement_graph"
    FIND_RESOURCE_GRAPH = "find_resource_graph"
    FULFILL_ARBITRARY_ENDPOINT = "fulfill_arbitrary_endpoint"
    GET_ACCOUNT = "get_account"
    GET_ACCOUNT_ENTITLEMENT_ASSOCIATIONS = "get_account_entitlement_associations"
    GET_APPLICATION = "get_application"
    GET_APPLICATION_ACCOUNT = "get_application_account"
    GET_AUTHORIZATION_URL = "get_authorization_url"
    GET_CREDENTIAL_LAST_ACTIVITY = "get_credential_last_activity"
    GET_DATA_RECENCY = "get_data_recency"
    GET_LAST_ACTIVITY = "get_last_activity"
    GET_NON_HUMAN_ACCOUNT_LAST_ACTIVITY = "get_non_human_account_last_activity"
    HANDLE_AUTHORIZATION_CALLBACK = "handle_authorization_callback"
    HANDLE_CLIENT_CREDENTIALS_REQUEST = "handle_client_credentials_request"
    LIST_ACCOUNTS = "list_accounts"
    LIST_ACTIVITY_RECORDS = "list_activity_records"
    LIST_APPLICATIONS = "list_applications"
    LIST_APPLICATIONS_ACCOUNTS = "list_applications_accounts"
    LIST_APPLICATIONS_ACTIVITY_RECORDS = "list_applications_activity_records"
    LIST_APPLICATIONS_ENTITLEMENT_ASSOCIATIONS = "list_applications_entitlement_associations"
    LIST_APPLICATIONS_ENTITLEMENTS = "list_applications_entitlements"
    LIST_APPLICATIONS_RESOURCES = "list_applications_resources"
    LIST_CREDENTIALS = "list_credentials"
    LIST_CUSTOM_ATTRIBUTES_SCHEMA = "list_custom_attributes_schema"
    LIST_ENTITLEMENTS = "list_entitlements"
    LIST_EXPENSES = "list_expenses"
    LIST_NON_HUMAN_ACCOUNTS = "list_non_human_accounts"
    LIST_RESOURCES = "list_resources"
    LIST_UPDATED_ACCOUNTS = "list_updated_accounts"
    PROBE_INTEGRATION = "probe_integration"
    REFRESH_ACCESS_TOKEN = "refresh_access_token"
    RELEASE_RESOURCES = "release_resources"
    TRANSFER_DATA = "transfer_data"
    UNASSIGN_APPLICATION = "unassign_application"
    UNASSIGN_APPLICATION_ENTITLEMENT = "unassign_application_entitlement"
    UNASSIGN_ENTITLEMENT = "unassign_entitlement"
    UPDATE_ACCOUNT = "update_account"
    VALIDATE_CREDENTIAL_CONFIG = "validate_credential_config"
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
    # API 4.x additions. The canonical set is these and the 3.5 names that
    # `canonical_code` does not redirect.
    CONFLICT = "conflict"
    BAD_GATEWAY = "bad_gateway"
    BUDGET_EXHAUSTED = "budget_exhausted"


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
    EARLY_ACCESS = "EARLY_ACCESS"


class CustomAttributeCustomizedType(enum.StrEnum):
    ACCOUNT = "account"
    ENTITLEMENT = "entitlement"
    RESOURCE = "resource"
    CREDENTIAL = "credential"
    NON_HUMAN_ACCOUNT = "non_human_account"


class CustomAttributeType(enum.StrEnum):
    STRING = "string"
    USER = "user"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    DATETIME = "datetime"


class TokenType(enum.StrEnum):
    BEARER = "bearer"


# ---- Wire types -------------------------------------------------------------
# Field names, types and required fields follow the Lumos Connector API 3.5
# schema. Every struct is keyword-only, so required fields may follow optional
# ones in the schema's order. Unknown fields in input are ignored (msgspec's
# default), which keeps old connectors working with newer platforms.


class _Wire(msgspec.Struct, kw_only=True):
    """Base of every wire struct."""


Secret: Final = msgspec.Meta(extra_json_schema={"x-secret": True})
"""Marks a field as secret: ``password: Annotated[str, Secret]``; info shows ``x-secret``."""

SecretStr: TypeAlias = typing.Annotated[str, Secret]


class Page(_Wire, kw_only=True):
    token: str | None = None
    size: int | None = None


class BasicCredential(_Wire, kw_only=True):
    username: str
    password: SecretStr


class TokenCredential(_Wire, kw_only=True):
    token: SecretStr


class OAuthCredential(_Wire, kw_only=True):
    access_token: SecretStr


# 4.x credential members.


class OAuthClientCredential(_Wire, kw_only=True):
    access_token: SecretStr
    client_id: str
    client_secret: SecretStr
    scopes: list[str]


class OAuth1Credential(_Wire, kw_only=True):
    consumer_key: str
    consumer_secret: SecretStr
    token_id: str
    token_secret: SecretStr


class JWTHeaders(_Wire, kw_only=True):
    alg: str
    crit: list[str]
    cty: str
    jku: str
    jwk: str
    kid: str
    typ: str
    x5c: str
    x5t: str
    x5t_s256: str = msgspec.field(name="x5t#S256")
    x5u: str


class JWTClaims(_Wire, kw_only=True):
    act: str
    aud: str
    client_id: str
    exp: int
    iat: int
    iss: str
    jti: str
    may_act: str
    nbf: int
    scope: list[str]
    sub: str


class JWTCredential(_Wire, kw_only=True):
    claims: JWTClaims
    headers: JWTHeaders
    secret: SecretStr  # not x-secret in the file, but the signing key


class ServiceAccountType(enum.StrEnum):
    GOOGLE_CLOUD = "google_cloud"
    GOOGLE_DRIVE = "google_drive"
    AWS = "aws"
    AWS_ROLE = "aws_role"


class ServiceAccountCredential(_Wire, kw_only=True):
    impersonation_email: str
    key: typing.Annotated[dict[str, Any], Secret]
    scopes: list[str]
    tenant_id: str
    service_type: ServiceAccountType | None = None  # file default: 'google_cloud'


class KeyGenType(enum.StrEnum):
    SSH = "SSH"
    SSH_PEM = "SSH_PEM"
    PEM_PK8 = "PEM_PK8"
    PGP = "PGP"
    JWK_RSA = "JWK_RSA"


# The file marks the schema `x-keygen-type: SSH` (a KeyGenType): how the platform makes the pair.
class KeyPairCredential(_Wire, kw_only=True):
    key_identifier: str
    private_key: SecretStr


class EmptyCredential(_Wire, kw_only=True):
    pass


class AuthCredential(_Wire, kw_only=True):
    """One credential: exactly one member set; `id` names it in a `credentials` list."""

    id: str | None = None
    oauth: OAuthCredential | None = None
    oauth_client_credentials: OAuthClientCredential | None = None
    oauth1: OAuth1Credential | None = None
    basic: BasicCredential | None = None
    token: TokenCredential | None = None
    jwt: JWTCredential | None = None
    service_account: ServiceAccountCredential | None = None
    key_pair: KeyPairCredential | None = None
    empty: EmptyCredential | None = None


class ResourceType(_Wire, kw_only=True):
    type_id: str
    type_label: str


class EntitlementRequirement(_Wire, kw_only=True):
    min: int | None = None
    max: int | None = None


class EntitlementType(_Wire, kw_only=True):
    type_id: str
    type_label: str
    resource_type_id: str
    min: int
    max: int | None = None
    # 4.x: per-requirement bounds, e.g. {"role": {"min": 1, "max": 1}}.
    requirements: dict[str, EntitlementRequirement] | None = None


class DescriptionData(_Wire, kw_only=True):
    user_friendly_name: str | None = None
    categories: list[AppCategory] | None = None
    description: str | None = None
    logo_url: str | None = None
    app_vendor_domain: str | None = None  # 4.x: the vendor's domain, e.g. "github.com"


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
    custom_attributes: list[str] | None = None


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
    # 4.x sends {name: value}; 3.5 sent {name: {key, value}}. Both are accepted.
    form_data: dict[str, str | FormData] | None = None
    credential_id: str | None = None  # 4.x: whose oauth_settings to use


class HandleAuthorizationCallback(_Wire, kw_only=True):
    client_id: str
    client_secret: SecretStr
    redirect_uri_with_code: str
    state: str | None = None
    # Not in the 3.5 schema: carries a PKCE verifier back (as later versions do).
    code_verifier: SecretStr | None = None
    credential_id: str | None = None  # 4.x: whose oauth_settings to use


class HandleClientCredentials(_Wire, kw_only=True):
    client_id: str
    client_secret: SecretStr
    scopes: list[str]
    credential_id: str | None = None  # 4.x: whose oauth_settings to use


class RefreshAccessToken(_Wire, kw_only=True):
    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr
    state: str | None = None
    credential_id: str | None = None  # 4.x: whose oauth_settings to use


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
    resource_id: str | None = None


class FoundResourceData(_Wire, kw_only=True):
    integration_specific_id: str
    label: str
    resource_type: str
    extra_data: dict[str, str] | None = None
    description: str | None = None


class FoundEntitlementData(_Wire, kw_only=True):
    integration_specific_id: str
    integration_specific_resource_id: str
    entitlement_type: str
    label: str
    is_assignable: bool | None = None
    extra_data: dict[str, Any] | None = None
    custom_attributes: dict[str, str] | None = None
    description: str | None = None


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
    created: typing.Literal[True]  # 4.x: always true (deprecated; `status` tells)
    id: str | None = None  # 4.x: the new account's integration_specific_id


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
    description: str | None = None


class AuthorizationUrl(_Wire, kw_only=True):
    authorization_url: str
    # Not in the 3.5 schema: the PKCE verifier to send back with the callback.
    code_verifier: SecretStr | None = None


class OauthCredentials(_Wire, kw_only=True):
    access_token: SecretStr
    refresh_token: SecretStr | None = None
    token_type: TokenType
    state: str | None = None


class ErrorFault(enum.StrEnum):
    CALLER = "caller"
    CONNECTOR = "connector"
    UPSTREAM = "upstream"
    INFRASTRUCTURE = "infrastructure"
    UNKNOWN = "unknown"


class ErrorCategory(enum.StrEnum):
    AUTHENTICATION = "authentication"
    AUTHORIZATION = "authorization"
    TRANSIENT = "transient"
    CLIENT = "client"
    INTERNAL = "internal"


class ErrorMetadata(_Wire, kw_only=True):
    """What the platform does with an error: retry it, refresh credentials, ..."""

    fault: ErrorFault
    category: ErrorCategory
    retryable: bool
    throttled: bool
    refreshable: bool
    hint: str | None = None
    retry_after_seconds: int | None = None


class Error(_Wire, kw_only=True):
    message: str
    status_code: int | None = None
    # The bare code ("not_found"); the app is in `app_id`.
    error_code: ErrorCode
    app_error_code: str | None = None
    app_id: str
    raised_by: str | None = None
    raised_in: str | None = None
    error_metadata: ErrorMetadata | None = None


# Payloads and results of the capabilities API 4.x added.


# For the Info additions in (a); the other two types they name are under find_entitlement_graph.
class AccessGraphEntitlementType(_Wire, kw_only=True):
    resource_type_id: str
    type_id: str
    type_label: str


# -- app_info


# The file's name (the result is AppInfo), not one after the capability.
class AppInfoRequestPayload(_Wire, kw_only=True):
    pass


class AppInfo(_Wire, kw_only=True):
    app_id: str
    app_schema: dict[str, Any]


# -- assign_application


class AssignApplication(_Wire, kw_only=True):
    account_id: str
    application_instance_id: str


class AssignedApplication(_Wire, kw_only=True):
    assigned: bool
    provisioned: bool


# -- assign_application_entitlement


class AssignApplicationEntitlement(_Wire, kw_only=True):
    account_integration_specific_id: str
    application_instance_id: str
    entitlement_integration_specific_id: str
    entitlement_type: str
    resource_integration_specific_id: str
    resource_type: str


class AssignedApplicationEntitlement(AssignedEntitlement, kw_only=True):
    pass


# -- downgrade_license


class DowngradeLicense(_Wire, kw_only=True):
    account_id: str


class DowngradedLicense(_Wire, kw_only=True):
    success: bool
    reason: str | None = None


# -- find_entitlement_assignments


class FindEntitlementAssignments(_Wire, kw_only=True):
    pass


class AccessGraphEntitlementAssignment(_Wire, kw_only=True):
    entitlement_id: str
    entitlement_resource_id: str
    resource_id: str


# -- find_entitlement_graph


class CustomAttributeParameter(_Wire, kw_only=True):
    label: str
    type: CustomAttributeCustomizedType


class FindEntitlementGraph(_Wire, kw_only=True):
    custom_attributes: list[CustomAttributeParameter] | None = None


class AccessGraphEntitlement(_Wire, kw_only=True):
    denies_access: bool
    entitlement_type: str
    id: str
    label: str
    resource_id: str
    description: str | None = None
    is_assignable: bool | None = None


class AccessGraphEntitlementRule(_Wire, kw_only=True):
    denies_access: bool
    entitlement_id: str
    entitlement_type: str
    label: str
    resource_type: str
    description: str | None = None
    is_assignable: bool | None = None


class AccessGraphEntitlementIdentifier(_Wire, kw_only=True):
    entitlement_id: str
    resource_id: str


class AccessGraphImpliedAccess(_Wire, kw_only=True):
    from_entitlement: AccessGraphEntitlementIdentifier
    to_entitlements: list[AccessGraphEntitlementIdentifier]


class AccessGraphImpliedAccessRule(_Wire, kw_only=True):
    from_entitlement_id: str
    from_entitlement_type: str
    from_resource_type: str
    to_entitlement_id: str
    to_entitlement_type: str
    to_resource_type: str
    relationship_label: str | None = None


class CustomAttribute(_Wire, kw_only=True):
    label: str
    record_id: str
    type: CustomAttributeCustomizedType
    value: Any


class EntitlementGraph(_Wire, kw_only=True):
    access_graph_entitlement_rules: list[AccessGraphEntitlementRule]  # file default: []
    access_graph_implied_access_rules: list[AccessGraphImpliedAccessRule]  # file default: []
    custom_attributes: list[CustomAttribute]
    entitlement_implications: list[AccessGraphImpliedAccess]
    nodes: list[AccessGraphEntitlement]


# -- find_resource_graph


class FindResourceGraph(_Wire, kw_only=True):
    custom_attributes: list[CustomAttributeParameter] | None = None


class ReferenceType(enum.StrEnum):
    ACCOUNT = "account"


class Reference(_Wire, kw_only=True):
    id: str
    type: ReferenceType


class AccessGraphResource(_Wire, kw_only=True):
    id: str
    label: str
    resource_type: str
    description: str | None = None
    is_credential_bearing: bool | None = None
    is_terminal: bool | None = None
    linked_credential_ids: list[str] | None = None
    reference: Reference | None = None


class AccessGraphResourceRelationship(_Wire, kw_only=True):
    from_id: str
    label: str
    to_ids: list[str]


class ResourceGraph(_Wire, kw_only=True):
    custom_attributes: list[CustomAttribute]
    resource_relationships: list[AccessGraphResourceRelationship]
    resources: list[AccessGraphResource]


# -- fulfill_arbitrary_endpoint


class ArbitraryRequestMethod(enum.StrEnum):
    GET = "GET"
    POST = "POST"


class FulfillArbitraryEndpoint(_Wire, kw_only=True):
    url: str
    body: str | None = None
    headers: dict[str, str] | None = None
    method: ArbitraryRequestMethod | None = None  # file default: 'GET'
    query: dict[str, list[str]] | None = None


class ArbitraryResponse(_Wire, kw_only=True):
    headers: dict[str, str]
    ok: bool
    resolved_url: str
    body: str | None = None
    content_type: str | None = None
    error: str | None = None
    retry_after_seconds: float | None = None
    status_code: int | None = None


# -- get_account


class GetAccount(_Wire, kw_only=True):
    account_id: str
    custom_attributes: list[str] | None = None


# -- get_account_entitlement_associations


class GetAccountEntitlementAssociations(_Wire, kw_only=True):
    account_id: str


# -- get_application


class GetApplication(_Wire, kw_only=True):
    application_instance_id: str


class ApplicationStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class AssignmentMode(enum.StrEnum):
    ACCOUNT = "ACCOUNT"
    ENTITLEMENT = "ENTITLEMENT"


class SignOnMode(enum.StrEnum):
    SAML = "SAML"
    OIDC = "OIDC"
    BOOKMARK = "BOOKMARK"
    UNKNOWN = "UNKNOWN"


class Application(_Wire, kw_only=True):
    assignment_modes: list[AssignmentMode]
    id: str
    name: str
    sign_on_mode: SignOnMode
    status: ApplicationStatus
    description: str | None = None
    display_name: str | None = None
    logo: str | None = None
    sso_login_url: str | None = None


# -- get_application_account


class GetApplicationAccount(_Wire, kw_only=True):
    account_id: str
    application_instance_id: str


class ApplicationAccount(_Wire, kw_only=True):
    account_id: str
    application_instance_id: str
    status: AccountStatus


# -- get_credential_last_activity


class GetCredentialLastActivity(_Wire, kw_only=True):
    pass


class ActivityEventType(enum.StrEnum):
    LAST_LOGIN = "last_login"
    LAST_ACTIVITY = "last_activity"


class CredentialLastActivity(_Wire, kw_only=True):
    credential_id: str
    event_type: ActivityEventType
    happened_at: str


# -- get_data_recency


class GetDataRecency(_Wire, kw_only=True):
    pass


class DataRecency(_Wire, kw_only=True):
    data: dict[str, str | None]


# -- get_non_human_account_last_activity


class GetNonHumanAccountLastActivity(_Wire, kw_only=True):
    pass


class NonHumanAccountLastActivity(_Wire, kw_only=True):
    event_type: ActivityEventType
    happened_at: str
    non_human_account_id: str


# -- list_activity_records


class ActivityRecordActor(_Wire, kw_only=True):
    account_id: str


class ListActivityRecords(_Wire, kw_only=True):
    actors: list[ActivityRecordActor]
    since_date: str


class ActivityRecordEntitlement(_Wire, kw_only=True):
    id: str
    type: str
    resource_id: str | None = None
    resource_type: str | None = None


class ActivityRecordTarget(_Wire, kw_only=True):
    account_id: str | None = None
    entitlement: ActivityRecordEntitlement | None = None


class ActivityType(enum.StrEnum):
    ACCOUNT_LOGIN = "ACCOUNT_LOGIN"


class ActivityRecord(_Wire, kw_only=True):
    # The file: `ActivityType | str`; msgspec allows one str-like type per union, and an
    # ActivityType member is a str.
    activity_type: str
    actor: ActivityRecordActor
    id: str
    targets: list[ActivityRecordTarget]
    timestamp: str
    metadata: dict[str, str] | None = None


# -- list_applications


class ListApplications(_Wire, kw_only=True):
    pass


# -- list_applications_accounts


class ListApplicationsAccounts(_Wire, kw_only=True):
    pass


# -- list_applications_activity_records


class ListApplicationsActivityRecords(ListActivityRecords, kw_only=True):
    pass


class ApplicationActivityRecord(ActivityRecord, kw_only=True):
    application_instance_id: str


# -- list_applications_entitlement_associations


class ListApplicationsEntitlementAssociations(_Wire, kw_only=True):
    pass


class ApplicationEntitlementAssociation(FoundEntitlementAssociation, kw_only=True):
    application_instance_id: str


# -- list_applications_entitlements


class ListApplicationsEntitlements(ListEntitlements, kw_only=True):
    pass


class ApplicationEntitlementData(FoundEntitlementData, kw_only=True):
    application_instance_id: str


# -- list_applications_resources


class ListApplicationsResources(ListResources, kw_only=True):
    pass


class ApplicationResourceData(FoundResourceData, kw_only=True):
    application_instance_id: str


# -- list_credentials


class ListCredentials(_Wire, kw_only=True):
    custom_attributes: list[str] | None = None


class CredentialStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    STALE = "stale"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Credential(_Wire, kw_only=True):
    credential_type: str
    external_id: str
    label: str
    resource_id: str
    created_at: str | None = None
    custom_attributes: dict[str, Any] | None = None
    expires_at: str | None = None
    extra_data: dict[str, Any] | None = None
    grants_access_to_account_id: str | None = None
    grants_access_to_non_human_account_id: str | None = None
    last_activity: str | None = None
    last_rotated_at: str | None = None
    last_used_at: str | None = None
    status: CredentialStatus | None = None
    updated_at: str | None = None


# -- list_expenses


class TimeRange(_Wire, kw_only=True):
    end_date: str | None = None
    start_date: str | None = None


class ExpenseFilters(_Wire, kw_only=True):
    transaction_date: TimeRange | None = None


class ListExpenses(_Wire, kw_only=True):
    filters: ExpenseFilters


class Amount(_Wire, kw_only=True):
    amount: str
    currency: str


class NormalizedExpenseApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELED = "canceled"
    UNKNOWN = "unknown"


class ExpenseApprovalStatus(_Wire, kw_only=True):
    normalized_value: NormalizedExpenseApprovalStatus
    display_value: str | None = None
    id: str | None = None
    value: str | None = None


class NormalizedExpensePaymentStatus(enum.StrEnum):
    PAID = "paid"
    UNPAID = "unpaid"


class ExpensePaymentStatus(_Wire, kw_only=True):
    normalized_value: NormalizedExpensePaymentStatus
    display_value: str | None = None
    id: str | None = None
    value: str | None = None


class ExpenseType(enum.StrEnum):
    REIMBURSEMENT = "reimbursement"
    CARD_TRANSACTION = "card_transaction"


class SpendUser(_Wire, kw_only=True):
    email: str | None = None
    family_name: str | None = None
    full_name: str | None = None
    given_name: str | None = None
    id: str | None = None


class Vendor(_Wire, kw_only=True):
    description: str | None = None
    id: str | None = None
    name: str | None = None


class Expense(_Wire, kw_only=True):
    approval_status: ExpenseApprovalStatus
    description: str
    id: str
    payment_status: ExpensePaymentStatus
    seller: Vendor
    submitter: SpendUser
    total_amount: Amount
    transaction_date: str
    type: ExpenseType
    attributes: dict[str, Any] | None = None
    custom_attributes: dict[str, Any] | None = None
    paid_amount: Amount | None = None
    payment_date: str | None = None
    report_id: str | None = None
    url: str | None = None


# -- list_non_human_accounts


class ListNonHumanAccounts(_Wire, kw_only=True):
    custom_attributes: list[str] | None = None


class NonHumanAccount(_Wire, kw_only=True):
    id: str
    label: str
    resource_id: str
    status: AccountStatus
    type: str
    workload_id: str
    workload_name: str
    created_at: str | None = None
    custom_attributes: dict[str, Any] | None = None
    extra_data: dict[str, Any] | None = None
    last_activity: str | None = None
    last_login: str | None = None
    updated_at: str | None = None


# -- list_updated_accounts


class ListUpdatedAccounts(_Wire, kw_only=True):
    cursor: str | None = None
    custom_attributes: list[str] | None = None
    since: str | None = None


class UpdatedAccounts(_Wire, kw_only=True):
    accounts: list[FoundAccountData]
    cursor: str | None = None


# -- probe_integration


class ProbeCheckName(enum.StrEnum):
    ACCOUNTS = "accounts"
    ENTITLEMENTS = "entitlements"
    ENTITLEMENT_ASSOCIATIONS = "entitlement_associations"
    CAPABILITY_CONFIG = "capability_config"


class ProbeIntegration(_Wire, kw_only=True):
    checks: list[ProbeCheckName] | None = None
    custom_attributes: list[str] | None = None


class ProbeCheckSource(enum.StrEnum):
    NATIVE = "native"
    DEFAULT = "default"


class ProbeCheckStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"
    SKIPPED = "skipped"


class ProbeCoverageStatus(enum.StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    NOT_CHECKED = "not_checked"


class ProbeCustomAttributeResult(_Wire, kw_only=True):
    name: str
    status: ProbeCoverageStatus


class ProbeEntitlementTypeResult(_Wire, kw_only=True):
    entitlement_type: str
    status: ProbeCoverageStatus


class ProbeSampleCustomAttribute(_Wire, kw_only=True):
    name: str
    attribute_type: CustomAttributeType | None = None
    customized_type: CustomAttributeCustomizedType | None = None
    value: str | None = None


class ProbeSampleAccount(_Wire, kw_only=True, tag_field="kind", tag="account"):
    integration_specific_id: str
    custom_attributes: list[ProbeSampleCustomAttribute] | None = None
    email: str | None = None
    user_status: AccountStatus | None = None
    username: str | None = None


class ProbeSampleAssociation(_Wire, kw_only=True, tag_field="kind", tag="association"):
    account_id: str
    integration_specific_entitlement_id: str
    integration_specific_resource_id: str
    linked_to_sampled_account: bool


class ProbeCapabilityConfigStatus(enum.StrEnum):
    VALID = "valid"
    WARNING = "warning"
    INVALID = "invalid"
    NOT_CONFIGURED = "not_configured"


class ProbeCapabilityType(enum.StrEnum):
    READ = "read"
    WRITE = "write"


class ProbeConfigFindingSeverity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class ProbeConfigFinding(_Wire, kw_only=True):
    code: str
    message: str
    severity: ProbeConfigFindingSeverity
    setting: str | None = None
    suggestion: str | None = None


class ProbeSampleCapabilityConfig(_Wire, kw_only=True, tag_field="kind", tag="capability_config"):
    capability: str
    capability_type: ProbeCapabilityType
    findings: list[ProbeConfigFinding]
    status: ProbeCapabilityConfigStatus
    preview: str | None = None
    setting: str | None = None


class ProbeSampleEntitlement(_Wire, kw_only=True, tag_field="kind", tag="entitlement"):
    entitlement_type: str
    integration_specific_id: str
    integration_specific_resource_id: str
    label: str


# The file's ProbeSample: an anyOf whose members carry a `kind` enum constant.
ProbeSample: TypeAlias = (
    ProbeSampleAccount
    | ProbeSampleEntitlement
    | ProbeSampleAssociation
    | ProbeSampleCapabilityConfig
)


class ProbeCheck(_Wire, kw_only=True):
    check: ProbeCheckName
    observed_count: int
    samples: list[ProbeSample]
    source: ProbeCheckSource
    status: ProbeCheckStatus
    capability: str | None = None
    custom_attributes: list[ProbeCustomAttributeResult] | None = None
    duration_ms: int | None = None
    entitlement_types: list[ProbeEntitlementTypeResult] | None = None
    error: Error | None = None
    message: str | None = None


class ProbeStatus(enum.StrEnum):
    PASSED = "passed"
    PARTIAL = "partial"
    FAILED = "failed"


class ProbeResults(_Wire, kw_only=True):
    checks: list[ProbeCheck]
    status: ProbeStatus
    duration_ms: int | None = None


# -- release_resources


class ReleaseResources(_Wire, kw_only=True):
    account_id: str


class ReleaseResourcesStatus(_Wire, kw_only=True):
    success: bool
    reason: str | None = None


# -- transfer_data


class TransferData(_Wire, kw_only=True):
    source_account_id: str
    target_account_id: str


class TransferDataStatus(_Wire, kw_only=True):
    success: bool
    reason: str | None = None


# -- unassign_application


class UnassignApplication(_Wire, kw_only=True):
    account_id: str
    application_instance_id: str


class UnassignedApplication(_Wire, kw_only=True):
    deprovisioned: bool
    status: AccountStatus
    unassigned: bool


# -- unassign_application_entitlement


class UnassignApplicationEntitlement(_Wire, kw_only=True):
    account_integration_specific_id: str
    application_instance_id: str
    entitlement_integration_specific_id: str
    entitlement_type: str
    resource_integration_specific_id: str
    resource_type: str


class UnassignedApplicationEntitlement(UnassignedEntitlement, kw_only=True):
    pass


# -- update_account


# The file's name: UpdateableAccount (also the update_account result).
class UpdateAccount(_Wire, kw_only=True):
    id: str


# -- validate_credential_config


class ValidateCredentialConfig(_Wire, kw_only=True):
    credential: AuthCredential


class ValidatedCredentialConfig(_Wire, kw_only=True):
    valid: bool
    validation_errors: list[str] | None = None


# Shared shapes. Rate limits and execution summaries ride on every envelope
# (4.x); the generic envelopes below are written once and specialised per
# capability, so each capability costs two one-line classes.


class RateLimitMode(enum.StrEnum):
    ENFORCE = "enforce"
    RETRY_ONLY = "retry_only"
    BYPASS = "bypass"
    ENFORCE_NO_RETRY = "enforce_no_retry"


class RateLimitStateSnapshotSource(enum.StrEnum):
    API_HEADERS = "api_headers"
    SDK_COUNTER = "sdk_counter"


class RateLimitStateSnapshot(_Wire, kw_only=True):
    remaining: int | None = None
    limit: int | None = None
    reset: int | None = None
    window_seconds: int | None = None
    current_delay: int | None = None
    source: RateLimitStateSnapshotSource | None = None


class RateLimitRequestInfo(_Wire, kw_only=True):
    caller_retry_attempt: int | None = None
    last_known_state: dict[str, RateLimitStateSnapshot] | None = None
    caller_override_mode: RateLimitMode | None = None
    max_execution_time: int | None = None


class RateLimitResponseInfo(_Wire, kw_only=True):
    current_state: dict[str, RateLimitStateSnapshot] | None = None


class NoopEffectReason(enum.StrEnum):
    STATE_ALREADY_MATCHES = "state_already_matches"


# `effect` is a union tagged by `kind`, as the 4.x file has it.
class CreatedEffect(_Wire, kw_only=True, tag_field="kind", tag="created"):
    pass


class UpdatedEffect(_Wire, kw_only=True, tag_field="kind", tag="updated"):
    pass


class DeletedEffect(_Wire, kw_only=True, tag_field="kind", tag="deleted"):
    pass


class NoopEffect(_Wire, kw_only=True, tag_field="kind", tag="noop"):
    reason: NoopEffectReason


Effect: TypeAlias = CreatedEffect | UpdatedEffect | DeletedEffect | NoopEffect


class ExecutionSummary(_Wire, kw_only=True):
    effect: Effect
    request_fingerprint: str
    is_idempotent: bool
    description: str | None = None
    caught_errors: list[Error] | None = None


P = TypeVar("P")
T = TypeVar("T")


class RequestEnvelope(_Wire, Generic[P], kw_only=True):
    """A request that carries no credential (the OAuth flow, credential checks)."""

    request: P
    page: Page | None = None
    include_raw_data: bool | None = None
    settings: dict[str, Any] | None = None
    rate_limit: RateLimitRequestInfo | None = None


class AuthedRequestEnvelope(RequestEnvelope[P], kw_only=True):
    """A request with `auth` (one credential) or `credentials` (several, by id)."""

    auth: AuthCredential | None = None
    credentials: list[AuthCredential] | None = None


class ResponseEnvelope(_Wire, Generic[T], kw_only=True):
    """A success: the payload, raw upstream data when asked, the next page if any."""

    response: T
    raw_data: Any = None
    page: Page | None = None
    rate_limit: RateLimitResponseInfo | None = None
    execution_summary: ExecutionSummary | None = None


class CustomRequest(AuthedRequestEnvelope[P], Generic[P], kw_only=True):
    """The request of a custom capability: ``request: CustomRequest[SyncGroups]``."""


class CustomResponse(ResponseEnvelope[T], Generic[T], kw_only=True):
    """The response of a custom capability: ``-> CustomResponse[SyncResult]``."""


class ValidateCredentialsRequest(AuthedRequestEnvelope[ValidateCredentials]): ...


class ListAccountsRequest(AuthedRequestEnvelope[ListAccounts]): ...


class ListResourcesRequest(AuthedRequestEnvelope[ListResources]): ...


class ListEntitlementsRequest(AuthedRequestEnvelope[ListEntitlements]): ...


class FindEntitlementAssociationsRequest(AuthedRequestEnvelope[FindEntitlementAssociations]): ...


class GetLastActivityRequest(AuthedRequestEnvelope[GetLastActivity]): ...


class AssignEntitlementRequest(AuthedRequestEnvelope[AssignEntitlement]): ...


class UnassignEntitlementRequest(AuthedRequestEnvelope[UnassignEntitlement]): ...


class CreateAccountRequest(AuthedRequestEnvelope[CreateAccount]): ...


class ActivateAccountRequest(AuthedRequestEnvelope[ActivateAccount]): ...


class DeactivateAccountRequest(AuthedRequestEnvelope[DeactivateAccount]): ...


class DeleteAccountRequest(AuthedRequestEnvelope[DeleteAccount]): ...


class ListCustomAttributesSchemaRequest(AuthedRequestEnvelope[ListCustomAttributesSchema]): ...


class GetAuthorizationUrlRequest(RequestEnvelope[GetAuthorizationUrl]): ...


class HandleAuthorizationCallbackRequest(RequestEnvelope[HandleAuthorizationCallback]): ...


class HandleClientCredentialsRequest(RequestEnvelope[HandleClientCredentials]): ...


class RefreshAccessTokenRequest(RequestEnvelope[RefreshAccessToken]): ...


class ValidateCredentialsResponse(ResponseEnvelope[ValidatedCredentials]): ...


class ListAccountsResponse(ResponseEnvelope[list[FoundAccountData]]): ...


class ListResourcesResponse(ResponseEnvelope[list[FoundResourceData]]): ...


class ListEntitlementsResponse(ResponseEnvelope[list[FoundEntitlementData]]): ...


class FindEntitlementAssociationsResponse(ResponseEnvelope[list[FoundEntitlementAssociation]]): ...


class GetLastActivityResponse(ResponseEnvelope[list[LastActivityData]]): ...


class AssignEntitlementResponse(ResponseEnvelope[AssignedEntitlement]): ...


class UnassignEntitlementResponse(ResponseEnvelope[UnassignedEntitlement]): ...


class CreateAccountResponse(ResponseEnvelope[CreatedAccount]): ...


class ActivateAccountResponse(ResponseEnvelope[ActivatedAccount]): ...


class DeactivateAccountResponse(ResponseEnvelope[DeactivatedAccount]): ...


class DeleteAccountResponse(ResponseEnvelope[DeletedAccount]): ...


class ListCustomAttributesSchemaResponse(ResponseEnvelope[list[CustomAttributeSchema]]): ...


class GetAuthorizationUrlResponse(ResponseEnvelope[AuthorizationUrl]): ...


class HandleAuthorizationCallbackResponse(ResponseEnvelope[OauthCredentials]): ...


class HandleClientCredentialsResponse(ResponseEnvelope[OauthCredentials]): ...


class RefreshAccessTokenResponse(ResponseEnvelope[OauthCredentials]): ...


# The capabilities API 4.x added.


class AppInfoRequest(AuthedRequestEnvelope[AppInfoRequestPayload]): ...


class AssignApplicationRequest(AuthedRequestEnvelope[AssignApplication]): ...


class AssignApplicationEntitlementRequest(AuthedRequestEnvelope[AssignApplicationEntitlement]): ...


class DowngradeLicenseRequest(AuthedRequestEnvelope[DowngradeLicense]): ...


class FindEntitlementAssignmentsRequest(AuthedRequestEnvelope[FindEntitlementAssignments]): ...


class FindEntitlementGraphRequest(AuthedRequestEnvelope[FindEntitlementGraph]): ...


class FindResourceGraphRequest(AuthedRequestEnvelope[FindResourceGraph]): ...


class FulfillArbitraryEndpointRequest(AuthedRequestEnvelope[FulfillArbitraryEndpoint]): ...


class GetAccountRequest(AuthedRequestEnvelope[GetAccount]): ...


class GetAccountEntitlementAssociationsRequest(
    AuthedRequestEnvelope[GetAccountEntitlementAssociations]
): ...


class GetApplicationRequest(AuthedRequestEnvelope[GetApplication]): ...


class GetApplicationAccountRequest(AuthedRequestEnvelope[GetApplicationAccount]): ...


class GetCredentialLastActivityRequest(AuthedRequestEnvelope[GetCredentialLastActivity]): ...


class GetDataRecencyRequest(AuthedRequestEnvelope[GetDataRecency]): ...


class GetNonHumanAccountLastActivityRequest(
    AuthedRequestEnvelope[GetNonHumanAccountLastActivity]
): ...


class ListActivityRecordsRequest(AuthedRequestEnvelope[ListActivityRecords]): ...


class ListApplicationsRequest(AuthedRequestEnvelope[ListApplications]): ...


class ListApplicationsAccountsRequest(AuthedRequestEnvelope[ListApplicationsAccounts]): ...


class ListApplicationsActivityRecordsRequest(
    AuthedRequestEnvelope[ListApplicationsActivityRecords]
): ...


class ListApplicationsEntitlementAssociationsRequest(
    AuthedRequestEnvelope[ListApplicationsEntitlementAssociations]
): ...


class ListApplicationsEntitlementsRequest(AuthedRequestEnvelope[ListApplicationsEntitlements]): ...


class ListApplicationsResourcesRequest(AuthedRequestEnvelope[ListApplicationsResources]): ...


class ListCredentialsRequest(AuthedRequestEnvelope[ListCredentials]): ...


class ListExpensesRequest(AuthedRequestEnvelope[ListExpenses]): ...


class ListNonHumanAccountsRequest(AuthedRequestEnvelope[ListNonHumanAccounts]): ...


class ListUpdatedAccountsRequest(AuthedRequestEnvelope[ListUpdatedAccounts]): ...


class ProbeIntegrationRequest(AuthedRequestEnvelope[ProbeIntegration]): ...


class ReleaseResourcesRequest(AuthedRequestEnvelope[ReleaseResources]): ...


class TransferDataRequest(AuthedRequestEnvelope[TransferData]): ...


class UnassignApplicationRequest(AuthedRequestEnvelope[UnassignApplication]): ...


class UnassignApplicationEntitlementRequest(
    AuthedRequestEnvelope[UnassignApplicationEntitlement]
): ...


class UpdateAccountRequest(AuthedRequestEnvelope[UpdateAccount]): ...


class ValidateCredentialConfigRequest(RequestEnvelope[ValidateCredentialConfig]): ...


class AppInfoResponse(ResponseEnvelope[AppInfo]): ...


class AssignApplicationResponse(ResponseEnvelope[AssignedApplication]): ...


class AssignApplicationEntitlementResponse(ResponseEnvelope[AssignedApplicationEntitlement]): ...


class DowngradeLicenseResponse(ResponseEnvelope[DowngradedLicense]): ...


class FindEntitlementAssignmentsResponse(
    ResponseEnvelope[list[AccessGraphEntitlementAssignment]]
): ...


class FindEntitlementGraphResponse(ResponseEnvelope[EntitlementGraph]): ...


class FindResourceGraphResponse(ResponseEnvelope[ResourceGraph]): ...


class FulfillArbitraryEndpointResponse(ResponseEnvelope[ArbitraryResponse]): ...


class GetAccountResponse(ResponseEnvelope[FoundAccountData]): ...


class GetAccountEntitlementAssociationsResponse(
    ResponseEnvelope[list[FoundEntitlementAssociation]]
): ...


class GetApplicationResponse(ResponseEnvelope[Application]): ...


class GetApplicationAccountResponse(ResponseEnvelope[ApplicationAccount]): ...


class GetCredentialLastActivityResponse(ResponseEnvelope[list[CredentialLastActivity]]): ...


class GetDataRecencyResponse(ResponseEnvelope[DataRecency]): ...


class GetNonHumanAccountLastActivityResponse(
    ResponseEnvelope[list[NonHumanAccountLastActivity]]
): ...


class ListActivityRecordsResponse(ResponseEnvelope[list[ActivityRecord]]): ...


class ListApplicationsResponse(ResponseEnvelope[list[Application]]): ...


class ListApplicationsAccountsResponse(ResponseEnvelope[list[ApplicationAccount]]): ...


class ListApplicationsActivityRecordsResponse(
    ResponseEnvelope[list[ApplicationActivityRecord]]
): ...


class ListApplicationsEntitlementAssociationsResponse(
    ResponseEnvelope[list[ApplicationEntitlementAssociation]]
): ...


class ListApplicationsEntitlementsResponse(ResponseEnvelope[list[ApplicationEntitlementData]]): ...


class ListApplicationsResourcesResponse(ResponseEnvelope[list[ApplicationResourceData]]): ...


class ListCredentialsResponse(ResponseEnvelope[list[Credential]]): ...


class ListExpensesResponse(ResponseEnvelope[list[Expense]]): ...


class ListNonHumanAccountsResponse(ResponseEnvelope[list[NonHumanAccount]]): ...


class ListUpdatedAccountsResponse(ResponseEnvelope[UpdatedAccounts]): ...


class ProbeIntegrationResponse(ResponseEnvelope[ProbeResults]): ...


class ReleaseResourcesResponse(ResponseEnvelope[ReleaseResourcesStatus]): ...


class TransferDataResponse(ResponseEnvelope[TransferDataStatus]): ...


class UnassignApplicationResponse(ResponseEnvelope[UnassignedApplication]): ...


class UnassignApplicationEntitlementResponse(
    ResponseEnvelope[UnassignedApplicationEntitlement]
): ...


# The file's update_account result is UpdateableAccount, the payload's own schema.
class UpdateAccountResponse(ResponseEnvelope[UpdateAccount]): ...


class ValidateCredentialConfigResponse(ResponseEnvelope[ValidatedCredentialConfig]): ...


class ErrorResponse(_Wire, kw_only=True):
    is_error: bool
    error: Error
    response: None = None
    raw_data: dict[str, Any] | None = None
    page: Page | None = None


class CapabilitySchema(_Wire, kw_only=True):
    argument: dict[str, Any]
    output: dict[str, Any]
    display_name: str | None = None
    description: str | None = None


class Info(_Wire, kw_only=True):
    app_id: str
    version: str
    capabilities: list[str]
    capability_schema: dict[str, CapabilitySchema]
    authentication_schema: dict[str, Any]
    credentials_schema: list[dict[str, Any]]
    entitlement_types: list[EntitlementType]
    resource_types: list[ResourceType]
    request_settings_schema: dict[str, Any]
    user_friendly_name: str | None = None
    description: str | None = None
    categories: list[AppCategory] | None = None
    logo_url: str | None = None
    app_vendor_domain: str | None = None
    oauth_scopes: dict[str, str] | None = None
    access_graph_entitlement_rules: list[AccessGraphEntitlementRule] | None = None
    access_graph_entitlement_types: list[AccessGraphEntitlementType] | None = None
    implied_access_rules: list[AccessGraphImpliedAccessRule] | None = None


class InfoResponse(ResponseEnvelope[Info]): ...


class CapabilitySpec(msgspec.Struct, frozen=True):
    """A standard capability: its envelope types, its level or category, its API version.

    CAPABILITIES["list_accounts"].level == "read"
    """

    name: str
    request_type: type[Any]
    response_type: type[Any]
    # x-capability-level ("read", "write", "validation") or, for the OAuth flow
    # and app_info, x-capability-category ("authorization", "specification").
    kind: str
    since: str = "4"  # the API version that introduced it: "3.5" or "4"

    @property
    def level(self) -> str | None:
        return self.kind if self.kind in _LEVELS else None

    @property
    def category(self) -> str | None:
        return None if self.kind in _LEVELS else self.kind


_R, _W, _V, _AUTHZ, _SPEC = "read", "write", "validation", "authorization", "specification"
_LEVELS: Final = frozenset((_R, _W, _V))
_S = CapabilitySpec
# The standard capabilities, one row each. Registration checks annotations
# against it (subclasses allowed); info, the CLI and the server read it.
CAPABILITIES: Final[Mapping[str, CapabilitySpec]] = {
    spec.name: spec
    for spec in (
        _S(
            "validate_credentials",
            ValidateCredentialsRequest,
            ValidateCredentialsResponse,
            _R,
            "3.5",
        ),
        _S("list_accounts", ListAccountsRequest, ListAccountsResponse, _R, "3.5"),
        _S("list_resources", ListResourcesRequest, ListResourcesResponse, _R, "3.5"),
        _S("list_entitlements", ListEntitlementsRequest, ListEntitlementsResponse, _R, "3.5"),
        _S(
            "find_entitlement_associations",
            FindEntitlementAssociationsRequest,
            FindEntitlementAssociationsResponse,
            _R,
            "3.5",
        ),
        _S("get_last_activity", GetLastActivityRequest, GetLastActivityResponse, _R, "3.5"),
        _S("assign_entitlement", AssignEntitlementRequest, AssignEntitlementResponse, _W, "3.5"),
        _S(
            "unassign_entitlement",
            UnassignEntitlementRequest,
            UnassignEntitlementResponse,
            _W,
            "3.5",
        ),
        _S("create_account", CreateAccountRequest, CreateAccountResponse, _W, "3.5"),
        _S("activate_account", ActivateAccountRequest, ActivateAccountResponse, _W, "3.5"),
        _S("deactivate_account", DeactivateAccountRequest, DeactivateAccountResponse, _W, "3.5"),
        _S("delete_account", DeleteAccountRequest, DeleteAccountResponse, _W, "3.5"),
        _S(
            "list_custom_attributes_schema",
            ListCustomAttributesSchemaRequest,
            ListCustomAttributesSchemaResponse,
            _R,
            "3.5",
        ),
        _S(
            "get_authorization_url",
            GetAuthorizationUrlRequest,
            GetAuthorizationUrlResponse,
            _AUTHZ,
            "3.5",
        ),
        _S(
            "handle_authorization_callback",
            HandleAuthorizationCallbackRequest,
            HandleAuthorizationCallbackResponse,
            _AUTHZ,
            "3.5",
        ),
        _S(
            "handle_client_credentials_request",
            HandleClientCredentialsRequest,
            HandleClientCredentialsResponse,
            _AUTHZ,
            "3.5",
        ),
        _S(
            "refresh_access_token",
            RefreshAccessTokenRequest,
            RefreshAccessTokenResponse,
            _AUTHZ,
            "3.5",
        ),
        _S("app_info", AppInfoRequest, AppInfoResponse, _SPEC),
        _S("assign_application", AssignApplicationRequest, AssignApplicationResponse, _W),
        _S(
            "assign_application_entitlement",
            AssignApplicationEntitlementRequest,
            AssignApplicationEntitlementResponse,
            _W,
        ),
        _S("downgrade_license", DowngradeLicenseRequest, DowngradeLicenseResponse, _W),
        _S(
            "find_entitlement_assignments",
            FindEntitlementAssignmentsRequest,
            FindEntitlementAssignmentsResponse,
            _R,
        ),
        _S("find_entitlement_graph", FindEntitlementGraphRequest, FindEntitlementGraphResponse, _R),
        _S("find_resource_graph", FindResourceGraphRequest, FindResourceGraphResponse, _R),
        _S(
            "fulfill_arbitrary_endpoint",
            FulfillArbitraryEndpointRequest,
            FulfillArbitraryEndpointResponse,
            _R,
        ),
        _S("get_account", GetAccountRequest, GetAccountResponse, _R),
        _S(
            "get_account_entitlement_associations",
            GetAccountEntitlementAssociationsRequest,
            GetAccountEntitlementAssociationsResponse,
            _R,
        ),
        _S("get_application", GetApplicationRequest, GetApplicationResponse, _R),
        _S(
            "get_application_account",
            GetApplicationAccountRequest,
            GetApplicationAccountResponse,
            _R,
        ),
        _S(
            "get_credential_last_activity",
            GetCredentialLastActivityRequest,
            GetCredentialLastActivityResponse,
            _R,
        ),
        _S("get_data_recency", GetDataRecencyRequest, GetDataRecencyResponse, _R),
        _S(
            "get_non_human_account_last_activity",
            GetNonHumanAccountLastActivityRequest,
            GetNonHumanAccountLastActivityResponse,
            _R,
        ),
        _S("list_activity_records", ListActivityRecordsRequest, ListActivityRecordsResponse, _R),
        _S("list_applications", ListApplicationsRequest, ListApplicationsResponse, _R),
        _S(
            "list_applications_accounts",
            ListApplicationsAccountsRequest,
            ListApplicationsAccountsResponse,
            _R,
        ),
        _S(
            "list_applications_activity_records",
            ListApplicationsActivityRecordsRequest,
            ListApplicationsActivityRecordsResponse,
            _R,
        ),
        _S(
            "list_applications_entitlement_associations",
            ListApplicationsEntitlementAssociationsRequest,
            ListApplicationsEntitlementAssociationsResponse,
            _R,
        ),
        _S(
            "list_applications_entitlements",
            ListApplicationsEntitlementsRequest,
            ListApplicationsEntitlementsResponse,
            _R,
        ),
        _S(
            "list_applications_resources",
            ListApplicationsResourcesRequest,
            ListApplicationsResourcesResponse,
            _R,
        ),
        _S("list_credentials", ListCredentialsRequest, ListCredentialsResponse, _R),
        _S("list_expenses", ListExpensesRequest, ListExpensesResponse, _R),
        _S(
            "list_non_human_accounts", ListNonHumanAccountsRequest, ListNonHumanAccountsResponse, _R
        ),
        _S("list_updated_accounts", ListUpdatedAccountsRequest, ListUpdatedAccountsResponse, _R),
        _S("probe_integration", ProbeIntegrationRequest, ProbeIntegrationResponse, _R),
        _S("release_resources", ReleaseResourcesRequest, ReleaseResourcesResponse, _W),
        _S("transfer_data", TransferDataRequest, TransferDataResponse, _W),
        _S("unassign_application", UnassignApplicationRequest, UnassignApplicationResponse, _W),
        _S(
            "unassign_application_entitlement",
            UnassignApplicationEntitlementRequest,
            UnassignApplicationEntitlementResponse,
            _W,
        ),
        _S("update_account", UpdateAccountRequest, UpdateAccountResponse, _W),
        _S(
            "validate_credential_config",
            ValidateCredentialConfigRequest,
            ValidateCredentialConfigResponse,
            _V,
        ),
    )
}
_CAPABILITY_BY_REQUEST: Final = {spec.request_type: spec.name for spec in CAPABILITIES.values()}

_encode: Final = msgspec.json.Encoder().encode


# ---- Errors -----------------------------------------------------------------
# Raising strategy: a capability raises ConnectorError (or one of its typed
# subclasses), or lets an upstream HTTPStatusError / transport error escape.
# Three tables decide everything else, each read by one function:
#   _HTTP_STATUS_CODES  upstream status -> code       (read by `classify`)
#   _METADATA           canonical code -> metadata    (read by `_finish_error`)
#   _DEPRECATED_CODES / _V35_CODES  code -> wire code (read by `wire_code`)
# `classify` pre-fills the envelope, the author's handler may adjust it, and
# `_finish_error` completes it (code on the wire, metadata, secrets scrubbed).
# Failures found before a capability runs (JSON, auth, settings) never reach
# author code and carry no raised_by / raised_in.

# The 3.5 names of API 4.x's codes; the other deprecated names are canonical
# codes under another name.
_DEPRECATED_CODES: Final[dict[ErrorCode, ErrorCode]] = {
    ErrorCode.UNEXPECTED_ERROR: ErrorCode.INTERNAL_ERROR,
    ErrorCode.NOT_IMPLEMENTED: ErrorCode.UNSUPPORTED_OPERATION,
    ErrorCode.CLIENT_CALL_ERROR: ErrorCode.INVALID_RESPONSE,
    ErrorCode.API_ERROR: ErrorCode.INVALID_RESPONSE,
    ErrorCode.UNAUTHENTICATED: ErrorCode.UNAUTHORIZED,
}
CANONICAL_CODES: Final = frozenset(code for code in ErrorCode if code not in _DEPRECATED_CODES)
"""The 22 codes of API 4.x."""

# API 3.5 has no conflict, bad_gateway or budget_exhausted.
_V35_CODES: Final[dict[ErrorCode, ErrorCode]] = {
    ErrorCode.CONFLICT: ErrorCode.BAD_REQUEST,
    ErrorCode.BAD_GATEWAY: ErrorCode.SERVICE_ERROR,
    ErrorCode.BUDGET_EXHAUSTED: ErrorCode.RATE_LIMIT,
}


def canonical_code(code: ErrorCode) -> ErrorCode:
    """The API 4.x code for `code` (deprecated 3.5 names redirected)."""
    return _DEPRECATED_CODES.get(code, code)


def wire_code(code: ErrorCode, api_version: str = "4") -> ErrorCode:
    """The code written on the wire: canonical in 4.x, the 3.5 set in 3.5 mode."""
    if api_version == "3.5":
        return _V35_CODES.get(code, code)
    return _DEPRECATED_CODES.get(code, code)


_F, _C = ErrorFault, ErrorCategory
# (fault, category, retryable, throttled, refreshable) by canonical code.
_METADATA: Final[dict[ErrorCode, tuple[ErrorFault, ErrorCategory, bool, bool, bool]]] = {
    ErrorCode(code): row
    for codes, row in (
        (
            "bad_request invalid_value unknown_value not_found conflict invalid_page_token "
            "integration_missing_parameter",
            (_F.CALLER, _C.CLIENT, False, False, False),
        ),
        (
            "unauthorized authentication_expired creds_revoked",
            (_F.UPSTREAM, _C.AUTHENTICATION, False, False, True),
        ),
        ("permission_denied", (_F.UPSTREAM, _C.AUTHORIZATION, False, False, False)),
        ("rate_limit budget_exhausted", (_F.UPSTREAM, _C.TRANSIENT, True, True, False)),
        (
            "bad_gateway service_error request_timeout",
            (_F.UPSTREAM, _C.TRANSIENT, True, False, False),
        ),
        (
            "connection_timeout connection_rejected connection_closed",
            (_F.INFRASTRUCTURE, _C.TRANSIENT, True, False, False),
        ),
        ("internal_error", (_F.CONNECTOR, _C.INTERNAL, True, False, False)),
        (
            "invalid_response unsupported_operation",
            (_F.CONNECTOR, _C.INTERNAL, False, False, False),
        ),
    )
    for code in codes.split()
}


def error_metadata(code: ErrorCode) -> ErrorMetadata:
    """The platform-facing metadata of `code`, from the classification table."""
    fault, category, retryable, throttled, refreshable = _METADATA[canonical_code(code)]
    return ErrorMetadata(
        fault=fault,
        category=category,
        retryable=retryable,
        throttled=throttled,
        refreshable=refreshable,
    )


class ConnectorError(Exception):
    """An expected failure with its ErrorCode; the chain turns it into an envelope.

    raise ConnectorError("No such user", ErrorCode.NOT_FOUND)
    raise ConnectorError("Try later", ErrorCode.SERVICE_ERROR, retry_after_seconds=30)

    The keyword arguments override the code's `error_metadata`.
    """

    default_code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR

    def __init__(
        self,
        message: str | None = None,
        error_code: ErrorCode | str | None = None,
        app_error_code: str | None = None,
        *,
        status_code: int | None = None,
        retryable: bool | None = None,
        throttled: bool | None = None,
        refreshable: bool | None = None,
        hint: str | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        code = ErrorCode(error_code) if error_code is not None else self.default_code
        if message is None:
            message = canonical_code(code).replace("_", " ").capitalize()
        super().__init__(message)
        self.message = message
        self.error_code = code
        self.app_error_code = app_error_code
        self.status_code = status_code
        self.retryable = retryable
        self.throttled = throttled
        self.refreshable = refreshable
        self.hint = hint
        self.retry_after_seconds = retry_after_seconds


# A typed family, so that authors say what happened without picking codes.


class AuthenticationError(ConnectorError):
    """The credentials were refused (refreshable)."""

    default_code = ErrorCode.UNAUTHORIZED


class AuthorizationError(ConnectorError):
    """The credentials are valid but may not do this."""

    default_code = ErrorCode.PERMISSION_DENIED


class NotFoundError(ConnectorError):
    default_code = ErrorCode.NOT_FOUND


class ConflictError(ConnectorError):
    """The object exists already, or the change conflicts with its state."""

    default_code = ErrorCode.CONFLICT


class InvalidValueError(ConnectorError):
    default_code = ErrorCode.INVALID_VALUE


class InvalidPageTokenError(ConnectorError):
    default_code = ErrorCode.INVALID_PAGE_TOKEN


class RateLimitError(ConnectorError):
    """The upstream throttles us: ``RateLimitError(retry_after_seconds=30)``."""

    default_code = ErrorCode.RATE_LIMIT


class UpstreamError(ConnectorError):
    """The upstream failed (a bad gateway, from the platform's point of view)."""

    default_code = ErrorCode.BAD_GATEWAY


class InternalError(ConnectorError):
    default_code = ErrorCode.INTERNAL_ERROR


class RegistrationError(Exception):
    """A capability or an Integration was declared wrongly; the message names it."""


class ExceptionHandler:
    """Adjusts the pre-filled ErrorResponse for one kind of exception.

    Subclass it and list it as ``(SomeError, MyHandler, None)`` in
    ``Integration(exception_handlers=...)``; a non-None third element is the
    code to use when the entry matches. `response` arrives classified (code,
    status, message, raised_by/raised_in): change what you need and return it.
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


class HTTPHandler(ExceptionHandler):
    """The status mapping of `classify`, as a handler (the default does the same)."""

    @staticmethod
    def handle(
        e: Exception,
        original_func: Callable[..., Any],
        response: ErrorResponse,
        error_code: ErrorCode | None = None,
    ) -> ErrorResponse:
        response.error.error_code = error_code or classify(e)
        response.error.status_code = _status_of(e)
        return response


HandlerEntry = tuple[type[BaseException], type[ExceptionHandler], ErrorCode | None]

# Upstream HTTP status -> ErrorCode (DESIGN.md, "The current API"); any other
# status >= 400 is invalid_response.
_HTTP_STATUS_CODES: Final[dict[int, ErrorCode]] = {
    status: ErrorCode(code)
    for code, statuses in (
        ("bad_request", (400, 413, 415, 422)),
        ("unauthorized", (401,)),
        ("permission_denied", (403,)),
        ("not_found", (404,)),
        ("unsupported_operation", (405, 406, 501)),
        ("request_timeout", (408,)),
        ("conflict", (409,)),
        ("rate_limit", (429,)),
        ("bad_gateway", (500, 502, 504)),
        ("service_error", (503,)),
    )
    for status in statuses
}


def classify(exc: BaseException) -> ErrorCode:
    """The one decision of which code an exception gets.

    ConnectorError -> its code; an upstream status (``exc.response.status_code``,
    ours or httpx's) -> the status table; an httpcore/httpx transport error ->
    its code; anything else -> internal_error.
    """
    if isinstance(exc, ConnectorError):
        return exc.error_code
    status = _status_of(exc)
    if status is not None and status >= 400:
        return _HTTP_STATUS_CODES.get(status, ErrorCode.INVALID_RESPONSE)
    # Raw httpcore (or httpx) exceptions, matched by class name in the HTTP
    # client section so that `import connector` never imports httpcore.
    return _classify_transport_exception(exc) or ErrorCode.INTERNAL_ERROR


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not break the error path
        return type(exc).__name__


def _status_of(exc: BaseException) -> int | None:
    try:
        status = getattr(exc, "status_code", None)
        if status is None:
            status = getattr(getattr(exc, "response", None), "status_code", None)
    except Exception:
        return None
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def _retry_after_of(exc: BaseException) -> int | None:
    """Whole seconds from the Retry-After header of the exception's response."""
    try:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        value = headers.get("retry-after") if headers is not None else None
    except Exception:
        return None
    wait = _retry_after(value if isinstance(value, str) else None, time.time())
    return None if wait is None else math.ceil(wait)


def _prefill(exc: BaseException, where: str | None) -> ErrorResponse:
    """The classified envelope for `exc`, before any author handler runs."""
    error = Error(
        message=_safe_str(exc) or type(exc).__name__,
        status_code=_status_of(exc),
        error_code=classify(exc),
        app_id="",
        raised_by=type(exc).__name__,
        raised_in=where,
    )
    if isinstance(exc, ConnectorError):
        error.app_error_code = exc.app_error_code
    return ErrorResponse(is_error=True, error=error)


def _finish_error(
    response: ErrorResponse,
    *,
    app_id: str,
    api_version: str = "4",
    secrets: Sequence[str] = (),
    exc: BaseException | None = None,
) -> ErrorCode:
    """Completes an envelope in place; returns the code written on the wire.

    The code becomes an ErrorCode (an unknown one is internal_error), the
    metadata comes from the table with the exception's overrides, and every
    text a secret could reach is scrubbed.
    """
    error = response.error
    raw_code = str(error.error_code)
    try:
        code = ErrorCode(raw_code.rpartition(".")[2])  # handlers may still write "app.code"
    except ValueError:
        code = ErrorCode.INTERNAL_ERROR
    if not isinstance(error.error_metadata, ErrorMetadata):
        metadata = error_metadata(code)
        if exc is not None:
            metadata.retry_after_seconds = _retry_after_of(exc)
        if isinstance(exc, ConnectorError):
            for name in ("retryable", "throttled", "refreshable", "hint", "retry_after_seconds"):
                value = getattr(exc, name)
                if value is not None:
                    setattr(metadata, name, value)
        error.error_metadata = metadata
    if error.error_metadata.hint is not None:
        error.error_metadata.hint = _scrub(str(error.error_metadata.hint), secrets)
    on_wire = wire_code(code, api_version)
    error.error_code = on_wire
    error.app_id = app_id
    error.message = _scrub(str(error.message), secrets)
    if error.app_error_code is not None:
        error.app_error_code = _scrub(str(error.app_error_code), secrets)
    if response.raw_data is not None:
        response.raw_data = _scrub_json(response.raw_data, secrets)
    return on_wire


class _Failure(Exception):
    """Carries a finished, encoded error envelope from deep in the chain to dispatch."""

    def __init__(self, code: ErrorCode, body: bytes) -> None:
        super().__init__(code)
        self.code = code
        self.body = body


def _encode_error(response: ErrorResponse) -> bytes:
    try:
        return _encode(response)
    except Exception:  # a handler left something msgspec cannot encode
        error = response.error
        fallback = Error(
            message=str(error.message),
            error_code=error.error_code,
            app_id=str(error.app_id),
            error_metadata=error.error_metadata,
        )
        return _encode(ErrorResponse(is_error=True, error=fallback))


def error_envelope(
    app_id: str,
    code: ErrorCode,
    message: str,
    *,
    status_code: int | None = None,
    api_version: str = "4",
) -> bytes:
    """The encoded error envelope for a failure found outside any capability.

    error_envelope("github", ErrorCode.NOT_FOUND, "No route /x")
    """
    error = Error(message=message, status_code=status_code, error_code=code, app_id=app_id)
    response = ErrorResponse(is_error=True, error=error)
    _finish_error(response, app_id=app_id, api_version=api_version)
    return _encode(response)


# ---- Secrets ----------------------------------------------------------------
# One rule for what is a secret (`_secrets_of`), one for scrubbing (`_scrub`).
# Secrets are: every string under a request's `auth` / `credentials`; the
# settings values whose field is marked (`Annotated[str, Secret]`), whose name
# looks secret (password, token, key, ...) or whose value looks like a token
# (`Bearer ...`, a JWT, a PEM block, a URL's userinfo or query); and in OAuth
# calls the client secret, refresh token, PKCE verifier and authorization
# code. Strings shorter than 6 characters are left alone: they cannot be told
# from ordinary words. A plain `base_url` or tenant name stays readable.

_MIN_SECRET: Final = 6
_REDACTED: Final = "[redacted]"
_OAUTH_SECRET_FIELDS: Final = ("client_secret", "refresh_token", "code_verifier")
# Bounds the walk over hostile, deeply nested settings (it is iterative).
_MAX_WALK: Final = 100_000

_SECRET_WORDS: Final = frozenset(
    (
        *("password", "passwd", "pwd", "passphrase", "secret", "token", "key", "apikey"),
        *("credential", "credentials", "auth", "authorization", "cookie", "session"),
        *("signature", "private", "privatekey"),
    )
)
_SECRET_PARTS: Final = ("password", "secret", "token", "credential", "apikey", "privatekey")


def _secret_name(name: str) -> bool:
    import re

    words = re.findall(r"[a-z0-9]+|[A-Z][a-z0-9]*", name)
    if any(word.lower() in _SECRET_WORDS for word in words):
        return True
    flat = "".join(words).lower()
    return any(part in flat for part in _SECRET_PARTS)


def _token_shaped(value: str, out: set[str]) -> bool:
    """True when `value` is a token as a whole; URL secrets go to `out`."""
    import re

    if re.match(r"(?:bearer|basic|token)\s+\S|eyJ[\w-]*\.[\w-]+\.", value, re.IGNORECASE):
        return True
    if "-----BEGIN " in value:
        return True
    if "://" in value:
        from urllib.parse import parse_qsl, urlsplit

        try:
            parts = urlsplit(value)
        except ValueError:
            return False
        if parts.password:
            out.update((parts.password, parts.netloc.rpartition("@")[0]))
        if parts.query:
            out.add(parts.query)
            out.update(v for _, v in parse_qsl(parts.query))
    return False


_MARKED: dict[type[Any], frozenset[str]] = {}


def _marked_fields(model: type[Any] | None) -> frozenset[str]:
    """The wire names of the settings model's fields marked `Secret`."""
    if model is None:
        return frozenset()
    found = _MARKED.get(model)
    if found is None:
        hints = typing.get_type_hints(model, include_extras=True)
        names = set()
        for field in msgspec.structs.fields(model):
            meta = getattr(hints.get(field.name), "__metadata__", ())
            if any(
                isinstance(m, msgspec.Meta) and (m.extra_json_schema or {}).get("x-secret")
                for m in meta
            ):
                names.add(field.encode_name)
        found = _MARKED[model] = frozenset(names)
    return found


def _walk_secrets(value: Any, out: set[str], *, all_strings: bool, marked: frozenset[str]) -> None:
    """Adds the secrets under `value`; iterative and bounded, so it never raises."""
    stack: list[tuple[Any, bool]] = [(value, all_strings)]
    steps = 0
    while stack and steps < _MAX_WALK:
        steps += 1
        item, secret = stack.pop()
        if isinstance(item, str):
            if secret or _token_shaped(item, out):
                out.add(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                named = isinstance(key, str) and (key in marked or _secret_name(key))
                stack.append((child, secret or named))
        elif isinstance(item, list | tuple):
            stack.extend((child, secret) for child in item)
        elif isinstance(item, msgspec.Struct):
            for name in item.__struct_fields__:
                stack.append((getattr(item, name), secret or _secret_name(name)))


def _member(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _secrets_of(request: Any, settings_model: type[Any] | None = None) -> list[str]:
    """Every form of every secret of a request (a decoded struct or plain JSON), longest first."""
    found: set[str] = set()
    credentials = _member(request, "credentials")
    items = [_member(request, "auth"), *(credentials if isinstance(credentials, list) else [])]
    for item in items:
        # Every value of a credential is a secret, except its `id` (a name, like "scim").
        if isinstance(item, dict):
            item = {k: v for k, v in item.items() if k != "id"}
        elif isinstance(item, AuthCredential):
            item = msgspec.structs.replace(item, id=None)
        _walk_secrets(item, found, all_strings=True, marked=frozenset())
    try:
        marked = _marked_fields(settings_model)
    except Exception:  # an unresolvable annotation: fall back to the name rule
        marked = frozenset()
    _walk_secrets(_member(request, "settings"), found, all_strings=False, marked=marked)
    payload = _member(request, "request")
    if payload is not None:
        for name in _OAUTH_SECRET_FIELDS:
            _walk_secrets(_member(payload, name), found, all_strings=True, marked=frozenset())
        redirect = _member(payload, "redirect_uri_with_code")
        if isinstance(redirect, str):
            from urllib.parse import parse_qsl, urlsplit

            found.update(
                value for key, value in parse_qsl(urlsplit(redirect).query) if key == "code"
            )
    _basic_pairs(request, found)
    return _forms(found)


def _basic_pairs(request: Any, found: set[str]) -> None:
    # A Basic header carries base64("user:password"): scrub that form too.
    import base64

    auths = [_member(request, "auth"), *(_member(request, "credentials") or [])]
    for auth in auths:
        basic = _member(auth, "basic") if auth is not None else None
        user, password = _member(basic, "username"), _member(basic, "password")
        if isinstance(user, str) and isinstance(password, str) and len(password) >= _MIN_SECRET:
            pair = f"{user}:{password}".encode(errors="surrogatepass")
            found.add(base64.b64encode(pair).decode("ascii"))


def _forms(secrets: Iterable[str]) -> list[str]:
    """Each secret as text may carry it: literal, repr- and JSON-escaped, percent-encoded."""
    import json
    from urllib.parse import quote, quote_plus

    forms: set[str] = set()
    for secret in secrets:
        if not isinstance(secret, str) or len(secret) < _MIN_SECRET:
            continue
        forms.add(secret)
        forms.add(secret.upper())  # "ß" upper-cases to "SS": IGNORECASE alone misses it
        forms.add(repr(secret)[1:-1])
        forms.add(_encode(secret).decode(errors="replace")[1:-1])
        forms.add(json.dumps(secret)[1:-1])  # the stdlib's escapes: \u007f, \u00e9, ...
        for safe in ("", "/"):
            forms.add(quote(secret, safe=safe, errors="surrogatepass"))
        forms.add(quote_plus(secret, errors="surrogatepass"))
    return sorted(forms, key=len, reverse=True)


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret form replaced, ignoring case."""
    if not secrets:
        return text
    import re

    pattern = re.compile("|".join(map(re.escape, secrets)), re.IGNORECASE)
    return pattern.sub(_REDACTED, text)


def _scrub_json(value: Any, secrets: Sequence[str]) -> Any:
    """A JSON value with the secrets scrubbed from every string in it (keys too)."""
    if not secrets:
        return value
    try:
        return msgspec.json.decode(_scrub(_encode(value).decode(), secrets))
    except Exception:
        return None  # not encodable, or scrubbing broke it: dropped rather than leaked


def _describe_decode_error(exc: msgspec.DecodeError, prefix: str = "") -> str:
    """msgspec's located message without any echoed value.

    Messages name the path (kept); a few quote the offending value
    (``Invalid enum value 'x'``, ``Object contains unknown field `x```), which
    may be a secret: that part goes.
    """
    text = str(exc)
    head, sep, where = text.partition(" - at `$")
    # Field names in backticks come from the schema, except an unknown field's.
    quotes = ("'", '"', "`") if "unknown field" in head else ("'", '"')
    for quote in quotes:
        if head.count(quote) >= 2:
            head = head[: head.index(quote)].rstrip() + head[head.rindex(quote) + 1 :]
    if prefix:
        where = prefix + where if sep else prefix + "`"
        sep = " - at `$"
    return f"{head}{sep}{where}"


# ---- Registry and the error-wrapping chain ----------------------------------
# What `dispatch_result(name, body)` does with one request:
#   1. finds the capability (a name not registered -> not_implemented, which
#      is unsupported_operation on the 4.x wire);
#   2. decodes the envelope with the capability's typed decoder (-> bad_request);
#   3. runs the capability's chain, the links of `_LINKS` outermost first:
#      a. _auth_link      the request carries the credential the connector takes;
#      b. _settings_link  settings convert to the settings model;
#      c. _response_link  the result has the capability's type; raw_data is kept
#                         only if asked; encoded, then checked by decoding it
#                         again (-> invalid_response naming the path);
#      d. _guard_link     an exception from the author's code is classified,
#                         handled by the author's handler, finished (-> its code);
#      e. _call_author    the author's function (sync ones in a worker thread);
#   4. returns the bytes of (3), or those of the finished envelope that a link
#      raised as `_Failure`. Nothing else escapes (`handle_errors=False` lets an
#      author's exception through, for debugging).

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S")

_CO_COROUTINE: Final = 0x80  # inspect.CO_COROUTINE, without importing inspect
# Credential struct -> its member of AuthCredential; `auth=` takes the first three.
_CREDENTIAL_MEMBERS: Final[dict[type[_Wire], str]] = {
    BasicCredential: "basic",
    TokenCredential: "token",
    OAuthCredential: "oauth",
    OAuthClientCredential: "oauth_client_credentials",
    OAuth1Credential: "oauth1",
    JWTCredential: "jwt",
    ServiceAccountCredential: "service_account",
    KeyPairCredential: "key_pair",
    EmptyCredential: "empty",
}
_AUTH_FIELDS: Final = dict(list(_CREDENTIAL_MEMBERS.items())[:3])
# An `auth=OAuthCredential` connector also takes the client-credentials member.
_ALSO_ACCEPTED: Final = {"oauth": ("oauth", "oauth_client_credentials")}


class CredentialConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One credential a multi-credential connector takes, by id.

    CredentialConfig(id="scim", type=TokenCredential, description="SCIM token", optional=True)

    `type` is a credential struct (or its member name, "token"); `validation`
    (sync or async) takes the credential and returns a list of problems, empty
    when it is fine; `oauth_settings` drive the OAuth capabilities for this id.
    """

    id: str
    type: Any
    optional: bool = False
    description: str | None = None
    validation: Callable[[Any], Any] | None = None
    oauth_settings: Any = None


def _member_name(kind: Any) -> str | None:
    """The AuthCredential member for a credential struct (or a member name)."""
    if isinstance(kind, str):
        return kind if kind in _CREDENTIAL_MEMBERS.values() else None
    for base, member in _CREDENTIAL_MEMBERS.items():
        if isinstance(kind, type) and issubclass(kind, base):
            return member
    return None


def _members_given(credential: Any) -> list[str]:
    return [
        name
        for name in AuthCredential.__struct_fields__
        if name != "id" and getattr(credential, name)
    ]


# A link's product: takes (request, settings), returns an awaitable result.
Link = Callable[[Any, Any], Awaitable[Any]]


class Capability:
    """One registered capability: its function, types and the composed chain."""

    __slots__ = (
        "chain",
        "decoder",
        "default",
        "description",
        "display_name",
        "func",
        "name",
        "pages",
        "request_type",
        "response_decoder",
        "response_type",
        "wants_settings",
    )

    def __init__(
        self,
        name: str,
        func: Callable[..., Any],
        request_type: type[Any],
        response_type: type[Any],
        *,
        default: bool = False,
        wants_settings: bool = False,
        display_name: str | None = None,
        description: str | None = None,
    ) -> None:
        self.name = name
        self.func = func
        self.request_type = request_type
        self.response_type = response_type
        self.default = default
        self.wants_settings = wants_settings
        self.display_name = display_name or name.replace("_", " ").capitalize()
        self.description = description or _first_line(getattr(func, "__doc__", None))
        self.decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(request_type)
        self.response_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(response_type)
        # A list capability may answer with a next page; others may not.
        self.pages = typing.get_origin(_payload_type(response_type, "response")) is list
        self.chain: Link = _unbuilt_chain

    def __repr__(self) -> str:
        return f"<Capability {self.name} -> {_where(self.func)}>"


async def _unbuilt_chain(request: Any, settings: Any) -> Any:
    raise RuntimeError("capability chain not composed")


def _first_line(doc: str | None) -> str | None:
    line = (doc or "").strip().split("\n\n", 1)[0]
    return " ".join(line.split()) or None


_RESERVED_NAMES: Final = frozenset(("info", "connected_info", "healthz", "openapi"))


def _custom_spec(where: str, name: str) -> CapabilitySpec:
    """The table row of a custom capability, once its name passes the rules."""
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[a-z]+(?:_[a-z]+)*", name):
        raise RegistrationError(
            f"{where}: a custom capability's name is snake_case letters (sync_groups), not {name!r}"
        )
    if name in CAPABILITIES or name in _RESERVED_NAMES:
        raise RegistrationError(
            f"{where}: {name!r} is a standard name; register it with @capability, "
            "or choose another name for a custom capability"
        )
    return CapabilitySpec(name, CustomRequest, CustomResponse, "custom")


def _origin(tp: Any) -> Any:
    """The class of a type: `CustomRequest` for `CustomRequest[Groups]`."""
    return typing.get_origin(tp) or tp


def _subtype(tp: Any, base: type[Any]) -> bool:
    origin = _origin(tp)
    return isinstance(origin, type) and issubclass(origin, base)


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _where(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '?')}:{getattr(func, '__name__', repr(func))}"


def _is_async(func: Callable[..., Any]) -> bool:
    code = getattr(func, "__code__", None)
    return bool(code is not None and code.co_flags & _CO_COROUTINE)


def _call_author(cap: Capability) -> Link:
    """The innermost callable: the author's function, async directly, sync in a thread."""
    func = cap.func
    if _is_async(func):
        if cap.wants_settings:
            return func
        return lambda request, settings: func(request)

    async def in_thread(request: Any, settings: Any) -> Any:
        import anyio.to_thread

        args = (request, settings) if cap.wants_settings else (request,)
        result = await anyio.to_thread.run_sync(func, *args)
        if hasattr(result, "__await__"):  # a sync wrapper around a coroutine function
            result = await result
        return result

    return in_thread


# The links, each `link(inner, cap, integration) -> Link`; a link with nothing
# to do returns `inner` unchanged. `_LINKS` lists them outermost first.


def _auth_link(inner: Link, cap: Capability, integration: "Integration") -> Link:
    """Checks that the request carries the credentials the connector takes."""
    expected = integration._auth_field
    if (
        (expected is None and not integration.credentials)
        or not _subtype(cap.request_type, AuthedRequestEnvelope)
        or cap.name in _UNCHECKED
    ):
        return inner

    def with_auth(request: Any, settings: Any) -> Awaitable[Any]:
        problem = (
            integration._credentials_problem(request)
            if integration.credentials
            else _auth_problem(request, typing.cast(str, expected))
        )
        if problem is not None:
            raise integration._failure(ErrorCode.BAD_REQUEST, problem, request=request)
        return inner(request, settings)

    return with_auth


def _auth_problem(request: Any, expected: str) -> str | None:
    """What is wrong with an `auth=` connector's request, or None."""
    auth = request.auth
    if request.credentials is not None:
        if auth is not None:
            return "Give `auth` or `credentials`, not both"
        return f"This connector takes one credential in `auth.{expected}`, not `credentials`"
    if auth is not None and any(getattr(auth, m) for m in _ALSO_ACCEPTED.get(expected, ())):
        return None
    if auth is None or getattr(auth, expected) is None:
        given = _members_given(auth) if auth else []
        message = f"Missing `auth.{expected}`: this connector takes {expected} credentials"
        return message + f", not {given[0]}" if given else message
    return None


def _settings_link(inner: Link, cap: Capability, integration: "Integration") -> Link:
    """Validates `settings` against the settings model before anything runs."""
    model = integration.settings_model
    if model is None or cap.name in _UNCHECKED:
        return inner

    def with_settings(request: Any, settings: Any) -> Awaitable[Any]:
        try:
            value = msgspec.convert(request.settings or {}, model)
        except msgspec.ValidationError as exc:
            message = "Invalid settings: " + _describe_decode_error(exc, prefix=".settings")
            raise integration._failure(ErrorCode.BAD_REQUEST, message, request=request) from None
        return inner(request, value)

    return with_settings


def _response_link(inner: Link, cap: Capability, integration: "Integration") -> Link:
    """Type-checks, trims, encodes and (unless turned off) validates the result."""
    expected = _origin(cap.response_type)
    validate = cap.response_decoder.decode if integration.validate_responses else None
    where = _where(cap.func)

    async def checked(request: Any, settings: Any) -> bytes:
        result = await inner(request, settings)
        if not isinstance(result, expected):
            message = f"{where} returned {type(result).__name__}, expected {expected.__name__}"
            raise integration._failure(ErrorCode.INVALID_RESPONSE, message, request=request)
        if result.page is not None:
            _check_page(result.page, request, cap, integration)
        if result.raw_data is not None and not request.include_raw_data:
            result = msgspec.structs.replace(result, raw_data=None)
        try:
            body: bytes = _encode(result)
        except Exception as exc:  # a value msgspec cannot encode, in raw_data say
            message = f"{where} returned a response that cannot be encoded: {_safe_str(exc)}"
            raise integration._failure(
                ErrorCode.INVALID_RESPONSE, message, request=request
            ) from None
        if validate is not None:
            try:
                validate(body)
            except msgspec.ValidationError as exc:
                message = f"{where} returned an invalid response: {_describe_decode_error(exc)}"
                raise integration._failure(
                    ErrorCode.INVALID_RESPONSE, message, request=request
                ) from None
        return body

    return checked


def _check_page(page: Any, request: Any, cap: Capability, integration: "Integration") -> None:
    """The pagination bugs a platform would loop on, caught before they leave."""
    problem = None
    if not cap.pages:
        problem = f"returned a `page`, but {cap.name} does not page (its response is no list)"
    elif page.token is not None and page.token == getattr(request.page, "token", None):
        problem = (
            "returned the page token it was given: the platform would ask for that page forever"
        )
    if problem is not None:
        message = f"{_where(cap.func)} {problem}"
        raise integration._failure(ErrorCode.INVALID_RESPONSE, message, request=request)


def _guard_link(inner: Link, cap: Capability, integration: "Integration") -> Link:
    """Turns any exception raised by the author's code into a finished envelope."""
    if not integration.handle_errors:
        return inner

    async def guarded(request: Any, settings: Any) -> Any:
        try:
            return await inner(request, settings)
        except _Failure:
            raise
        except Exception as exc:
            raise integration._from_exception(exc, cap, request) from None

    return guarded


_LINKS: Final = (_auth_link, _settings_link, _response_link, _guard_link)
_API_VERSIONS: Final = frozenset(("3.5", "4", "4.x"))
# Capabilities that run without the auth and settings checks: app_info describes
# the connector to a caller that has no credentials yet.
_UNCHECKED: Final = frozenset(("app_info",))


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
        credentials: Iterable[CredentialConfig] = (),
        allowed_credentials: Iterable[Sequence[str]] | None = None,
        api_version: str = "4",
        validate_responses: bool = True,
    ) -> None:
        if not isinstance(app_id, str) or not app_id:
            raise RegistrationError("Integration: app_id must be a non-empty string")
        if api_version not in _API_VERSIONS:
            raise RegistrationError(
                f"Integration {app_id!r}: api_version must be one of {sorted(_API_VERSIONS)}, "
                f"not {api_version!r}"
            )
        self.app_id = app_id
        self.version = version
        # "3.5" keeps every output valid under the 3.5 models; "4" is the current API.
        self.api_version = "3.5" if api_version == "3.5" else "4"
        self.validate_responses = validate_responses
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
        self._openapi: dict[tuple[bool, bool], bytes] = {}
        self.credentials: dict[str, CredentialConfig] = {}
        self.allowed_credentials: list[tuple[str, ...]] = []
        self._declare_credentials(list(credentials), allowed_credentials)
        if self.api_version != "3.5":
            _install_defaults(self)
        if oauth_settings is not None or any(c.oauth_settings for c in self.credentials.values()):
            _install_oauth(self)

    def __repr__(self) -> str:
        return f"<Integration {self.app_id} {self.version}: {', '.join(sorted(self.capabilities))}>"

    # -- credentials --

    def _declare_credentials(
        self, configs: list[CredentialConfig], allowed: Iterable[Sequence[str]] | None
    ) -> None:
        where = f"Integration {self.app_id!r}"
        if not configs:
            if allowed is not None:
                raise RegistrationError(f"{where}: allowed_credentials needs credentials=")
            return
        if self.auth is not None:
            raise RegistrationError(f"{where}: takes auth= or credentials=, not both")
        if self.api_version == "3.5":
            raise RegistrationError(
                f'{where}: credentials= is API 4 (this integration has api_version="3.5")'
            )
        for index, config in enumerate(configs):
            if not isinstance(config, CredentialConfig):
                raise RegistrationError(f"{where}: credentials[{index}] is not a CredentialConfig")
            if not isinstance(config.id, str) or not config.id:
                raise RegistrationError(f"{where}: credentials[{index}] needs a non-empty id")
            if config.id in self.credentials:
                raise RegistrationError(f"{where}: credential id {config.id!r} is declared twice")
            member = _member_name(config.type)
            if member is None:
                kinds = ", ".join(sorted(_CREDENTIAL_MEMBERS.values()))
                raise RegistrationError(
                    f"{where}: credential {config.id!r} has type {config.type!r}; "
                    f"use a credential struct or one of: {kinds}"
                )
            if config.oauth_settings is not None and not isinstance(
                config.oauth_settings, OAuthSettings
            ):
                raise RegistrationError(
                    f"{where}: credential {config.id!r}: oauth_settings must be an OAuthSettings"
                )
            self.credentials[config.id] = msgspec.structs.replace(config, type=member)
        if allowed is None:
            required = tuple(c.id for c in configs if not c.optional)
            self.allowed_credentials = [required]
        else:
            for combination in allowed:
                names = tuple(combination)
                unknown = [n for n in names if n not in self.credentials]
                if isinstance(combination, str) or unknown or not names:
                    raise RegistrationError(
                        f"{where}: allowed_credentials entries are tuples of declared ids "
                        f"({', '.join(self.credentials)}); {combination!r} is not"
                    )
                self.allowed_credentials.append(names)
            if not self.allowed_credentials:
                raise RegistrationError(f"{where}: allowed_credentials is empty")

    def _credentials_problem(self, request: Any) -> str | None:
        """What is wrong with a multi-credential request, or None (DESIGN's rules)."""
        items = request.credentials
        if request.auth is not None:
            if items is not None:
                return "Give `auth` or `credentials`, not both"
            return f"This connector takes `credentials` (ids: {', '.join(self.credentials)})"
        if not items:
            return f"Missing `credentials`: this connector takes {', '.join(self.credentials)}"
        seen: set[str] = set()
        for index, item in enumerate(items):
            if not item.id:
                return f"credentials[{index}] has no `id`"
            config = self.credentials.get(item.id)
            if config is None:
                return (
                    f"credentials[{index}] has the undeclared id {item.id!r} "
                    f"(declared: {', '.join(self.credentials)})"
                )
            if item.id in seen:
                return f"credentials[{index}]: id {item.id!r} is given twice"
            seen.add(item.id)
            given = _members_given(item)
            if given != [config.type]:
                found = f"`{'`, `'.join(given)}`" if given else "nothing"
                return f"credentials[{index}] ({item.id!r}) must carry `{config.type}`, not {found}"
        missing = [
            [name for name in combination if name not in seen]
            for combination in self.allowed_credentials
        ]
        if not any(not names for names in missing):
            closest = min(missing, key=len)
            return "No allowed combination of credentials is given: missing " + ", ".join(
                repr(n) for n in closest
            )
        return None

    # -- registration --

    @overload
    def capability(self, name_or_func: F) -> F: ...

    @overload
    def capability(
        self,
        name_or_func: str | None = None,
        *,
        display_name: str | None = None,
        description: str | None = None,
    ) -> Callable[[F], F]: ...

    def capability(
        self,
        name_or_func: Any = None,
        *,
        display_name: str | None = None,
        description: str | None = None,
    ) -> Any:
        """Registers a capability; bare, the name comes from the request annotation.

        @integration.capability
        async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse: ...

        `display_name` and `description` appear in `info` (defaults: from the
        name, and the docstring's first paragraph).
        """
        if callable(name_or_func) and not isinstance(name_or_func, str):
            self._register(None, name_or_func, scope=sys._getframe(1).f_locals)
            return name_or_func

        def decorator(func: F) -> F:
            self._register(
                name_or_func,
                func,
                display_name=display_name,
                description=description,
                scope=sys._getframe(1).f_locals,
            )
            return func

        return decorator

    def register_capability(
        self,
        name: CapabilityName | str,
        *,
        display_name: str | None = None,
        description: str | None = None,
    ) -> Callable[[F], F]:
        """Registers a capability under an explicit name (the seed's spelling).

        @integration.register_capability(CapabilityName.LIST_ACCOUNTS)
        """
        if not isinstance(name, str):
            raise RegistrationError(
                f"register_capability: expected a capability name, got {name!r}"
            )
        return self.capability(name, display_name=display_name, description=description)

    def custom_capability(
        self, name: str, *, display_name: str | None = None, description: str | None = None
    ) -> Callable[[F], F]:
        """Registers a capability of the connector's own (snake_case, not a standard name).

        @integration.custom_capability("sync_groups")
        async def sync_groups(request: CustomRequest[Groups]) -> CustomResponse[Synced]: ...
        """

        def decorator(func: F) -> F:
            self._register(
                name,
                func,
                custom=True,
                display_name=display_name,
                description=description,
                scope=sys._getframe(1).f_locals,
            )
            return func

        return decorator

    register_custom_capability = custom_capability

    def _register(
        self,
        name: str | None,
        func: Callable[..., Any],
        *,
        default: bool = False,
        custom: bool = False,
        display_name: str | None = None,
        description: str | None = None,
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        """`scope`: the locals where the function was defined (a test function's,
        say), so that string annotations naming them resolve."""
        where = getattr(func, "__qualname__", repr(func))
        code = getattr(func, "__code__", None)
        if code is None:
            raise RegistrationError(f"{where}: a capability must be a function")
        try:
            hints = typing.get_type_hints(func, localns=dict(scope) if scope else None)
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
            named = getattr(func, "__name__", "")
            if named in CAPABILITIES and named != name:
                raise RegistrationError(
                    f"{where}: the function is named like capability {named!r}, but its "
                    f"request annotation is {name}'s; rename one of them"
                )
        spec = _custom_spec(where, name) if custom else CAPABILITIES.get(str(name))
        if spec is None:
            raise RegistrationError(f"{where}: unknown capability {name!r}")
        if self.api_version == "3.5" and spec.since != "3.5":
            raise RegistrationError(
                f"{where}: {spec.name} is not part of API 3.5 (this integration has "
                'api_version="3.5"); it needs API 4'
            )
        expected_request, expected_response = spec.request_type, spec.response_type
        if not _subtype(request_type, expected_request):
            raise RegistrationError(
                f"{where}: {spec.name} takes {expected_request.__name__}, "
                f"but parameter {params[0]!r} is annotated {request_type!r}"
            )
        response_type = hints.get("return")
        if response_type is None:
            raise RegistrationError(
                f"{where}: needs a return annotation ({expected_response.__name__})"
            )
        if not _subtype(response_type, expected_response):
            raise RegistrationError(
                f"{where}: {spec.name} returns {expected_response.__name__}, "
                f"but the return annotation is {response_type!r}"
            )
        if not _is_async(func) and not _importable("anyio"):
            raise RegistrationError(
                f"{where}: a plain `def` capability runs in a worker thread, which needs "
                "anyio (pip install anyio); or make it `async def`"
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
        existing = self.capabilities.get(spec.name)
        if existing is not None:
            if default and not existing.default:
                return  # an author's function is never replaced by a default
            if not (existing.default and not default):
                raise RegistrationError(
                    f"{where}: {spec.name} is already registered by {_where(existing.func)}"
                )
        try:
            cap = Capability(
                spec.name,
                func,
                request_type,
                response_type,
                default=default,
                wants_settings=wants_settings,
                display_name=display_name,
                description=description,
            )
        except (NameError, TypeError) as exc:
            raise RegistrationError(
                f"{where}: msgspec cannot use {request_type.__qualname__} ({exc}); "
                "define request, response and settings types at module level"
            ) from None
        cap.chain = self._compose(cap)
        self.capabilities[spec.name] = cap
        self._info = None
        self._openapi = {}

    def _compose(self, cap: Capability) -> Link:
        """The chain of `cap`: `_LINKS` wrapped around the call, outermost first."""
        chain = _call_author(cap)
        for link in reversed(_LINKS):
            chain = link(chain, cap, self)
        return chain

    # -- dispatch --

    async def dispatch(self, name: str, body: bytes | str) -> bytes:
        """Runs capability `name` on a JSON request; returns the JSON response or error envelope.

        body = await integration.dispatch("list_accounts", b'{"auth": {...}, "request": {}}')
        """
        return (await self.dispatch_result(name, body))[0]

    async def dispatch_result(self, name: str, body: bytes | str) -> tuple[bytes, ErrorCode | None]:
        """Like `dispatch`, also returning the envelope's wire ErrorCode (None on success)."""
        try:
            cap = self.capabilities.get(name) if isinstance(name, str) else None
            if cap is None:
                shown = name if isinstance(name, str) else type(name).__name__
                raise self._failure(
                    ErrorCode.NOT_IMPLEMENTED,
                    f"Capability {shown!r} is not implemented by {self.app_id}",
                )
            try:
                request = cap.decoder.decode(body)
            except (msgspec.DecodeError, RecursionError, TypeError, ValueError) as exc:
                detail = (
                    _describe_decode_error(exc)
                    if isinstance(exc, msgspec.DecodeError)
                    else "the body is not a JSON document of a supported kind"
                )
                raise self._failure(
                    ErrorCode.BAD_REQUEST, f"Invalid request: {detail}", raw_body=body
                ) from None
            return await cap.chain(request, None), None
        except _Failure as failure:
            return failure.body, failure.code
        except Exception as exc:
            if not self.handle_errors:
                raise
            # Only a bug of ours gets here; still an envelope, never a raise.
            _logger().error("%s", f"{self.app_id}: dispatch failed: {type(exc).__name__}")
            body = error_envelope(self.app_id, ErrorCode.INTERNAL_ERROR, "Internal error")
            return body, wire_code(ErrorCode.INTERNAL_ERROR, self.api_version)

    def _failure(
        self,
        code: ErrorCode,
        message: str,
        *,
        request: Any = None,
        raw_body: bytes | str | None = None,
    ) -> _Failure:
        """A wire-level failure (before or around the capability), logged as one line."""
        secrets: list[str] = []
        if request is not None:
            secrets = _secrets_of(request, self.settings_model)
        elif raw_body is not None:
            try:
                decoded = msgspec.json.decode(raw_body)
            except Exception:
                decoded = None
            if isinstance(decoded, dict):
                secrets = _secrets_of(decoded, self.settings_model)
        error = Error(message=message, error_code=code, app_id=self.app_id)
        response = ErrorResponse(is_error=True, error=error)
        on_wire = _finish_error(
            response, app_id=self.app_id, api_version=self.api_version, secrets=secrets
        )
        _logger().info("%s", f"{self.app_id}: {on_wire}: {error.message}")
        return _Failure(on_wire, _encode_error(response))

    def _from_exception(self, exc: Exception, cap: Capability, request: Any) -> _Failure:
        """The finished envelope for an exception raised inside a capability."""
        secrets = _secrets_of(request, self.settings_model)
        prefilled = _prefill(exc, _where(cap.func))
        response = self._handle(exc, cap, prefilled, secrets)
        on_wire = _finish_error(
            response,
            app_id=self.app_id,
            api_version=self.api_version,
            secrets=secrets,
            exc=exc,
        )
        error = response.error
        if classify(exc) is ErrorCode.INTERNAL_ERROR and not isinstance(exc, ConnectorError):
            # Formatted as text, not exc_info: a traceback repeats str(exc),
            # which may hold a secret that only our scrubbing can remove.
            import traceback

            text = "".join(traceback.format_exception(exc))
            _logger().error("%s", _scrub(f"{cap.name} failed unexpectedly:\n{text}", secrets))
        else:
            _logger().warning("%s", f"{cap.name} failed: {on_wire}: {error.message}")
        return _Failure(on_wire, _encode_error(response))

    def _handle(
        self, exc: Exception, cap: Capability, response: ErrorResponse, secrets: list[str]
    ) -> ErrorResponse:
        """Applies the first matching exception_handlers entry to the classified
        envelope; a handler that fails, or returns something else than a
        well-formed ErrorResponse, leaves the pre-filled one."""
        entry = next((e for e in self.exception_handlers if isinstance(exc, e[0])), None)
        if entry is None:
            return response
        backup = msgspec.structs.replace(response, error=msgspec.structs.replace(response.error))
        try:
            handled = entry[1].handle(exc, cap.func, response, entry[2])
        except Exception as failure:
            text = f"{entry[1].__name__} failed on {type(exc).__name__}: {_safe_str(failure)}"
            _logger().error("%s", _scrub(text, secrets))
            return backup
        if not (
            isinstance(handled, ErrorResponse)
            and isinstance(handled.error, Error)
            and isinstance(handled.error.message, str)
            and (handled.error.status_code is None or type(handled.error.status_code) is int)
            and (handled.raw_data is None or isinstance(handled.raw_data, dict))
        ):
            _logger().error("%s", f"{entry[1].__name__} returned a malformed ErrorResponse")
            return backup
        return handled

    # -- info --

    def info(self) -> InfoResponse:
        """The connector's metadata and the JSON Schemas of everything it takes and returns."""
        return msgspec.json.decode(self.info_json(), type=InfoResponse)

    def info_json(self) -> bytes:
        """The encoded `info` response, built once per set of capabilities."""
        if self._info is None:
            self._info = _encode(self._build_info())
        return self._info

    def openapi_json(self, *, with_token: bool = False, http_status: bool = False) -> bytes:
        """The connector's OpenAPI 3.1 document (what server.py serves and app_info returns).

        `with_token` adds the bearer security scheme; `http_status` describes
        error envelopes answered with their code's status instead of 200.
        """
        key = (with_token, http_status)
        if key not in self._openapi:
            self._openapi[key] = _encode(_openapi_document(self, with_token, http_status))
        return self._openapi[key]

    def _build_info(self) -> InfoResponse:
        names = sorted(self.capabilities)
        schemas: dict[str, CapabilitySchema] = {}
        for name in names:
            cap = self.capabilities[name]
            schemas[name] = CapabilitySchema(
                argument=msgspec.json.schema(_payload_type(cap.request_type, "request")),
                output=msgspec.json.schema(_payload_type(cap.response_type, "response")),
                display_name=cap.display_name,
                description=cap.description,
            )
        described = self.description_data
        scopes = getattr(self.oauth_settings, "scopes", None)
        info = Info(
            app_id=self.app_id,
            version=self.version,
            capabilities=names,
            capability_schema=schemas,
            authentication_schema=msgspec.json.schema(self.auth) if self.auth else {},
            credentials_schema=[_credential_schema(c) for c in self.credentials.values()],
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
            app_vendor_domain=described.app_vendor_domain,
            oauth_scopes={str(k): v for k, v in scopes.items()} if scopes else None,
        )
        return InfoResponse(response=info)


def _credential_schema(config: CredentialConfig) -> dict[str, Any]:
    """info's entry for one credential: its member's JSON Schema, id, description, x-optional."""
    kind = next(k for k, m in _CREDENTIAL_MEMBERS.items() if m == config.type)
    schema: dict[str, Any] = {
        **msgspec.json.schema(kind),
        "id": config.id,
        "description": config.description,
        "x-optional": config.optional,
        "x-credential-type": config.type,
    }
    settings = config.oauth_settings
    if settings is not None:
        schema["oauth_settings"] = {
            "oauth_type": str(settings.flow_type),
            "scopes": dict(settings.scopes),
            "pkce_enabled": settings.pkce,
        }
    return schema


def _openapi_document(
    integration: Integration, with_token: bool, http_status: bool
) -> dict[str, Any]:
    """Every capability's request and response from the msgspec schemas, with the
    `x-` marks of API 4.x's OpenAPISpecification (app id, capabilities, ...)."""
    caps = sorted(integration.capabilities.values(), key=lambda cap: cap.name)
    types: list[Any] = []
    for cap in caps:
        types += (cap.request_type, cap.response_type)
    types += (InfoResponse, ErrorResponse)
    extra = [t for t in (integration.settings_model, integration.auth) if t is not None]
    refs, components = msgspec.json.schema_components(
        [*types, *extra], ref_template="#/components/schemas/{name}"
    )
    info_ref, error_ref = refs[len(types) - 2], refs[len(types) - 1]

    def body(schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    # Errors found before dispatch (routing, limits, the token) keep their status.
    routing = body(
        error_ref, "Error envelope: refused before dispatch (404, 405, 413, 401) or a 500"
    )
    error = body(error_ref, "Error envelope (the status follows its error_code)")
    paths: dict[str, Any] = {}
    for index, cap in enumerate(caps):
        request_ref, response_ref = refs[2 * index], refs[2 * index + 1]
        if http_status:
            ok = body(response_ref, "Success")
        else:
            # As the Lumos spec writes it: a 200 carries the response or an error envelope.
            ok = body({"anyOf": [response_ref, error_ref]}, "Success or error envelope")
        operation: dict[str, Any] = {
            "operationId": cap.name,
            "summary": cap.display_name,
            "requestBody": {"required": True, **body(request_ref, "Request envelope")},
            "responses": {"200": ok, "default": error if http_status else routing},
        }
        if cap.description:
            operation["description"] = cap.description
        paths[f"/{cap.name}"] = {"post": operation}
    info_op = {"responses": {"200": body(info_ref, "Connector metadata"), "default": routing}}
    paths["/info"] = {
        "get": {"operationId": "info", **info_op},
        "post": {"operationId": "info_post", **info_op},
    }
    health = {"type": "object", "properties": {"status": {"const": "ok"}}}
    paths["/healthz"] = {
        "get": {"operationId": "healthz", "security": [], "responses": {"200": body(health, "OK")}}
    }
    described = integration.description_data
    builtins = msgspec.to_builtins
    info: dict[str, Any] = {
        "title": described.user_friendly_name or integration.app_id,
        "description": described.description or "",
        "version": str(integration.version),
        "x-app-id": integration.app_id,
        "x-app-logo-url": described.logo_url or "",
        "x-app-vendor-domain": described.app_vendor_domain or "",
        "x-entitlement-types": builtins(integration.entitlement_types),
        "x-resource-types": builtins(integration.resource_types),
        "x-categories": {str(c): True for c in described.categories or ()},
        "x-capabilities": [cap.name for cap in caps],
        "x-multi-credential": bool(integration.credentials),
        "x-allowed-credentials": [list(c) for c in integration.allowed_credentials],
    }
    if integration.settings_model is not None:
        info["x-settings-schema"] = refs[len(types)]
    if integration.auth is not None:
        info["x-auth-schema"] = refs[-1]
    scopes = getattr(integration.oauth_settings, "scopes", None)
    if scopes:
        info["x-oauth-settings"] = {"scopes": dict(scopes)}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": info,
        "servers": [],
        "tags": [],
        "paths": paths,
        "components": {"schemas": components},
    }
    if with_token:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    return document


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


C = TypeVar("C")


def _credential(request: Any, field: str) -> Any:
    """The `field` member of the request's `auth`, else of its first credential having it."""
    value = getattr(getattr(request, "auth", None), field, None)
    for item in getattr(request, "credentials", None) or ():
        if value is None:
            value = getattr(item, field, None)
    if value is None:
        raise ConnectorError(f"Missing `auth.{field}` in the request", ErrorCode.BAD_REQUEST)
    return value


@overload
def get_credential(request: Any, credential_id: str) -> Any: ...


@overload
def get_credential(request: Any, credential_id: str, kind: type[C]) -> C: ...


def get_credential(request: Any, credential_id: str, kind: Any = None) -> Any:
    """The credential with id `credential_id` (its member: a TokenCredential, ...), or bad_request.

    scim = get_credential(request, "scim", TokenCredential).token
    """
    for item in getattr(request, "credentials", None) or ():
        if item.id == credential_id:
            given = _members_given(item)
            value = getattr(item, given[0]) if given else None
            if value is not None and (kind is None or isinstance(value, kind)):
                return value
            wanted = _member_name(kind) if kind is not None else "a credential"
            raise ConnectorError(
                f"Credential {credential_id!r} does not carry `{wanted}`", ErrorCode.BAD_REQUEST
            )
    raise ConnectorError(
        f"Missing credential {credential_id!r} in `credentials`", ErrorCode.BAD_REQUEST
    )


def get_basic_auth(request: Any) -> BasicCredential:
    """The request's basic credential, or bad_request."""
    return typing.cast(BasicCredential, _credential(request, "basic"))


def get_token_auth(request: Any) -> TokenCredential:
    """The request's token credential, or bad_request."""
    return typing.cast(TokenCredential, _credential(request, "token"))


def get_oauth(request: Any) -> OAuthCredential | OAuthClientCredential:
    """The request's OAuth access token credential (either OAuth member), or bad_request.

    token = get_oauth(request).access_token
    """
    try:
        return typing.cast(OAuthCredential, _credential(request, "oauth"))
    except ConnectorError:
        return typing.cast(OAuthClientCredential, _credential(request, "oauth_client_credentials"))


def get_oauth_client_credentials(request: Any) -> OAuthClientCredential:
    """The request's OAuth client-credentials credential, or bad_request."""
    return typing.cast(OAuthClientCredential, _credential(request, "oauth_client_credentials"))


def get_oauth1_auth(request: Any) -> OAuth1Credential:
    """The request's OAuth 1.0a credential, or bad_request."""
    return typing.cast(OAuth1Credential, _credential(request, "oauth1"))


def get_jwt_auth(request: Any) -> JWTCredential:
    """The request's JWT credential (headers, claims, signing secret), or bad_request."""
    return typing.cast(JWTCredential, _credential(request, "jwt"))


def get_service_account_auth(request: Any) -> ServiceAccountCredential:
    """The request's service-account credential, or bad_request."""
    return typing.cast(ServiceAccountCredential, _credential(request, "service_account"))


def get_key_pair_auth(request: Any) -> KeyPairCredential:
    """The request's key-pair credential, or bad_request."""
    return typing.cast(KeyPairCredential, _credential(request, "key_pair"))


def get_page(request: Any) -> Page:
    """The request's page, or an empty Page() for the first one."""
    page = getattr(request, "page", None)
    return page if page is not None else Page()


def request_fingerprint(request: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of the request's payload, for execution summaries.

    request_fingerprint(request) == request_fingerprint(same_payload_sent_again)
    """
    import hashlib

    payload = msgspec.to_builtins(getattr(request, "request", request))
    canonical = msgspec.json.encode(payload, order="sorted")
    return hashlib.sha256(canonical).hexdigest()


def execution_summary(
    request: Any,
    effect: Effect,
    *,
    is_idempotent: bool = True,
    description: str | None = None,
) -> ExecutionSummary:
    """What a write capability did, for its response's `execution_summary`.

    return UpdateAccountResponse(response=..., execution_summary=execution_summary(
        request, NoopEffect(reason=NoopEffectReason.STATE_ALREADY_MATCHES)))
    """
    return ExecutionSummary(
        effect=effect,
        request_fingerprint=request_fingerprint(request),
        is_idempotent=is_idempotent,
        description=description,
    )


# ---- Default capabilities ---------------------------------------------------
# Every 4.x integration answers app_info and probe_integration; an author's own
# registration of either replaces the default.

# probe_integration: each check lists a few pages of a few items, within a time limit.
_PROBE_PAGE_SIZE: Final = 5
_PROBE_MAX_PAGES: Final = 3
_PROBE_SECONDS: Final = 20.0
_PROBE_SAMPLES: Final = 3
_PROBE_CHECKS: Final = {
    ProbeCheckName.ACCOUNTS: "list_accounts",
    ProbeCheckName.ENTITLEMENTS: "list_entitlements",
    ProbeCheckName.ENTITLEMENT_ASSOCIATIONS: "find_entitlement_associations",
}


def _install_defaults(integration: Integration) -> None:
    async def app_info(request: AppInfoRequest) -> AppInfoResponse:
        """The connector's own OpenAPI document."""
        schema = msgspec.json.decode(integration.openapi_json())
        return AppInfoResponse(response=AppInfo(app_id=integration.app_id, app_schema=schema))

    async def probe_integration(request: ProbeIntegrationRequest) -> ProbeIntegrationResponse:
        """Lists a few accounts, entitlements and associations to show the connector works."""
        return ProbeIntegrationResponse(response=await _probe(integration, request))

    async def validate_credential_config(
        request: _ValidateCredentialConfigRequest,
    ) -> ValidateCredentialConfigResponse:
        """Checks one credential's shape, then its own validation."""
        problems = await _credential_problems(integration, request.request.credential)
        checked = ValidatedCredentialConfig(valid=not problems, validation_errors=problems or None)
        return ValidateCredentialConfigResponse(response=checked)

    integration._register("app_info", app_info, default=True)
    integration._register("probe_integration", probe_integration, default=True)
    if integration.credentials:
        integration._register(
            "validate_credential_config", validate_credential_config, default=True
        )


class _CredentialToCheck(_Wire, kw_only=True):
    credential: dict[str, Any]  # read leniently, so that every problem is reported


class _ValidateCredentialConfigRequest(ValidateCredentialConfigRequest, kw_only=True):
    request: _CredentialToCheck  # type: ignore[assignment]


async def _credential_problems(integration: Integration, given: dict[str, Any]) -> list[str]:
    """What is wrong with one credential: id, member, fields, blank strings, validation.

    Messages name fields, never values (they are secrets).
    """
    declared = integration.credentials
    credential_id = given.get("id")
    if credential_id is None and len(declared) == 1:
        credential_id = next(iter(declared))
    config = declared.get(credential_id) if isinstance(credential_id, str) else None
    if config is None:
        what = "has no `id`" if credential_id is None else "has an undeclared `id`"
        return [f"The credential {what} (declared: {', '.join(declared)})"]
    member = config.type
    problems = [
        f"`{name}` is not what credential {config.id!r} takes (`{member}`)"
        for name, value in given.items()
        if name not in ("id", member) and value is not None
    ]
    if given.get(member) is None:
        return [*problems, f"`{member}` is missing"]
    kind = next(k for k, m in _CREDENTIAL_MEMBERS.items() if m == member)
    try:
        value = msgspec.convert(given[member], kind)
    except msgspec.ValidationError as exc:
        return [*problems, f"`{member}`: {_describe_decode_error(exc, prefix='.' + member)}"]
    stack: list[tuple[str, Any]] = [(member, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, msgspec.Struct):
            stack += [(f"{where}.{n}", getattr(item, n)) for n in reversed(item.__struct_fields__)]
        elif isinstance(item, str) and not item.strip():
            problems.append(f"`{where}` is empty")
        elif isinstance(item, str) and item != item.strip():
            problems.append(f"`{where}` has leading or trailing spaces")
    if not problems and config.validation is not None:
        result = config.validation(value)
        if hasattr(result, "__await__"):
            result = await result
        if result is False:
            problems.append(f"Credential {config.id!r} was refused by its validation")
        elif result not in (None, True):
            problems += [str(problem) for problem in result]
    return problems


async def _probe(integration: Integration, request: ProbeIntegrationRequest) -> ProbeResults:
    started = time.monotonic()
    wanted = request.request.checks or list(_PROBE_CHECKS)
    checks = [await _probe_check(integration, request, name) for name in wanted]
    ran = [c for c in checks if c.status in (ProbeCheckStatus.PASSED, ProbeCheckStatus.FAILED)]
    passed = sum(c.status is ProbeCheckStatus.PASSED for c in ran)
    if passed == len(ran):
        status = ProbeStatus.PASSED if ran else ProbeStatus.PARTIAL
    else:
        status = ProbeStatus.PARTIAL if passed else ProbeStatus.FAILED
    duration = int((time.monotonic() - started) * 1000)
    return ProbeResults(status=status, checks=checks, duration_ms=duration)


async def _probe_check(
    integration: Integration, request: ProbeIntegrationRequest, name: ProbeCheckName
) -> ProbeCheck:
    """One check: the capability's pages, through its own chain; never raises."""
    import anyio

    capability = _PROBE_CHECKS.get(name)
    if capability is None or capability not in integration.capabilities:
        return ProbeCheck(
            check=name,
            capability=capability,
            status=ProbeCheckStatus.UNSUPPORTED,
            source=ProbeCheckSource.DEFAULT,
            observed_count=0,
            samples=[],
        )
    started = time.monotonic()
    count, error, token = 0, None, None
    samples: list[ProbeSample | None] = []
    envelope: dict[str, Any] = {
        "auth": request.auth,
        "credentials": request.credentials,
        "settings": request.settings,
        "request": {},
    }
    with anyio.move_on_after(_PROBE_SECONDS) as scope:
        for _ in range(_PROBE_MAX_PAGES):
            envelope["page"] = Page(token=token, size=_PROBE_PAGE_SIZE)
            out, code = await integration.dispatch_result(capability, _encode(envelope))
            if code is not None:
                error = msgspec.json.decode(out, type=ErrorResponse).error
                break
            answer = msgspec.json.decode(out)
            items = answer.get("response") or []
            count += len(items)
            samples += [_probe_sample(item) for item in items[: _PROBE_SAMPLES - len(samples)]]
            token = (answer.get("page") or {}).get("token")
            if not token:
                break
    message = None
    if scope.cancelled_caught:
        message = f"Stopped after {_PROBE_SECONDS:g}s"
    elif error is not None:
        message = f"{capability} failed: {error.error_code}"
    return ProbeCheck(
        check=name,
        capability=capability,
        status=ProbeCheckStatus.FAILED if error else ProbeCheckStatus.PASSED,
        source=ProbeCheckSource.DEFAULT,
        observed_count=count,
        samples=[s for s in samples if s is not None],
        duration_ms=int((time.monotonic() - started) * 1000),
        error=error,
        message=message,
    )


def _probe_sample(item: dict[str, Any]) -> ProbeSample | None:
    try:
        if "account_id" in item:
            return msgspec.convert(
                {**item, "linked_to_sampled_account": False}, ProbeSampleAssociation
            )
        if "entitlement_type" in item:
            return msgspec.convert(item, ProbeSampleEntitlement)
        return msgspec.convert(
            {
                k: item.get(k)
                for k in ("integration_specific_id", "email", "username", "user_status")
            },
            ProbeSampleAccount,
        )
    except msgspec.ValidationError:
        return None


# ---- HTTP client ------------------------------------------------------------
# A small async client over httpcore. httpcore and anyio are imported inside the
# functions that need them, so `import connector` stays light. Everything that
# can go wrong on the wire surfaces as one of the exceptions below, whose
# messages name the method and URL path only: never the query string, a header
# or a body, where credentials travel.

_QueryValue: TypeAlias = str | int | float | bool | None
# A mapping (a list value repeats the key) or a sequence of pairs; also form data.
_QueryParams: TypeAlias = (
    Mapping[str, _QueryValue | Sequence[_QueryValue]] | Sequence[tuple[str, _QueryValue]]
)
_HeaderInput: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]

_HTTP_JSON_ENCODER: Final = msgspec.json.Encoder()
# No JSON body (None is a JSON value, so it cannot mean "absent").
_NO_JSON: Final[Any] = object()
# RFC 9110 §9.2.2: safe to repeat. POST and PATCH are not retried.
_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_RETRY_STATUSES: Final = frozenset({429, 503})
# Wait between retries when the server sends no usable Retry-After.
_RETRY_BACKOFF: Final = 0.5
_USER_AGENT: Final = "microconnector"


class Headers(Mapping[str, str]):
    """Case-insensitive, ordered, multi-valued HTTP headers.

    ``headers["content-type"]`` joins repeated fields with ", ";
    ``headers.get_list("set-cookie")`` keeps them apart.
    """

    __slots__ = ("_items",)

    def __init__(self, items: _HeaderInput | None = None) -> None:
        pairs = items.items() if isinstance(items, Mapping) else (items or ())
        self._items: list[tuple[str, str]] = [(str(k), str(v)) for k, v in pairs]

    def __getitem__(self, key: str) -> str:
        values = self.get_list(key)
        if not values:
            raise KeyError(key)
        return ", ".join(values)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k.lower() for k, _ in self._items))

    def __len__(self) -> int:
        return len({k.lower() for k, _ in self._items})

    def __repr__(self) -> str:
        # Names only: values include credentials (Authorization, Cookie).
        return f"Headers({list(self)!r})"

    def get_list(self, key: str) -> list[str]:
        """Every value of field ``key``, in order."""
        key = key.lower()
        return [v for k, v in self._items if k.lower() == key]

    def multi_items(self) -> list[tuple[str, str]]:
        """The fields as sent or received, repeated names included."""
        return list(self._items)


class Request:
    """An HTTP request as handed to a transport (what `MockTransport` handlers see)."""

    __slots__ = ("content", "headers", "method", "url")

    def __init__(
        self,
        method: str,
        url: str,
        *,
        headers: _HeaderInput | None = None,
        content: bytes = b"",
    ) -> None:
        self.method = method.upper()
        self.url = url
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.content = content

    @property
    def path(self) -> str:
        """The URL path without query string: what messages show."""
        import urllib.parse

        return urllib.parse.urlsplit(self.url).path or "/"

    @property
    def params(self) -> list[tuple[str, str]]:
        """The decoded query parameters, repeated keys included."""
        import urllib.parse

        query = urllib.parse.urlsplit(self.url).query
        return urllib.parse.parse_qsl(query, keep_blank_values=True)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


class Response:
    """An HTTP response; the body is read in full.

    ``Response(200, json={"id": 1})`` or ``Response(404, text="gone")`` in a
    `MockTransport` handler; ``response.raise_for_status().json()`` in a connector.
    """

    __slots__ = ("content", "headers", "request", "status_code")

    def __init__(
        self,
        status_code: int,
        *,
        headers: _HeaderInput | None = None,
        content: bytes | None = None,
        text: str | None = None,
        json: Any = _NO_JSON,
        request: Request | None = None,
    ) -> None:
        self.status_code = status_code
        header_list = list(Headers(headers).multi_items())
        if json is not _NO_JSON:
            content = _HTTP_JSON_ENCODER.encode(json)
            header_list = _with_default(header_list, "Content-Type", "application/json")
        elif text is not None:
            content = text.encode()
            header_list = _with_default(header_list, "Content-Type", "text/plain; charset=utf-8")
        self.headers = Headers(header_list)
        self.content = content or b""
        self.request = request

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        """The body decoded with the Content-Type charset (UTF-8 if none or unknown)."""
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body decoded as JSON; `ConnectorError(invalid_response)` if it is not JSON."""
        try:
            return msgspec.json.decode(self.content)
        except msgspec.DecodeError as exc:
            where = f" to {self.request.method} {self.request.path}" if self.request else ""
            raise ConnectorError(
                f"Response{where} is not valid JSON", ErrorCode.INVALID_RESPONSE
            ) from exc

    def raise_for_status(self) -> "Response":
        """Raise `HTTPStatusError` for a 4xx or 5xx status; return the response otherwise."""
        if self.status_code < 400:
            return self
        kind = "Client" if self.status_code < 500 else "Server"
        where = f" for {self.request.method} {self.request.path}" if self.request else ""
        raise HTTPStatusError(
            f"{kind} error {self.status_code}{where}", request=self.request, response=self
        )

    def __repr__(self) -> str:
        return f"<Response {self.status_code}>"


class HTTPStatusError(Exception):
    """A 4xx/5xx response, raised by `Response.raise_for_status`.

    Carries `.request` and `.response`, so `HTTPHandler` turns the upstream
    status into an `ErrorCode` (404 -> not_found, 429 -> rate_limit, ...).
    """

    def __init__(self, message: str, *, request: Request | None, response: Response) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.response = response


# Raising strategy: the client catches httpcore's exceptions at exactly one
# place (`HTTPClient._send_once`) and re-raises the matching class below with
# `raise ... from exc`. These are ConnectorErrors, so the error chain keeps
# their code; their messages are fixed text plus method and path.


class TransportError(ConnectorError):
    """The request did not get a complete HTTP response."""

    default_code: ClassVar[ErrorCode] = ErrorCode.CONNECTION_CLOSED

    def __init__(self, message: str, *, request: Request | None = None) -> None:
        super().__init__(message, self.default_code)
        self.request = request


class ConnectTimeout(TransportError):
    """No connection within `connect_timeout`."""

    default_code = ErrorCode.CONNECTION_TIMEOUT


class ConnectError(TransportError):
    """The connection was refused or could not be made (DNS, TLS, proxy)."""

    default_code = ErrorCode.CONNECTION_REJECTED


class RequestTimeout(TransportError):
    """A read, write or pool timeout, or the request's overall deadline."""

    default_code = ErrorCode.REQUEST_TIMEOUT


class ConnectionClosed(TransportError):
    """The server closed the connection or broke the protocol mid-exchange."""

    default_code = ErrorCode.CONNECTION_CLOSED


class InvalidRequest(TransportError):
    """httpcore refused to send the request (bad URL scheme, bad header)."""

    default_code = ErrorCode.CLIENT_CALL_ERROR


# httpcore exception class name -> our class and message. Looked up along the
# exception's MRO, so the bases catch subclasses httpcore may add.
_TRANSPORT_ERRORS: Final[dict[str, tuple[type[TransportError], str]]] = {
    "ConnectTimeout": (ConnectTimeout, "Connection timed out"),
    "ConnectError": (ConnectError, "Connection failed"),
    "ProxyError": (ConnectError, "Proxy connection failed"),
    "ReadTimeout": (RequestTimeout, "Timed out reading the response"),
    "WriteTimeout": (RequestTimeout, "Timed out sending the request"),
    "PoolTimeout": (RequestTimeout, "Timed out waiting for a free connection"),
    "TimeoutException": (RequestTimeout, "Timed out"),
    "ReadError": (ConnectionClosed, "Connection closed while reading the response"),
    "WriteError": (ConnectionClosed, "Connection closed while sending the request"),
    "RemoteProtocolError": (ConnectionClosed, "Connection closed or invalid response"),
    "NetworkError": (ConnectionClosed, "Connection lost"),
    "ProtocolError": (ConnectionClosed, "HTTP protocol error"),
    "LocalProtocolError": (InvalidRequest, "Request could not be sent"),
    "UnsupportedProtocol": (InvalidRequest, "Unsupported URL scheme"),
}


def _transport_entry(exc: BaseException) -> tuple[type[TransportError], str] | None:
    for cls in type(exc).__mro__:
        if cls.__module__.partition(".")[0] in ("httpcore", "httpx"):
            entry = _TRANSPORT_ERRORS.get(cls.__name__)
            if entry is not None:
                return entry
    return None


def _classify_transport_exception(exc: BaseException) -> ErrorCode | None:
    """The ErrorCode for a raw httpcore (or httpx) transport exception, else None."""
    entry = _transport_entry(exc)
    return entry[0].default_code if entry else None


def _translate_transport_error(exc: BaseException, request: Request) -> TransportError | None:
    entry = _transport_entry(exc)
    if entry is None:
        return None
    cls, text = entry
    if cls is ConnectError and _caused_by(exc, ConnectionRefusedError):
        text = "Connection refused"
    return cls(f"{text} for {request.method} {request.path}", request=request)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class _Transport(Protocol):
    async def handle(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...


class MockTransport:
    """Answer requests in-process: ``HTTPClient(transport=MockTransport(handler))``.

    ``handler(request)`` returns a `Response` or an awaitable of one; it may
    raise httpcore's exceptions to act out network failures.
    """

    def __init__(self, handler: Callable[[Request], Response | Awaitable[Response]]) -> None:
        self.handler = handler

    async def handle(self, request: Request) -> Response:
        result = self.handler(request)
        response = result if isinstance(result, Response) else await result
        if response.request is None:
            response.request = request
        return response

    async def aclose(self) -> None:
        return None


class _HTTPCoreTransport:
    """The real network, through one lazily built httpcore connection pool."""

    def __init__(self, *, connect_timeout: float | None, read_timeout: float | None) -> None:
        self._timeouts = {
            "connect": connect_timeout,
            "read": read_timeout,
            "write": read_timeout,
            "pool": connect_timeout,
        }
        self._pool: httpcore.AsyncConnectionPool | None = None

    async def handle(self, request: Request) -> Response:
        import httpcore

        if self._pool is None:
            self._pool = httpcore.AsyncConnectionPool()
        raw = await self._pool.request(
            request.method,
            request.url,
            headers=request.headers.multi_items(),
            content=request.content or None,
            extensions={"timeout": self._timeouts},
        )
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw.headers]
        return Response(raw.status, headers=headers, content=raw.content, request=request)

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.aclose()


class HTTPClient:
    """An async HTTP client for a connector's upstream API.

        async with HTTPClient("https://api.example.com/v2", bearer_token=token) as client:
            users = (await client.get("/users", params={"page": 2})).raise_for_status().json()

    `connect_timeout` and `read_timeout` bound each connect and each read;
    `deadline` bounds one attempt from connect to the last body byte. 429 and 503
    answers to idempotent methods are retried up to `retries` times, waiting as
    `Retry-After` says (seconds or an HTTP date), as long as the total wait stays
    within `max_retry_wait`; otherwise that response is returned. `sleep` (async,
    seconds) and `clock` (epoch seconds) are injectable for tests.
    """

    def __init__(
        self,
        base_url: str = "",
        *,
        headers: _HeaderInput | None = None,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        params: _QueryParams | None = None,
        connect_timeout: float | None = 10.0,
        read_timeout: float | None = 30.0,
        deadline: float | None = 60.0,
        retries: int = 3,
        max_retry_wait: float = 30.0,
        transport: _Transport | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if bearer_token is not None and basic_auth is not None:
            raise ValueError("HTTPClient takes bearer_token or basic_auth, not both")
        self.base_url = base_url
        self.headers = Headers(headers)
        self._auth_header: str | None = None
        if bearer_token is not None:
            self._auth_header = f"Bearer {bearer_token}"
        elif basic_auth is not None:
            self._auth_header = _basic_auth_header(*basic_auth)
        self.params = _query_pairs(params)
        self.deadline = deadline
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self._transport: _Transport = transport or _HTTPCoreTransport(
            connect_timeout=connect_timeout, read_timeout=read_timeout
        )
        self._sleep = sleep
        self._clock = clock or time.time

    async def __aenter__(self) -> "HTTPClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._transport.aclose()

    def build_request(
        self,
        method: str,
        url: str,
        *,
        params: _QueryParams | None = None,
        json: Any = _NO_JSON,
        data: _QueryParams | None = None,
        content: bytes | str | None = None,
        headers: _HeaderInput | None = None,
    ) -> Request:
        """The `Request` that `request` would send: URL joined, body encoded, headers merged."""
        defaults = self.headers.multi_items()
        if self._auth_header is not None:
            defaults.append(("Authorization", self._auth_header))
        return _build_request(
            method,
            _join_url(self.base_url, url, [*self.params, *_query_pairs(params)]),
            json=json,
            data=data,
            content=content,
            headers=[*defaults, *Headers(headers).multi_items()],
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: _QueryParams | None = None,
        json: Any = _NO_JSON,
        data: _QueryParams | None = None,
        content: bytes | str | None = None,
        headers: _HeaderInput | None = None,
    ) -> Response:
        """Send one request (retrying 429/503 on idempotent methods) and return the response.

        ``await client.request("GET", "/users", params=[("id", 1), ("id", 2)])``
        """
        built = self.build_request(
            method, url, params=params, json=json, data=data, content=content, headers=headers
        )
        return await self.send(built)

    async def send(self, request: Request, *, retry: bool = True) -> Response:
        """Send a built `Request`; ``retry=False`` sends it exactly once."""
        waited = 0.0
        attempt = 0
        while True:
            response = await self._send_once(request)
            if not (
                retry
                and attempt < self.retries
                and response.status_code in _RETRY_STATUSES
                and request.method in _IDEMPOTENT_METHODS
            ):
                return response
            wait = _retry_after(response.headers.get("retry-after"), self._clock())
            if wait is None:
                wait = _RETRY_BACKOFF * 2**attempt
            if waited + wait > self.max_retry_wait:
                return response
            attempt += 1
            waited += wait
            import logging

            logging.getLogger("connector.http").info(
                "%s %s answered %d; retry %d of %d in %.1fs",
                request.method,
                request.path,
                response.status_code,
                attempt,
                self.retries,
                wait,
            )
            await self._do_sleep(wait)

    async def _do_sleep(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
            return
        import anyio

        await anyio.sleep(seconds)

    async def _send_once(self, request: Request) -> Response:
        import anyio

        try:
            with anyio.fail_after(self.deadline):
                return await self._transport.handle(request)
        except ConnectorError:
            raise
        except TimeoutError as exc:
            raise RequestTimeout(
                f"Deadline of {self.deadline:g}s exceeded for {request.method} {request.path}",
                request=request,
            ) from exc
        except Exception as exc:
            translated = _translate_transport_error(exc, request)
            if translated is None:
                raise
            raise translated from exc

    async def get(self, url: str, **kwargs: Any) -> Response:
        """``await client.get("/users", params={"q": "x"})``"""
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Response:
        """``await client.post("/users", json={"name": "x"})``"""
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> Response:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> Response:
        return await self.request("DELETE", url, **kwargs)


def _build_request(
    method: str,
    url: str,
    *,
    json: Any = _NO_JSON,
    data: _QueryParams | None = None,
    content: bytes | str | None = None,
    headers: _HeaderInput | None = None,
) -> Request:
    """A complete `Request` for an absolute URL: body encoded, framing headers added.

    Later entries of `headers` replace earlier ones of the same name.
    """
    if sum(x is not None for x in (data, content)) + (json is not _NO_JSON) > 1:
        raise ValueError("pass at most one of json=, data= and content=")
    merged = [("Host", _host_header(url))]
    body = b""
    if json is not _NO_JSON:
        body = _HTTP_JSON_ENCODER.encode(json)
        merged.append(("Content-Type", "application/json"))
    elif data is not None:
        body = _form_encode(_query_pairs(data)).encode()
        merged.append(("Content-Type", "application/x-www-form-urlencoded"))
    elif content is not None:
        body = content.encode() if isinstance(content, str) else content
    merged.extend(Headers(headers).multi_items())
    method = method.upper()
    if body or method in ("POST", "PUT", "PATCH"):
        merged = _with_default(merged, "Content-Length", str(len(body)))
    merged = _with_default(merged, "Accept", "*/*")
    merged = _with_default(merged, "User-Agent", _USER_AGENT)
    return Request(method, url, headers=_merge_same_names(merged), content=body)


def _with_default(headers: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    if any(k.lower() == name.lower() for k, _ in headers):
        return headers
    return [*headers, (name, value)]


def _merge_same_names(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # Defaults and per-request headers may name a field twice: the last one wins,
    # in the position of the first.
    last = {k.lower(): (k, v) for k, v in headers}
    return list(last.values())


def _basic_auth_header(username: str, password: str) -> str:
    import base64

    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _query_value(value: _QueryValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _query_pairs(params: _QueryParams | None) -> list[tuple[str, str]]:
    """Flatten params to (name, value) pairs: lists repeat the key, None is left out."""
    if not params:
        return []
    items: Iterable[tuple[str, Any]] = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs.extend((str(key), _query_value(v)) for v in values if v is not None)
    return pairs


def _query_encode(pairs: Iterable[tuple[str, str]]) -> str:
    # %20 for spaces and every reserved character escaped: any server decodes it.
    import urllib.parse

    quote = urllib.parse.quote
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def _form_encode(pairs: Iterable[tuple[str, str]]) -> str:
    # application/x-www-form-urlencoded (WHATWG URL §5): "+" for space.
    import urllib.parse

    return urllib.parse.urlencode(list(pairs))


def _join_url(base_url: str, url: str, params: list[tuple[str, str]]) -> str:
    """base + relative path (the base's path is kept as a prefix), then params."""
    import urllib.parse

    if not urllib.parse.urlsplit(url).scheme and base_url:
        url = base_url.rstrip("/") + "/" + url.lstrip("/") if url else base_url
    parts = urllib.parse.urlsplit(url)
    # Encode spaces and non-ASCII in the path; leave existing escapes alone.
    path = urllib.parse.quote(parts.path, safe="/%:@!$&'()*+,;=~") or "/"
    query = parts.query
    if params:
        query = f"{query}&{_query_encode(params)}" if query else _query_encode(params)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def _host_header(url: str) -> str:
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default_port:
        host = f"{host}:{parts.port}"
    return host


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait per a Retry-After value (delay-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        import datetime

        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - now)


# ---- OAuth ------------------------------------------------------------------
# `Integration(oauth_settings=OAuthSettings(...))` registers default OAuth 2.0
# capabilities (RFC 6749, PKCE per RFC 7636). Each token capability is three
# steps: build the token request (a plain function), send it exactly once
# through HTTPClient, parse the answer (a plain function). Failures are
# ConnectorErrors whose messages hold the HTTP status and, at most, a standard
# OAuth error code: never a secret, code, verifier or token, and never text
# the provider chose (it may echo what it was sent).


class OAuthFlowType(enum.StrEnum):
    CODE_FLOW = "CODE_FLOW"
    CLIENT_CREDENTIALS = "CLIENT_CREDENTIALS"


class ClientAuthenticationMethod(enum.StrEnum):
    CLIENT_SECRET_POST = "CLIENT_SECRET_POST"  # client_id and client_secret as parameters
    CLIENT_SECRET_BASIC = "CLIENT_SECRET_BASIC"  # HTTP Basic, RFC 6749 §2.3.1


class RequestMethod(enum.StrEnum):
    GET = "GET"
    POST = "POST"


class RequestDataType(enum.StrEnum):
    FORMDATA = "FORMDATA"
    JSON = "JSON"
    QUERY = "QUERY"


class OAuthRequest(msgspec.Struct, frozen=True, kw_only=True):
    """How token requests are sent: POST with a form body unless told otherwise."""

    method: RequestMethod = RequestMethod.POST
    data: RequestDataType = RequestDataType.FORMDATA


class OAuthCapabilities(msgspec.Struct, frozen=True, kw_only=True):
    """Which default OAuth capabilities to register (those of the flow type only)."""

    get_authorization_url: bool = True
    handle_authorization_callback: bool = True
    handle_client_credentials_request: bool = True
    refresh_access_token: bool = True


# A URL, or a function of the whole request envelope returning one (tenant URLs).
_OAuthURL: TypeAlias = str | Callable[[Any], str]


class OAuthSettings(msgspec.Struct, frozen=True):
    """The provider's endpoints and how to talk to them.

        OAuthSettings(
            authorization_url="https://auth.example.com/authorize",
            token_url=lambda request: f"https://{request.settings['tenant']}.example.com/token",
            scopes={"list_accounts": "users:read", "assign_entitlement": "groups:write"},
            pkce=True,
        )

    `scopes` maps capability names to space-separated scopes; when a request
    names no scopes, the union of all of them is asked for. `client_factory`
    returns the HTTPClient used for token requests (tests pass one with a
    MockTransport).
    """

    authorization_url: _OAuthURL | None = None  # required for the code flow
    token_url: _OAuthURL | None = None  # always required
    scopes: dict[str, str] = {}
    flow_type: OAuthFlowType = OAuthFlowType.CODE_FLOW
    client_auth: ClientAuthenticationMethod = ClientAuthenticationMethod.CLIENT_SECRET_POST
    request_type: OAuthRequest = OAuthRequest()
    capabilities: OAuthCapabilities = OAuthCapabilities()
    pkce: bool = False
    client_factory: Callable[[], HTTPClient] | None = None


class OAuthError(ConnectorError):
    """The token endpoint refused or failed; `.response` is its answer.

    `.oauth_error` is the RFC 6749 §5.2 error code when the provider sent a
    standard one, else None.
    """

    def __init__(
        self, message: str, error_code: ErrorCode, *, response: Response, oauth_error: str | None
    ) -> None:
        # Never retryable: an authorization code or refresh token is single-use.
        super().__init__(message, error_code, retryable=False)
        self.response = response
        self.oauth_error = oauth_error


_OAUTH_FLOW_CAPABILITIES: Final = {
    OAuthFlowType.CODE_FLOW: (
        CapabilityName.GET_AUTHORIZATION_URL,
        CapabilityName.HANDLE_AUTHORIZATION_CALLBACK,
        CapabilityName.REFRESH_ACCESS_TOKEN,
    ),
    OAuthFlowType.CLIENT_CREDENTIALS: (
        CapabilityName.HANDLE_CLIENT_CREDENTIALS_REQUEST,
        CapabilityName.REFRESH_ACCESS_TOKEN,
    ),
}

# RFC 6749 §4.1.2.1 and §5.2 error codes -> ours. Only these names ever reach
# a message; anything else the provider says is left out.
_OAUTH_ERROR_CODES: Final = {
    "invalid_grant": ErrorCode.AUTHENTICATION_EXPIRED,
    "invalid_client": ErrorCode.UNAUTHORIZED,
    "unauthorized_client": ErrorCode.PERMISSION_DENIED,
    "access_denied": ErrorCode.PERMISSION_DENIED,
    "invalid_request": ErrorCode.BAD_REQUEST,
    "invalid_scope": ErrorCode.BAD_REQUEST,
    "unsupported_grant_type": ErrorCode.BAD_REQUEST,
    "unsupported_response_type": ErrorCode.BAD_REQUEST,
    "server_error": ErrorCode.SERVICE_ERROR,
    "temporarily_unavailable": ErrorCode.SERVICE_ERROR,
}

# Parameters the provider adds to the redirect URI (RFC 6749 §4.1.2, OpenID
# session management, RFC 9207); the rest is the redirect_uri we sent.
_PROVIDER_ADDED_PARAMS: Final = frozenset({"code", "state", "session_state", "iss"})


def _install_oauth(integration: Integration) -> None:
    """Registers the default OAuth capabilities of every flow the integration's
    `oauth_settings` and its credentials' `oauth_settings` use."""
    where = f"Integration {integration.app_id!r}"
    every = [c.oauth_settings for c in integration.credentials.values() if c.oauth_settings]
    if integration.oauth_settings is not None:
        every.append(integration.oauth_settings)
    defaults = _oauth_defaults(lambda request: _select_oauth(integration, request))
    for settings in every:
        if not isinstance(settings, OAuthSettings):
            raise RegistrationError(f"{where}: oauth_settings must be an OAuthSettings")
        if settings.token_url is None:
            raise RegistrationError(f"{where}: OAuthSettings needs a token_url")
        for name in _OAUTH_FLOW_CAPABILITIES[settings.flow_type]:
            if not getattr(settings.capabilities, name.value):
                continue
            if name == CapabilityName.GET_AUTHORIZATION_URL and settings.authorization_url is None:
                raise RegistrationError(f"{where}: the code flow needs an authorization_url")
            if name not in integration.capabilities:
                integration._register(name, defaults[name], default=True)


def _select_oauth(integration: Integration, envelope: Any) -> OAuthSettings:
    """The OAuth settings for a request: its `credential_id`'s, else the only ones."""
    credential_id = getattr(envelope.request, "credential_id", None)
    with_oauth = [c.id for c in integration.credentials.values() if c.oauth_settings]
    if credential_id is not None:
        config = integration.credentials.get(credential_id)
        if config is not None and config.oauth_settings is not None:
            return typing.cast(OAuthSettings, config.oauth_settings)
        raise ConnectorError(
            f"No OAuth settings for credential {credential_id!r} "
            f"(credentials with OAuth: {', '.join(with_oauth) or 'none'})",
            ErrorCode.INTEGRATION_MISSING_PARAMETER,
        )
    if integration.oauth_settings is not None:
        return typing.cast(OAuthSettings, integration.oauth_settings)
    if len(with_oauth) == 1:
        return typing.cast(OAuthSettings, integration.credentials[with_oauth[0]].oauth_settings)
    raise ConnectorError(
        f"Name the credential in `credential_id`: one of {', '.join(with_oauth)}",
        ErrorCode.INTEGRATION_MISSING_PARAMETER,
    )


def _oauth_defaults(
    select: Callable[[Any], OAuthSettings],
) -> dict[CapabilityName, Callable[..., Any]]:
    """The default capability functions, keyed by capability; `select` picks the
    settings for each request."""

    async def get_authorization_url(
        request: GetAuthorizationUrlRequest,
    ) -> GetAuthorizationUrlResponse:
        settings = select(request)
        url, verifier = _authorization_url(settings, request)
        return GetAuthorizationUrlResponse(
            response=AuthorizationUrl(authorization_url=url, code_verifier=verifier)
        )

    async def handle_authorization_callback(
        request: HandleAuthorizationCallbackRequest,
    ) -> HandleAuthorizationCallbackResponse:
        settings = select(request)
        payload = request.request
        answer = await _send_token_request(settings, _code_exchange_request(settings, request))
        credentials, raw = _parse_token_response(answer, refresh_token=None, state=payload.state)
        return HandleAuthorizationCallbackResponse(
            response=credentials, raw_data=raw if request.include_raw_data else None
        )

    async def handle_client_credentials_request(
        request: HandleClientCredentialsRequest,
    ) -> HandleClientCredentialsResponse:
        settings = select(request)
        payload = request.request
        params = [("grant_type", "client_credentials")]
        if scope := _oauth_scope(payload.scopes, settings.scopes):
            params.append(("scope", scope))
        token_url = _oauth_url(settings.token_url, request)
        token_request = _token_request(
            settings, token_url, params, payload.client_id, payload.client_secret
        )
        answer = await _send_token_request(settings, token_request)
        credentials, raw = _parse_token_response(answer, refresh_token=None, state=None)
        return HandleClientCredentialsResponse(
            response=credentials, raw_data=raw if request.include_raw_data else None
        )

    async def refresh_access_token(
        request: RefreshAccessTokenRequest,
    ) -> RefreshAccessTokenResponse:
        settings = select(request)
        payload = request.request
        params = [("grant_type", "refresh_token"), ("refresh_token", payload.refresh_token)]
        token_url = _oauth_url(settings.token_url, request)
        token_request = _token_request(
            settings, token_url, params, payload.client_id, payload.client_secret
        )
        answer = await _send_token_request(settings, token_request)
        credentials, raw = _parse_token_response(
            answer, refresh_token=payload.refresh_token, state=payload.state
        )
        return RefreshAccessTokenResponse(
            response=credentials, raw_data=raw if request.include_raw_data else None
        )

    return {
        CapabilityName.GET_AUTHORIZATION_URL: get_authorization_url,
        CapabilityName.HANDLE_AUTHORIZATION_CALLBACK: handle_authorization_callback,
        CapabilityName.HANDLE_CLIENT_CREDENTIALS_REQUEST: handle_client_credentials_request,
        CapabilityName.REFRESH_ACCESS_TOKEN: refresh_access_token,
    }


def _oauth_url(source: _OAuthURL | None, envelope: Any) -> str:
    url = source(envelope) if callable(source) else source
    if not isinstance(url, str) or not url:
        raise TypeError(f"OAuth URL setting gave {type(url).__name__}, not a URL string")
    return url


def _oauth_scope(requested: Sequence[str], configured: Mapping[str, str]) -> str:
    """The request's scopes, else all configured ones: space-joined, each once, in order."""
    source = requested if requested else configured.values()
    return " ".join(dict.fromkeys(word for item in source for word in item.split()))


def _pkce_challenge(verifier: str) -> str:
    """RFC 7636 §4.2 S256: BASE64URL(SHA256(ASCII(verifier))) without padding."""
    import base64
    import hashlib

    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(url: str, pairs: Sequence[tuple[str, str]]) -> str:
    """`url` with `pairs` appended to whatever query it already has."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    extra = _query_encode(pairs)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _authorization_url(
    settings: OAuthSettings, envelope: GetAuthorizationUrlRequest
) -> tuple[str, str | None]:
    """The URL to send the user to, and the PKCE verifier when PKCE is on."""
    payload = envelope.request
    params = [
        ("response_type", "code"),
        ("client_id", payload.client_id),
        ("redirect_uri", payload.redirect_uri),
    ]
    if scope := _oauth_scope(payload.scopes, settings.scopes):
        params.append(("scope", scope))
    params.append(("state", payload.state))
    verifier = None
    if settings.pkce:
        # 64 characters from [A-Za-z0-9_-]; RFC 7636 §4.1 asks for 43 to 128.
        import secrets

        verifier = secrets.token_urlsafe(48)
        params += [("code_challenge", _pkce_challenge(verifier)), ("code_challenge_method", "S256")]
    return _with_query(_oauth_url(settings.authorization_url, envelope), params), verifier


def _split_redirect(redirect_uri_with_code: str) -> tuple[str | None, str | None, str]:
    """(code, error, redirect_uri) from the URI the provider sent the user back to.

    The redirect URI is the one given to the authorization request: no
    fragment and none of the parameters the provider added.
    """
    import urllib.parse

    parts = urllib.parse.urlsplit(redirect_uri_with_code)
    code = error = None
    kept = []
    for segment in parts.query.split("&"):
        name, _, value = segment.partition("=")
        name = urllib.parse.unquote_plus(name)
        if name == "code" and code is None:
            code = urllib.parse.unquote_plus(value)
        elif name == "error" and error is None:
            error = urllib.parse.unquote_plus(value)
        if segment and name not in _PROVIDER_ADDED_PARAMS:
            kept.append(segment)
    redirect_uri = urllib.parse.urlunsplit(parts._replace(query="&".join(kept), fragment=""))
    return code, error, redirect_uri


def _code_exchange_request(
    settings: OAuthSettings, envelope: HandleAuthorizationCallbackRequest
) -> Request:
    """The RFC 6749 §4.1.3 token request for a callback."""
    payload = envelope.request
    code, error, redirect_uri = _split_redirect(payload.redirect_uri_with_code)
    if code is None:
        if error is not None:
            known = error if error in _OAUTH_ERROR_CODES else None
            raise ConnectorError(
                f"The provider redirected back with error {known or '(unrecognised)'}",
                _OAUTH_ERROR_CODES.get(error, ErrorCode.BAD_REQUEST),
            )
        raise ConnectorError(
            "redirect_uri_with_code has no `code` query parameter", ErrorCode.BAD_REQUEST
        )
    params = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ]
    if payload.code_verifier:
        params.append(("code_verifier", payload.code_verifier))
    elif settings.pkce:
        raise ConnectorError(
            "PKCE is on: send back the code_verifier that get_authorization_url returned",
            ErrorCode.BAD_REQUEST,
        )
    token_url = _oauth_url(settings.token_url, envelope)
    return _token_request(settings, token_url, params, payload.client_id, payload.client_secret)


def _token_request(
    settings: OAuthSettings,
    token_url: str,
    params: Sequence[tuple[str, str]],
    client_id: str,
    client_secret: str,
) -> Request:
    """A token request with client authentication, shaped as `settings.request_type` says."""
    import urllib.parse

    headers = [("Accept", "application/json")]
    if settings.client_auth == ClientAuthenticationMethod.CLIENT_SECRET_BASIC:
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
        import base64

        quote = urllib.parse.quote_plus
        pair = f"{quote(client_id)}:{quote(client_secret)}".encode()
        headers.append(("Authorization", "Basic " + base64.b64encode(pair).decode("ascii")))
    else:
        params = [*params, ("client_id", client_id), ("client_secret", client_secret)]
    method = settings.request_type.method.value
    data_type = settings.request_type.data
    if data_type == RequestDataType.QUERY:
        return _build_request(method, _with_query(token_url, params), headers=headers)
    if data_type == RequestDataType.JSON:
        return _build_request(method, token_url, json=dict(params), headers=headers)
    return _build_request(method, token_url, data=list(params), headers=headers)


async def _send_token_request(settings: OAuthSettings, request: Request) -> Response:
    # Never retried: an authorization code is single-use (RFC 6749 §4.1.2).
    client = settings.client_factory() if settings.client_factory else HTTPClient()
    async with client:
        try:
            return await client.send(request, retry=False)
        except TransportError as exc:
            exc.retryable = False  # the code may be spent already: never retryable
            raise


def _parse_token_response(
    response: Response, *, refresh_token: str | None, state: str | None
) -> tuple[OauthCredentials, dict[str, Any]]:
    """The credentials in a token response (RFC 6749 §5.1), and the whole JSON body.

    A refresh answer without a new refresh_token keeps `refresh_token`, the one sent.
    """
    status = response.status_code
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if status >= 400 or error is not None:
        raise _token_error(response, error)
    if not 200 <= status < 300:
        raise _invalid_token_response(response, f"Token endpoint answered {status}")
    if not isinstance(body, dict):
        raise _invalid_token_response(response, f"Token endpoint answered {status} without JSON")
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise _invalid_token_response(response, "Token response has no access_token")
    # Only the string "bearer" (any case) or no type at all: 0 or false is no bearer.
    token_type = body.get("token_type", TokenType.BEARER)
    if token_type is None:
        token_type = TokenType.BEARER
    if not isinstance(token_type, str) or token_type.lower() != TokenType.BEARER:
        raise _invalid_token_response(response, "Token response has a token_type other than bearer")
    new_refresh_token = body.get("refresh_token")
    if isinstance(new_refresh_token, str) and new_refresh_token:
        refresh_token = new_refresh_token
    credentials = OauthCredentials(
        access_token=access_token,
        token_type=TokenType.BEARER,
        refresh_token=refresh_token,
        state=state,
    )
    return credentials, body


def _invalid_token_response(response: Response, message: str) -> OAuthError:
    return OAuthError(message, ErrorCode.INVALID_RESPONSE, response=response, oauth_error=None)


def _token_error(response: Response, error: object) -> OAuthError:
    """The error for a refusal: by OAuth error code first, then by HTTP status."""
    status = response.status_code
    known = error if isinstance(error, str) and error in _OAUTH_ERROR_CODES else None
    if known is not None:
        code = _OAUTH_ERROR_CODES[known]
    elif status == 401:
        code = ErrorCode.UNAUTHORIZED
    elif status == 429:
        code = ErrorCode.RATE_LIMIT
    elif status >= 500:
        code = ErrorCode.SERVICE_ERROR
    else:
        code = ErrorCode.BAD_REQUEST
    detail = f": {known}" if known else (" with an unrecognised error" if error else "")
    message = f"Token endpoint answered {status}{detail}"
    return OAuthError(message, code, response=response, oauth_error=known)


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
    import os

    if args.json is not None:
        # Bytes that are not UTF-8 reach argv as surrogates; hand them on as they
        # came, so that the decoder answers with a bad_request envelope.
        return os.fsencode(args.json)
    if args.json_file is not None and args.json_file != "-":
        try:
            with open(args.json_file, "rb") as file:
                return file.read()
        except OSError as exc:
            parser.error(f"cannot read {args.json_file}: {exc.strerror}")
    if sys.stdin is None:
        parser.error("no request given and no standard input to read it from")
    if args.json_file is None and sys.stdin.isatty():
        parser.error("no request given: use --json, --json-file, or pipe JSON on stdin")
    return sys.stdin.buffer.read()


def _print_json(data: bytes, pretty: bool) -> None:
    if pretty:
        data = msgspec.json.format(data, indent=2)
    sys.stdout.buffer.write(data + b"\n")
    sys.stdout.flush()


def _call(
    parser: "argparse.ArgumentParser",
    integration: "Integration",
    name: str,
    args: "argparse.Namespace",
) -> int:
    """Runs one capability; prints the result, or writes it to --result-file-path."""
    import asyncio

    body = _read_body(parser, args)
    path: str | None = args.result_file_path
    if path is None:
        out, code = asyncio.run(integration.dispatch_result(name.replace("-", "_"), body))
        _print_json(out, args.pretty)
        return 0 if code is None else 1
    # Opened before the capability runs, so an unwritable path changes nothing.
    try:
        file = open(path, "wb")  # noqa: SIM115 - closed below, after the call
    except OSError as exc:
        parser.error(f"cannot write {path}: {exc.strerror}")
    out, _ = asyncio.run(integration.dispatch_result(name.replace("-", "_"), body))
    if args.pretty:
        out = msgspec.json.format(out, indent=2)
    if path.endswith(".gz"):
        import gzip

        out = gzip.compress(out)
    try:
        with file:
            file.write(out)
    except OSError as exc:
        sys.stderr.write(f"cannot write the result to {path}: {exc.strerror}\n")
        return 1
    return 0  # a result was written: the reader looks at it for errors


def _serve(
    parser: "argparse.ArgumentParser", integration: "Integration", args: "argparse.Namespace"
) -> int:
    try:
        import server
    except ImportError as exc:
        parser.error(f"serve needs server.py beside connector.py ({exc})")
    try:
        token = server.read_token(args.token, args.token_file)
    except ValueError as exc:
        parser.error(str(exc))
    return int(
        server.run(
            integration,
            host=args.host,
            port=args.port,
            token=token,
            max_body_size=args.max_body_size,
            http_status=args.http_status,
        )
    )


def _add_body_options(sub: "argparse.ArgumentParser") -> None:
    group = sub.add_mutually_exclusive_group()
    group.add_argument("--json", metavar="JSON", help="the request envelope as a JSON string")
    group.add_argument(
        "--json-file", metavar="PATH", help="read the request from a file ('-' for stdin)"
    )
    sub.add_argument("--pretty", action="store_true", help="indent the JSON output")
    sub.add_argument(
        "--result-file-path",
        metavar="PATH",
        help="write the result to PATH instead of stdout (gzip when PATH ends in .gz); exit 0",
    )


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
    sub.add_argument(
        "--http-status",
        action="store_true",
        help="answer error envelopes with the HTTP status of their code (default: 200)",
    )


def _formatter() -> Any:
    # argparse builds a help formatter for every option it adds, and each one
    # asks for the terminal's size (importing shutil); ask once, directly.
    import argparse
    import functools
    import os

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            columns = os.get_terminal_size(2).columns
        except OSError:
            columns = 80
    return functools.partial(argparse.HelpFormatter, width=max(columns - 2, 40))


def main(argv: list[str] | None = None) -> int:
    """`python -m connector`: scaffold, serve, info and call any connector."""
    import argparse

    parser = argparse.ArgumentParser(
        formatter_class=(fmt := _formatter()),
        prog="python -m connector",
        description="Run, inspect, serve and scaffold identity-platform connectors.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    target_help = "package.module[:attr] or path/to/file.py[:attr] (attr: integration)"
    sub = commands.add_parser(
        "info", formatter_class=fmt, help="print the connector's info as JSON"
    )
    sub.add_argument("target", metavar="TARGET", help=target_help)
    sub.add_argument("--pretty", action="store_true", help="indent the JSON output")
    # Accepted and ignored, as by a connector's own `info`: a request (with its
    # credentials) passed here by habit must not be echoed in a usage error.
    sub.add_argument("--json", help=argparse.SUPPRESS)
    sub.add_argument("--json-file", help=argparse.SUPPRESS)

    sub = commands.add_parser(
        "call", formatter_class=fmt, help="run one capability on a JSON request"
    )
    sub.add_argument("target", metavar="TARGET", help=target_help)
    sub.add_argument("capability", metavar="CAPABILITY", help="e.g. list_accounts or list-accounts")
    _add_body_options(sub)

    sub = commands.add_parser("serve", formatter_class=fmt, help="serve the connector over HTTP")
    sub.add_argument("target", metavar="TARGET", help=target_help)
    _add_serve_options(sub)

    sub = commands.add_parser(
        "scaffold", formatter_class=fmt, help="create a new connector project"
    )
    sub.add_argument("name", metavar="NAME", help="connector name, e.g. foo-bar")
    sub.add_argument("directory", metavar="DIRECTORY", help="where to create the project")
    sub.add_argument("--author", help="author name (default: git config user.name)")
    sub.add_argument("--email", help="author email (default: git config user.email)")
    sub.add_argument("--force", action="store_true", help="write into a non-empty directory")
    sub.add_argument(
        "--vendor", action="store_true", help="copy connector.py and server.py into the project"
    )
    sub.add_argument(
        "--multi-auth",
        action="store_true",
        help="two credentials: OAuth for the API, a SCIM token for provisioning",
    )

    args = parser.parse_args(argv)
    try:
        if args.command == "scaffold":
            try:
                import scaffold
            except ImportError as exc:
                parser.error(f"scaffold needs scaffold.py beside connector.py ({exc})")
            try:
                return scaffold.command(
                    args.name,
                    args.directory,
                    author=args.author,
                    email=args.email,
                    force=args.force,
                    vendor=args.vendor,
                    multi_auth=args.multi_auth,
                )
            except scaffold.ScaffoldError as exc:
                parser.error(str(exc))
        integration = _load_target(parser, args.target)
        if args.command == "info":
            _print_json(integration.info_json(), args.pretty)
            return 0
        if args.command == "call":
            return _call(parser, integration, args.capability, args)
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
        formatter_class=(fmt := _formatter()),
        prog=os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else integration.app_id,
        description=f"{integration.app_id} {integration.version} connector",
    )
    parser.add_argument("--version", action="version", version=integration.version)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub = commands.add_parser(
        "info", formatter_class=fmt, help="print the connector's info as JSON"
    )
    sub.add_argument("--json", help=argparse.SUPPRESS)  # accepted and ignored, as in the seed
    sub.add_argument("--json-file", help=argparse.SUPPRESS)
    sub.add_argument("--pretty", action="store_true", help="indent the JSON output")
    for name in sorted(integration.capabilities):
        aliases = [name.replace("_", "-")] if "_" in name else []
        sub = commands.add_parser(name, aliases=aliases, formatter_class=fmt, help=f"run {name}")
        sub.set_defaults(capability=name)
        _add_body_options(sub)
    sub = commands.add_parser("serve", formatter_class=fmt, help="serve the connector over HTTP")
    _add_serve_options(sub)

    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            _print_json(integration.info_json(), args.pretty)
            code = 0
        elif args.command == "serve":
            code = _serve(parser, integration, args)
        else:
            code = _call(parser, integration, args.capability, args)
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


if _RUN_AS_MAIN:
    raise SystemExit(main())
