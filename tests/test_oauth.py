"""The OAuth module: each flow end to end against a real token endpoint on 127.0.0.1."""

from __future__ import annotations

import base64
import importlib.util
import logging
import string
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from _oauth_provider import Provider, serve
from _util import run
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connector import (
    CapabilityName,
    ClientAuthenticationMethod,
    HandleAuthorizationCallbackRequest,
    HandleAuthorizationCallbackResponse,
    HTTPClient,
    Integration,
    MockTransport,
    OAuthCapabilities,
    OauthCredentials,
    OAuthFlowType,
    OAuthRequest,
    OAuthSettings,
    RefreshAccessTokenRequest,
    RefreshAccessTokenResponse,
    RegistrationError,
    RequestDataType,
    RequestMethod,
    Response,
    TokenType,
    _install_oauth,
    _oauth_scope,
    _parse_token_response,
    _pkce_challenge,
    _split_redirect,
    _token_request,
)

# Every 4.x integration answers these two as well.
ALWAYS = {"app_info", "probe_integration"}

pytestmark = pytest.mark.anyio

APP = "oauthtest"
CLIENT_ID = "client-1"
CLIENT_SECRET = "s3cret-client"
REDIRECT = "https://app.example/callback"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Provider, str]]:
    provider = Provider(CLIENT_ID, CLIENT_SECRET)
    with serve(provider) as url:
        yield provider, url


@pytest.fixture
def provider(served: tuple[Provider, str]) -> Iterator[Provider]:
    served[0].reset()
    yield served[0]
    assert served[0].failures == []


@pytest.fixture
def base_url(served: tuple[Provider, str]) -> str:
    return served[1]


def make_integration(base_url: str, **kwargs: Any) -> Integration:
    kwargs.setdefault("authorization_url", f"{base_url}/authorize")
    kwargs.setdefault("token_url", f"{base_url}/token")
    return Integration(app_id=APP, version="1.0.0", oauth_settings=OAuthSettings(**kwargs))


async def call(integration: Integration, name: str, request: dict[str, Any], **extra: Any) -> Any:
    body = msgspec.json.encode({"request": request, **extra})
    return msgspec.json.decode(await integration.dispatch(name, body))


async def consent(authorization_url: str) -> str:
    """Plays the user: opens the authorization URL and returns where it redirects."""
    async with HTTPClient() as client:
        response = await client.get(authorization_url)
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def authorize(
    integration: Integration, scopes: list[str] | None = None, redirect_uri: str = REDIRECT
) -> tuple[str, str | None]:
    """get_authorization_url then consent: (redirect_uri_with_code, code_verifier)."""
    answer = await call(
        integration,
        "get_authorization_url",
        {
            "client_id": CLIENT_ID,
            "scopes": scopes or [],
            "redirect_uri": redirect_uri,
            "state": "st-1",
        },
    )
    return await consent(answer["response"]["authorization_url"]), answer["response"].get(
        "code_verifier"
    )


def callback_request(redirect_uri_with_code: str, verifier: str | None = None) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri_with_code": redirect_uri_with_code,
        "state": "st-1",
        "code_verifier": verifier,
    }


def refresh_request(refresh_token: str) -> dict[str, Any]:
    return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": refresh_token}


def assert_error(
    envelope: Any,
    code: str,
    status: int | None = None,
    *,
    token_failure: bool = False,
    app: str = APP,
) -> None:
    """An error envelope with the bare `code` (the app is in `app_id`).

    `token_failure`: the token endpoint failed, which is never retryable (a
    code or refresh token is single-use), whatever the code's default.
    """
    assert envelope.get("is_error") is True, envelope
    assert envelope["error"]["error_code"] == code, envelope
    assert envelope["error"]["app_id"] == app, envelope
    metadata = envelope["error"]["error_metadata"]
    assert isinstance(metadata, dict), envelope
    if token_failure:
        assert metadata["retryable"] is False, envelope
    if status is not None:
        assert envelope["error"]["status_code"] == status
    text = msgspec.json.encode(envelope).decode()
    assert CLIENT_SECRET not in text
    assert "[redacted]" not in text  # nothing needed scrubbing


# ---- Flows end to end ------------------------------------------------------------


async def test_code_flow_end_to_end(provider: Provider, base_url: str) -> None:
    integration = make_integration(base_url, scopes={"list_accounts": "users:read"})
    assert set(integration.capabilities) - ALWAYS == {
        "get_authorization_url",
        "handle_authorization_callback",
        "refresh_access_token",
    }
    redirect, verifier = await authorize(integration)
    assert verifier is None
    answer = await call(
        integration, "handle_authorization_callback", callback_request(redirect),
        include_raw_data=True,
    )  # fmt: skip
    tokens = answer["response"]
    assert tokens["access_token"] in provider.access_tokens
    assert tokens["token_type"] == "bearer"
    assert tokens["state"] == "st-1"
    assert answer["raw_data"]["expires_in"] == 3600
    assert answer["raw_data"]["scope"] == "users:read"
    sent = provider.token_requests[-1]["params"]
    assert sent["grant_type"] == "authorization_code"
    assert sent["redirect_uri"] == REDIRECT
    assert "code_verifier" not in sent

    refreshed = await call(
        integration, "refresh_access_token", refresh_request(tokens["refresh_token"])
    )
    assert refreshed["response"]["access_token"] in provider.access_tokens
    assert refreshed["response"]["refresh_token"] != tokens["refresh_token"]
    assert refreshed["raw_data"] is None  # not asked for


async def test_refresh_without_new_refresh_token_keeps_the_sent_one(
    provider: Provider, base_url: str
) -> None:
    provider.rotate_refresh_tokens = False
    provider.refresh_tokens.add("rt-long-lived-1")
    integration = make_integration(base_url)
    answer = await call(integration, "refresh_access_token", refresh_request("rt-long-lived-1"))
    assert answer["response"]["refresh_token"] == "rt-long-lived-1"


async def test_client_credentials_end_to_end(provider: Provider, base_url: str) -> None:
    integration = make_integration(
        base_url,
        authorization_url=None,
        flow_type=OAuthFlowType.CLIENT_CREDENTIALS,
        scopes={"list_accounts": "users:read groups:read", "assign_entitlement": "groups:read groups:write"},
    )  # fmt: skip
    assert set(integration.capabilities) - ALWAYS == {
        "handle_client_credentials_request",
        "refresh_access_token",
    }
    body = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scopes": []}
    answer = await call(integration, "handle_client_credentials_request", body)
    assert answer["response"]["access_token"] in provider.access_tokens
    assert answer["response"]["refresh_token"] is None
    params = provider.token_requests[-1]["params"]
    assert params["grant_type"] == "client_credentials"
    assert params["scope"] == "users:read groups:read groups:write"

    body["scopes"] = ["only:this", "only:this"]
    await call(integration, "handle_client_credentials_request", body)
    assert provider.token_requests[-1]["params"]["scope"] == "only:this"


async def test_pkce_code_flow_end_to_end(provider: Provider, base_url: str) -> None:
    integration = make_integration(base_url, pkce=True)
    redirect, verifier = await authorize(integration)
    assert verifier is not None
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= set(string.ascii_letters + string.digits + "-._~")
    answer = await call(
        integration, "handle_authorization_callback", callback_request(redirect, verifier)
    )
    assert answer["response"]["access_token"] in provider.access_tokens
    assert provider.token_requests[-1]["params"]["code_verifier"] == verifier


async def test_pkce_wrong_verifier_is_refused(provider: Provider, base_url: str) -> None:
    integration = make_integration(base_url, pkce=True)
    redirect, _ = await authorize(integration)
    answer = await call(
        integration, "handle_authorization_callback", callback_request(redirect, "x" * 43)
    )
    assert_error(answer, "authentication_expired", 400, token_failure=True)


async def test_pkce_without_verifier_is_bad_request(provider: Provider, base_url: str) -> None:
    integration = make_integration(base_url, pkce=True)
    redirect, _ = await authorize(integration)
    answer = await call(integration, "handle_authorization_callback", callback_request(redirect))
    assert_error(answer, "bad_request")
    assert "code_verifier" in answer["error"]["message"]
    assert provider.token_requests == []


def test_pkce_challenge_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert _pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


async def test_example_connector_end_to_end(provider: Provider, base_url: str) -> None:
    path = Path(__file__).parent.parent / "examples" / "oauth_connector.py"
    spec = importlib.util.spec_from_file_location("oauth_connector_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    integration: Integration = module.integration
    settings = {"provider_url": base_url}

    answer = await call(
        integration,
        "get_authorization_url",
        {"client_id": CLIENT_ID, "scopes": [], "redirect_uri": REDIRECT, "state": "st-1"},
        settings=settings,
    )
    verifier = answer["response"]["code_verifier"]
    redirect = await consent(answer["response"]["authorization_url"])
    answer = await call(
        integration,
        "handle_authorization_callback",
        callback_request(redirect, verifier),
        settings=settings,
    )
    token = answer["response"]["access_token"]
    answer = await call(
        integration,
        "validate_credentials",
        {},
        auth={"oauth": {"access_token": token}},
        settings=settings,
    )
    assert answer["response"] == {"valid": True, "unique_tenant_id": "acme"}
    answer = await call(
        integration,
        "validate_credentials",
        {},
        auth={"oauth": {"access_token": "at-not-issued"}},
        settings=settings,
    )
    assert_error(answer, "unauthorized", 401, app=integration.app_id)
    # The upstream's own explanation follows method and path.
    assert answer["error"]["message"] == "Client error 401 for GET /userinfo: invalid_token (test)"
    info = integration.info().response
    assert "refresh_access_token" in info.capabilities
    assert info.oauth_scopes == {"validate_credentials": "openid profile"}
    answer = await call(
        integration,
        "get_authorization_url",
        {"client_id": CLIENT_ID, "scopes": [], "redirect_uri": REDIRECT, "state": "s"},
    )
    assert_error(answer, "bad_request", app=integration.app_id)  # no provider_url in settings


# ---- Token request shapes --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "data", "auth"),
    [
        (RequestMethod.POST, RequestDataType.FORMDATA, ClientAuthenticationMethod.CLIENT_SECRET_POST),
        (RequestMethod.POST, RequestDataType.FORMDATA, ClientAuthenticationMethod.CLIENT_SECRET_BASIC),
        (RequestMethod.POST, RequestDataType.JSON, ClientAuthenticationMethod.CLIENT_SECRET_POST),
        (RequestMethod.POST, RequestDataType.JSON, ClientAuthenticationMethod.CLIENT_SECRET_BASIC),
        (RequestMethod.POST, RequestDataType.QUERY, ClientAuthenticationMethod.CLIENT_SECRET_POST),
        (RequestMethod.GET, RequestDataType.QUERY, ClientAuthenticationMethod.CLIENT_SECRET_BASIC),
    ],
)  # fmt: skip
async def test_token_request_shapes(
    provider: Provider,
    base_url: str,
    method: RequestMethod,
    data: RequestDataType,
    auth: ClientAuthenticationMethod,
) -> None:
    provider.expect_method = method.value
    provider.expect_data = data.value
    provider.expect_auth = auth.value
    integration = make_integration(
        base_url, request_type=OAuthRequest(method=method, data=data), client_auth=auth
    )
    redirect, _ = await authorize(integration)
    answer = await call(integration, "handle_authorization_callback", callback_request(redirect))
    assert "response" in answer and answer.get("is_error") is None, answer
    refreshed = await call(
        integration, "refresh_access_token", refresh_request(answer["response"]["refresh_token"])
    )
    assert refreshed["response"]["access_token"] in provider.access_tokens
    assert len(provider.token_requests) == 2


def test_basic_client_auth_form_encodes_id_and_secret() -> None:
    settings = OAuthSettings(
        token_url="https://t.example/token",
        client_auth=ClientAuthenticationMethod.CLIENT_SECRET_BASIC,
    )
    request = _token_request(settings, "https://t.example/token", [], "id:1 é", "p@ss:w+rd/")
    scheme, _, encoded = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "id%3A1+%C3%A9:p%40ss%3Aw%2Brd%2F"
    assert request.content == b""
    assert request.headers["accept"] == "application/json"


# ---- URLs, scopes and redirect URIs ------------------------------------------------


async def test_callable_urls(provider: Provider, base_url: str) -> None:
    seen: list[Any] = []

    def url_for(kind: str) -> Any:
        def pick(request: Any) -> str:
            seen.append(request)
            return f"{request.settings['tenant_url']}/{kind}"

        return pick

    integration = make_integration(
        "unused", authorization_url=url_for("authorize"), token_url=url_for("token")
    )
    settings = {"tenant_url": base_url}
    answer = await call(
        integration,
        "get_authorization_url",
        {"client_id": CLIENT_ID, "scopes": ["a"], "redirect_uri": REDIRECT, "state": "st-1"},
        settings=settings,
    )
    assert answer["response"]["authorization_url"].startswith(f"{base_url}/authorize?")
    redirect = await consent(answer["response"]["authorization_url"])
    answer = await call(
        integration, "handle_authorization_callback", callback_request(redirect), settings=settings
    )
    assert answer["response"]["access_token"] in provider.access_tokens
    assert [type(r).__name__ for r in seen] == [
        "GetAuthorizationUrlRequest",
        "HandleAuthorizationCallbackRequest",
    ]


async def test_authorization_url_encoding() -> None:
    integration = make_integration(
        "unused",
        authorization_url="https://id.example/oauth/authorize?tenant=a%20b&prompt=consent",
        scopes={"list_accounts": "users:read", "assign_entitlement": "users:read groups:write"},
    )
    redirect_uri = "https://app.example/cb?next=/x&y=a b#frag"
    answer = await call(
        integration,
        "get_authorization_url",
        {"client_id": "id&1", "scopes": [], "redirect_uri": redirect_uri, "state": "s=1&t?#"},
    )
    url = answer["response"]["authorization_url"]
    assert url == (
        "https://id.example/oauth/authorize?tenant=a%20b&prompt=consent&response_type=code"
        "&client_id=id%261&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fnext%3D%2Fx%26y%3Da"
        "%20b%23frag&scope=users%3Aread%20groups%3Awrite&state=s%3D1%26t%3F%23"
    )
    parts = urllib.parse.urlsplit(url)
    assert parts.fragment == ""
    assert urllib.parse.parse_qsl(parts.query) == [
        ("tenant", "a b"),
        ("prompt", "consent"),
        ("response_type", "code"),
        ("client_id", "id&1"),
        ("redirect_uri", redirect_uri),
        ("scope", "users:read groups:write"),
        ("state", "s=1&t?#"),
    ]


async def test_request_scopes_with_spaces_win_over_settings() -> None:
    integration = make_integration("https://id.example", scopes={"x": "settings:scope"})
    answer = await call(
        integration,
        "get_authorization_url",
        {"client_id": "c", "scopes": ["read write", "admin", "write"], "redirect_uri": "r",
         "state": "s"},
    )  # fmt: skip
    query = dict(
        urllib.parse.parse_qsl(urllib.parse.urlsplit(answer["response"]["authorization_url"]).query)
    )
    assert query["scope"] == "read write admin"


def test_scope_rules() -> None:
    configured = {"a": "read  write", "b": "write admin", "c": ""}
    assert _oauth_scope([], configured) == "read write admin"
    assert _oauth_scope(["x y", "y", "z"], configured) == "x y z"
    assert _oauth_scope([], {}) == ""


async def test_no_scopes_means_no_scope_parameter() -> None:
    integration = make_integration("https://id.example")
    answer = await call(
        integration,
        "get_authorization_url",
        {"client_id": "c", "scopes": [], "redirect_uri": "r", "state": "s"},
    )
    assert "scope=" not in answer["response"]["authorization_url"]


@pytest.mark.parametrize(
    ("given", "code", "redirect_uri"),
    [
        ("https://app/cb?code=abc&state=s", "abc", "https://app/cb"),
        (
            "https://app/cb?next=%2Fa%26b&x=1?2&code=a%2Bb+c&state=s&session_state=q"
            "&iss=https%3A%2F%2Fid#_=_",
            "a+b c",
            "https://app/cb?next=%2Fa%26b&x=1?2",
        ),
        ("https://app/cb?state=s", None, "https://app/cb"),
    ],
)
def test_split_redirect(given: str, code: str | None, redirect_uri: str) -> None:
    assert _split_redirect(given) == (code, None, redirect_uri)


async def test_redirect_uri_with_query_and_provider_extras(
    provider: Provider, base_url: str
) -> None:
    provider.redirect_extras = [("session_state", "ss-1"), ("iss", base_url)]
    provider.redirect_fragment = "#_=_"
    integration = make_integration(base_url)
    redirect_uri = "https://app.example/cb?next=%2Fhome%3Fa%3D1%26b%3D2&mode=x"
    redirect, _ = await authorize(integration, redirect_uri=redirect_uri)
    assert redirect.endswith("#_=_") and "session_state=ss-1" in redirect
    answer = await call(integration, "handle_authorization_callback", callback_request(redirect))
    assert answer["response"]["access_token"] in provider.access_tokens
    assert provider.token_requests[-1]["params"]["redirect_uri"] == redirect_uri


async def test_callback_without_code(provider: Provider, base_url: str) -> None:
    integration = make_integration(base_url)
    answer = await call(
        integration, "handle_authorization_callback", callback_request(f"{REDIRECT}?state=s")
    )
    assert_error(answer, "bad_request")
    answer = await call(
        integration,
        "handle_authorization_callback",
        callback_request(f"{REDIRECT}?error=access_denied&state=s"),
    )
    assert_error(answer, "permission_denied")
    assert provider.token_requests == []


# ---- Capabilities: toggles and author overrides ------------------------------------


async def test_capability_toggles() -> None:
    integration = make_integration(
        "https://id.example",
        capabilities=OAuthCapabilities(refresh_access_token=False, get_authorization_url=False),
    )
    assert set(integration.capabilities) - ALWAYS == {"handle_authorization_callback"}
    answer = await call(integration, "refresh_access_token", refresh_request("rt-123456"))
    assert_error(answer, "unsupported_operation")  # 3.5's not_implemented, on the 4.x wire
    cc = make_integration(
        "https://id.example",
        flow_type=OAuthFlowType.CLIENT_CREDENTIALS,
        capabilities=OAuthCapabilities(handle_client_credentials_request=False),
    )
    assert set(cc.capabilities) - ALWAYS == {"refresh_access_token"}


def test_info_lists_oauth_capabilities_and_scopes() -> None:
    integration = make_integration("https://id.example", scopes={"list_accounts": "users:read"})
    info = integration.info().response
    assert [c for c in info.capabilities if c not in ALWAYS] == [
        "get_authorization_url",
        "handle_authorization_callback",
        "refresh_access_token",
    ]
    assert info.oauth_scopes == {"list_accounts": "users:read"}


def test_settings_are_checked_at_registration() -> None:
    with pytest.raises(RegistrationError, match="token_url"):
        make_integration("https://id.example", token_url=None)
    with pytest.raises(RegistrationError, match="authorization_url"):
        make_integration("https://id.example", authorization_url=None)
    with pytest.raises(RegistrationError, match="OAuthSettings"):
        Integration(app_id=APP, version="1", oauth_settings={"token_url": "x"})


async def author_refresh(request: RefreshAccessTokenRequest) -> RefreshAccessTokenResponse:
    return RefreshAccessTokenResponse(
        response=OauthCredentials(access_token="authored", token_type=TokenType.BEARER)
    )


async def author_callback(
    request: HandleAuthorizationCallbackRequest,
) -> HandleAuthorizationCallbackResponse:
    return HandleAuthorizationCallbackResponse(
        response=OauthCredentials(access_token="authored-cb", token_type=TokenType.BEARER)
    )


async def test_author_override_after_defaults() -> None:
    integration = make_integration("https://id.example")
    integration.register_capability(CapabilityName.REFRESH_ACCESS_TOKEN)(author_refresh)
    integration.capability(author_callback)
    answer = await call(integration, "refresh_access_token", refresh_request("rt-123456"))
    assert answer["response"]["access_token"] == "authored"
    answer = await call(integration, "handle_authorization_callback", callback_request("x?code=c"))
    assert answer["response"]["access_token"] == "authored-cb"
    assert "get_authorization_url" in integration.capabilities


async def test_author_override_before_defaults() -> None:
    integration = Integration(app_id=APP, version="1.0.0")
    integration.register_capability(CapabilityName.REFRESH_ACCESS_TOKEN)(author_refresh)
    integration.oauth_settings = OAuthSettings(
        authorization_url="https://id.example/a", token_url="https://id.example/t"
    )
    _install_oauth(integration)  # what Integration(oauth_settings=...) does
    assert set(integration.capabilities) - ALWAYS == {
        "get_authorization_url",
        "handle_authorization_callback",
        "refresh_access_token",
    }
    answer = await call(integration, "refresh_access_token", refresh_request("rt-123456"))
    assert answer["response"]["access_token"] == "authored"


# ---- Token endpoint failures ----------------------------------------------------------


def answer_with(
    provider: Provider, status: int, body: Any, content_type: str = "application/json"
) -> None:
    content = body if isinstance(body, bytes) else msgspec.json.encode(body)
    provider.answer = (status, content, content_type)


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (400, {"error": "invalid_grant"}, "authentication_expired"),
        (401, {"error": "invalid_client"}, "unauthorized"),
        (400, {"error": "invalid_client"}, "unauthorized"),
        (401, b"nope", "unauthorized"),
        (403, {"error": "access_denied"}, "permission_denied"),
        (400, {"error": "unauthorized_client"}, "permission_denied"),
        (400, {"error": "invalid_scope"}, "bad_request"),
        (400, {"error": "made_up_error"}, "bad_request"),
        (429, b"slow down", "rate_limit"),
        (500, {"error": "server_error"}, "service_error"),
        (500, b"<html>oops</html>", "service_error"),
        (503, b"", "service_error"),
        (200, {"error": "invalid_grant"}, "authentication_expired"),
        (200, {"error": "something"}, "bad_request"),
        (200, b"<html>not json</html>", "invalid_response"),
        (200, [1, 2], "invalid_response"),
        (200, {"token_type": "bearer"}, "invalid_response"),
        (200, {"access_token": "at-xyz-123", "token_type": "mac"}, "invalid_response"),
        (302, b"", "invalid_response"),
    ],
)
async def test_token_endpoint_failures(
    provider: Provider, base_url: str, status: int, body: Any, code: str
) -> None:
    integration = make_integration(base_url)
    answer_with(provider, status, body)
    answer = await call(integration, "refresh_access_token", refresh_request("rt-secret-123"))
    assert_error(answer, code, status, token_failure=True)
    message = answer["error"]["message"]
    assert message.startswith((f"Token endpoint answered {status}", "Token response has"))
    assert "rt-secret-123" not in message
    assert answer["error"]["raised_by"] == "OAuthError"


async def test_invalid_grant_from_a_used_code(provider: Provider, base_url: str) -> None:
    integration = make_integration(base_url)
    redirect, _ = await authorize(integration)
    first = await call(integration, "handle_authorization_callback", callback_request(redirect))
    assert "response" in first and first.get("is_error") is None
    again = await call(integration, "handle_authorization_callback", callback_request(redirect))
    assert_error(again, "authentication_expired", 400, token_failure=True)
    assert again["error"]["message"] == "Token endpoint answered 400: invalid_grant"


async def test_wrong_client_secret_is_unauthorized(provider: Provider, base_url: str) -> None:
    integration = make_integration(base_url)
    body = refresh_request("rt-123456") | {"client_secret": "wrong-secret-value"}
    answer = await call(integration, "refresh_access_token", body)
    assert_error(answer, "unauthorized", 401, token_failure=True)
    assert "wrong-secret-value" not in msgspec.json.encode(answer).decode()


async def test_token_type_is_lower_cased(provider: Provider, base_url: str) -> None:
    provider.token_type = "BEARER"
    provider.refresh_tokens.add("rt-123456")
    answer = await call(
        make_integration(base_url), "refresh_access_token", refresh_request("rt-123456")
    )
    assert answer["response"]["token_type"] == "bearer"


async def test_token_endpoint_timeout(provider: Provider, base_url: str) -> None:
    provider.delay = 1.0
    integration = make_integration(base_url, client_factory=lambda: HTTPClient(read_timeout=0.2))
    answer = await call(integration, "refresh_access_token", refresh_request("rt-123456"))
    assert_error(answer, "request_timeout", token_failure=True)
    assert answer["error"]["message"] == (
        f"Timed out reading the response for POST {base_url.rstrip('/')}/token"
    )


async def test_token_requests_are_never_retried() -> None:
    calls: list[str] = []

    def handler(request: Any) -> Response:
        calls.append(request.method)
        return Response(503, headers={"Retry-After": "0"}, text="busy")

    integration = make_integration(
        "https://id.example",
        request_type=OAuthRequest(method=RequestMethod.GET, data=RequestDataType.QUERY),
        client_factory=lambda: HTTPClient(transport=MockTransport(handler), retries=5),
    )
    answer = await call(integration, "refresh_access_token", refresh_request("rt-123456"))
    assert_error(answer, "service_error", 503, token_failure=True)
    assert calls == ["GET"]


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ("ReadTimeout", "request_timeout"),
        ("ConnectError", "connection_rejected"),
        ("RemoteProtocolError", "connection_closed"),
    ],
)
async def test_token_endpoint_transport_failures_are_not_retryable(failure: str, code: str) -> None:
    """A transport failure on the way to the token endpoint is a token failure too."""
    import httpcore

    def handler(request: Any) -> Response:
        raise getattr(httpcore, failure)("boom")

    integration = make_integration(
        "https://id.example",
        client_factory=lambda: HTTPClient(transport=MockTransport(handler)),
    )
    answer = await call(integration, "refresh_access_token", refresh_request("rt-123456"))
    assert_error(answer, code, token_failure=True)


def test_parse_token_response_defaults() -> None:
    response = Response(200, json={"access_token": "at-1", "expires_in": 60})
    credentials, raw = _parse_token_response(response, refresh_token="rt-old", state="s")
    assert credentials == OauthCredentials(
        access_token="at-1", token_type=TokenType.BEARER, refresh_token="rt-old", state="s"
    )
    assert raw == {"access_token": "at-1", "expires_in": 60}


# ---- Secrets never leak -----------------------------------------------------------------

# "Zq" keeps a drawn secret from being a word of our own messages.
secret_text = st.text(string.ascii_letters + string.digits + "-._~+/=", min_size=6, max_size=24)
secret_text = secret_text.map(lambda s: "Zq" + s)


@st.composite
def provider_answers(draw: st.DrawFn, echoes: list[str]) -> Response | Exception:
    """Anything a provider might answer, often echoing the secrets it was sent."""
    import httpcore

    value = st.one_of(st.sampled_from(echoes), st.text(max_size=10), st.integers(), st.none())
    kind = draw(st.sampled_from(["json", "json", "text", "transport"]))
    if kind == "transport":
        failures = [httpcore.ReadTimeout, httpcore.ConnectError, httpcore.RemoteProtocolError]
        return draw(st.sampled_from(failures))(draw(st.sampled_from(echoes)))
    status = draw(st.sampled_from([200, 201, 302, 400, 401, 403, 404, 429, 500, 502, 503]))
    if kind == "text":
        return Response(status, text=" ".join(draw(st.lists(value.map(str), max_size=4))))
    keys = st.sampled_from(
        ["error", "error_description", "error_uri", "access_token", "token_type",
         "refresh_token", "expires_in", "message"]
    )  # fmt: skip
    body = draw(st.dictionaries(keys, value, max_size=6))
    return Response(status, json=body, headers={"x-echo": echoes[-1]})


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[str], Response | Exception, ClientAuthenticationMethod]:
    """Secrets (client secret, code, verifier, refresh token, a provider token) and an answer."""
    echoes = [draw(secret_text) for _ in range(5)]
    return echoes, draw(provider_answers(echoes)), draw(st.sampled_from(ClientAuthenticationMethod))


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


SECRETS = ["Zqclient-secret", "Zqcode-value", "Zqverifier-value", "Zqrefresh-token", "Zqtoken"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
@example(
    (
        SECRETS,
        Response(
            400,
            json={"error": SECRETS[0], "error_description": SECRETS[1], "access_token": SECRETS[4]},
        ),
        ClientAuthenticationMethod.CLIENT_SECRET_BASIC,
    )
)
@example(
    (
        SECRETS,
        Response(200, json={"access_token": SECRETS[4], "token_type": SECRETS[3]}),
        ClientAuthenticationMethod.CLIENT_SECRET_POST,
    )
)
@example((SECRETS, Response(200, text=SECRETS[4]), ClientAuthenticationMethod.CLIENT_SECRET_POST))
def test_no_secret_in_error_envelopes_or_logs(
    scenario: tuple[list[str], Response | Exception, ClientAuthenticationMethod],
) -> None:
    """Whatever the provider answers, no secret sent or returned reaches an error or a log."""
    echoes, answer, client_auth = scenario
    client_secret, code, verifier, refresh_token, _ = echoes

    def handler(request: Any) -> Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    def factory() -> HTTPClient:
        return HTTPClient(transport=MockTransport(handler))

    code_flow = make_integration(
        "https://id.example", pkce=True, client_auth=client_auth, client_factory=factory
    )
    client_flow = make_integration(
        "https://id.example",
        flow_type=OAuthFlowType.CLIENT_CREDENTIALS,
        client_auth=client_auth,
        client_factory=factory,
    )
    redirect = f"https://app.example/cb?code={urllib.parse.quote(code, safe='')}&state=s"
    common = {"client_id": CLIENT_ID, "client_secret": client_secret}
    calls = [
        (code_flow, "handle_authorization_callback",
         common | {"redirect_uri_with_code": redirect, "code_verifier": verifier}),
        (code_flow, "refresh_access_token", common | {"refresh_token": refresh_token}),
        (client_flow, "handle_client_credentials_request", common | {"scopes": ["a"]}),
    ]  # fmt: skip
    capture = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        for integration, name, body in calls:
            raw = run(integration.dispatch(name, msgspec.json.encode({"request": body})))
            if msgspec.json.decode(raw).get("is_error"):
                text = raw.decode()
                for secret in echoes:
                    assert secret not in text, (name, text)
                assert "[redacted]" not in text, text  # the scrubber had nothing to do
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
    logged = "\n".join(capture.lines)
    for secret in echoes:
        assert secret not in logged, logged
    assert "[redacted]" not in logged
