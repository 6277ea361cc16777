from __future__ import annotations

import base64
import enum
import hashlib
import secrets
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeAlias

import msgspec

# Drafting only, delete on merge (same file): the HTTP client section's names.
from _draft_http import (  # noqa: F401
    HTTPClient,
    MockTransport,
    Request,
    Response,
    _build_request,
    _query_encode,
)
from connector import (
    AuthorizationUrl,
    CapabilityName,
    ConnectorError,
    ErrorCode,
    GetAuthorizationUrlRequest,
    GetAuthorizationUrlResponse,
    HandleAuthorizationCallbackRequest,
    HandleAuthorizationCallbackResponse,
    HandleClientCredentialsRequest,
    HandleClientCredentialsResponse,
    Integration,
    OauthCredentials,
    RefreshAccessTokenRequest,
    RefreshAccessTokenResponse,
    RegistrationError,
    TokenType,
)

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
        super().__init__(message, error_code)
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
    """Registers the default capabilities of `integration.oauth_settings`' flow."""
    settings = integration.oauth_settings
    where = f"Integration {integration.app_id!r}"
    if not isinstance(settings, OAuthSettings):
        raise RegistrationError(f"{where}: oauth_settings must be an OAuthSettings")
    if settings.token_url is None:
        raise RegistrationError(f"{where}: OAuthSettings needs a token_url")
    defaults = _oauth_defaults(settings)
    for name in _OAUTH_FLOW_CAPABILITIES[settings.flow_type]:
        if not getattr(settings.capabilities, name.value):
            continue
        if name == CapabilityName.GET_AUTHORIZATION_URL and settings.authorization_url is None:
            raise RegistrationError(f"{where}: the code flow needs an authorization_url")
        integration._register(name, defaults[name], default=True)


def _oauth_defaults(settings: OAuthSettings) -> dict[CapabilityName, Callable[..., Any]]:
    """The default capability functions for `settings`, keyed by capability."""

    async def get_authorization_url(
        request: GetAuthorizationUrlRequest,
    ) -> GetAuthorizationUrlResponse:
        url, verifier = _authorization_url(settings, request)
        return GetAuthorizationUrlResponse(
            response=AuthorizationUrl(authorization_url=url, code_verifier=verifier)
        )

    async def handle_authorization_callback(
        request: HandleAuthorizationCallbackRequest,
    ) -> HandleAuthorizationCallbackResponse:
        payload = request.request
        answer = await _send_token_request(settings, _code_exchange_request(settings, request))
        credentials, raw = _parse_token_response(answer, refresh_token=None, state=payload.state)
        return HandleAuthorizationCallbackResponse(
            response=credentials, raw_data=raw if request.include_raw_data else None
        )

    async def handle_client_credentials_request(
        request: HandleClientCredentialsRequest,
    ) -> HandleClientCredentialsResponse:
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
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(url: str, pairs: Sequence[tuple[str, str]]) -> str:
    """`url` with `pairs` appended to whatever query it already has."""
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
        verifier = secrets.token_urlsafe(48)
        params += [("code_challenge", _pkce_challenge(verifier)), ("code_challenge_method", "S256")]
    return _with_query(_oauth_url(settings.authorization_url, envelope), params), verifier


def _split_redirect(redirect_uri_with_code: str) -> tuple[str | None, str | None, str]:
    """(code, error, redirect_uri) from the URI the provider sent the user back to.

    The redirect URI is the one given to the authorization request: no
    fragment and none of the parameters the provider added.
    """
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
    headers = [("Accept", "application/json")]
    if settings.client_auth == ClientAuthenticationMethod.CLIENT_SECRET_BASIC:
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
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
        return await client.send(request, retry=False)


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
    token_type = body.get("token_type") or TokenType.BEARER
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
