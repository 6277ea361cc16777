"""connector.py - identity-platform connectors as a handful of decorated functions.

One vendorable file: the Lumos connector wire types as msgspec structs, a
``@capability`` registry, the error-wrapping chain behind ``dispatch``, ``info``,
an HTTP client and OAuth helper on httpcore, a conformance check, and the CLI
(``python -m connector``).

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
    Conformance check        check_conformance, assert_conformant: what a platform
                             would trip on (envelopes, pages, writes, errors, leaks)
    CLI                      python -m connector, run(integration)

Runtime dependencies: msgspec; anyio and httpcore only where they are used.
Licence: MIT.
"""

import contextvars
import enum
import functools
import math
import sys
import time
import types
import typing
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, ClassVar, Final, Generic, Protocol, TypeAlias, TypeVar, overload

import msgspec

__version__: Final = "0.1.0"

__all__ = (
    "CANONICAL_CODES",
    "CAPABILITIES",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AccessGraphEntitlement",
    "AccessGraphEntitlementAssignment",
    "AccessGraphEntitlementIdentifier",
    "AccessGraphEntitlementRule",
    "AccessGraphEntitlementType",
    "AccessGraphImpliedAccess",
    "AccessGraphImpliedAccessRule",
    "AccessGraphResource",
    "AccessGraphResourceRelationship",
    "AccountStatus",
    "AccountType",
    "ActivateAccount",
    "ActivateAccountRequest",
    "ActivateAccountResponse",
    "ActivatedAccount",
    "ActivityEventType",
    "ActivityRecord",
    "ActivityRecordActor",
    "ActivityRecordEntitlement",
    "ActivityRecordTarget",
    "ActivityType",
    "Amount",
    "AppCategory",
    "AppInfo",
    "AppInfoRequest",
    "AppInfoRequestPayload",
    "AppInfoResponse",
    "Application",
    "ApplicationAccount",
    "ApplicationActivityRecord",
    "ApplicationEntitlementAssociation",
    "ApplicationEntitlementData",
    "ApplicationResourceData",
    "ApplicationStatus",
    "ArbitraryRequestMethod",
    "ArbitraryResponse",
    "AssignApplication",
    "AssignApplicationEntitlement",
    "AssignApplicationEntitlementRequest",
    "AssignApplicationEntitlementResponse",
    "AssignApplicationRequest",
    "AssignApplicationResponse",
    "AssignEntitlement",
    "AssignEntitlementRequest",
    "AssignEntitlementResponse",
    "AssignedApplication",
    "AssignedApplicationEntitlement",
    "AssignedEntitlement",
    "AssignmentMode",
    "AuthCredential",
    "AuthedRequestEnvelope",
    "AuthenticationError",
    "AuthorizationError",
    "AuthorizationUrl",
    "BasicCredential",
    "CallStats",
    "Capability",
    "CapabilityName",
    "CapabilitySchema",
    "CapabilitySpec",
    "CheckResult",
    "CheckStatus",
    "ClientAuthenticationMethod",
    "ConflictError",
    "ConformanceReport",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionClosed",
    "ConnectorError",
    "CreateAccount",
    "CreateAccountEntitlement",
    "CreateAccountRequest",
    "CreateAccountResponse",
    "CreatedAccount",
    "CreatedEffect",
    "Credential",
    "CredentialConfig",
    "CredentialLastActivity",
    "CredentialStatus",
    "CustomAttribute",
    "CustomAttributeCustomizedType",
    "CustomAttributeParameter",
    "CustomAttributeSchema",
    "CustomAttributeType",
    "CustomRequest",
    "CustomResponse",
    "DataRecency",
    "DeactivateAccount",
    "DeactivateAccountRequest",
    "DeactivateAccountResponse",
    "DeactivatedAccount",
    "DeleteAccount",
    "DeleteAccountRequest",
    "DeleteAccountResponse",
    "DeletedAccount",
    "DeletedEffect",
    "DescriptionData",
    "DowngradeLicense",
    "DowngradeLicenseRequest",
    "DowngradeLicenseResponse",
    "DowngradedLicense",
    "Effect",
    "EmptyCredential",
    "EntitlementGraph",
    "EntitlementRequirement",
    "EntitlementType",
    "Error",
    "ErrorCategory",
    "ErrorCode",
    "ErrorFault",
    "ErrorMetadata",
    "ErrorResponse",
    "ExceptionHandler",
    "ExecutionSummary",
    "Expense",
    "ExpenseApprovalStatus",
    "ExpenseFilters",
    "ExpensePaymentStatus",
    "ExpenseType",
    "FindEntitlementAssignments",
    "FindEntitlementAssignmentsRequest",
    "FindEntitlementAssignmentsResponse",
    "FindEntitlementAssociations",
    "FindEntitlementAssociationsRequest",
    "FindEntitlementAssociationsResponse",
    "FindEntitlementGraph",
    "FindEntitlementGraphRequest",
    "FindEntitlementGraphResponse",
    "FindResourceGraph",
    "FindResourceGraphRequest",
    "FindResourceGraphResponse",
    "FormData",
    "FoundAccountData",
    "FoundEntitlementAssociation",
    "FoundEntitlementData",
    "FoundResourceData",
    "FulfillArbitraryEndpoint",
    "FulfillArbitraryEndpointRequest",
    "FulfillArbitraryEndpointResponse",
    "GetAccount",
    "GetAccountEntitlementAssociations",
    "GetAccountEntitlementAssociationsRequest",
    "GetAccountEntitlementAssociationsResponse",
    "GetAccountRequest",
    "GetAccountResponse",
    "GetApplication",
    "GetApplicationAccount",
    "GetApplicationAccountRequest",
    "GetApplicationAccountResponse",
    "GetApplicationRequest",
    "GetApplicationResponse",
    "GetAuthorizationUrl",
    "GetAuthorizationUrlRequest",
    "GetAuthorizationUrlResponse",
    "GetCredentialLastActivity",
    "GetCredentialLastActivityRequest",
    "GetCredentialLastActivityResponse",
    "GetDataRecency",
    "GetDataRecencyRequest",
    "GetDataRecencyResponse",
    "GetLastActivity",
    "GetLastActivityRequest",
    "GetLastActivityResponse",
    "GetNonHumanAccountLastActivity",
    "GetNonHumanAccountLastActivityRequest",
    "GetNonHumanAccountLastActivityResponse",
    "HTTPClient",
    "HTTPHandler",
    "HTTPStatusError",
    "HandleAuthorizationCallback",
    "HandleAuthorizationCallbackRequest",
    "HandleAuthorizationCallbackResponse",
    "HandleClientCredentials",
    "HandleClientCredentialsRequest",
    "HandleClientCredentialsResponse",
    "HandlerEntry",
    "Headers",
    "Info",
    "InfoResponse",
    "Integration",
    "InternalError",
    "InvalidPageTokenError",
    "InvalidRequest",
    "InvalidValueError",
    "JWTClaims",
    "JWTCredential",
    "JWTHeaders",
    "KeyGenType",
    "KeyPairCredential",
    "LastActivityData",
    "ListAccounts",
    "ListAccountsRequest",
    "ListAccountsResponse",
    "ListActivityRecords",
    "ListActivityRecordsRequest",
    "ListActivityRecordsResponse",
    "ListApplications",
    "ListApplicationsAccounts",
    "ListApplicationsAccountsRequest",
    "ListApplicationsAccountsResponse",
    "ListApplicationsActivityRecords",
    "ListApplicationsActivityRecordsRequest",
    "ListApplicationsActivityRecordsResponse",
    "ListApplicationsEntitlementAssociations",
    "ListApplicationsEntitlementAssociationsRequest",
    "ListApplicationsEntitlementAssociationsResponse",
    "ListApplicationsEntitlements",
    "ListApplicationsEntitlementsRequest",
    "ListApplicationsEntitlementsResponse",
    "ListApplicationsRequest",
    "ListApplicationsResources",
    "ListApplicationsResourcesRequest",
    "ListApplicationsResourcesResponse",
    "ListApplicationsResponse",
    "ListCredentials",
    "ListCredentialsRequest",
    "ListCredentialsResponse",
    "ListCustomAttributesSchema",
    "ListCustomAttributesSchemaRequest",
    "ListCustomAttributesSchemaResponse",
    "ListEntitlements",
    "ListEntitlementsRequest",
    "ListEntitlementsResponse",
    "ListExpenses",
    "ListExpensesRequest",
    "ListExpensesResponse",
    "ListNonHumanAccounts",
    "ListNonHumanAccountsRequest",
    "ListNonHumanAccountsResponse",
    "ListResources",
    "ListResourcesRequest",
    "ListResourcesResponse",
    "ListUpdatedAccounts",
    "ListUpdatedAccountsRequest",
    "ListUpdatedAccountsResponse",
    "MockRoute",
    "MockTransport",
    "NonHumanAccount",
    "NonHumanAccountLastActivity",
    "NoopEffect",
    "NoopEffectReason",
    "NormalizedExpenseApprovalStatus",
    "NormalizedExpensePaymentStatus",
    "NotFoundError",
    "OAuth1Credential",
    "OAuthCapabilities",
    "OAuthClientCredential",
    "OAuthCredential",
    "OAuthError",
    "OAuthFlowType",
    "OAuthRequest",
    "OAuthSettings",
    "OauthCredentials",
    "Page",
    "PageToken",
    "Pages",
    "Position",
    "ProbeCapabilityConfigStatus",
    "ProbeCapabilityType",
    "ProbeCheck",
    "ProbeCheckName",
    "ProbeCheckSource",
    "ProbeCheckStatus",
    "ProbeConfigFinding",
    "ProbeConfigFindingSeverity",
    "ProbeCoverageStatus",
    "ProbeCustomAttributeResult",
    "ProbeEntitlementTypeResult",
    "ProbeIntegration",
    "ProbeIntegrationRequest",
    "ProbeIntegrationResponse",
    "ProbeResults",
    "ProbeSample",
    "ProbeSampleAccount",
    "ProbeSampleAssociation",
    "ProbeSampleCapabilityConfig",
    "ProbeSampleCustomAttribute",
    "ProbeSampleEntitlement",
    "ProbeStatus",
    "RateLimitError",
    "RateLimitMode",
    "RateLimitPolicy",
    "RateLimitRequestInfo",
    "RateLimitResponseInfo",
    "RateLimitStateSnapshot",
    "RateLimitStateSnapshotSource",
    "Reference",
    "ReferenceType",
    "RefreshAccessToken",
    "RefreshAccessTokenRequest",
    "RefreshAccessTokenResponse",
    "RegistrationError",
    "ReleaseResources",
    "ReleaseResourcesRequest",
    "ReleaseResourcesResponse",
    "ReleaseResourcesStatus",
    "Request",
    "RequestDataType",
    "RequestEnvelope",
    "RequestMethod",
    "RequestTimeout",
    "ResourceGraph",
    "ResourceType",
    "Response",
    "ResponseEnvelope",
    "ResponseTooLarge",
    "Secret",
    "SecretStr",
    "ServiceAccountCredential",
    "ServiceAccountType",
    "SignOnMode",
    "SpendUser",
    "TimeRange",
    "TokenCredential",
    "TokenType",
    "TransferData",
    "TransferDataRequest",
    "TransferDataResponse",
    "TransferDataStatus",
    "TransportError",
    "UnassignApplication",
    "UnassignApplicationEntitlement",
    "UnassignApplicationEntitlementRequest",
    "UnassignApplicationEntitlementResponse",
    "UnassignApplicationRequest",
    "UnassignApplicationResponse",
    "UnassignEntitlement",
    "UnassignEntitlementRequest",
    "UnassignEntitlementResponse",
    "UnassignedApplication",
    "UnassignedApplicationEntitlement",
    "UnassignedEntitlement",
    "UpdateAccount",
    "UpdateAccountRequest",
    "UpdateAccountResponse",
    "UpdatedAccounts",
    "UpdatedEffect",
    "UpstreamError",
    "UpstreamPage",
    "ValidateCredentialConfig",
    "ValidateCredentialConfigRequest",
    "ValidateCredentialConfigResponse",
    "ValidateCredentials",
    "ValidateCredentialsRequest",
    "ValidateCredentialsResponse",
    "ValidatedCredentialConfig",
    "ValidatedCredentials",
    "Vendor",
    "assert_conformant",
    "canonical_code",
    "check_conformance",
    "classify",
    "error_envelope",
    "error_metadata",
    "execution_summary",
    "get_basic_auth",
    "get_credential",
    "get_jwt_auth",
    "get_key_pair_auth",
    "get_oauth",
    "get_oauth1_auth",
    "get_oauth_client_credentials",
    "get_page",
    "get_service_account_auth",
    "get_settings",
    "get_token_auth",
    "main",
    "request_fingerprint",
    "run",
    "run_conformance",
    "wire_code",
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
# "Not given", where None means something (no timeout, the default restored).
_UNSET: Final[Any] = object()


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


def _prefill(
    exc: BaseException, where: str | None, *, app_id: str = "", secrets: Sequence[str] = ()
) -> ErrorResponse:
    """The classified envelope for `exc`, before any author handler runs.

    An upstream error (``exc.response`` with a body) adds the upstream's own
    explanation to the message, scrubbed of `secrets` before it is clipped (a
    clipped secret would no longer match), and a SCIM ``scimType`` becomes
    ``app_error_code`` as ``"<app_id>.<scimType>"``.
    """
    message = _safe_str(exc) or type(exc).__name__
    app_error_code = exc.app_error_code if isinstance(exc, ConnectorError) else None
    detail, upstream_code = _upstream_detail_of(exc)
    if detail:
        message = f"{message}: {_clip_detail(_scrub(detail, secrets))}"
    if upstream_code and app_error_code is None:
        app_error_code = f"{app_id}.{upstream_code}" if app_id else upstream_code
    error = Error(
        message=message,
        status_code=_status_of(exc),
        error_code=classify(exc),
        app_id="",
        app_error_code=app_error_code,
        raised_by=type(exc).__name__,
        raised_in=where,
    )
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
#      d. _upstream_link  the capability's HTTP clients see the dispatch's deadline
#                         and rate-limit state, which goes back in `rate_limit`;
#      e. _guard_link     an exception from the author's code is classified,
#                         handled by the author's handler, finished (-> its code);
#      f. _call_author    the author's function (sync ones in a worker thread);
#   4. returns the bytes of (3), or those of the finished envelope that a link
#      raised as `_Failure`. Nothing else escapes (`handle_errors=False` lets an
#      author's exception through, for debugging, and an exception raised in a
#      MockTransport handler always goes through to the test).

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

    multi = bool(integration.credentials)
    field = typing.cast(str, expected)

    def with_auth(request: Any, settings: Any) -> Awaitable[Any]:
        problem = (
            integration._credentials_problem(request) if multi else _auth_problem(request, field)
        )
        if problem is not None:
            raise integration._failure(ErrorCode.BAD_REQUEST, problem, request=request)
        return inner(request, settings)

    return with_auth


def _auth_problem(request: Any, expected: str) -> str | None:
    """What is wrong with an `auth=` connector's request, or None."""
    auth = request.auth
    if request.credentials is None and auth is not None and getattr(auth, expected) is not None:
        return None  # the usual request: the one credential this connector takes
    if request.credentials is not None:
        if auth is not None:
            return "Give `auth` or `credentials`, not both"
        return f"This connector takes one credential in `auth.{expected}`, not `credentials`"
    if auth is not None and any(getattr(auth, m) for m in _ALSO_ACCEPTED.get(expected, ())):
        return None
    given = _members_given(auth) if auth else []
    message = f"Missing `auth.{expected}`: this connector takes {expected} credentials"
    return message + f", not {given[0]}" if given else message


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
            if _propagates(exc):
                raise
            raise integration._from_exception(exc, cap, request) from None

    return guarded


# The dispatch in progress.
# `_upstream_link` sets `_CALL` around a capability: the integration, the
# deadline from `rate_limit.max_execution_time`, the caller's rate-limit mode
# and the limiter states to seed. HTTPClients read it; the link writes the
# limiters used into the success envelope's `rate_limit.current_state`.


_NO_SEEDS: Final[Mapping[str, RateLimitStateSnapshot]] = types.MappingProxyType({})


class _Call:
    __slots__ = ("budget", "deadline", "integration", "mode", "seeds", "used")

    deadline: float | None
    budget: int | None
    mode: RateLimitMode | None
    seeds: Mapping[str, RateLimitStateSnapshot]

    def __init__(self, integration: "Integration", rate_limit: RateLimitRequestInfo | None) -> None:
        # Made on every dispatch: the defaults in one chained store, the seeds shared.
        self.integration = integration
        self.used: dict[str, _Limiter] = {}
        self.deadline = self.budget = self.mode = None
        self.seeds = _NO_SEEDS
        if rate_limit is not None:
            self.mode = rate_limit.caller_override_mode
            self.seeds = dict(rate_limit.last_known_state or {})
            if rate_limit.max_execution_time is not None:
                self.budget = rate_limit.max_execution_time
                self.deadline = integration._http_now() + rate_limit.max_execution_time

    def current_state(self, now: float) -> RateLimitResponseInfo:
        states = {key: limiter.snapshot(now) for key, limiter in self.used.items()}
        return RateLimitResponseInfo(current_state=states)


_CALL: Final[contextvars.ContextVar[_Call | None]] = contextvars.ContextVar(
    "connector_call", default=None
)


def _upstream_link(inner: Link, cap: Capability, integration: "Integration") -> Link:
    """Gives the capability's HTTP clients the dispatch's deadline and limiter
    state; puts the limiters' state in the success envelope."""

    async def with_upstream(request: Any, settings: Any) -> Any:
        call = _Call(integration, getattr(request, "rate_limit", None))
        token = _CALL.set(call)
        try:
            result = await inner(request, settings)
        finally:
            _CALL.reset(token)
        if (
            call.used
            and integration.api_version != "3.5"
            and isinstance(result, ResponseEnvelope)
            and result.rate_limit is None
        ):
            info = call.current_state(integration._http_now())
            result = msgspec.structs.replace(result, rate_limit=info)
        return result

    return with_upstream


_LINKS: Final = (_auth_link, _settings_link, _response_link, _upstream_link, _guard_link)
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
        # The HTTP seam (`configure_http`) and the pools shared per event loop.
        self.http_transport: Any = None
        self.http_sleep: Callable[[float], Awaitable[object]] | None = None
        self.http_clock: Callable[[], float] | None = None
        self._http_loops: dict[object, _LoopHTTP] = {}
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

    # -- upstream HTTP --

    def http_client(self, base_url: str = "", **options: Any) -> "HTTPClient":
        """An HTTPClient for this integration's upstream: it shares the connection
        pool and the rate limits of the integration's other clients, and uses
        what tests set with `configure_http`. Options are HTTPClient's.

        client = integration.http_client(settings.base_url, bearer_token=token)
        """
        return HTTPClient(base_url, integration=self, **options)

    def configure_http(
        self,
        *,
        transport: Any = _UNSET,
        sleep: Callable[[float], Awaitable[object]] | None = _UNSET,
        clock: Callable[[], float] | None = _UNSET,
    ) -> None:
        """Sets what every HTTPClient of this integration uses unless given its own:
        the transport (a MockTransport in tests), sleep (async, seconds) and clock
        (epoch seconds). None restores the default.

        integration.configure_http(transport=MockTransport(...), sleep=fake.sleep, clock=fake.clock)
        """
        if transport is not _UNSET:
            self.http_transport = transport
        if sleep is not _UNSET:
            self.http_sleep = sleep
        if clock is not _UNSET:
            self.http_clock = clock

    async def aclose_http(self) -> None:
        """Closes the connections shared on the running event loop (the server does
        it on shutdown, the CLI after its call).

        await integration.aclose_http()
        """
        state = self._http_loops.pop(_loop_key(), None)
        if state is not None:
            await state.aclose()

    def _loop_http(self) -> "_LoopHTTP":
        key = _loop_key()
        state = self._http_loops.get(key)
        if state is None:
            # Forget loops that are gone (closed asyncio loops); their sockets went with them.
            for old in [k for k in self._http_loops if getattr(k, "is_closed", _never)()]:
                del self._http_loops[old]
            state = self._http_loops[key] = _LoopHTTP()
        return state

    def _http_now(self) -> float:
        return (self.http_clock or time.time)()

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
                message = f"Capability {shown!r} is not implemented by {self.app_id}"
                import difflib

                close = difflib.get_close_matches(shown[:100], list(self.capabilities), n=1)
                if close:
                    message += f"; did you mean {close[0]!r}?"
                raise self._failure(ErrorCode.NOT_IMPLEMENTED, message)
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
            if not self.handle_errors or _propagates(exc):
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
        prefilled = _prefill(exc, _where(cap.func), app_id=self.app_id, secrets=secrets)
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
        payloads = [
            _payload_type(
                self.capabilities[name].request_type
                if side == 0
                else self.capabilities[name].response_type,
                ("request", "response")[side],
            )
            for name in names
            for side in (0, 1)
        ]
        documents = _schemas(payloads)  # one pass over every type, then cut per payload
        schemas: dict[str, CapabilitySchema] = {}
        for index, name in enumerate(names):
            cap = self.capabilities[name]
            schemas[name] = CapabilitySchema(
                argument=documents[2 * index],
                output=documents[2 * index + 1],
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


def _never() -> bool:
    return False


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


def _schemas(types: Sequence[Any]) -> list[dict[str, Any]]:
    """`msgspec.json.schema` of each type, computed in one pass: each schema with
    the `$defs` it reaches (what msgspec.json.schema gives, at a fraction of the cost)."""
    refs, components = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    documents = []
    for ref in refs:
        reached: dict[str, Any] = {}
        stack = [ref]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                target = item.get("$ref")
                if isinstance(target, str) and target.startswith("#/$defs/"):
                    name = target[8:]
                    if name not in reached:
                        reached[name] = components[name]
                        stack.append(components[name])
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        document = dict(ref)
        if reached:
            document["$defs"] = {name: reached[name] for name in sorted(reached)}
        documents.append(document)
    return documents


def _payload_type(envelope: type[Any], field: str) -> Any:
    """The `request` or `response` type of an envelope: the parameter it was
    specialised with (`ListAccounts` for ListAccountsRequest), else its field's."""
    for cls in getattr(_origin(envelope), "__mro__", ()):
        for base in cls.__dict__.get("__orig_bases__", ()):
            generic = typing.get_origin(base)
            if generic in (
                RequestEnvelope,
                AuthedRequestEnvelope,
                ResponseEnvelope,
                CustomRequest,
                CustomResponse,
            ):
                (argument,) = typing.get_args(base)
                if not isinstance(argument, TypeVar):
                    return argument
    if typing.get_origin(envelope) is not None:  # CustomRequest[Groups] itself
        (argument,) = typing.get_args(envelope)
        return argument
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


# ---- Pagination -------------------------------------------------------------
# Two halves, for the two sides of a list capability.
#
# `PageToken` turns a position (any msgspec value: a struct, or a tuple of them
# for a nested walk) into the opaque `page.token` the platform sends back, and
# back again:
#
#     token = base64url(version | msgpack(value) | tag), no padding
#     tag   = HMAC-SHA256(key, version | capability | 0 | msgpack(value))[:12]
#
# Without a key, the key is a constant of this file: the tag is then a checksum
# keyed by the capability, which catches a garbage, truncated or edited token
# and one issued by another capability, but anyone who reads this file can mint
# one. With a key (from settings or an environment variable) nobody without it
# can forge an offset. Every failure is `InvalidPageTokenError`.
#
# `Pages` is one upstream collection, paged the upstream's way (offset/limit,
# page number, a cursor in the body, Link headers, SCIM). `pages.fill(request)`
# fetches upstream pages until the platform's `page.size` is filled. Its token
# says where the platform page stopped inside the upstream's: the upstream
# position of that upstream page plus how many of its items were returned
# already, so the next call fetches that page again and skips them. A nested
# walk (groups -> each group's members) keeps a stack of two such positions.
#
# Loop guard. Within one call every upstream position is remembered, so
# A -> B -> A stops at the second A. Across calls the token carries Brent's
# cycle detector instead of a growing list: the number of upstream pages walked
# and a hash of the position reached at the last power-of-two page. Once a mark
# sits inside the loop with a gap to the next power of two of at least the loop's
# length, the loop comes back to it: within 2 * max(tail, length) + length
# pages, for ~12 characters of token. The per-call
# request cap (`max_pages`) bounds the work of one platform call: reached with
# items in hand, the platform gets a shorter page and a token; reached without
# one, the upstream is serving empty pages without end, which is an error.

_PAGE_TOKEN_VERSION: Final = 1
_PAGE_TOKEN_TAG_BYTES: Final = 12
_PAGE_TOKEN_MAX_CHARS: Final = 4096
_PAGE_TOKEN_PUBLIC_KEY: Final = b"connector.py page token"
_BASE64URL: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_MSGPACK_ENCODER: Final = msgspec.msgpack.Encoder()

Position: TypeAlias = str | int | None
"""An upstream page's position: an offset, a page number, a cursor, a URL path (None: the first)."""


def _b64url_decode(text: str) -> bytes | None:
    """The bytes of canonical unpadded base64url `text`, else None (so no edit goes unseen)."""
    import base64

    if len(text) > _PAGE_TOKEN_MAX_CHARS or len(text) % 4 == 1 or not _BASE64URL.issuperset(text):
        return None
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return raw if _b64url_encode(raw) == text else None


def _b64url_encode(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class PageToken(Generic[T]):
    """Opaque, tamper-evident page tokens carrying a msgspec value of type `model`.

        tokens = PageToken(Cursor, capability="list_accounts", key=os.environ.get("PAGE_KEY"))
        page = Page(token=tokens.encode(Cursor(offset=40)), size=size)
        cursor = tokens.decode(get_page(request).token)  # None on the first page

    A stack for a nested walk is a tuple type: ``PageToken(tuple[Groups, Members | None],
    capability=...)``. `decode` raises `InvalidPageTokenError` for a token that is
    garbage, truncated, edited, issued for another capability or with another key,
    or that does not decode as `model`. An empty `key` counts as none.
    """

    __slots__ = ("_decoder", "_key", "_prefix", "capability")

    def __init__(self, model: type[T], *, capability: str, key: bytes | str | None = None) -> None:
        self.capability = str(capability)
        secret = key.encode() if isinstance(key, str) else key
        self._key = secret or _PAGE_TOKEN_PUBLIC_KEY
        self._prefix = bytes([_PAGE_TOKEN_VERSION]) + self.capability.encode() + b"\0"
        self._decoder: msgspec.msgpack.Decoder[T] = msgspec.msgpack.Decoder(model)

    def __repr__(self) -> str:
        return f"PageToken(capability={self.capability!r})"  # never the key

    def _tag(self, payload: bytes) -> bytes:
        import hashlib
        import hmac

        digest = hmac.new(self._key, self._prefix + payload, hashlib.sha256).digest()
        return digest[:_PAGE_TOKEN_TAG_BYTES]

    def encode(self, value: T) -> str:
        """The token for `value`: ``tokens.encode(Cursor(offset=40))``."""
        payload = _MSGPACK_ENCODER.encode(value)
        return _b64url_encode(bytes([_PAGE_TOKEN_VERSION]) + payload + self._tag(payload))

    def decode(self, token: str | None) -> T | None:
        """The value in `token`, None for no token; `InvalidPageTokenError` for a bad one."""
        import hmac

        if not token:
            return None
        raw = _b64url_decode(token)
        if raw is None or len(raw) <= _PAGE_TOKEN_TAG_BYTES or raw[0] != _PAGE_TOKEN_VERSION:
            raise self._invalid("it is not a page token of this connector")
        payload, tag = raw[1:-_PAGE_TOKEN_TAG_BYTES], raw[-_PAGE_TOKEN_TAG_BYTES:]
        if not hmac.compare_digest(tag, self._tag(payload)):
            raise self._invalid("it was altered, or issued for another capability")
        try:
            return self._decoder.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise self._invalid("its content is not a position of this capability") from None

    def _invalid(self, why: str) -> InvalidPageTokenError:
        return InvalidPageTokenError(f"Invalid page token for {self.capability}: {why}")


_Count: TypeAlias = typing.Annotated[int, msgspec.Meta(ge=0)]


class _WalkState(msgspec.Struct, array_like=True, omit_defaults=True, frozen=True):
    """Where a walk of one collection stands: upstream page `at`, the `skip` items of it
    already returned, that it is the walk's `n`th upstream page, Brent's `mark`."""

    at: str | int | None = None
    skip: _Count = 0
    n: _Count = 0
    mark: bytes = b""


@functools.lru_cache(maxsize=64)
def _walk_tokens(capability: str, key: bytes | str | None) -> PageToken[list[_WalkState]]:
    return PageToken(list[_WalkState], capability=capability, key=key)


def _position_hash(at: Position) -> bytes:
    import hashlib

    return hashlib.blake2b(_MSGPACK_ENCODER.encode(at), digest_size=8).digest()


class UpstreamPage(typing.NamedTuple):
    """One page as the upstream answered it: its items, and the next page's position
    (None: this was the last). What a `Pages` fetch function returns."""

    items: Sequence[Any]
    next: Position = None


class _Walk:
    """One platform call: what is left of its upstream request budget."""

    __slots__ = ("exhausted", "left")

    def __init__(self, max_pages: int | None) -> None:
        self.left = max_pages
        self.exhausted = False

    async def fetch(self, pages: "Pages", at: Position) -> UpstreamPage | None:
        if self.left is not None:
            if self.left <= 0:
                self.exhausted = True
                return None
            self.left -= 1
        return await pages.fetch(at)


def _advance(pages: "Pages", pos: _WalkState, nxt: Position, seen: set[bytes]) -> _WalkState:
    """The position of the next upstream page, unless the upstream is going round in circles."""
    digest = _position_hash(nxt)
    if digest in seen or digest == pos.mark:
        raise UpstreamError(
            f"Upstream pagination loops: {pages.name} led back to a page it had already "
            f"returned (at upstream page {pos.n + 2} of the walk)",
            retryable=False,
        )
    seen.add(digest)
    n = pos.n + 1
    return _WalkState(at=nxt, n=n, mark=digest if n & (n - 1) == 0 else pos.mark)


async def _fill(
    walk: _Walk, pages: "Pages", pos: _WalkState, want: int
) -> tuple[list[Any], _WalkState | None]:
    """Up to `want` items from `pos` on, and where to resume (None: the collection ended)."""
    out: list[Any] = []
    seen = {_position_hash(pos.at)}
    while True:
        page = await walk.fetch(pages, pos.at)
        if page is None:
            return out, pos
        batch = page.items[pos.skip :]
        room = want - len(out)
        if len(batch) > room:
            out.extend(batch[:room])
            return out, msgspec.structs.replace(pos, skip=pos.skip + room)
        out.extend(batch)
        if page.next is None:
            return out, None
        pos = _advance(pages, pos, page.next, seen)
        if len(out) == want:
            return out, pos


def _pluck(body: Any, path: str | None, where: str, what: str = "a list") -> Any:
    """The value at dotted `path` of a JSON body (the body itself for None)."""
    value = body
    for part in path.split(".") if path else ():
        if not isinstance(value, dict) or part not in value:
            raise ConnectorError(
                f"{where} answered without {what} at `{path}`", ErrorCode.INVALID_RESPONSE
            )
        value = value[part]
    return value


def _items_at(body: Any, path: str | None, where: str) -> list[Any]:
    items = _pluck(body, path, where)
    if not isinstance(items, list):
        at = f"`{path}`" if path else "the top level"
        raise ConnectorError(f"{where} answered without a list at {at}", ErrorCode.INVALID_RESPONSE)
    return items


async def _get_json(
    client: "HTTPClient", url: str, params: "_QueryParams | None"
) -> tuple[Any, "Response"]:
    response = (await client.get(url, params=params)).raise_for_status()
    return response.json(), response


def _params(
    params: "_QueryParams | None", *extra: "tuple[str, _QueryValue]"
) -> "list[tuple[str, _QueryValue]]":
    pairs = _query_pairs(params)
    names = {name for name, _ in extra}
    return [*(pair for pair in pairs if pair[0] not in names), *extra]


def _link_next(values: Sequence[str], base: str) -> str | None:
    """The absolute target of the first ``rel="next"`` link of Link header values (RFC 8288)."""
    import re
    import urllib.parse

    # link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ), comma-separated;
    # rel may hold several space-separated relation types, compared case-insensitively.
    link = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,"=\s]+\s*(?:=\s*(?:"[^"]*"|[^;,]*))?)*)')
    param = re.compile(r'\s*;\s*([^;,=\s]+)\s*(?:=\s*("[^"]*"|[^;,]*))?')
    for value in values:
        for match in link.finditer(value):
            for name, raw in param.findall(match.group(2)):
                if name.lower() == "rel" and "next" in raw.strip().strip('"').lower().split():
                    target: str = urllib.parse.urljoin(base, match.group(1).strip())
                    return target
    return None


class Pages:
    """One upstream collection, paged its own way; `fill` makes one platform page of it.

        async with HTTPClient(base_url, bearer_token=token) as client:
            users, page = await Pages.offset(client, "/users", items="users").fill(request)
        return ListAccountsResponse(response=[to_account(u) for u in users], page=page)

    Build one with a dialect (`offset`, `page_number`, `cursor`, `link`, `scim`,
    `from_list`) or with your own ``fetch(position) -> UpstreamPage``. Upstream
    errors raise as usual (`HTTPStatusError` ...); a body without the expected
    list is `invalid_response`; a loop is `bad_gateway`. ``async for item in
    pages`` walks the whole collection.
    """

    __slots__ = ("fetch", "name", "start")

    def __init__(
        self,
        fetch: Callable[[Position], Awaitable[UpstreamPage]],
        *,
        start: Position = None,
        name: str = "the upstream",
    ) -> None:
        self.fetch = fetch
        self.start = start
        self.name = name

    def __repr__(self) -> str:
        return f"<Pages {self.name}>"

    # -- dialects

    @classmethod
    def offset(
        cls,
        client: "HTTPClient",
        url: str,
        *,
        items: str | None = "items",
        size: int = 100,
        offset_param: str = "offset",
        size_param: str = "limit",
        total: str | None = None,
        params: "_QueryParams | None" = None,
    ) -> "Pages":
        """``?offset=0&limit=100``, then 100, 200 ... until an empty page (or `total`, the
        body's field with the item count, is reached). A server that caps `limit` lower
        is fine: the next offset counts the items actually returned.

        Pages.offset(client, "/users", items="data.users", total="data.total")
        """
        where = f"GET {_path_of(url)}"

        async def fetch(at: Position) -> UpstreamPage:
            offset = _int_position(at, 0)
            query = _params(params, (offset_param, offset), (size_param, size))
            body, _ = await _get_json(client, url, query)
            found = _items_at(body, items, where)
            end = offset + len(found)
            done = not found or (total is not None and end >= _int_at(body, total, where))
            return UpstreamPage(found, None if done else end)

        return cls(fetch, start=0, name=where)

    @classmethod
    def page_number(
        cls,
        client: "HTTPClient",
        url: str,
        *,
        items: str | None = "items",
        size: int | None = 100,
        page_param: str = "page",
        size_param: str = "per_page",
        first: int = 1,
        total_pages: str | None = None,
        params: "_QueryParams | None" = None,
    ) -> "Pages":
        """``?page=1&per_page=100``, then 2, 3 ... until an empty page (or the body's
        `total_pages` field says that was the last one).

        Pages.page_number(client, "/users", items="users", total_pages="meta.pages")
        """
        where = f"GET {_path_of(url)}"

        async def fetch(at: Position) -> UpstreamPage:
            number = _int_position(at, first)
            extra: list[tuple[str, _QueryValue]] = [(page_param, number)]
            if size is not None:
                extra.append((size_param, size))
            body, _ = await _get_json(client, url, _params(params, *extra))
            found = _items_at(body, items, where)
            last = total_pages is not None and number >= _int_at(body, total_pages, where)
            return UpstreamPage(found, None if not found or last else number + 1)

        return cls(fetch, start=first, name=where)

    @classmethod
    def cursor(
        cls,
        client: "HTTPClient",
        url: str,
        *,
        items: str | None = "items",
        next_cursor: str | Callable[[Any], str | int | None] = "next_cursor",
        cursor_param: str = "cursor",
        params: "_QueryParams | None" = None,
    ) -> "Pages":
        """A cursor in the body: the first request without `cursor_param`, each next one
        with the cursor found at `next_cursor` (a dotted path, or a function of the
        body); a missing, null or empty cursor ends the walk.

        Pages.cursor(client, "/users.list", items="members",
                     next_cursor="response_metadata.next_cursor", params={"limit": 200})
        """
        where = f"GET {_path_of(url)}"

        async def fetch(at: Position) -> UpstreamPage:
            query = _params(params) if at is None else _params(params, (cursor_param, at))
            body, _ = await _get_json(client, url, query)
            found = _items_at(body, items, where)
            if callable(next_cursor):
                following = next_cursor(body)
            else:
                following = body
                for part in next_cursor.split("."):
                    following = following.get(part) if isinstance(following, dict) else None
            if following is not None and not isinstance(following, (str, int)):
                raise ConnectorError(
                    f"{where} answered a cursor that is not a string", ErrorCode.INVALID_RESPONSE
                )
            return UpstreamPage(found, following if following not in (None, "") else None)

        return cls(fetch, name=where)

    @classmethod
    def link(
        cls,
        client: "HTTPClient",
        url: str,
        *,
        items: str | None = None,
        params: "_QueryParams | None" = None,
    ) -> "Pages":
        """``Link: <...>; rel="next"`` headers (RFC 8288), as GitHub and Okta send them: the
        first request is `url` with `params`, each next one the next link. The body is
        the list (or has it at `items`). A next link to another host is refused, so a
        token can never send the client's credentials elsewhere.

        Pages.link(client, "/orgs/acme/members", params={"per_page": 100})
        """
        import urllib.parse

        first = client.build_request("GET", url, params=params).url
        parts = urllib.parse.urlsplit(first)
        origin = f"{parts.scheme}://{parts.netloc}"
        where = f"GET {parts.path or '/'}"

        async def fetch(at: Position) -> UpstreamPage:
            if at is None:
                body, response = await _get_json(client, url, params)
            else:
                if not isinstance(at, str) or not at.startswith("/"):
                    raise InvalidPageTokenError("Invalid page token: not a link of this upstream")
                body, response = await _get_json(client, origin + at, None)
            found = _items_at(body, items, where)
            base = response.request.url if response.request is not None else first
            target = _link_next(response.headers.get_list("link"), base)
            if target is None:
                return UpstreamPage(found, None)
            split = urllib.parse.urlsplit(target)
            if f"{split.scheme}://{split.netloc}" != origin:
                raise ConnectorError(
                    f"{where} answered a next link to another host", ErrorCode.INVALID_RESPONSE
                )
            relative = urllib.parse.urlunsplit(("", "", split.path or "/", split.query, ""))
            return UpstreamPage(found, relative)

        return cls(fetch, name=where)

    @classmethod
    def scim(
        cls,
        client: "HTTPClient",
        url: str,
        *,
        size: int = 100,
        params: "_QueryParams | None" = None,
    ) -> "Pages":
        """SCIM 2.0 list responses (RFC 7644 §3.4.2.4): ``?startIndex=1&count=100``, the
        items in `Resources`, until `totalResults` is reached or a page comes back empty.

        Pages.scim(client, "/scim/v2/Users", params={"filter": 'active eq true'})
        """
        where = f"GET {_path_of(url)}"

        async def fetch(at: Position) -> UpstreamPage:
            start = _int_position(at, 1)
            body, _ = await _get_json(
                client, url, _params(params, ("startIndex", start), ("count", size))
            )
            total = _int_at(body, "totalResults", where)
            # "Resources" is REQUIRED only when totalResults is non-zero (§3.4.2).
            found = _items_at(body, "Resources", where) if "Resources" in body or total else []
            end = start + len(found)
            return UpstreamPage(found, None if not found or end > total else end)

        return cls(fetch, start=1, name=where)

    @classmethod
    def from_list(cls, items: Sequence[Any], *, name: str = "the list") -> "Pages":
        """Items already in memory, as one upstream page (an API that returns everything).

        accounts, page = await Pages.from_list(everyone).fill(request)
        """

        async def fetch(at: Position) -> UpstreamPage:
            return UpstreamPage(items)

        return cls(fetch, name=name)

    # -- platform pages

    async def fill(
        self,
        request: Any,
        *,
        capability: str | None = None,
        key: bytes | str | None = None,
        default_size: int = 100,
        max_pages: int | None = 100,
    ) -> tuple[list[Any], Page | None]:
        """One platform page: ``items, page = await pages.fill(request)``.

        `request` is the capability's request (or its `Page`, then with `capability=`);
        its `page.size` items (`default_size` without one) starting where its
        `page.token` says, and the next `Page`, None at the end. `key` signs tokens
        with HMAC-SHA256; `max_pages` caps the upstream requests of this one call.
        """
        page, size, tokens = _page_setup(request, capability, key, default_size)
        stack = tokens.decode(page.token)
        if stack is None:
            stack = [_WalkState(at=self.start)]
        elif len(stack) != 1:
            raise tokens._invalid("it belongs to a nested walk")
        walk = _Walk(max_pages)
        found, resume = await _fill(walk, self, stack[0], size)
        _check_progress(walk, found, self, max_pages)
        return found, None if resume is None else Page(token=tokens.encode([resume]), size=size)

    async def fill_nested(
        self,
        request: Any,
        inner: Callable[[Any], "Pages"],
        *,
        capability: str | None = None,
        key: bytes | str | None = None,
        default_size: int = 100,
        max_pages: int | None = 100,
    ) -> tuple[list[tuple[Any, Any]], Page | None]:
        """One platform page of (parent, child) pairs: each item of this collection,
        then each item of ``inner(parent)``; a page may stop inside any parent.

            pairs, page = await groups.fill_nested(request, lambda g: members_of(g["id"]))

        The token holds the stack (this walk's position, the parent's); the options
        are those of `fill`, `max_pages` counting the requests of both levels.
        """
        page, size, tokens = _page_setup(request, capability, key, default_size)
        stack = tokens.decode(page.token)
        if stack is None:
            stack = [_WalkState(at=self.start)]
        elif len(stack) not in (1, 2):
            raise tokens._invalid("it is not a position of a nested walk")
        outer, child = stack[0], (stack[1] if len(stack) == 2 else None)
        walk = _Walk(max_pages)
        out: list[tuple[Any, Any]] = []
        seen = {_position_hash(outer.at)}
        resume: list[_WalkState] | None = None
        while resume is None:
            upstream = await walk.fetch(self, outer.at)
            if upstream is None:
                resume = [outer]
                break
            parents = upstream.items
            for index in range(outer.skip, len(parents)):
                here = msgspec.structs.replace(outer, skip=index)
                if len(out) == size or walk.exhausted:
                    resume = [here]
                    break
                members = inner(parents[index])
                start = child or _WalkState(at=members.start)
                got, child = await _fill(walk, members, start, size - len(out))
                out.extend((parents[index], item) for item in got)
                if child is not None:
                    resume = [here, child]
                    break
            if resume is not None:
                break
            child = None  # a parent that vanished since the token was issued
            if upstream.next is None:
                break
            outer = _advance(self, outer, upstream.next, seen)
            if len(out) == size:
                resume = [outer]
        _check_progress(walk, out, self, max_pages)
        return out, None if resume is None else Page(token=tokens.encode(resume), size=size)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._every_item()

    async def _every_item(self) -> AsyncIterator[Any]:
        pos = _WalkState(at=self.start)
        seen = {_position_hash(pos.at)}
        while True:
            page = await self.fetch(pos.at)
            for item in page.items:
                yield item
            if page.next is None:
                return
            pos = _advance(self, pos, page.next, seen)


def _page_setup(
    request: Any, capability: str | None, key: bytes | str | None, default_size: int
) -> tuple[Page, int, PageToken[list[_WalkState]]]:
    """The request's page, its size, and the walk tokens of its capability."""
    page = request if isinstance(request, Page) else get_page(request)
    size = default_size if page.size is None else page.size
    if size < 1:
        raise ConnectorError("Page size must be at least 1", ErrorCode.BAD_REQUEST)
    if capability is None:
        for cls in type(request).__mro__:
            if cls in _CAPABILITY_BY_REQUEST:
                capability = _CAPABILITY_BY_REQUEST[cls]
                break
        else:
            raise TypeError(
                f"Cannot tell the capability of a {type(request).__name__}: pass capability="
            )
    return page, size, _walk_tokens(str(capability), key)


def _check_progress(walk: _Walk, found: list[Any], pages: Pages, max_pages: int | None) -> None:
    if walk.exhausted and not found:
        raise UpstreamError(
            f"Upstream pagination made no progress: {pages.name} answered {max_pages} "
            "pages without an item; it may be looping (or raise max_pages)",
            retryable=False,
        )


def _int_at(body: Any, path: str, where: str) -> int:
    value = _pluck(body, path, where, "a count")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConnectorError(
            f"{where} answered a `{path}` that is not an integer", ErrorCode.INVALID_RESPONSE
        )
    return value


def _int_position(at: Position, first: int) -> int:
    if at is None:
        return first
    if isinstance(at, bool) or not isinstance(at, int) or at < 0:
        raise InvalidPageTokenError("Invalid page token: not a position of this upstream")
    return at


def _path_of(url: str) -> str:
    import urllib.parse

    return urllib.parse.urlsplit(url).path or "/"


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
    if given.get(member) is None:  # a wrong member given instead already says what it takes
        return problems or [f"`{member}` is missing"]
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
# messages name the method, the origin (scheme://host:port) and the URL path
# only: never the query string, userinfo, a header or a body, where
# credentials travel. An upstream's own explanation of an error status is
# added to the *envelope* by `_prefill`, scrubbed and clipped.
#
# What one `HTTPClient.send` does:
#   1. resolves its environment (`_Env`): the transport (the client's own, the
#      integration's `http_transport`, else a connection pool shared by the
#      integration's clients on this event loop), sleep, clock, the rate
#      limiter, and the dispatch in progress (its deadline and limiter seeds);
#   2. waits as the limiter says (Retry-After, RateLimit headers, its own
#      requests-per-window), never past the dispatch's deadline
#      (-> budget_exhausted) nor longer than `max_retry_wait` (-> rate_limit);
#   3. sends one attempt within `deadline` and a concurrency slot;
#   4. feeds the response headers to the limiter;
#   5. retries a 429 (any method: it was not processed) or a 503 (idempotent
#      methods only), back at 2.

_QueryValue: TypeAlias = str | int | float | bool | None
# A mapping (a list value repeats the key) or a sequence of pairs; also form data.
_QueryParams: TypeAlias = (
    Mapping[str, _QueryValue | Sequence[_QueryValue]] | Sequence[tuple[str, _QueryValue]]
)
_HeaderInput: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]

_HTTP_JSON_ENCODER: Final = msgspec.json.Encoder()
# No JSON body (None is a JSON value, so it cannot mean "absent").
_NO_JSON: Final[Any] = object()
# RFC 9110 §9.2.2: safe to repeat. POST and PATCH are not retried on a 503; a
# 429 is retried for every method (RFC 6585 §4: the request was not processed).
_IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Wait between retries when the server sends no usable Retry-After.
_RETRY_BACKOFF: Final = 0.5
_USER_AGENT: Final = "microconnector"
# Statuses whose body is empty by definition (RFC 9110 §15.3.5, §15.3.6, §15.4.5).
_EMPTY_STATUSES: Final = frozenset({204, 205, 304})
# Client-level default headers that describe a body: left off bodyless requests.
_BODY_HEADERS: Final = frozenset({"content-type", "content-encoding", "content-length"})
# An upstream explanation in an error envelope: at most this many characters.
_DETAIL_MAX: Final = 300
# Where an error body keeps its explanation, most specific first (RFC 7807 and
# SCIM `detail`, most APIs' `message`, OAuth's `error_description`, nested
# `error.message` / `errors[0].message`, RFC 7807 `title`, a bare `error`).
_DETAIL_FIELDS: Final = (
    ("detail",),
    ("message",),
    ("error_description",),
    ("error", "message"),
    ("errors", 0, "message"),
    ("title",),
    ("error",),
)
# Waits shorter than this are not worth a sleep (clock granularity).
_MIN_WAIT: Final = 0.01


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

    def json(self) -> Any:
        """The body decoded as JSON (None when there is none): for test assertions."""
        return msgspec.json.decode(self.content) if self.content else None

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
        except (LookupError, UnicodeError):  # unknown, or a codec like idna that refuses
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body decoded as JSON; None for an empty body (204, 205, 304,
        ``Content-Length: 0``, HEAD); `ConnectorError(invalid_response)` if it is not JSON."""
        if not self.content and (
            self.status_code in _EMPTY_STATUSES
            or self.headers.get("content-length", "").strip() == "0"
            or (self.request is not None and self.request.method == "HEAD")
        ):
            return None
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

    Carries `.request` and `.response`, so the classifier turns the upstream
    status into an `ErrorCode` (404 -> not_found, 429 -> rate_limit, ...).
    ``str(e)`` names method and path only; `.detail` is the upstream's own
    explanation (a recognised JSON field, an HTML page's title, short text),
    `.upstream_code` a SCIM ``scimType``. The error envelope carries both.
    """

    def __init__(self, message: str, *, request: Request | None, response: Response) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.response = response

    @property
    def detail(self) -> str | None:
        return _upstream_detail_of(self)[0]

    @property
    def upstream_code(self) -> str | None:
        return _upstream_detail_of(self)[1]


def _upstream_detail_of(exc: BaseException) -> tuple[str | None, str | None]:
    """(explanation, scimType) of an upstream error response (ours or httpx's), unclipped.

    ConnectorErrors carry their own message (OAuthError's deliberately leaves
    out what the provider said), so only foreign status errors are read.
    """
    if isinstance(exc, ConnectorError):
        return None, None
    try:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        content = getattr(response, "content", None)
        headers = getattr(response, "headers", None)
        if not (isinstance(status, int) and status >= 400 and isinstance(content, bytes)):
            return None, None
        kind = headers.get("content-type", "") if headers is not None else ""
        return _upstream_detail(content, kind if isinstance(kind, str) else "")
    except Exception:  # a foreign response object that misbehaves: no detail
        return None, None


def _upstream_detail(content: bytes, content_type: str) -> tuple[str | None, str | None]:
    """What an error body says: a recognised JSON field, an HTML summary or short text."""
    if not content:
        return None, None
    kind = content_type.partition(";")[0].strip().lower()
    head = content[:256].lstrip()
    if "json" in kind or head[:1] in (b"{", b"["):
        try:
            return _json_detail(msgspec.json.decode(content))
        except msgspec.DecodeError:
            pass
    text = content[:65536].decode("utf-8", errors="replace")
    if "html" in kind or head[:1] == b"<":
        return _html_summary(text), None
    if kind and not kind.startswith("text/"):
        return None, None  # binary, or a format we do not read
    return (" ".join(text.split()) or None), None


def _json_detail(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, list) and body:
        body = body[0]  # some APIs answer a list of errors
    if not isinstance(body, dict):
        return None, None
    detail = None
    for path in _DETAIL_FIELDS:
        value: Any = body
        for step in path:
            if isinstance(step, int):
                value = value[step] if isinstance(value, list) and len(value) > step else None
            else:
                value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, str) and value.strip():
            detail = value
            break
    scim_type = body.get("scimType")
    upstream_code = scim_type if isinstance(scim_type, str) and scim_type.strip() else None
    return detail, upstream_code


def _html_summary(text: str) -> str:
    import re

    match = re.search(r"<title[^>]*>(.*?)</title", text, re.IGNORECASE | re.DOTALL)
    title = " ".join(match.group(1).split()) if match else ""
    return f"an HTML page titled {title!r}" if title else "an HTML page"


def _clip_detail(text: str) -> str:
    """An upstream explanation fit for a message: one line, printable, tokens
    redacted, at most `_DETAIL_MAX` characters."""
    import re

    text = "".join(ch for ch in " ".join(text.split()) if ch.isprintable())
    # Token-shaped words the upstream echoed, which no request secret may match.
    text = re.sub(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]{6,}", rf"\1 {_REDACTED}", text)
    text = re.sub(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*", _REDACTED, text)
    if len(text) > _DETAIL_MAX:
        text = text[: _DETAIL_MAX - 1].rstrip() + "\u2026"
    return text


# Raising strategy: the client catches httpcore's exceptions at exactly one
# place (`HTTPClient._send_once`) and re-raises the matching class below with
# `raise ... from exc`. These are ConnectorErrors, so the error chain keeps
# their code; their messages are fixed text plus method, origin and path.


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
    return cls(f"{text} for {_shown(request)}", request=request)


def _shown(request: Request) -> str:
    """`GET https://host:443/path`: what transport messages name (no query, no userinfo)."""
    return f"{request.method} {_url_origin(request.url)}{request.path}"


def _url_origin(url: str) -> str:
    """scheme://host:port of `url`, the port always written; "" when it has none."""
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    host = parts.hostname or ""
    if not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    port = port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _propagates(exc: BaseException) -> bool:
    """True for an exception a MockTransport handler raised (a failing test
    assertion, say): the error chain lets it through to the test."""
    return getattr(exc, "_connector_propagate", False) is True


class _Transport(Protocol):
    async def handle(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...


_Handler: TypeAlias = Callable[[Request], "Response | Awaitable[Response]"]


class MockRoute:
    """One answer of a `MockTransport`: what it matches, what it answers, who called it."""

    def __init__(
        self,
        method: str,
        path: str,
        answer: "Response | Sequence[Response] | _Handler",
        *,
        params: _QueryParams | None = None,
        json: Any = _NO_JSON,
        content: bytes | None = None,
    ) -> None:
        self.method = method.upper()
        self.path = path
        self.answer = answer
        self.params = _query_pairs(params)
        self.json = json
        self.content = content
        self.calls: list[Request] = []

    @property
    def called(self) -> bool:
        return bool(self.calls)

    def matches(self, request: Request) -> bool:
        """Method, path (`*` a wildcard; a full URL compares origin and path too),
        then each given query pair, the JSON body or the raw body."""
        import fnmatch

        if self.method not in ("*", request.method):
            return False
        where = request.path
        if "://" in self.path:
            where = _url_origin(request.url) + request.path
            want = self.path if "*" in self.path else _url_origin(self.path) + _path_of(self.path)
        else:
            want = self.path
        if not (fnmatch.fnmatchcase(where, want) if "*" in want else where == want):
            return False
        if self.params:
            given = request.params
            if any(pair not in given for pair in self.params):
                return False
        if self.json is not _NO_JSON:
            try:
                if request.json() != self.json:
                    return False
            except msgspec.DecodeError:
                return False
        return self.content is None or request.content == self.content

    async def respond(self, request: Request) -> Response:
        self.calls.append(request)
        answer = self.answer
        if isinstance(answer, Response):
            return answer
        if isinstance(answer, Sequence):
            # In order, then the last one again.
            return answer[min(len(self.calls), len(answer)) - 1]
        result = answer(request)
        return result if isinstance(result, Response) else await result

    def __repr__(self) -> str:
        return f"<MockRoute {self.method} {self.path}: {len(self.calls)} call(s)>"


class MockTransport:
    """Answer requests in-process, with no sockets.

        transport = MockTransport()
        transport.add("GET", "/v2/Users", Response(200, json={"Resources": []}))
        transport.add("POST", "/v2/Users", handler, json={"userName": "ada"})
        integration.configure_http(transport=transport)
        ...
        transport.assert_all_called()

    A request goes to the first route that matches it, else to `handler`
    (``MockTransport(handler)``, the older spelling), else fails the test.
    Every request is kept in `.requests`. A handler may raise httpcore's
    exceptions (or a ConnectorError) to act out network failures; any other
    exception it raises - a failing assertion - is not turned into an error
    envelope: it propagates out of `dispatch` to the test, and is raised again
    by `assert_all_called()` in case the capability swallowed it.
    """

    def __init__(self, handler: _Handler | None = None) -> None:
        self.handler = handler
        self.routes: list[MockRoute] = []
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []

    def add(
        self,
        method: str,
        path: str,
        answer: "Response | Sequence[Response] | _Handler",
        *,
        params: _QueryParams | None = None,
        json: Any = _NO_JSON,
        content: bytes | None = None,
    ) -> MockRoute:
        """Adds a route: `answer` is a Response, a list answered in order, or a handler.

        transport.add("GET", "/users", Response(200, json=[]), params={"page": 2})
        """
        route = MockRoute(method, path, answer, params=params, json=json, content=content)
        self.routes.append(route)
        return route

    async def handle(self, request: Request) -> Response:
        self.requests.append(request)
        try:
            route = next((r for r in self.routes if r.matches(request)), None)
            if route is not None:
                response = await route.respond(request)
            elif self.handler is not None:
                result = self.handler(request)
                response = result if isinstance(result, Response) else await result
            else:
                known = "; ".join(f"{r.method} {r.path}" for r in self.routes) or "none"
                raise AssertionError(
                    f"MockTransport: no route for {request.method} {request.url} (routes: {known})"
                )
            if not isinstance(response, Response):
                raise AssertionError(
                    f"MockTransport: the answer to {request.method} {request.path} is "
                    f"{type(response).__name__}, not a Response"
                )
        except Exception as exc:
            if not (isinstance(exc, ConnectorError) or _transport_entry(exc) is not None):
                self.errors.append(exc)
                if hasattr(exc, "__dict__"):
                    exc._connector_propagate = True  # type: ignore[attr-defined]
            raise
        if response.request is None:
            response.request = request
        return response

    def assert_all_called(self) -> None:
        """Raises the first exception a handler raised, then fails for any route never called."""
        if self.errors:
            raise self.errors[0]
        unused = [f"{r.method} {r.path}" for r in self.routes if not r.calls]
        if unused:
            raise AssertionError(f"MockTransport: routes never called: {', '.join(unused)}")

    async def aclose(self) -> None:
        return None


# ---- Connection pools and rate limits, per integration and event loop ------
# `Integration` keeps one `_LoopHTTP` per running event loop: the httpcore pools
# (one per TLS/proxy setting) and the rate limiters (one per upstream id) that
# all its HTTPClients share there. A loop is the unit because pools and
# semaphores belong to the loop that made them; a CLI call runs one loop and
# closes it, a server runs one for its lifetime and closes it on shutdown.


class _PoolKey(typing.NamedTuple):
    verify: bool | str
    ssl_context: Any
    proxy: str | None


class _LoopHTTP:
    __slots__ = ("limiters", "pools")

    def __init__(self) -> None:
        self.pools: dict[_PoolKey, httpcore.AsyncConnectionPool | httpcore.AsyncHTTPProxy] = {}
        self.limiters: dict[str, _Limiter] = {}

    def pool(self, key: _PoolKey) -> "httpcore.AsyncConnectionPool | httpcore.AsyncHTTPProxy":
        pool = self.pools.get(key)
        if pool is None:
            pool = self.pools[key] = _new_pool(key)
        return pool

    async def aclose(self) -> None:
        pools, self.pools = list(self.pools.values()), {}
        for pool in pools:
            await pool.aclose()


def _loop_key() -> object:
    import anyio.lowlevel

    return anyio.lowlevel.current_token().native_token


# httpcore's own DEBUG records repr requests and responses: header values,
# URLs with their query strings. Every record of its loggers passes this
# filter, which rewrites the message with those parts redacted.
_HTTPCORE_LOGGERS: Final = tuple(
    f"httpcore.{name}"
    for name in ("connection", "connection_pool", "http11", "http2", "proxy", "socks")
)
_SENSITIVE_HEADER = r"(?:[\w-]*(?:auth|cookie|token|key|secret|session|signature)[\w-]*)"


@functools.cache
def _quiet_third_party_logs() -> None:
    """Keeps secrets out of the records of the libraries the client drives (once)."""
    import logging
    import re

    header = re.compile(rf"(\(b?['\"]{_SENSITIVE_HEADER}['\"],\s*b?)(['\"]).*?\2\)", re.IGNORECASE)
    query = re.compile(r"(\?)[^\s'\"<>)]+")
    scheme = re.compile(r"\b(Basic|Bearer|Token|Digest)\s+[\w.~+/=-]+", re.IGNORECASE)
    userinfo = re.compile(r"(//)[^/@\s'\"]+@")

    def redact(record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        text = header.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]{m.group(2)})", text)
        text = scheme.sub(
            r"\1 [redacted]", userinfo.sub(r"\1[redacted]@", query.sub(r"\1[redacted]", text))
        )
        record.msg, record.args = text, None
        return True

    for name in _HTTPCORE_LOGGERS:
        logging.getLogger(name).addFilter(redact)


def _new_pool(key: _PoolKey) -> "httpcore.AsyncConnectionPool | httpcore.AsyncHTTPProxy":
    import httpcore

    _quiet_third_party_logs()

    context = key.ssl_context
    if context is None and key.verify is not True:
        context = _ssl_context(key.verify)
    if key.proxy:
        return httpcore.AsyncHTTPProxy(proxy_url=key.proxy, ssl_context=context)
    return httpcore.AsyncConnectionPool(ssl_context=context)


def _ssl_context(verify: bool | str) -> Any:
    """An SSLContext for `verify`: False trusts any certificate; a path is a CA bundle
    (a file) or a directory of CA certificates."""
    import os
    import ssl

    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str) and os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=typing.cast(str, verify))


async def _pool_request(
    pool: "httpcore.AsyncConnectionPool | httpcore.AsyncHTTPProxy",
    request: Request,
    timeouts: dict[str, float | None],
    limit: int | None = None,
) -> Response:
    """Sends `request`; reads the body as it streams, ending past `limit` bytes."""
    async with pool.stream(
        request.method,
        request.url,
        headers=request.headers.multi_items(),
        content=request.content or None,
        extensions={"timeout": timeouts},
    ) as raw:
        chunks: list[bytes] = []
        size = 0
        async for chunk in raw.aiter_stream():
            size += len(chunk)
            if limit is not None and size > limit:
                raise _too_large(request, limit)
            chunks.append(chunk)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw.headers]
    return Response(raw.status, headers=headers, content=b"".join(chunks), request=request)


class ResponseTooLarge(TransportError):
    """The upstream's body passed the client's `max_response_bytes`."""

    default_code = ErrorCode.INVALID_RESPONSE


def _too_large(request: Request, limit: int) -> ResponseTooLarge:
    message = f"Response to {_shown(request)} is larger than max_response_bytes ({limit})"
    return ResponseTooLarge(message, request=request)


class _HTTPCoreTransport:
    """The real network, through one lazily built httpcore connection pool of its own."""

    def __init__(
        self, timeouts: dict[str, float | None], key: _PoolKey, limit: int | None = None
    ) -> None:
        self._timeouts = timeouts
        self._key = key
        self._limit = limit
        self._pool: httpcore.AsyncConnectionPool | httpcore.AsyncHTTPProxy | None = None

    async def handle(self, request: Request) -> Response:
        if self._pool is None:
            self._pool = _new_pool(self._key)
        return await _pool_request(self._pool, request, self._timeouts, self._limit)

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.aclose()


def _timeouts(connect: float | None, read: float | None) -> dict[str, float | None]:
    return {"connect": connect, "read": read, "write": read, "pool": connect}


class RateLimitPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """A client-side limit: at most `requests` per `window_seconds`, at most
    `max_concurrency` requests in flight. Either may be None (no limit).

    integration.http_client(url, rate_limit=RateLimitPolicy(requests=600, window_seconds=60))
    """

    requests: int | None = None
    window_seconds: float = 1.0
    max_concurrency: int | None = None


class _Limiter:
    """What is known of one upstream's limits: from its headers (`observe`), from
    our own count of requests (`record`), from a previous call (`seed`)."""

    __slots__ = (
        "blocked_until",
        "capacity",
        "config_id",
        "limit",
        "policy",
        "remaining",
        "reset_at",
        "sent",
        "source",
        "window",
    )

    def __init__(self, config_id: str, policy: RateLimitPolicy | None) -> None:
        import collections

        self.config_id = config_id
        self.policy = policy or RateLimitPolicy()
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset_at: float | None = None  # epoch seconds
        self.window: float | None = None
        self.blocked_until = 0.0  # epoch seconds, from Retry-After
        self.source: RateLimitStateSnapshotSource | None = None
        self.sent: collections.deque[float] = collections.deque()
        self.capacity: Any = None  # anyio.CapacityLimiter, made on first use

    def slot(self) -> Any:
        """The concurrency limiter, or None when concurrency is not limited."""
        if self.policy.max_concurrency is None:
            return None
        if self.capacity is None:
            import anyio

            self.capacity = anyio.CapacityLimiter(self.policy.max_concurrency)
        return self.capacity

    def wait(self, now: float) -> float:
        """Seconds until the next request may go."""
        wait = self.blocked_until - now
        if self.reset_at is not None:
            if now >= self.reset_at:
                self.remaining = self.reset_at = None  # a new window: unknown again
            elif self.remaining is not None and self.remaining <= 0:
                wait = max(wait, self.reset_at - now)
        requests = self.policy.requests
        if requests is not None:
            window = self.policy.window_seconds
            while self.sent and self.sent[0] <= now - window:
                self.sent.popleft()
            if len(self.sent) >= requests:
                wait = max(wait, self.sent[-requests] + window - now)
        return max(wait, 0.0)

    def record(self, now: float) -> None:
        if self.policy.requests is not None:
            self.sent.append(now)
        if self.remaining is not None:
            self.remaining -= 1

    def observe(self, response: Response, now: float) -> None:
        """Learns from a response's headers: Retry-After on 429/503, and the
        RateLimit-*, X-RateLimit-* and X-Rate-Limit-* (Okta) families."""
        headers = response.headers
        if response.status_code in (429, 503):
            wait = _retry_after(headers.get("retry-after"), now)
            if wait is not None:
                self.blocked_until = max(self.blocked_until, now + wait)
                self.source = RateLimitStateSnapshotSource.API_HEADERS
        seen = _rate_limit_headers(headers, now)
        if seen is None:
            return
        limit, remaining, reset_at, window = seen
        self.limit = limit if limit is not None else self.limit
        self.remaining = remaining
        if reset_at is not None or remaining is not None:
            self.reset_at = reset_at
        self.window = window if window is not None else self.window
        self.source = RateLimitStateSnapshotSource.API_HEADERS
        if response.status_code == 429 and self.remaining is None:
            self.remaining = 0  # throttled without a count: wait for the reset

    def seed(self, snapshot: RateLimitStateSnapshot, now: float) -> None:
        """Takes a previous call's state (`rate_limit.last_known_state`) unless
        this limiter knows a later window already."""
        reset = snapshot.reset
        if reset is None or reset <= now:
            return  # that window is over: nothing left to know
        if self.reset_at is not None and self.reset_at >= reset:
            return
        self.limit = snapshot.limit if snapshot.limit is not None else self.limit
        self.remaining = snapshot.remaining
        self.reset_at = float(reset)
        if snapshot.window_seconds is not None:
            self.window = float(snapshot.window_seconds)
        self.source = snapshot.source or RateLimitStateSnapshotSource.API_HEADERS

    def snapshot(self, now: float) -> RateLimitStateSnapshot:
        """The state for the response envelope's `rate_limit.current_state`."""
        delay = math.ceil(self.wait(now))
        if self.source is not None:
            return RateLimitStateSnapshot(
                remaining=self.remaining,
                limit=self.limit,
                reset=math.ceil(self.reset_at) if self.reset_at is not None else None,
                window_seconds=_whole(self.window or self._policy_window()),
                current_delay=delay,
                source=self.source,
            )
        requests = self.policy.requests
        return RateLimitStateSnapshot(
            remaining=None if requests is None else max(requests - len(self.sent), 0),
            limit=requests,
            reset=(
                math.ceil(self.sent[0] + self.policy.window_seconds)
                if self.sent and requests is not None
                else None
            ),
            window_seconds=_whole(self._policy_window()),
            current_delay=delay,
            source=RateLimitStateSnapshotSource.SDK_COUNTER,
        )

    def _policy_window(self) -> float | None:
        return self.policy.window_seconds if self.policy.requests is not None else None


def _whole(seconds: float | None) -> int | None:
    return None if seconds is None else math.ceil(seconds)


# Header families, in the order they are believed when several are present: the
# IETF draft's, the common X- one (GitHub, Twitter, ...), Okta's.
_RATE_LIMIT_PREFIXES: Final = ("ratelimit-", "x-ratelimit-", "x-rate-limit-")
_ONE_DAY: Final = 86400.0


def _rate_limit_headers(
    headers: Headers, now: float
) -> tuple[int | None, int | None, float | None, float | None] | None:
    """(limit, remaining, reset as epoch seconds, window seconds) from the first
    header family present, or None when there is none."""
    window = _policy_window(headers.get("ratelimit-policy") or headers.get("x-ratelimit-policy"))
    combined = headers.get("ratelimit")  # draft-ietf-httpapi-ratelimit-headers-07+
    if combined is not None:
        fields = _structured_params(combined)
        if "r" in fields or "remaining" in fields:
            remaining = _int(fields.get("r", fields.get("remaining")))
            reset = _reset_epoch(fields.get("t", fields.get("reset")), now, delta_only=True)
            return _int(fields.get("limit")), remaining, reset, window
    for prefix in _RATE_LIMIT_PREFIXES:
        limit = _int(headers.get(prefix + "limit"))
        remaining = _int(headers.get(prefix + "remaining"))
        if limit is None and remaining is None:
            continue
        # The IETF draft's reset is always delta-seconds; the X- families vary.
        reset = _reset_epoch(headers.get(prefix + "reset"), now, delta_only=prefix == "ratelimit-")
        return limit, remaining, reset, window
    return None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        # "100, 100;w=60" (the draft's list form): the first item counts.
        return int(float(value.split(",")[0].split(";")[0].strip()))
    except ValueError:
        return None


def _reset_epoch(value: str | None, now: float, *, delta_only: bool = False) -> float | None:
    """A reset header value as epoch seconds.

    Epoch milliseconds (>= 1e11), epoch seconds (>= 1e9) and deltas are told
    apart by size; a delta is seconds, unless it is over a day and whole, when
    it is milliseconds (no window is that long, but 90000 ms is 90 s).
    """
    if value is None:
        return None
    try:
        number = float(value.split(",")[0].strip())
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    if not delta_only:
        if number >= 1e11:
            return max(number / 1000.0, now)
        if number >= 1e9:
            return max(number, now)
    if number > _ONE_DAY and number.is_integer():
        number /= 1000.0
    return now + number


def _policy_window(value: str | None) -> float | None:
    """`w` of a RateLimit-Policy header ("100;w=60"), in seconds."""
    if not value:
        return None
    for part in value.split(",")[0].split(";")[1:]:
        name, _, number = part.strip().partition("=")
        if name.strip() == "w":
            try:
                return float(number)
            except ValueError:
                return None
    return None


def _structured_params(value: str) -> dict[str, str]:
    # `"default";r=50;t=30` or `limit=100, remaining=50, reset=30`
    out: dict[str, str] = {}
    for part in value.replace(",", ";").split(";"):
        name, sep, number = part.strip().partition("=")
        if sep:
            out[name.strip().lower()] = number.strip()
    return out


class _Env(typing.NamedTuple):
    """What one `send` runs with (step 1 of the flow above)."""

    handle: Callable[[Request], Awaitable[Response]]
    sleep: Callable[[float], Awaitable[object]]
    clock: Callable[[], float]
    limiter: _Limiter
    call: _Call | None
    limits: bool  # the caller's mode lets the limiter hold requests back
    retries: bool  # ... and lets 429/503 be retried


DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024


@functools.cache
def _http_installed() -> bool:
    """Whether httpcore and anyio can be imported (looked up once)."""
    return _importable("httpcore") and _importable("anyio")


class HTTPClient:
    """An async HTTP client for a connector's upstream API.

        client = integration.http_client("https://api.example.com/v2", bearer_token=token)
        users = (await client.get("/users", params={"page": 2})).raise_for_status().json()

    Made by `integration.http_client(...)` (or constructed inside a capability),
    it shares the integration's connection pool on this event loop, and the
    transport, sleep and clock that tests set with `integration.configure_http`;
    `shared=False` gives it a pool of its own, closed by `aclose()`.

    `connect_timeout` and `read_timeout` bound each connect and each read
    (`timeout` sets both); `deadline` bounds one attempt from connect to the
    last body byte. `verify` (True, False, or a CA bundle path), `ssl_context`
    and `proxy` (an http:// proxy URL) shape the connections.

    A 429 (any method) or a 503 (idempotent methods) is retried up to `retries`
    times, waiting as `Retry-After` says (seconds or an HTTP date), as long as
    the total wait stays within `max_retry_wait`; otherwise that response is
    returned. The client's limiter (`rate_limit`, keyed by `rate_limit_id`,
    default the base URL's host) also holds requests back as the upstream's
    rate-limit headers say. No wait ever passes the platform's
    `rate_limit.max_execution_time`: the request fails with budget_exhausted
    instead. `sleep` (async, seconds) and `clock` (epoch seconds) are
    injectable for tests.
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
        timeout: float | None = _UNSET,
        deadline: float | None = 60.0,
        retries: int = 3,
        max_retry_wait: float = 30.0,
        transport: _Transport | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        clock: Callable[[], float] | None = None,
        verify: bool | str = True,
        ssl_context: Any = None,
        proxy: str | None = None,
        rate_limit: RateLimitPolicy | None = None,
        rate_limit_id: str | None = None,
        integration: "Integration | None" = None,
        shared: bool = True,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if bearer_token is not None and basic_auth is not None:
            raise ValueError("HTTPClient takes bearer_token or basic_auth, not both")
        if "#" in base_url:
            raise ValueError("HTTPClient: a base URL has no fragment (#...): it is never sent")
        if transport is None and not _http_installed():
            call = _CALL.get()
            owner = integration or (call.integration if call is not None else None)
            if owner is None or owner.http_transport is None:
                raise ImportError(
                    "HTTPClient reaches the network through httpcore and anyio, which are not "
                    "installed: pip install httpcore anyio (or give it a transport=)"
                )
        self.base_url = base_url
        # Bodies are read whole; past this many bytes the read ends (None: no limit).
        self.max_response_bytes = max_response_bytes
        self.headers = Headers(headers)
        self._auth_header: str | None = None
        if bearer_token is not None:
            self._auth_header = f"Bearer {bearer_token}"
        elif basic_auth is not None:
            self._auth_header = _basic_auth_header(*basic_auth)
        self.params = _query_pairs(params)
        if timeout is not _UNSET:
            connect_timeout = read_timeout = timeout
        self.deadline = deadline
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self.integration = integration
        self.rate_limit = rate_limit
        self.rate_limit_id = rate_limit_id or _host_header(base_url) or "default"
        self._timeouts = _timeouts(connect_timeout, read_timeout)
        self._key = _PoolKey(verify, ssl_context, proxy)
        self._shared = shared
        self._transport = transport
        self._own: _HTTPCoreTransport | None = None
        self._limiter: _Limiter | None = None
        self._sleep = sleep
        self._clock = clock

    async def __aenter__(self) -> "HTTPClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's own connections (a shared pool stays open for the others)."""
        if self._own is not None:
            await self._own.aclose()
        elif self._transport is not None:
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
        """The `Request` that `request` would send: URL joined, body encoded, headers merged.

        The client's default headers that describe a body (Content-Type, ...)
        are left off a request without one.
        """
        defaults = self.headers.multi_items()
        if json is _NO_JSON and data is None and content is None:
            defaults = [(k, v) for k, v in defaults if k.lower() not in _BODY_HEADERS]
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
        """Send one request (rate-limited, 429/503 retried) and return the response.

        ``await client.request("GET", "/users", params=[("id", 1), ("id", 2)])``
        """
        built = self.build_request(
            method, url, params=params, json=json, data=data, content=content, headers=headers
        )
        return await self.send(built)

    async def send(self, request: Request, *, retry: bool = True) -> Response:
        """Send a built `Request`; ``retry=False`` sends it exactly once."""
        env = self._environment()
        waited = 0.0
        attempt = 0
        pending: float | None = None  # the wait before a retry
        while True:
            await self._admit(env, request, pending)
            response = await self._send_once(env, request)
            now = env.clock()
            env.limiter.observe(response, now)
            status = response.status_code
            if not (
                retry
                and env.retries
                and attempt < self.retries
                and (status == 429 or (status == 503 and request.method in _IDEMPOTENT_METHODS))
            ):
                return response
            wait = _retry_after(response.headers.get("retry-after"), now)
            if wait is None:
                wait = _RETRY_BACKOFF * 2**attempt
            if waited + wait > self.max_retry_wait:
                return response
            _check_budget(env, now, wait, request)
            attempt += 1
            waited += wait
            pending = wait
            _logger().info(
                "%s",
                f"{request.method} {request.path} answered {status}; "
                f"retry {attempt} of {self.retries} in {wait:.1f}s",
            )

    def _environment(self) -> _Env:
        call = _CALL.get()
        integration = self.integration or (call.integration if call is not None else None)
        transport = self._transport
        handle: Callable[[Request], Awaitable[Response]]
        if transport is None and integration is not None:
            transport = integration.http_transport
        if transport is not None:
            handle = transport.handle
        elif integration is not None and self._shared:
            pool = integration._loop_http().pool(self._key)
            timeouts, limit = self._timeouts, self.max_response_bytes

            def handle(request: Request) -> Awaitable[Response]:
                return _pool_request(pool, request, timeouts, limit)

        else:
            if self._own is None:
                self._own = _HTTPCoreTransport(self._timeouts, self._key, self.max_response_bytes)
            handle = self._own.handle
        sleep = self._sleep or (integration.http_sleep if integration else None) or _anyio_sleep
        clock = self._clock or (integration.http_clock if integration else None) or time.time
        limiter = self._limiter_for(integration, call, clock)
        mode = call.mode if call is not None else None
        return _Env(
            handle=handle,
            sleep=sleep,
            clock=clock,
            limiter=limiter,
            call=call,
            limits=mode not in (RateLimitMode.BYPASS, RateLimitMode.RETRY_ONLY),
            retries=mode not in (RateLimitMode.BYPASS, RateLimitMode.ENFORCE_NO_RETRY),
        )

    def _limiter_for(
        self, integration: "Integration | None", call: _Call | None, clock: Callable[[], float]
    ) -> _Limiter:
        key = self.rate_limit_id
        if integration is not None:
            limiters = integration._loop_http().limiters
            limiter = limiters.get(key)
            if limiter is None:
                limiter = limiters[key] = _Limiter(key, self.rate_limit)
        else:
            if self._limiter is None:
                self._limiter = _Limiter(key, self.rate_limit)
            limiter = self._limiter
        if self.rate_limit is not None and limiter.policy != self.rate_limit:
            limiter.policy = self.rate_limit
        if call is not None and key not in call.used:
            call.used[key] = limiter
            seed = call.seeds.get(key)
            if seed is not None:
                limiter.seed(seed, clock())
        return limiter

    async def _admit(self, env: _Env, request: Request, pending: float | None) -> None:
        """Step 2: waits until the request may go (once: a fake clock may stand still)."""
        now = env.clock()
        wait = env.limiter.wait(now) if env.limits else 0.0
        if pending is not None:
            wait = max(wait, pending)
        elif wait < _MIN_WAIT:
            wait = 0.0
        if wait > 0 or pending is not None:
            _check_budget(env, now, wait, request)
            if pending is None and wait > self.max_retry_wait:
                raise RateLimitError(
                    f"Rate limited by {_url_origin(request.url) or 'the upstream'}: "
                    f"{request.method} {request.path} may go in {wait:.0f}s",
                    retry_after_seconds=math.ceil(wait),
                    status_code=None,
                )
            await env.sleep(wait)
            now = env.clock()
        env.limiter.record(now)

    async def _send_once(self, env: _Env, request: Request) -> Response:
        """Step 3: one attempt within the deadline (and the dispatch's budget)."""
        import anyio

        limit = self.deadline
        by_budget = False
        call = env.call
        if call is not None and call.deadline is not None:
            left = call.deadline - env.clock()
            if left <= 0:
                raise _budget_exhausted(call, request, 0.0)
            if limit is None or left < limit:
                limit, by_budget = left, True
        slot = env.limiter.slot()
        try:
            with anyio.fail_after(limit):
                if slot is None:
                    response = await env.handle(request)
                else:
                    async with slot:
                        response = await env.handle(request)
        except ConnectorError:
            raise
        except TimeoutError as exc:
            if by_budget and call is not None:
                raise _budget_exhausted(call, request, 0.0) from exc
            raise RequestTimeout(
                f"Deadline of {self.deadline:g}s exceeded for {_shown(request)}",
                request=request,
            ) from exc
        except Exception as exc:
            translated = None if _propagates(exc) else _translate_transport_error(exc, request)
            if translated is None:
                raise
            raise translated from exc
        most = self.max_response_bytes
        if most is not None and len(response.content) > most:  # a transport that read it all
            raise _too_large(request, most)
        return response

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


async def _anyio_sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)


def _check_budget(env: _Env, now: float, wait: float, request: Request) -> None:
    call = env.call
    if call is not None and call.deadline is not None and now + wait > call.deadline:
        raise _budget_exhausted(call, request, wait)


def _budget_exhausted(call: _Call, request: Request, wait: float) -> ConnectorError:
    """budget_exhausted: waiting (or sending) would pass max_execution_time."""
    what = f"waiting {wait:.1f}s for" if wait > 0 else "sending"
    return ConnectorError(
        f"The request's max_execution_time of {call.budget}s would pass {what} {_shown(request)}",
        ErrorCode.BUDGET_EXHAUSTED,
        retry_after_seconds=math.ceil(wait) if wait > 0 else None,
    )


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
    """base + relative path (the base's path kept as a prefix), the base's query
    first, then the URL's own, then params."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    queries = [parts.query]
    if not parts.scheme and base_url:
        base = urllib.parse.urlsplit(base_url)
        path = base.path.rstrip("/") + "/" + parts.path.lstrip("/") if parts.path else base.path
        parts = base._replace(path=path)
        queries.insert(0, base.query)
    queries.append(_query_encode(params) if params else "")
    # Encode spaces and non-ASCII in the path; leave existing escapes alone.
    path = urllib.parse.quote(parts.path, safe="/%:@!$&'()*+,;=~") or "/"
    query = "&".join(q for q in queries if q)
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


# ---- Conformance check ------------------------------------------------------------
# `check_conformance(integration, fixture)` runs a connector as the platform will
# and reports, check by check, what the platform would trip on:
#   1. envelope:*    every capability, given a minimal request, answers with a
#                    response its typed decoder accepts or a well-formed error
#                    envelope (canonical code, the code's metadata, the app id);
#   2. pagination:*  each list_*/find_* walked with page sizes 1, 2 and 7 gives
#                    the items of one big page, none twice, and an end;
#      page_token:*  a garbage token is invalid_page_token;
#   3. identity:*    (write=True) create, list, assign, find, unassign, deactivate,
#                    activate, delete, each read back; a step whose premise failed
#                    is skipped, and what the run did is undone;
#   4. errors:*      each credential secret altered is an authentication error
#                    the platform may refresh; a malformed request is bad_request;
#   5. secrets:*     no secret sent in the run appears in a response or a log record.
# Every call goes through `_Run.call`, which times it, validates the answer and
# learns the request's secrets (`_secrets_of`, the library's own rule). Messages
# and evidence are scrubbed once, at the end, with every secret of the run.

_CHECK_GROUPS: Final = ("envelope", "pagination", "page_token", "identity", "errors", "secrets")
_CHECK_PAGE_SIZES: Final = (1, 2, 7)
_CHECK_BIG_PAGE: Final = 100
_CHECK_GARBAGE_TOKEN: Final = "not-a-page-token-%%-conformance"
_CHECK_PLACEHOLDER: Final = "conformance-check"
# Read without a real upstream's cooperation they would talk to the OAuth
# provider; they run only with a request from the fixture's `requests`.
_CHECK_PROVIDER_CALLS: Final = frozenset(
    ("handle_authorization_callback", "handle_client_credentials_request", "refresh_access_token")
)
_CHECK_AUTH_CODES: Final = frozenset(
    (ErrorCode.UNAUTHORIZED, ErrorCode.AUTHENTICATION_EXPIRED, ErrorCode.CREDS_REVOKED)
)
_CHECK_BUG_CODES: Final = frozenset((ErrorCode.INTERNAL_ERROR, ErrorCode.INVALID_RESPONSE))
# Credential fields that do not authenticate a call on their own: altering them
# proves nothing. Usernames and client ids are identities: scrubbed from the
# evidence, but no leak when a response lists them.
_CHECK_NOT_ALTERED: Final = frozenset(("id", "refresh_token", "token_type", "scopes"))
_CHECK_PUBLIC: Final = frozenset(("username", "client_id"))
_CHECK_INACTIVE: Final = frozenset(
    (AccountStatus.INACTIVE, AccountStatus.SUSPENDED, AccountStatus.DEPROVISIONED)
)
_CHECK_IDENTITY_STEPS: Final = (
    "create_account",
    "listed",
    "get_account",
    "assign_entitlement",
    "association_listed",
    "unassign_entitlement",
    "association_gone",
    "deactivate_account",
    "deactivated_status",
    "activate_account",
    "activated_status",
    "delete_account",
    "gone",
)
_EVIDENCE_TEXT: Final = 1500
_STATUS_LABELS: Final = {"pass": "PASS", "fail": "FAIL", "skipped": "SKIP"}

CheckStatus: TypeAlias = typing.Literal["pass", "fail", "skipped"]


class CheckResult(msgspec.Struct, kw_only=True):
    """One check of a conformance run: its name, outcome, why, and the calls that show it."""

    name: str
    status: CheckStatus
    message: str | None = None
    # Each item: {"capability", "request", "response"} of one call, or another
    # labelled fact (a log record, the items missing from a walk).
    evidence: list[dict[str, Any]] = []


class CallStats(msgspec.Struct, kw_only=True):
    """How often the run called one capability, and how long it took."""

    calls: int
    median_ms: float
    max_ms: float


class ConformanceReport(msgspec.Struct, kw_only=True):
    """What `check_conformance` found; secrets scrubbed.

    report = run_conformance(integration, fixture)
    assert report.ok, report.as_text()
    """

    app_id: str
    version: str
    api_version: str
    write: bool
    checks: list[CheckResult]
    calls: dict[str, CallStats]
    notes: list[str] = []

    @property
    def ok(self) -> bool:
        """True when no check that ran failed."""
        return not self.failed

    @property
    def failed(self) -> list[CheckResult]:
        return [check for check in self.checks if check.status == "fail"]

    def counts(self) -> dict[str, int]:
        """{"pass": n, "fail": n, "skipped": n}."""
        found = {"pass": 0, "fail": 0, "skipped": 0}
        for check in self.checks:
            found[check.status] += 1
        return found

    def as_json(self) -> str:
        """The report as one JSON document (for CI)."""
        data = {"ok": self.ok, "summary": self.counts(), **msgspec.structs.asdict(self)}
        return _encode(data).decode()

    def as_text(self) -> str:
        """The report for a terminal: one line per check, evidence under failures."""
        counts = self.counts()
        lines = [
            f"Conformance of {self.app_id} {self.version} (API {self.api_version}"
            f"{', with writes' if self.write else ''}): {counts['pass']} passed, "
            f"{counts['fail']} failed, {counts['skipped']} skipped"
        ]
        for check in self.checks:
            text = f"{_STATUS_LABELS[check.status]}  {check.name}"
            lines.append(f"{text} - {check.message}" if check.message else text)
            if check.status == "fail":
                for item in check.evidence:
                    for key, value in item.items():
                        shown = value if isinstance(value, str) else _encode(value).decode()
                        if len(shown) > _EVIDENCE_TEXT:
                            shown = f"{shown[:_EVIDENCE_TEXT]}... ({len(shown)} characters)"
                        lines.append(f"      {key}: {shown}")
        if self.notes:
            lines += ["", "Notes:", *(f"  {note}" for note in self.notes)]
        if self.calls:
            width = max(len(name) for name in self.calls)
            lines += ["", f"  {'capability':<{width}}  calls  median ms  max ms"]
            for name, stats in sorted(self.calls.items()):
                lines.append(
                    f"  {name:<{width}}  {stats.calls:>5}  {stats.median_ms:>9.2f}"
                    f"  {stats.max_ms:>6.2f}"
                )
        return "\n".join(lines) + "\n"


class _FixtureError(ValueError):
    """A fixture (or `only`) the check cannot use; the CLI makes it a usage error."""


class _Answer:
    """One call of the run: what was sent, what came back, what is wrong with it."""

    __slots__ = ("body", "code", "data", "name", "problem", "request")

    def __init__(
        self,
        name: str,
        request: Any,
        body: bytes,
        code: ErrorCode | None,
        data: Any,
        problem: str | None,
    ) -> None:
        self.name, self.request, self.body, self.code = name, request, body, code
        self.data, self.problem = data, problem

    @property
    def ok(self) -> bool:
        return self.code is None and self.problem is None

    @property
    def payload(self) -> Any:
        return self.data.get("response") if isinstance(self.data, dict) else None

    @property
    def error_code(self) -> ErrorCode | None:
        error = self.data.get("error") if isinstance(self.data, dict) else None
        try:
            return canonical_code(ErrorCode(error["error_code"]))  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return None

    def what(self) -> str:
        """A short account of the answer: the problem, or the error's code and message."""
        if self.problem is not None:
            return self.problem
        if self.code is not None:
            error = self.data.get("error") if isinstance(self.data, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            return f"answered {self.code}: {message}"
        return "answered a success"

    def evidence(self) -> dict[str, Any]:
        request = self.request
        if isinstance(request, bytes):
            request = request.decode(errors="replace")
        response = self.data if self.data is not None else self.body.decode(errors="replace")
        return {"capability": self.name, "request": request, "response": response}


class _CheckWalk:
    __slots__ = ("answers", "failure", "items", "keys", "last", "pages")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.keys: list[bytes] = []
        self.pages = 0
        self.failure: str | None = None
        self.answers: list[_Answer] = []  # the calls that show the failure
        self.last: _Answer | None = None


def _item_key(item: Any) -> bytes:
    return msgspec.json.encode(item, order="sorted")


def _placeholder(info: Any, depth: int = 0) -> Any:
    """A value of the type `info` (msgspec.inspect) with only required fields filled."""
    import msgspec.inspect as mi

    if depth > 8:
        return None
    if isinstance(info, mi.StructType):
        value: dict[str, Any] = {}
        if info.tag_field is not None:
            value[info.tag_field] = info.tag
        for field in info.fields:
            if field.required:
                value[field.encode_name] = _placeholder(field.type, depth + 1)
        return value
    if isinstance(info, mi.UnionType):
        options = [t for t in info.types if not isinstance(t, mi.NoneType)]
        return _placeholder(options[0], depth + 1) if options else None
    if isinstance(info, mi.Metadata):
        return _placeholder(info.type, depth + 1)
    simple: list[tuple[type[Any], Any]] = [
        (mi.StrType, _CHECK_PLACEHOLDER),
        (mi.BoolType, False),
        (mi.FloatType, 1.0),
        (mi.DateTimeType, "2026-01-01T00:00:00Z"),
        (mi.DateType, "2026-01-01"),
        (mi.DictType, {}),
        (mi.ListType, []),
        (mi.SetType, []),
        (mi.FrozenSetType, []),
        (mi.VarTupleType, []),
    ]
    for kind, placeholder in simple:
        if isinstance(info, kind):
            return placeholder
    if isinstance(info, mi.IntType):
        return max(1, info.ge or 0, (info.gt or 0) + 1)
    if isinstance(info, mi.EnumType):
        return next(iter(info.cls)).value
    if isinstance(info, mi.LiteralType):
        return info.values[0]
    if isinstance(info, mi.TupleType):
        return [_placeholder(t, depth + 1) for t in info.item_types]
    return None


def _minimal_payload(cap: Capability) -> Any:
    import msgspec.inspect as mi

    envelope = mi.type_info(cap.request_type)
    if isinstance(envelope, mi.StructType):
        for field in envelope.fields:
            if field.name == "request":
                return _placeholder(field.type)
    return {}


def _altered(value: str) -> str:
    """`value` with one letter or digit near its middle changed (the shape kept)."""
    middle = len(value) // 2
    for i in sorted(range(len(value)), key=lambda i: abs(i - middle)):
        char = value[i]
        if char.isascii() and char.isalnum():
            new = ("1" if char != "1" else "2") if char.isdigit() else ("x" if char != "x" else "q")
            return value[:i] + (new.upper() if char.isupper() else new) + value[i + 1 :]
    return value + "x"


def _credential_leaves(fixture: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """(dotted path, key path) of each credential string the secret rule calls secret."""
    found: list[tuple[str, list[Any]]] = []
    roots: list[tuple[str, list[Any], Any]] = []
    if isinstance(fixture.get("auth"), dict):
        roots.append(("auth", ["auth"], fixture["auth"]))
    for n, item in enumerate(fixture.get("credentials") or []):
        label = item.get("id") if isinstance(item, dict) else None
        roots.append((f"credentials.{label or n}", ["credentials", n], item))
    stack = list(reversed(roots))
    while stack:
        label, keys, value = stack.pop()
        if isinstance(value, dict):
            for key in reversed(list(value)):
                if key not in _CHECK_NOT_ALTERED:
                    stack.append((f"{label}.{key}", [*keys, key], value[key]))
        elif isinstance(value, str) and len(value) >= _MIN_SECRET:
            found.append((label, keys))
    return found


def _with_leaf(fixture: Mapping[str, Any], keys: list[Any], value: str) -> dict[str, Any]:
    copy: dict[str, Any] = msgspec.json.decode(_encode(fixture))
    target: Any = copy
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return copy


def _public_values(request: Any) -> set[str]:
    found: set[str] = set()
    items = [_member(request, "auth"), *(_member(request, "credentials") or [])]
    stack = [item for item in items if isinstance(item, dict)]
    while stack:
        item = stack.pop()
        for key, value in item.items():
            if isinstance(value, dict):
                stack.append(value)
            elif key in _CHECK_PUBLIC and isinstance(value, str):
                found.add(value)
    return found


def _load_fixture(fixture: Mapping[str, Any] | str | Any) -> dict[str, Any]:
    """The fixture as a dict: given as one, or read from a JSON file (its path)."""
    import os

    if isinstance(fixture, str | os.PathLike):
        path = os.fspath(fixture)
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as exc:
            raise _FixtureError(f"cannot read the fixture {path}: {exc.strerror}") from None
        try:
            fixture = msgspec.json.decode(data)
        except msgspec.DecodeError:
            # msgspec's message may quote the document: say where it is, not what.
            raise _FixtureError(f"the fixture {path} is not a JSON document") from None
        where = f"the fixture {path}"
    else:
        where = "the fixture"
    if not isinstance(fixture, Mapping):
        raise _FixtureError(f"{where} must be a JSON object")
    kinds: dict[str, type[Any]] = {"auth": dict, "settings": dict, "account": dict}
    kinds |= {"entitlement": dict, "requests": dict, "credentials": list}
    for key, kind in kinds.items():
        if fixture.get(key) is not None and not isinstance(fixture[key], kind):
            what = "a list of objects" if kind is list else "an object"
            raise _FixtureError(f"{where}: `{key}` must be {what}")
    if any(not isinstance(item, dict) for item in fixture.get("credentials") or []):
        raise _FixtureError(f"{where}: `credentials` must be a list of objects")
    if any(not isinstance(item, dict) for item in (fixture.get("requests") or {}).values()):
        raise _FixtureError(f"{where}: each of `requests` must be a request payload (an object)")
    return dict(fixture)


class _Run:
    """One conformance run: the calls, their timings, the secrets, the results."""

    def __init__(
        self,
        integration: Integration,
        fixture: dict[str, Any],
        *,
        write: bool,
        only: Sequence[str] | None,
        max_pages: int,
        timeout: float,
    ) -> None:
        self.integration = integration
        self.fixture = fixture
        self.write = write
        self.max_pages = max_pages
        self.timeout = timeout
        self.results: list[CheckResult] = []
        self.state: dict[str, CheckStatus] = {}
        self.notes: list[str] = []
        self.timings: dict[str, list[float]] = {}
        self.secrets: set[str] = set()  # every form of every secret sent
        self.public: set[str] = set()  # forms of usernames and client ids
        self.leaks: list[dict[str, Any]] = []
        self.scanned = 0
        self.logs: list[tuple[str, str, str]] = []
        self.only = list(only) if only is not None else None
        if self.only is not None:
            known = set(self.planned()) | set(_CHECK_GROUPS) | set(integration.capabilities)
            known |= {name.partition(":")[2] for name in self.planned()}
            unknown = [
                name
                for name in self.only
                if name not in known and not any(n.startswith(name + ":") for n in known)
            ]
            if unknown:
                raise _FixtureError(
                    f"--only {unknown[0]!r} names no check, group or capability "
                    f"(groups: {', '.join(_CHECK_GROUPS)})"
                )

    # -- which checks --

    def listing(self) -> list[str]:
        return sorted(
            name
            for name, cap in self.integration.capabilities.items()
            if cap.pages and name.startswith(("list_", "find_"))
        )

    def planned(self) -> list[str]:
        names = ["envelope:info", *(f"envelope:{n}" for n in sorted(self.integration.capabilities))]
        for name in self.listing():
            names += [f"pagination:{name}", f"page_token:{name}"]
        names += ["identity", *(f"identity:{step}" for step in _CHECK_IDENTITY_STEPS)]
        leaves = _credential_leaves(self.fixture)
        names += [f"errors:bad_credentials:{label}" for label, _ in leaves] or [
            "errors:bad_credentials"
        ]
        return [*names, "errors:malformed_request", "secrets:no_leak"]

    def selected(self, name: str) -> bool:
        if self.only is None:
            return True
        group, _, rest = name.partition(":")
        return any(
            wanted in (group, name, rest)
            or name.startswith(wanted + ":")
            or (group == "identity" and wanted.startswith("identity"))
            for wanted in self.only
        )

    def record(
        self,
        name: str,
        status: CheckStatus,
        message: str | None = None,
        evidence: Iterable[dict[str, Any]] = (),
    ) -> None:
        self.state[name] = status
        self.results.append(
            CheckResult(name=name, status=status, message=message, evidence=[*evidence])
        )

    def fail(self, name: str, message: str, *answers: _Answer | None) -> None:
        self.record(name, "fail", message, [a.evidence() for a in answers if a is not None])

    def blocked(
        self,
        name: str,
        *,
        needs: Sequence[str] = (),
        not_failed: Sequence[str] = (),
        capability: str | None = None,
        fixture_key: str | None = None,
    ) -> bool:
        """True (with `name` recorded as skipped when selected) when `name` cannot run."""
        if not self.selected(name):
            return True
        reason = None
        if capability is not None and capability not in self.integration.capabilities:
            reason = f"{capability} is not registered"
        elif fixture_key is not None and not self.fixture.get(fixture_key):
            reason = f"the fixture has no `{fixture_key}`"
        else:
            for need in needs:
                if self.state.get(need) != "pass":
                    happened = "failed" if self.state.get(need) == "fail" else "did not pass"
                    reason = f"depends on {need}, which {happened}"
                    break
            for need in not_failed:
                if reason is None and self.state.get(need) == "fail":
                    reason = f"depends on {need}, which failed"
        if reason is not None:
            self.record(name, "skipped", reason)
            return True
        return False

    # -- calls --

    def envelope(self, payload: Any, *, page: Any = None, authed: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {"request": payload}
        if authed:
            for key in ("auth", "credentials"):
                if self.fixture.get(key) is not None:
                    body[key] = self.fixture[key]
        if self.fixture.get("settings") is not None:
            body["settings"] = self.fixture["settings"]
        if page is not None:
            body["page"] = page
        return body

    def learn(self, request: Any) -> None:
        settings_model = self.integration.settings_model
        self.secrets.update(_secrets_of(request, settings_model))
        self.public.update(_forms(_public_values(request)))

    async def call(self, name: str, request: dict[str, Any] | bytes) -> _Answer:
        import anyio

        body = request if isinstance(request, bytes) else _encode(request)
        if isinstance(request, dict):
            self.learn(request)
        out: bytes = b""
        code: ErrorCode | None = None
        problem = None
        started = time.perf_counter()
        try:
            with anyio.move_on_after(self.timeout) as scope:
                out, code = await self.integration.dispatch_result(name, body)
            if scope.cancelled_caught:
                problem = f"no answer within {self.timeout:g} s"
        except Exception as exc:  # handle_errors=False lets the capability's exception out
            problem = f"dispatch raised {type(exc).__name__}: {_safe_str(exc)}"
        self.timings.setdefault(name, []).append(time.perf_counter() - started)
        data: Any = None
        if problem is None:
            self.scan(f"the response of {name}", out)
            problem, data = self.validate(name, out, code)
        return _Answer(name, request, out, code, data, problem)

    def validate(self, name: str, out: bytes, code: ErrorCode | None) -> tuple[str | None, Any]:
        try:
            data = msgspec.json.decode(out)
        except msgspec.DecodeError:
            return "the answer is not JSON", None
        if code is None:
            try:
                self.integration.capabilities[name].response_decoder.decode(out)
            except msgspec.ValidationError as exc:
                return f"the response does not validate: {_describe_decode_error(exc)}", data
            return None, data
        return _error_problem(out, self.integration), data

    def scan(self, where: str, text: bytes | str) -> None:
        self.scanned += 1
        secret = sorted(self.secrets - self.public, key=len, reverse=True)
        shown = text.decode(errors="replace") if isinstance(text, bytes) else text
        scrubbed = _scrub(shown, secret) if secret else shown
        if scrubbed != shown:
            at = scrubbed.find(_REDACTED)
            excerpt = scrubbed[max(0, at - 200) : at + 200]
            self.leaks.append({"where": where, "excerpt": excerpt})

    async def walk(self, name: str, size: int, max_pages: int) -> _CheckWalk:
        """Every page of `name` at `size`, bounded in pages and time."""
        walk = _CheckWalk()
        token: str | None = None
        tokens: set[str] = set()
        seen: dict[bytes, int] = {}
        deadline = time.monotonic() + self.timeout
        while True:
            if walk.pages >= max_pages or time.monotonic() > deadline:
                walk.failure = (
                    f"no last page after {walk.pages} pages of size {size}"
                    f" ({'page' if walk.pages >= max_pages else 'time'} limit): every page "
                    "gave a next token"
                )
                walk.answers = [walk.last] if walk.last else []
                return walk
            page = {"token": token, "size": size}
            answer = await self.call(name, self.envelope({}, page=page))
            walk.pages += 1
            walk.last = answer
            if not answer.ok:
                walk.failure = f"page {walk.pages} of size {size} {answer.what()}"
                walk.answers = [answer]
                return walk
            for item in answer.payload or []:
                key = _item_key(item)
                if key in seen:
                    walk.failure = (
                        f"page {walk.pages} of size {size} repeats an item of page {seen[key]}"
                    )
                    walk.answers = [answer]
                    return walk
                seen[key] = walk.pages
                walk.items.append(item)
                walk.keys.append(key)
            token = (answer.data.get("page") or {}).get("token")
            if not token:
                return walk
            if token in tokens:
                walk.failure = f"page {walk.pages} of size {size} gave a token already used: a loop"
                walk.answers = [answer]
                return walk
            tokens.add(token)

    # -- the checks --

    async def envelopes(self) -> None:
        if self.selected("envelope:info"):
            try:
                info = msgspec.json.decode(self.integration.info_json(), type=InfoResponse).response
                missing = [n for n in info.capabilities if n not in info.capability_schema]
                if sorted(info.capabilities) != sorted(self.integration.capabilities):
                    self.record(
                        "envelope:info", "fail", "info does not list the registered capabilities"
                    )
                elif missing:
                    self.record("envelope:info", "fail", f"info has no schema for {missing[0]}")
                else:
                    self.record("envelope:info", "pass")
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                self.record(
                    "envelope:info",
                    "fail",
                    f"info does not validate: {_describe_decode_error(exc)}",
                )
        requests = self.fixture.get("requests") or {}
        for name, cap in sorted(self.integration.capabilities.items()):
            check = f"envelope:{name}"
            if not self.selected(check):
                continue
            spec = CAPABILITIES.get(name)
            if spec is not None and spec.level == _W and not (self.write and name in requests):
                continue  # after the identity flow, from its calls (`write_envelopes`)
            if name in _CHECK_PROVIDER_CALLS and name not in requests:
                self.record(
                    check,
                    "skipped",
                    "it calls the OAuth provider: give a request in the fixture's `requests`",
                )
                continue
            payload = requests[name] if name in requests else _minimal_payload(cap)
            authed = "auth" in getattr(cap.request_type, "__struct_fields__", ())
            answer = await self.call(name, self.envelope(payload, authed=authed))
            if answer.problem is not None:
                self.fail(check, answer.problem, answer)
            elif answer.error_code in _CHECK_BUG_CODES:
                self.fail(check, f"{answer.what()} (a connector bug, by its code)", answer)
            elif name == "validate_credentials" and not answer.ok:
                # Every other check would only see this refusal again.
                self.fail(check, f"the fixture's credentials are refused: {answer.what()}", answer)
            else:
                self.record(check, "pass", None if answer.ok else answer.what())

    def write_envelopes(self, answers: list[_Answer]) -> None:
        """envelope:* of the write capabilities, from the identity flow's calls."""
        for name in sorted(self.integration.capabilities):
            check = f"envelope:{name}"
            spec = CAPABILITIES.get(name)
            if spec is None or spec.level != _W or check in self.state or not self.selected(check):
                continue
            mine = [a for a in answers if a.name == name]
            bad = next((a for a in mine if a.problem is not None), None)
            if not mine:
                reason = (
                    "writes run only with --write"
                    if not self.write
                    else "the identity flow does not call it"
                )
                self.record(check, "skipped", reason)
            elif bad is not None:
                self.fail(check, bad.problem or "", bad)
            else:
                self.record(check, "pass", f"from the identity flow's {len(mine)} call(s)")

    async def pagination(self) -> None:
        for name in self.listing():
            check = f"pagination:{name}"
            if self.blocked(check, not_failed=[f"envelope:{name}"]):
                pages_seen = False
            else:
                pages_seen = await self.paginate(check, name)
            token_check = f"page_token:{name}"
            if self.blocked(token_check, not_failed=[f"envelope:{name}", check]):
                continue
            if not pages_seen and check in self.state:
                self.record(
                    token_check, "skipped", "it never gave a next page, so it reads no token"
                )
                continue
            page = {"token": _CHECK_GARBAGE_TOKEN, "size": _CHECK_PAGE_SIZES[-1]}
            answer = await self.call(name, self.envelope({}, page=page))
            if answer.error_code is ErrorCode.INVALID_PAGE_TOKEN and answer.problem is None:
                self.record(token_check, "pass")
            else:
                self.fail(
                    token_check,
                    f"a garbage page token {answer.what()}, not invalid_page_token",
                    answer,
                )

    async def paginate(self, check: str, name: str) -> bool:
        """Runs pagination:<name>; True when a walk had more than one page."""
        whole = await self.walk(name, _CHECK_BIG_PAGE, self.max_pages)
        if whole.failure is not None:
            self.fail(check, whole.failure, *whole.answers)
            return whole.pages > 1
        paged = whole.pages > 1
        reference = set(whole.keys)
        partial = False
        for size in _CHECK_PAGE_SIZES:
            limit = min(len(whole.items) + 3, self.max_pages)
            walk = await self.walk(name, size, limit)
            paged = paged or walk.pages > 1
            cut = walk.failure is not None and walk.pages >= limit and limit == self.max_pages
            if walk.failure is not None and not cut:
                self.fail(check, walk.failure, *walk.answers)
                return paged
            got = set(walk.keys)
            missing = [] if cut else [k for k in whole.keys if k not in got]
            extra = [k for k in walk.keys if k not in reference]
            if missing or extra:
                facts: dict[str, Any] = {}
                if missing:
                    facts["missing"] = [msgspec.json.decode(k) for k in missing[:3]]
                if extra:
                    facts["extra"] = [msgspec.json.decode(k) for k in extra[:3]]
                message = (
                    f"walked with size {size}: {len(missing)} item(s) of the size "
                    f"{_CHECK_BIG_PAGE} walk missing, {len(extra)} not in it"
                )
                self.record(check, "fail", message, [facts])
                return paged
            partial = partial or cut
        message = (
            f"{len(whole.items)} item(s); sizes {', '.join(map(str, _CHECK_PAGE_SIZES))} agree"
        )
        if partial:
            message += f" (small sizes walked up to {self.max_pages} pages)"
        self.record(check, "pass", message)
        return paged

    async def find_account(
        self, account_id: str | None, wanted: Mapping[str, Any]
    ) -> tuple[Any, _Answer | None]:
        """The account in list_accounts (by id, else email/username): (item or None, last call)."""
        walk = await self.walk("list_accounts", _CHECK_BIG_PAGE, self.max_pages)
        if walk.failure is not None:
            return None, walk.last
        names = {str(wanted.get(k)).casefold() for k in ("email", "username") if wanted.get(k)}
        for item in walk.items:
            if account_id is not None:
                if item.get("integration_specific_id") == account_id:
                    return item, walk.last
            elif names & {
                str(item.get(k)).casefold() for k in ("email", "username") if item.get(k)
            }:
                return item, walk.last
        return None, walk.last

    async def read_status(self, account_id: str) -> tuple[Any, _Answer | None]:
        if "get_account" in self.integration.capabilities:
            answer = await self.call("get_account", self.envelope({"account_id": account_id}))
            return (answer.payload if answer.ok else None), answer
        item, last = await self.find_account(account_id, {})
        return item, last

    async def identity(self) -> list[_Answer]:
        """The write flow; returns its calls (for the write capabilities' envelope checks)."""
        steps = [f"identity:{step}" for step in _CHECK_IDENTITY_STEPS]
        if not self.write:
            if any(self.selected(step) for step in steps):
                self.record(
                    "identity", "skipped", f"{len(steps)} steps that write: run with --write"
                )
            return []
        calls: list[_Answer] = []

        async def call(name: str, payload: dict[str, Any]) -> _Answer:
            answer = await self.call(name, self.envelope(payload))
            calls.append(answer)
            return answer

        account: dict[str, Any] = self.fixture.get("account") or {}
        entitlement: dict[str, Any] = self.fixture.get("entitlement") or {}
        listing = ["envelope:list_accounts", "pagination:list_accounts"]
        associations = [
            "envelope:find_entitlement_associations",
            "pagination:find_entitlement_associations",
        ]
        account_id: str | None = None
        try:
            # 1. create_account
            name = "identity:create_account"
            if not self.blocked(name, capability="create_account", fixture_key="account"):
                answer = await call("create_account", account)
                if answer.ok:
                    account_id = (answer.payload or {}).get("id")
                    self.record(name, "pass")
                else:
                    self.fail(name, answer.what(), answer)
            created = self.state.get("identity:create_account") == "pass"
            # 2. it is listed (which also tells its id)
            name = "identity:listed"
            if not self.blocked(
                name,
                needs=["identity:create_account"],
                not_failed=listing,
                capability="list_accounts",
            ):
                item, last = await self.find_account(account_id, account)
                if item is None:
                    self.fail(name, "the new account is not in list_accounts", calls[0], last)
                else:
                    account_id = account_id or item.get("integration_specific_id")
                    self.record(name, "pass", None)
            if created and account_id is None:
                self.notes.append("the new account's id is unknown: remove it by hand")
            known = ["identity:create_account"] + ([] if account_id else ["identity:listed"])
            # 3. get_account
            name = "identity:get_account"
            if not self.blocked(name, needs=known, capability="get_account"):
                answer = await call("get_account", {"account_id": account_id})
                if (
                    answer.ok
                    and (answer.payload or {}).get("integration_specific_id") == account_id
                ):
                    self.record(name, "pass")
                else:
                    self.fail(
                        name,
                        answer.what() if not answer.ok else "get_account answered another account",
                        answer,
                    )
            # 4. assign, 5. the association is found
            assignment = {**entitlement, "account_integration_specific_id": account_id}
            name = "identity:assign_entitlement"
            if not self.blocked(
                name, needs=known, capability="assign_entitlement", fixture_key="entitlement"
            ):
                answer = await call("assign_entitlement", assignment)
                if answer.ok and (answer.payload or {}).get("assigned") is not False:
                    self.record(name, "pass")
                else:
                    self.fail(name, answer.what() if not answer.ok else "assigned: false", answer)
            name = "identity:association_listed"
            if not self.blocked(
                name,
                needs=["identity:assign_entitlement"],
                not_failed=associations,
                capability="find_entitlement_associations",
            ):
                found, last = await self.find_association(account_id, entitlement)
                if found:
                    self.record(name, "pass")
                else:
                    self.fail(
                        name,
                        "the assigned entitlement is not among find_entitlement_associations",
                        calls[-1],
                        last,
                    )
            # 6. unassign, 7. the association is gone
            name = "identity:unassign_entitlement"
            if not self.blocked(
                name, needs=["identity:association_listed"], capability="unassign_entitlement"
            ):
                answer = await call("unassign_entitlement", assignment)
                if answer.ok and (answer.payload or {}).get("unassigned") is not False:
                    self.record(name, "pass")
                else:
                    self.fail(name, answer.what() if not answer.ok else "unassigned: false", answer)
            name = "identity:association_gone"
            if not self.blocked(
                name, needs=["identity:unassign_entitlement"], not_failed=associations
            ):
                found, last = await self.find_association(account_id, entitlement)
                if found:
                    self.fail(
                        name,
                        "the unassigned entitlement is still among find_entitlement_associations",
                        calls[-1],
                        last,
                    )
                else:
                    self.record(name, "pass")
            # 8-11. deactivate and activate, each read back
            for action, status_step, good in (
                ("deactivate_account", "identity:deactivated_status", _CHECK_INACTIVE),
                (
                    "activate_account",
                    "identity:activated_status",
                    frozenset((AccountStatus.ACTIVE,)),
                ),
            ):
                name = f"identity:{action}"
                if not self.blocked(name, needs=known, capability=action):
                    answer = await call(action, {"account_id": account_id})
                    if answer.ok:
                        self.record(name, "pass")
                    else:
                        self.fail(name, answer.what(), answer)
                if not self.blocked(status_step, needs=[name], not_failed=listing):
                    assert account_id is not None
                    item, last = await self.read_status(account_id)
                    status = (item or {}).get("user_status")
                    if status in good:
                        self.record(status_step, "pass", f"user_status {status}")
                    else:
                        shown = "no account" if item is None else f"user_status {status}"
                        self.fail(status_step, f"after {action}, {shown}", calls[-1], last)
            # 12. delete, 13. gone
            name = "identity:delete_account"
            if not self.blocked(name, needs=known, capability="delete_account"):
                answer = await call("delete_account", {"account_id": account_id})
                if answer.ok:
                    self.record(name, "pass")
                else:
                    self.fail(name, answer.what(), answer)
            name = "identity:gone"
            if not self.blocked(
                name,
                needs=["identity:delete_account"],
                not_failed=listing,
                capability="list_accounts",
            ):
                assert account_id is not None
                item, last = await self.find_account(account_id, {})
                gone_answer: _Answer | None = None
                if item is None and "get_account" in self.integration.capabilities:
                    gone_answer = await call("get_account", {"account_id": account_id})
                if item is not None:
                    self.fail(name, "the deleted account is still in list_accounts", last)
                elif gone_answer is not None and gone_answer.error_code is not ErrorCode.NOT_FOUND:
                    self.fail(
                        name,
                        f"get_account of the deleted account {gone_answer.what()}, not not_found",
                        gone_answer,
                    )
                else:
                    self.record(name, "pass")
        finally:
            assignment = {**entitlement, "account_integration_specific_id": account_id}
            await self.undo(call, account_id, assignment if account_id else None)
        return calls

    async def find_association(
        self, account_id: str | None, entitlement: Mapping[str, Any]
    ) -> tuple[bool, _Answer | None]:
        walk = await self.walk("find_entitlement_associations", _CHECK_BIG_PAGE, self.max_pages)
        wanted_id = entitlement.get("entitlement_integration_specific_id")
        resource = entitlement.get("resource_integration_specific_id")
        for item in walk.items:
            if (
                item.get("account_id") == account_id
                and item.get("integration_specific_entitlement_id") == wanted_id
                and (resource is None or item.get("integration_specific_resource_id") == resource)
            ):
                return True, walk.last
        return False, walk.last

    async def undo(
        self,
        call: Callable[[str, dict[str, Any]], Awaitable[_Answer]],
        account_id: str | None,
        assignment: dict[str, Any] | None,
    ) -> None:
        """Undoes what the flow did and did not undo itself; notes the outcome."""
        state = self.state.get
        if (
            assignment is not None
            and state("identity:assign_entitlement") == "pass"
            and state("identity:unassign_entitlement") != "pass"
            and state("identity:delete_account") != "pass"
        ):
            answer = await call("unassign_entitlement", assignment)
            self.notes.append(f"undo: unassign_entitlement {answer.what()}")
        if (
            account_id is not None
            and state("identity:create_account") == "pass"
            and state("identity:delete_account") != "pass"
        ):
            answer = await call("delete_account", {"account_id": account_id})
            self.notes.append(f"undo: delete_account {answer.what()}")

    def credential_target(self) -> str | None:
        for name in ("validate_credentials", "list_accounts"):
            if name in self.integration.capabilities:
                return name
        return None

    async def errors(self) -> None:
        target = self.credential_target()
        leaves = _credential_leaves(self.fixture)
        if not leaves and not self.blocked(
            "errors:bad_credentials", capability=target or "validate_credentials"
        ):
            self.record("errors:bad_credentials", "skipped", "the fixture's auth has no secret")
        for label, keys in leaves:
            check = f"errors:bad_credentials:{label}"
            if target is None or self.blocked(check, capability=target):
                continue
            original = self.fixture
            for parent in keys:
                original = original[parent]
            wrong = _with_leaf(self.fixture, keys, _altered(str(original)))
            body = {
                "request": {},
                **{
                    k: wrong[k]
                    for k in ("auth", "credentials", "settings")
                    if wrong.get(k) is not None
                },
            }
            answer = await self.call(target, body)
            error = (answer.data or {}).get("error") if isinstance(answer.data, dict) else None
            refreshable = ((error or {}).get("error_metadata") or {}).get("refreshable")
            if answer.problem is not None:
                self.fail(check, answer.problem, answer)
            elif answer.error_code not in _CHECK_AUTH_CODES:
                self.fail(
                    check,
                    f"{target} with `{label}` altered {answer.what()}; expected unauthorized, "
                    "authentication_expired or creds_revoked",
                    answer,
                )
            elif refreshable is not True:
                self.fail(
                    check,
                    f"{answer.code} is not refreshable: the platform would not ask for new "
                    "credentials",
                    answer,
                )
            else:
                self.record(check, "pass", f"{answer.code}")
        check = "errors:malformed_request"
        if target is None or self.blocked(check, capability=target):
            if target is None and self.selected(check):
                self.record(
                    check, "skipped", "neither validate_credentials nor list_accounts is registered"
                )
            return
        bodies: list[dict[str, Any] | bytes] = [
            {**self.envelope({}), "request": "not a request object"},
            b'{"request": {}, "auth": ',
        ]
        for malformed in bodies:
            answer = await self.call(target, malformed)
            if answer.problem is not None or answer.error_code is not ErrorCode.BAD_REQUEST:
                self.fail(check, f"a malformed request {answer.what()}, not bad_request", answer)
                return
        self.record(check, "pass")

    def secrets_check(self) -> None:
        check = "secrets:no_leak"
        if not self.selected(check):
            return
        for logger, level, text in self.logs:
            self.scan(f"a log record of {logger!r} ({level})", text)
        if not self.scanned:
            self.record(check, "skipped", "nothing ran to scan")
        elif self.leaks:
            where = self.leaks[0]["where"]
            self.record(
                check,
                "fail",
                f"a secret sent in the run appears in {where} ({len(self.leaks)} place(s))",
                self.leaks[:5],
            )
        else:
            self.record(check, "pass", f"{self.scanned} responses and log records scanned")

    # -- the run --

    async def run(self) -> ConformanceReport:
        import statistics

        with _CapturedLogs(self.logs):
            await self.envelopes()
            await self.pagination()
            self.write_envelopes(await self.identity())
            await self.errors()
        self.secrets_check()
        forms = sorted(self.secrets | self.public, key=len, reverse=True)
        order = {name: n for n, name in enumerate(self.planned())}
        checks = [
            CheckResult(
                name=r.name,
                status=r.status,
                message=None if r.message is None else _scrub(r.message, forms),
                evidence=[_scrub_json(item, forms) for item in r.evidence],
            )
            for r in sorted(self.results, key=lambda r: order.get(r.name, len(order)))
        ]
        calls = {
            name: CallStats(
                calls=len(times),
                median_ms=round(statistics.median(times) * 1000, 3),
                max_ms=round(max(times) * 1000, 3),
            )
            for name, times in self.timings.items()
        }
        return ConformanceReport(
            app_id=self.integration.app_id,
            version=self.integration.version,
            api_version=self.integration.api_version,
            write=self.write,
            checks=checks,
            calls=calls,
            notes=[_scrub(note, forms) for note in self.notes],
        )


def _error_problem(out: bytes, integration: Integration) -> str | None:
    """What makes `out` no well-formed error envelope of `integration`, or None."""
    try:
        envelope = msgspec.json.decode(out, type=ErrorResponse)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return f"the error envelope does not validate: {_describe_decode_error(exc)}"
    error = envelope.error
    code = error.error_code
    if envelope.is_error is not True:
        return "the error envelope's is_error is not true"
    if integration.api_version == "3.5":
        if code in _V35_CODES:
            return f"error_code {code} is not in API 3.5"
    elif code not in CANONICAL_CODES:
        return f"error_code {code} is not a canonical API 4.x code"
    metadata = error.error_metadata
    expected = error_metadata(code)
    if metadata is None:
        return "the error has no error_metadata"
    if (metadata.fault, metadata.category) != (expected.fault, expected.category):
        return (
            f"error_metadata of {code} says {metadata.fault}/{metadata.category}, "
            f"not {expected.fault}/{expected.category}"
        )
    if error.app_id != integration.app_id:
        return f"error app_id {error.app_id!r} is not {integration.app_id!r}"
    if not error.message:
        return "the error has an empty message"
    return None


class _CapturedLogs:
    """Collects every log record (root and below, DEBUG up) as text while active.

    The root logger is lowered to DEBUG for the run; a filter keeps its other
    handlers at what they saw before.
    """

    def __init__(self, into: list[tuple[str, str, str]]) -> None:
        import logging

        self.into = into
        self.root = logging.getLogger()
        self.level = self.root.level
        self.formatter = logging.Formatter("%(message)s")

        keep = self

        class _Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    text = keep.formatter.format(record)
                except Exception:
                    text = str(record.msg)
                keep.into.append((record.name, record.levelname, text))

        self.handler = _Keep(logging.DEBUG)
        self.others = list(self.root.handlers)

    def _gate(self, record: "logging.LogRecord") -> bool:
        return record.levelno >= self.level

    def __enter__(self) -> None:
        import logging

        for handler in self.others:
            handler.addFilter(self._gate)
        self.root.addHandler(self.handler)
        self.root.setLevel(logging.DEBUG)

    def __exit__(self, *exc: object) -> None:
        self.root.removeHandler(self.handler)
        self.root.setLevel(self.level)
        for handler in self.others:
            handler.removeFilter(self._gate)


async def check_conformance(
    integration: Integration,
    fixture: Mapping[str, Any] | str,
    *,
    write: bool = False,
    only: Sequence[str] | None = None,
    max_pages: int = 100,
    timeout: float = 30.0,
) -> ConformanceReport:
    """Runs the conformance checks against whatever upstream the fixture's settings reach.

    report = await check_conformance(integration, "fixture.json", write=True)

    The fixture (a dict, or the path of a JSON file) holds what a platform would send:

        {"auth": {"basic": {"username": "admin", "password": "..."}},   # or
         "credentials": [{"id": "scim", "token": {"token": "..."}}],
         "settings": {"tenant": "acme"},
         "account": {"email": "conformance@example.com", "entitlements": []},
         "entitlement": {"resource_integration_specific_id": "workspace",
                         "resource_type": "workspace", "entitlement_type": "group",
                         "entitlement_integration_specific_id": "admins"},
         "requests": {"get_account": {"account_id": "u1"}}}

    `account` is a create_account payload and `entitlement` an assign_entitlement
    payload without the account id; both are used only with `write=True`, which
    creates that account, assigns, unassigns and deletes it. `requests` (optional)
    replaces the minimal request the envelope check builds for a capability.
    `only` names groups (envelope, pagination, page_token, identity, errors,
    secrets), capabilities or checks. Each walk and each call is bounded by
    `timeout` seconds, a walk by `max_pages`. Raises ValueError for a fixture or
    `only` it cannot use, naming the file and never quoting it.
    """
    data = _load_fixture(fixture)
    run = _Run(integration, data, write=write, only=only, max_pages=max_pages, timeout=timeout)
    return await run.run()


def run_conformance(
    integration: Integration,
    fixture: Mapping[str, Any] | str,
    *,
    write: bool = False,
    only: Sequence[str] | None = None,
    max_pages: int = 100,
    timeout: float = 30.0,
) -> ConformanceReport:
    """`check_conformance` from synchronous code (not inside a running event loop).

    print(run_conformance(integration, "fixture.json").as_text())
    """
    import asyncio

    return asyncio.run(
        check_conformance(
            integration, fixture, write=write, only=only, max_pages=max_pages, timeout=timeout
        )
    )


def assert_conformant(
    integration: Integration,
    fixture: Mapping[str, Any] | str,
    *,
    write: bool = False,
    only: Sequence[str] | None = None,
) -> ConformanceReport:
    """For pytest: raises AssertionError with the text report when a check fails.

    def test_conformance() -> None:
        connector.assert_conformant(integration, {"auth": {...}, "settings": {...}})
    """
    report = run_conformance(integration, fixture, write=write, only=only)
    if not report.ok:
        raise AssertionError("\n" + report.as_text())
    return report


# ---- CLI ----------------------------------------------------------------------------
# A thin argparse shell over the library. Exit codes: 0 success, 1 an error
# envelope was printed, 2 a usage error (argparse's own `error()`).


def _sibling(name: str) -> Any:
    """server.py or scaffold.py from this file's own folder, never a user's module
    of the same name that happens to come first on sys.path (the working directory)."""
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    loaded = sys.modules.get(name)
    if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") == path:
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not os.path.isfile(path):
        raise ImportError(f"no {name}.py beside {os.path.abspath(__file__)}")
    if loaded is not None:
        raise ImportError(
            f"another module named {name!r} is loaded ({getattr(loaded, '__file__', '?')}); "
            "rename it, or run from another folder"
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _load_target(parser: "argparse.ArgumentParser", target: str) -> Integration:
    """Imports `package.module[:attr]` or `path/to/file.py[:attr]`; attr defaults to integration."""
    import contextlib
    import importlib
    import os

    spec_text, _, attr = target.partition(":") if not os.path.exists(target) else (target, "", "")
    attr = attr or "integration"
    is_file = spec_text.endswith(".py") or os.sep in spec_text or "/" in spec_text
    path = os.path.abspath(spec_text)
    module_name = spec_text
    if is_file:
        if os.path.isdir(path):
            parser.error(f"{spec_text} is a directory; give a Python file (path/to/file.py)")
        if not os.path.isfile(path):
            parser.error(f"no such file: {spec_text}")
        # A file: import it by name from its own folder, so that it can also
        # import its neighbours.
        directory, filename = os.path.split(path)
        module_name = filename[:-3] if filename.endswith(".py") else filename
        if module_name in sys.stdlib_module_names:
            parser.error(
                f"{spec_text}: the name {module_name!r} is taken by Python's standard library; "
                "rename the file"
            )
        if directory not in sys.path:
            sys.path.insert(0, directory)
    elif "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        # What the module prints on import goes to stderr: stdout is for our JSON.
        with contextlib.redirect_stdout(sys.stderr):
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        parser.error(f"cannot import {spec_text}: {exc}")
    except (SystemExit, KeyboardInterrupt) as exc:
        parser.error(f"importing {spec_text} stopped the program ({type(exc).__name__})")
    except Exception as exc:
        parser.error(f"cannot load {target}: {type(exc).__name__}: {_safe_str(exc)}")
    found = os.path.abspath(getattr(module, "__file__", "") or "")
    if is_file and found != path:
        parser.error(f"{spec_text}: the name {module_name!r} is taken by {found or 'Python'}")
    integration = getattr(module, attr, None)
    if not isinstance(integration, Integration):
        there = [name for name, value in vars(module).items() if isinstance(value, Integration)]
        has = f"it has: {', '.join(there)}" if there else "it has none"
        parser.error(f"{spec_text} has no Integration named {attr!r} ({has})")
    return integration


def _read_body(parser: "argparse.ArgumentParser", args: "argparse.Namespace") -> bytes:
    import os

    if args.json is not None:
        # Bytes that are not UTF-8 reach argv as surrogates; hand them on as they
        # came, so that the decoder answers with a bad_request envelope.
        return os.fsencode(args.json)
    limit = MAX_REQUEST_BYTES
    if args.json_file is not None and args.json_file != "-":
        try:
            with open(args.json_file, "rb") as file:
                data = file.read(limit + 1)
        except OSError as exc:
            parser.error(f"cannot read {args.json_file}: {exc.strerror}")
        if len(data) > limit:
            parser.error(f"{args.json_file} is larger than {limit} bytes")
        return data
    if sys.stdin is None:
        parser.error("no request given and no standard input to read it from")
    if args.json_file is None and sys.stdin.isatty():
        parser.error("no request given: use --json, --json-file, or pipe JSON on stdin")
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        parser.error(f"the request on standard input is larger than {limit} bytes")
    if not data.strip():
        parser.error("no request given: standard input was empty (use --json or --json-file)")
    return data


def _print_json(data: bytes, pretty: bool) -> None:
    """Writes the JSON and a newline to stdout (see _write_stdout)."""
    if pretty:
        data = msgspec.json.format(data, indent=2)
    _write_stdout(data + b"\n")


def _write_stdout(data: bytes) -> None:
    """Writes all of `data` to stdout, or raises: BrokenPipeError when the reader went
    away (`| head`), _OutputError when stdout takes none of it (closed, full).

    Written with os.write on the descriptor, not through sys.stdout.buffer: on a pipe
    whose reader leaves, or a non-blocking descriptor, the buffered writer can accept a
    part, report a short count and drop the rest without an error, so the command
    would exit 0 with its output cut. A non-blocking stdout is waited on until writable,
    so a slow reader gets every byte."""
    import io
    import os

    out = sys.stdout
    if out is None:
        raise _OutputError("standard output is closed")
    try:
        out.flush()  # text printed earlier goes first
        fd = out.fileno()
    except io.UnsupportedOperation:  # replaced by an in-memory stream (tests, embedding)
        out.buffer.write(data)
        out.flush()
        return
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # full (ENOSPC), closed from Python
        raise _OutputError(getattr(exc, "strerror", None) or type(exc).__name__) from None
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            import select

            select.select([], [fd], [])
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputError(exc.strerror or type(exc).__name__) from None


class _OutputError(Exception):
    """stdout would not take the result."""


def _output_failed(exc: _OutputError) -> int:
    import os

    with _suppress():
        sys.stderr.write(f"cannot write the result to standard output: {exc}\n")
    with _suppress():  # no second failure at the interpreter's last flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    return 1


def _suppress() -> Any:
    import contextlib

    return contextlib.suppress(Exception)


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

    async def once() -> tuple[bytes, ErrorCode | None]:
        try:
            return await integration.dispatch_result(name.replace("-", "_"), body)
        finally:
            await integration.aclose_http()

    if path is None:
        out, code = asyncio.run(once())
        _print_json(out, args.pretty)
        return 0 if code is None else 1
    # Opened before the capability runs, so an unwritable path changes nothing.
    try:
        file = open(path, "wb")  # noqa: SIM115 - closed below, after the call
    except OSError as exc:
        parser.error(f"cannot write {path}: {exc.strerror}")
    out, _ = asyncio.run(once())
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
        server = _sibling("server")
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


def _add_check_options(sub: "argparse.ArgumentParser") -> None:
    sub.add_argument(
        "--json-file",
        metavar="FIXTURE",
        required=True,
        help="JSON file: auth or credentials, settings; for --write an account and an entitlement",
    )
    sub.add_argument(
        "--write",
        action="store_true",
        help="also create, change and delete an account (the fixture's) to check the writes",
    )
    sub.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="run only these groups (envelope, pagination, page_token, identity, errors, "
        "secrets), capabilities or checks",
    )
    sub.add_argument(
        "--format", choices=("text", "json"), default="text", help="report format (default text)"
    )


def _check(
    parser: "argparse.ArgumentParser", integration: "Integration", args: "argparse.Namespace"
) -> int:
    """Runs the conformance checks; exit 0 when every check that ran passed, else 1."""
    import asyncio

    try:
        fixture = _load_fixture(args.json_file)
        run = _Run(
            integration, fixture, write=args.write, only=args.only, max_pages=100, timeout=30.0
        )
    except _FixtureError as exc:
        parser.error(str(exc))
    report = asyncio.run(run.run())
    text = report.as_json() + "\n" if args.format == "json" else report.as_text()
    _write_stdout(text.encode())
    return 0 if report.ok else 1


def _add_serve_options(sub: "argparse.ArgumentParser") -> None:
    sub.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sub.add_argument(
        "--port", type=_port, default=8000, help="port to bind (0-65535); 0 picks a free one"
    )
    sub.add_argument(
        "--token",
        default=None,
        help="require 'Authorization: Bearer TOKEN' (default: $CONNECTOR_TOKEN)",
    )
    sub.add_argument("--token-file", metavar="PATH", help="read the bearer token from a file")
    sub.add_argument(
        "--max-body-size",
        type=_positive,
        default=None,
        metavar="BYTES",
        help="largest request body",
    )
    sub.add_argument(
        "--http-status",
        action="store_true",
        help="answer error envelopes with the HTTP status of their code (default: 200)",
    )


# The most a CLI call reads as its request (stdin or --json-file).
MAX_REQUEST_BYTES: Final = 16 * 1024 * 1024


def _port(text: str) -> int:
    import argparse

    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, not {text!r}")
    return int(text)


def _positive(text: str) -> int:
    import argparse

    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of bytes, not {text!r}")
    return int(text)


def _argument_parser(**options: Any) -> "argparse.ArgumentParser":
    """An ArgumentParser whose usage errors never echo what was typed in full: a
    request pasted without --json (credentials and all) is not printed back."""
    import argparse
    import re

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> typing.NoReturn:
            if message.startswith("unrecognized arguments"):
                message = (
                    "unrecognized arguments (not shown: they may hold credentials); "
                    "give the request with --json, --json-file or stdin"
                )
            elif "invalid choice:" in message:
                head, _, rest = message.partition("invalid choice:")
                typed = rest.split("(choose from")[0].strip().strip("'\"")
                choices = re.findall(r"'([^']*)'", rest.partition("(choose from")[2])
                if re.fullmatch(r"[\w.-]{1,60}", typed):
                    message = f"{head}unknown choice {typed!r}"
                    import difflib

                    close = difflib.get_close_matches(typed, choices, n=1)
                    if close:
                        message += f"; did you mean {close[0]!r}?"
                else:
                    message = f"{head}unknown choice (not shown)"
            super().error(message)

    return Parser(**options)


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


# What the usage line calls the program, by sys.argv[0]'s file name; any other
# name (`microconnector`, a console script) is used as it is.
_PROGRAM_NAMES: Final = {
    **dict.fromkeys(("", "-c", "connector.py", "__main__.py"), "python -m connector"),
    "microconnector.py": "python -m microconnector",
}


def main(argv: list[str] | None = None) -> int:
    """`python -m connector`: scaffold, serve, info, call and check any connector."""
    import argparse
    import os

    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    parser = _argument_parser(
        formatter_class=(fmt := _formatter()),
        prog=_PROGRAM_NAMES.get(program, program),
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
        "check", formatter_class=fmt, help="run the conformance checks against a connector"
    )
    sub.add_argument("target", metavar="TARGET", help=target_help)
    _add_check_options(sub)

    # scaffold.py owns the scaffold sub-command's options (see below).
    commands.add_parser("scaffold", add_help=False, help="create a new connector project")

    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["scaffold"]:
        try:
            scaffold = _sibling("scaffold")
        except ImportError as exc:
            parser.error(f"scaffold needs scaffold.py beside connector.py ({exc})")
        return int(scaffold.main(words[1:], prog=f"{parser.prog} scaffold"))
    args = parser.parse_args(words)
    try:
        integration = _load_target(parser, args.target)
        if args.command == "info":
            _print_json(integration.info_json(), args.pretty)
            return 0
        if args.command == "call":
            return _call(parser, integration, args.capability, args)
        if args.command == "check":
            return _check(parser, integration, args)
        return _serve(parser, integration, args)
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except _OutputError as exc:
        return _output_failed(exc)


def run(integration: "Integration", argv: list[str] | None = None) -> typing.NoReturn:
    """A connector's own CLI: `info`, one sub-command per capability, `serve`, `check`.

    if __name__ == "__main__":
        connector.run(integration)
    """
    import argparse
    import os

    parser = _argument_parser(
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
    if "check" not in integration.capabilities:  # a custom capability may take the name
        sub = commands.add_parser(
            "check", formatter_class=fmt, help="run the conformance checks against it"
        )
        sub.set_defaults(capability=None)
        _add_check_options(sub)

    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            _print_json(integration.info_json(), args.pretty)
            code = 0
        elif args.command == "serve":
            code = _serve(parser, integration, args)
        elif args.command == "check" and args.capability is None:
            code = _check(parser, integration, args)
        else:
            code = _call(parser, integration, args.capability, args)
    except BrokenPipeError:
        _silence_stdout()
        code = 1
    except _OutputError as exc:
        code = _output_failed(exc)
    raise SystemExit(code)


def _silence_stdout() -> None:
    # The reader went away (`| head`); point stdout at devnull so the
    # interpreter's final flush does not raise again.
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)


if _RUN_AS_MAIN:
    raise SystemExit(main())
