"""Multi-credential connectors: `credentials[]`, every credential type,
validate_credential_config, OAuth settings per credential."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import msgspec
import pytest
from _schemas import errors4
from _strategies import strategy_for
from _util import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connector
from connector import (
    BasicCredential,
    CredentialConfig,
    ErrorCode,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
    OAuthCredential,
    RegistrationError,
    TokenCredential,
)

pytestmark = pytest.mark.anyio


OAUTH = {"id": "oauth", "oauth": {"access_token": "at-123456"}}
SCIM = {"id": "scim", "token": {"token": "scim-123456"}}


def multi(**options: Any) -> Integration:
    options.setdefault(
        "credentials",
        [
            CredentialConfig(id="oauth", type=OAuthCredential, description="API token"),
            CredentialConfig(id="scim", type="token", optional=True),
        ],
    )
    integration = Integration(app_id="acme", version="1", **options)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        token = connector.get_credential(request, "oauth", OAuthCredential).access_token
        ids = [token[:2]]
        if any(item.id == "scim" for item in request.credentials or ()):
            ids.append(connector.get_credential(request, "scim").token[:4])
        found = [connector.FoundAccountData(integration_specific_id=i) for i in ids]
        return ListAccountsResponse(response=found)

    return integration


async def dispatch(integration: Integration, name: str, body: dict[str, Any]) -> tuple[Any, Any]:
    out, code = await integration.dispatch_result(name, json.dumps(body))
    return json.loads(out), code


async def test_one_and_two_credentials_are_accepted() -> None:
    integration = multi()
    data, code = await dispatch(
        integration, "list_accounts", {"request": {}, "credentials": [OAUTH]}
    )
    assert code is None and [a["integration_specific_id"] for a in data["response"]] == ["at"]
    data, code = await dispatch(
        integration, "list_accounts", {"request": {}, "credentials": [SCIM, OAUTH]}
    )
    assert code is None
    assert [a["integration_specific_id"] for a in data["response"]] == ["at", "scim"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"auth": {"token": {"token": "t-123456"}}, "credentials": [OAUTH]}, "not both"),
        ({}, "Missing `credentials`: this connector takes oauth, scim"),
        ({"credentials": []}, "Missing `credentials`"),
        ({"auth": {"oauth": {"access_token": "a-123456"}}}, "takes `credentials`"),
        ({"credentials": [{"id": "github", "token": {"token": "x"}}]}, "undeclared id 'github'"),
        ({"credentials": [OAUTH, {"token": {"token": "x"}}]}, "credentials[1] has no `id`"),
        ({"credentials": [OAUTH, OAUTH]}, "credentials[1]: id 'oauth' is given twice"),
        ({"credentials": [SCIM]}, "missing 'oauth'"),
        (
            {"credentials": [{"id": "oauth", "basic": {"username": "u", "password": "p"}}]},
            "credentials[0] ('oauth') must carry `oauth`, not `basic`",
        ),
        ({"credentials": [{"id": "oauth"}]}, "must carry `oauth`, not nothing"),
    ],
)
async def test_each_rule_is_a_bad_request_naming_what_is_wrong(
    body: dict[str, Any], message: str
) -> None:
    data, code = await dispatch(multi(), "list_accounts", {"request": {}, **body})
    assert code is ErrorCode.BAD_REQUEST, data
    assert message in data["error"]["message"]
    assert data["error"]["raised_by"] is None
    assert "123456" not in data["error"]["message"]


async def test_the_closest_combination_is_named() -> None:
    integration = multi(
        credentials=[CredentialConfig(id=name, type="token") for name in ("a", "b", "c", "d")],
        allowed_credentials=[("a", "b", "c"), ("c", "d")],
    )
    body = {"request": {}, "credentials": [{"id": "a", "token": {"token": "x"}}]}
    data, code = await dispatch(integration, "list_accounts", body)
    assert code is ErrorCode.BAD_REQUEST
    assert data["error"]["message"].endswith("missing 'b', 'c'")
    body = {"request": {}, "credentials": [{"id": "d", "token": {"token": "x"}}]}
    assert (await dispatch(integration, "list_accounts", body))[0]["error"]["message"].endswith(
        "'c'"
    )


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"credentials": [CredentialConfig(id="a", type="token")] * 2}, "declared twice"),
        ({"credentials": [CredentialConfig(id="", type="token")]}, "non-empty id"),
        ({"credentials": [CredentialConfig(id="a", type=dict)]}, "use a credential struct"),
        ({"credentials": [CredentialConfig(id="a", type="magic")]}, "use a credential struct"),
        (
            {
                "credentials": [CredentialConfig(id="a", type="token")],
                "allowed_credentials": [("b",)],
            },
            "tuples of declared ids",
        ),
        (
            {"credentials": [CredentialConfig(id="a", type="token")], "allowed_credentials": ["a"]},
            "tuples of declared ids",
        ),
        (
            {"credentials": [CredentialConfig(id="a", type="token")], "auth": BasicCredential},
            "not both",
        ),
        (
            {"credentials": [CredentialConfig(id="a", type="token")], "api_version": "3.5"},
            "API 4",
        ),
        ({"allowed_credentials": [("a",)]}, "needs credentials="),
    ],
)
def test_declarations_are_checked_at_registration(options: dict[str, Any], match: str) -> None:
    with pytest.raises(RegistrationError, match=match):
        Integration(app_id="acme", version="1", **options)


# Every credential member of the 4.280 file, accepted in `credentials` and in `auth`.
KINDS: dict[str, type[msgspec.Struct]] = {
    "oauth": connector.OAuthCredential,
    "oauth_client_credentials": connector.OAuthClientCredential,
    "oauth1": connector.OAuth1Credential,
    "basic": connector.BasicCredential,
    "token": connector.TokenCredential,
    "jwt": connector.JWTCredential,
    "service_account": connector.ServiceAccountCredential,
    "key_pair": connector.KeyPairCredential,
    "empty": connector.EmptyCredential,
}
GETTERS = {
    "oauth": connector.get_oauth,
    "oauth_client_credentials": connector.get_oauth_client_credentials,
    "oauth1": connector.get_oauth1_auth,
    "basic": connector.get_basic_auth,
    "token": connector.get_token_auth,
    "jwt": connector.get_jwt_auth,
    "service_account": connector.get_service_account_auth,
    "key_pair": connector.get_key_pair_auth,
}


@pytest.mark.parametrize("member", sorted(KINDS))
@settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_credential_type_is_accepted(member: str, data: st.DataObject) -> None:
    kind = KINDS[member]
    value = data.draw(strategy_for(kind))
    item = {"id": "main", member: msgspec.to_builtins(value)}
    body = {"request": {}, "credentials": [item]}
    assert errors4("request:list_accounts", body) == []
    seen: list[Any] = []
    integration = Integration(
        app_id="acme", version="1", credentials=[CredentialConfig(id="main", type=kind)]
    )

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        seen.append(connector.get_credential(request, "main", kind))
        if member in GETTERS:
            seen.append(GETTERS[member](request))
        return ListAccountsResponse(response=[])

    data_out, code = run(dispatch(integration, "list_accounts", body))
    assert code is None, data_out
    assert all(found == value for found in seen) and seen


def test_getters_say_what_is_missing() -> None:
    request = msgspec.json.decode(
        json.dumps({"request": {}, "credentials": [OAUTH]}), type=ListAccountsRequest
    )
    with pytest.raises(connector.ConnectorError, match="Missing credential 'scim'") as missing:
        connector.get_credential(request, "scim")
    assert missing.value.error_code is ErrorCode.BAD_REQUEST
    with pytest.raises(connector.ConnectorError, match="does not carry `token`"):
        connector.get_credential(request, "oauth", TokenCredential)
    with pytest.raises(connector.ConnectorError, match=r"Missing `auth\.jwt`"):
        connector.get_jwt_auth(request)


async def test_auth_connectors_are_unchanged_and_take_client_credentials_for_oauth() -> None:
    integration = Integration(app_id="acme", version="1", auth=OAuthCredential)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        token = connector.get_oauth(request).access_token
        return ListAccountsResponse(
            response=[connector.FoundAccountData(integration_specific_id=token)]
        )

    data, code = await dispatch(
        integration, "list_accounts", {"request": {}, "auth": {"oauth": {"access_token": "a1"}}}
    )
    assert code is None and data["response"][0]["integration_specific_id"] == "a1"
    client = {"access_token": "c1", "client_id": "id", "client_secret": "s", "scopes": []}
    data, code = await dispatch(
        integration, "list_accounts", {"request": {}, "auth": {"oauth_client_credentials": client}}
    )
    assert code is None and data["response"][0]["integration_specific_id"] == "c1"
    data, code = await dispatch(
        integration, "list_accounts", {"request": {}, "credentials": [OAUTH]}
    )
    assert code is ErrorCode.BAD_REQUEST and "not `credentials`" in data["error"]["message"]


# ---- validate_credential_config ----------------------------------------------------


async def must_be_tok(credential: TokenCredential) -> list[str]:
    await asyncio.sleep(0)
    return [] if credential.token.startswith("tok-") else ["the token must start with tok-"]


def checking() -> Integration:
    return Integration(
        app_id="acme",
        version="1",
        credentials=[
            CredentialConfig(id="api", type=TokenCredential, validation=must_be_tok),
            CredentialConfig(
                id="admin",
                type=BasicCredential,
                optional=True,
                validation=lambda basic: basic.username != "root" or ["root is not allowed"],
            ),
        ],
    )


async def validate(integration: Integration, credential: dict[str, Any]) -> dict[str, Any]:
    data, code = await dispatch(
        integration, "validate_credential_config", {"request": {"credential": credential}}
    )
    assert code is None, data
    assert errors4("response:validate_credential_config", data) == []
    return data["response"]  # type: ignore[no-any-return]


def test_validate_credential_config_is_registered_only_for_credentials_connectors() -> None:
    assert "validate_credential_config" in checking().capabilities
    plain = Integration(app_id="acme", version="1", auth=BasicCredential)
    assert "validate_credential_config" not in plain.capabilities


async def test_a_good_credential_is_valid() -> None:
    assert await validate(checking(), {"id": "api", "token": {"token": "tok-123456"}}) == {
        "valid": True,
        "validation_errors": None,
    }
    admin = {"id": "admin", "basic": {"username": "ops", "password": "pw-123456"}}
    assert (await validate(checking(), admin))["valid"] is True


@pytest.mark.parametrize(
    ("credential", "problem"),
    [
        ({"token": {"token": "tok-1"}}, "has no `id` (declared: api, admin)"),
        ({"id": "nope", "token": {"token": "tok-1"}}, "has an undeclared `id`"),
        ({"id": "api"}, "`token` is missing"),
        ({"id": "api", "token": {}}, "missing required field `token` - at `$.token`"),
        ({"id": "api", "token": {"token": 5}}, "Expected `str`, got `int` - at `$.token.token`"),
        ({"id": "api", "token": {"token": ""}}, "`token.token` is empty"),
        ({"id": "api", "token": {"token": "  "}}, "`token.token` is empty"),
        (
            {"id": "api", "token": {"token": " tok-1"}},
            "`token.token` has leading or trailing spaces",
        ),
        (
            {"id": "api", "token": {"token": "tok-1"}, "basic": {"username": "a", "password": "b"}},
            "`basic` is not what credential 'api' takes (`token`)",
        ),
        ({"id": "api", "token": {"token": "abc-123456"}}, "the token must start with tok-"),
        (
            {"id": "admin", "basic": {"username": "root", "password": "pw-123456"}},
            "root is not allowed",
        ),
    ],
)
async def test_each_problem_is_reported(credential: dict[str, Any], problem: str) -> None:
    answer = await validate(checking(), credential)
    assert answer["valid"] is False
    assert any(problem in text for text in answer["validation_errors"]), answer
    assert not any("123456" in text for text in answer["validation_errors"])


async def test_a_wrong_member_instead_of_the_right_one_is_one_problem() -> None:
    """`basic` given where `token` is taken: one message naming both, not a second
    saying `token` is missing."""
    answer = await validate(checking(), {"id": "api", "basic": {"username": "a", "password": "b"}})
    assert answer["validation_errors"] == ["`basic` is not what credential 'api' takes (`token`)"]


async def test_validation_returning_false_is_a_refusal() -> None:
    integration = Integration(
        app_id="acme",
        version="1",
        credentials=[CredentialConfig(id="api", type="token", validation=lambda c: False)],
    )
    answer = await validate(
        integration, {"token": {"token": "tok-1"}}
    )  # one credential: id implied
    assert answer == {
        "valid": False,
        "validation_errors": ["Credential 'api' was refused by its validation"],
    }


async def test_the_author_may_replace_validate_credential_config() -> None:
    integration = checking()

    @integration.capability
    async def validate_credential_config(
        request: connector.ValidateCredentialConfigRequest,
    ) -> connector.ValidateCredentialConfigResponse:
        checked = connector.ValidatedCredentialConfig(valid=True)
        return connector.ValidateCredentialConfigResponse(response=checked)

    assert (await validate(integration, {"id": "api", "token": {"token": "x"}}))["valid"] is True


# ---- OAuth per credential ---------------------------------------------------------


def token_endpoint(tag: str) -> connector.OAuthSettings:
    def answer(request: connector.Request) -> connector.Response:
        return connector.Response(
            200, json={"access_token": f"{tag}-token", "token_type": "bearer"}
        )

    return connector.OAuthSettings(
        authorization_url=f"https://{tag}.example/authorize",
        token_url=f"https://{tag}.example/token",
        scopes={"list_accounts": f"{tag}:read"},
        pkce=tag == "scim",
        client_factory=lambda: connector.HTTPClient(transport=connector.MockTransport(answer)),
    )


def two_oauth() -> Integration:
    return Integration(
        app_id="acme",
        version="1",
        credentials=[
            CredentialConfig(
                id="main", type=OAuthCredential, oauth_settings=token_endpoint("main")
            ),
            CredentialConfig(
                id="scim",
                type=OAuthCredential,
                optional=True,
                oauth_settings=token_endpoint("scim"),
            ),
        ],
    )


def refresh(credential_id: str | None) -> dict[str, Any]:
    payload = {"client_id": "id", "client_secret": "secret-123456", "refresh_token": "rt-123456"}
    if credential_id is not None:
        payload["credential_id"] = credential_id
    return {"request": payload}


async def test_the_oauth_capabilities_pick_settings_by_credential_id() -> None:
    integration = two_oauth()
    assert {"get_authorization_url", "refresh_access_token"} <= set(integration.capabilities)
    for tag in ("main", "scim"):
        data, code = await dispatch(integration, "refresh_access_token", refresh(tag))
        assert code is None and data["response"]["access_token"] == f"{tag}-token"
        body = {
            "request": {
                "client_id": "id",
                "scopes": [],
                "redirect_uri": "https://platform/cb",
                "state": "s",
                "credential_id": tag,
            }
        }
        data, code = await dispatch(integration, "get_authorization_url", body)
        url = data["response"]["authorization_url"]
        assert url.startswith(f"https://{tag}.example/authorize?")
        assert ("code_challenge=" in url) is (tag == "scim")


@pytest.mark.parametrize("credential_id", ["nope", None])
async def test_an_unknown_or_missing_credential_id_is_integration_missing_parameter(
    credential_id: str | None,
) -> None:
    data, code = await dispatch(two_oauth(), "refresh_access_token", refresh(credential_id))
    assert code is ErrorCode.INTEGRATION_MISSING_PARAMETER
    assert "main, scim" in data["error"]["message"]
    assert "123456" not in json.dumps(data)


async def test_one_oauth_credential_needs_no_credential_id() -> None:
    integration = Integration(
        app_id="acme",
        version="1",
        credentials=[
            CredentialConfig(
                id="main", type=OAuthCredential, oauth_settings=token_endpoint("main")
            ),
            CredentialConfig(id="scim", type="token", optional=True),
        ],
    )
    data, code = await dispatch(integration, "refresh_access_token", refresh(None))
    assert code is None and data["response"]["access_token"] == "main-token"


# ---- info ---------------------------------------------------------------------------


def test_info_describes_each_credential_and_validates() -> None:
    data = json.loads(two_oauth().info_json())
    assert errors4("InfoResponse", data) == []
    info = data["response"]
    assert info["authentication_schema"] == {}
    first, second = info["credentials_schema"]
    assert (first["id"], first["x-optional"], second["x-optional"]) == ("main", False, True)
    assert first["x-credential-type"] == "oauth"
    assert first["$defs"]["OAuthCredential"]["properties"]["access_token"]["x-secret"] is True
    assert second["oauth_settings"] == {
        "oauth_type": "CODE_FLOW",
        "scopes": {"list_accounts": "scim:read"},
        "pkce_enabled": True,
    }
    document = json.loads(two_oauth().openapi_json())["info"]
    assert document["x-multi-credential"] is True
    assert document["x-allowed-credentials"] == [["main"]]


# ---- secrets ----------------------------------------------------------------------------

secrets = st.text(min_size=8, max_size=24).filter(lambda s: s.strip() == s and len(set(s)) > 3)


@settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(secret=secrets, member=st.sampled_from(sorted(set(KINDS) - {"empty"})), data=st.data())
def test_secrets_in_any_credential_never_reach_envelopes_or_logs(
    secret: str, member: str, data: st.DataObject, caplog: pytest.LogCaptureFixture
) -> None:
    """Every string of every credential member is a secret: none is echoed."""
    kind = KINDS[member]
    value = msgspec.to_builtins(data.draw(strategy_for(kind)))

    def plant(item: Any) -> Any:
        if isinstance(item, str):
            return secret
        if isinstance(item, dict):
            return {k: plant(v) for k, v in item.items()}
        if isinstance(item, list):
            return [plant(v) for v in item] or [secret]
        return item

    planted = plant(value)
    integration = Integration(
        app_id="acme", version="1", credentials=[CredentialConfig(id="main", type=kind)]
    )

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        raise ValueError(f"upstream refused {json.dumps(planted)} and {planted!r}")

    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="connector"):
        body = {"request": {}, "credentials": [{"id": "main", member: planted}]}
        out, code = run(integration.dispatch_result("list_accounts", json.dumps(body)))
        wrong = {"request": {}, "credentials": [{"id": "other", member: planted}]}
        out2, _ = run(integration.dispatch_result("list_accounts", json.dumps(wrong)))
    # internal_error from the capability, or bad_request when the secret landed in
    # an enum field (service_type): both must keep it out.
    assert code in (ErrorCode.INTERNAL_ERROR, ErrorCode.BAD_REQUEST)
    for text in (out.decode(), out2.decode(), caplog.text):
        assert secret not in text
