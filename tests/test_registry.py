"""Registration validates loudly at decoration time; info describes what is registered."""

# The capabilities here are registered (or refused), never called: their body is `...`.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path
from typing import Any

import msgspec
import pytest

import connector
from connector import (
    BasicCredential,
    CapabilityName,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
    ListResourcesResponse,
    RegistrationError,
    ValidateCredentialsRequest,
    ValidateCredentialsResponse,
    ValidatedCredentials,
)


class Settings(msgspec.Struct, kw_only=True):
    base_url: str = "https://api.example.com"


class OtherSettings(msgspec.Struct, kw_only=True):
    x: int = 1


class MyListAccountsRequest(ListAccountsRequest, kw_only=True):
    """A subclass of the capability's request type is accepted."""


pytestmark = pytest.mark.anyio


def fresh(**options: Any) -> Integration:
    return Integration(app_id="acme", version="1.0", auth=BasicCredential, **options)


def test_bare_decorator_infers_the_name_and_returns_the_function() -> None:
    integration = fresh()

    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        return ListAccountsResponse(response=[])

    assert integration.capability(list_accounts) is list_accounts
    assert sorted(integration.capabilities) == ["app_info", "list_accounts", "probe_integration"]
    assert integration.capabilities["list_accounts"].func is list_accounts


def test_named_spellings() -> None:
    integration = fresh()

    @integration.register_capability(CapabilityName.LIST_ACCOUNTS)
    async def any_name(request: ListAccountsRequest) -> ListAccountsResponse:
        return ListAccountsResponse(response=[])

    @integration.capability("validate_credentials")
    def check(request: ValidateCredentialsRequest) -> ValidateCredentialsResponse:
        return ValidateCredentialsResponse(
            response=ValidatedCredentials(valid=True, unique_tenant_id="t")
        )

    assert sorted(integration.capabilities) == [
        "app_info",
        "list_accounts",
        "probe_integration",
        "validate_credentials",
    ]


async def test_subclassed_request_type_is_accepted_and_decoded() -> None:
    integration = fresh()

    @integration.capability
    async def list_accounts(request: MyListAccountsRequest) -> ListAccountsResponse:
        assert isinstance(request, MyListAccountsRequest)
        return ListAccountsResponse(response=[])

    out = await integration.dispatch(
        "list_accounts", b'{"auth": {"basic": {"username": "u", "password": "p"}}, "request": {}}'
    )
    assert out.startswith(b'{"response":[]')


def expect_error(
    match: str, func: Any, name: Any = None, integration: Integration | None = None
) -> None:
    integration = integration or fresh()
    with pytest.raises(RegistrationError, match=match):
        if name is None:
            integration.capability(func)
        else:
            integration.register_capability(name)(func)


def test_unknown_capability_is_refused_naming_the_function() -> None:
    async def frobnicate(request: ListAccountsRequest) -> ListAccountsResponse: ...

    expect_error(
        r"frobnicate: unknown capability 'frobnicate_accounts'", frobnicate, "frobnicate_accounts"
    )


def test_duplicate_is_refused_naming_both() -> None:
    integration = fresh()

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse: ...

    async def again(request: ListAccountsRequest) -> ListAccountsResponse: ...

    expect_error(
        r"again: list_accounts is already registered by .*:list_accounts",
        again,
        integration=integration,
    )


def test_missing_annotations_are_refused() -> None:
    async def no_request(request) -> ListAccountsResponse: ...  # type: ignore[no-untyped-def]

    async def no_return(request: ListAccountsRequest): ...  # type: ignore[no-untyped-def]

    expect_error(r"no_request: parameter 'request' needs a request annotation", no_request)
    expect_error(r"no_return: needs a return annotation \(ListAccountsResponse\)", no_return)


def test_wrong_types_are_refused() -> None:
    async def wrong_request(request: ValidateCredentialsRequest) -> ListAccountsResponse: ...

    async def wrong_response(request: ListAccountsRequest) -> ListResourcesResponse: ...

    async def not_a_request(request: int) -> ListAccountsResponse: ...

    expect_error(
        r"wrong_request: list_accounts takes ListAccountsRequest", wrong_request, "list_accounts"
    )
    expect_error(r"wrong_response: list_accounts returns ListAccountsResponse", wrong_response)
    expect_error(r"not_a_request: cannot tell the capability", not_a_request)


def test_parameter_count_and_settings_parameter_are_checked() -> None:
    async def none() -> ListAccountsResponse: ...

    async def three(
        request: ListAccountsRequest, settings: Settings, extra: int
    ) -> ListAccountsResponse: ...

    async def with_settings(
        request: ListAccountsRequest, settings: Settings
    ) -> ListAccountsResponse: ...

    async def other_settings(
        request: ListAccountsRequest, settings: OtherSettings
    ) -> ListAccountsResponse: ...

    expect_error(
        r"none: a capability takes \(request\) or \(request, settings\), not 0",
        none,
        "list_accounts",
    )
    expect_error(r"three: .* not 3 parameters", three)
    expect_error(
        r"with_settings: takes a settings parameter but the integration has no settings_model",
        with_settings,
    )
    expect_error(
        r"other_settings: parameter 'settings' must be annotated Settings",
        other_settings,
        integration=fresh(settings_model=Settings),
    )


def test_not_a_function_is_refused() -> None:
    class Callable:
        def __call__(self, request: ListAccountsRequest) -> ListAccountsResponse: ...

    expect_error(r"a capability must be a function", Callable(), "list_accounts")


def test_local_types_under_future_annotations_say_module_level() -> None:
    class LocalRequest(ListAccountsRequest, kw_only=True):
        pass

    async def list_accounts(request: LocalRequest) -> ListAccountsResponse: ...

    expect_error(
        r"list_accounts: cannot resolve its annotations .* define request, response and settings types at module level",
        list_accounts,
    )


def test_integration_arguments_are_checked() -> None:
    with pytest.raises(
        RegistrationError, match="auth must be BasicCredential, TokenCredential or OAuthCredential"
    ):
        Integration(app_id="a", version="1", auth=dict)
    with pytest.raises(RegistrationError, match=r"settings_model must be a msgspec\.Struct"):
        Integration(app_id="a", version="1", settings_model=dict)
    with pytest.raises(RegistrationError, match="exception_handlers entries"):
        Integration(app_id="a", version="1", exception_handlers=[(ValueError, object, None)])  # type: ignore[list-item]
    with pytest.raises(RegistrationError, match="app_id"):
        Integration(app_id="", version="1")


async def test_future_annotations_module_registers_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "future_conn.py").write_text(
        textwrap.dedent(
            """
            from __future__ import annotations

            import msgspec

            from connector import (BasicCredential, FoundAccountData, Integration,
                                   ListAccountsRequest, ListAccountsResponse)

            class FutureSettings(msgspec.Struct, kw_only=True):
                prefix: str = "f"

            integration = Integration(app_id="future", version="1", auth=BasicCredential,
                                      settings_model=FutureSettings)

            @integration.capability
            async def list_accounts(request: ListAccountsRequest,
                                    settings: FutureSettings) -> ListAccountsResponse:
                return ListAccountsResponse(
                    response=[FoundAccountData(integration_specific_id=settings.prefix + "1")])
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("future_conn")
    try:
        out = await module.integration.dispatch(
            "list_accounts",
            b'{"auth": {"basic": {"username": "u", "password": "p"}}, "request": {}}',
        )
        assert b'"integration_specific_id":"f1"' in out
    finally:
        sys.modules.pop("future_conn", None)


# ---- info --------------------------------------------------------------------------


def test_info_schemas_cover_every_registered_capability() -> None:
    from mock_connector import integration

    info = integration.info().response
    assert info.capabilities == sorted(integration.capabilities)
    assert all(type(c) is str for c in info.capabilities)  # plain strings in 4.x
    assert set(info.capability_schema) == set(integration.capabilities)
    listing = info.capability_schema["list_accounts"]
    assert listing.output["type"] == "array"
    assert listing.output["items"] == {"$ref": "#/$defs/FoundAccountData"}
    assert "FoundAccountData" in listing.output["$defs"]
    assert listing.argument["$ref"] == "#/$defs/ListAccounts"
    assert listing.argument["$defs"]["ListAccounts"]["properties"]["custom_attributes"]
    assert info.capability_schema["get_last_activity"].argument["$defs"]["GetLastActivity"][
        "required"
    ] == ["account_ids"]
    assert info.authentication_schema["$defs"]["BasicCredential"]["required"] == [
        "username",
        "password",
    ]
    assert set(info.request_settings_schema["$defs"]["MockSettings"]["properties"]) == {
        "tenant",
        "users",
    }
    assert info.user_friendly_name == "Mock Directory"
    assert info.description and info.categories
    assert [t.type_id for t in info.entitlement_types] == ["group", "role"]
    assert info.oauth_scopes is None


def test_registered_types_are_those_of_the_capabilities_table() -> None:
    from mock_connector import integration

    for name, cap in integration.capabilities.items():
        spec = connector.CAPABILITIES[name]
        assert spec.name == name
        assert issubclass(cap.request_type, spec.request_type)
        assert cap.response_type is spec.response_type
        assert spec.since == "3.5" or cap.default  # its own: only capabilities 3.5 has
    assert connector.CAPABILITIES["list_accounts"].request_type is ListAccountsRequest
    assert connector.CAPABILITIES["list_accounts"].response_type is ListAccountsResponse


def test_info_is_cached_and_follows_registration() -> None:
    integration = fresh()
    first = integration.info_json()
    assert integration.info_json() is first
    assert msgspec.json.decode(first)["response"]["capabilities"] == [
        "app_info",
        "probe_integration",
    ]
    assert msgspec.json.decode(first)["response"]["request_settings_schema"] == {
        "type": "object",
        "properties": {},
    }

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse: ...

    assert msgspec.json.decode(integration.info_json())["response"]["capabilities"] == [
        "app_info",
        "list_accounts",
        "probe_integration",
    ]


def test_helpers() -> None:
    request = msgspec.json.decode(
        b'{"auth": {"token": {"token": "t"}}, "request": {}, "settings": {"base_url": "https://x"}}',
        type=ListAccountsRequest,
    )
    assert connector.get_token_auth(request).token == "t"
    assert connector.get_page(request) == connector.Page()
    assert connector.get_settings(request, Settings).base_url == "https://x"
    for getter in (connector.get_basic_auth, connector.get_oauth):
        with pytest.raises(connector.ConnectorError) as info:
            getter(request)
        assert info.value.error_code is connector.ErrorCode.BAD_REQUEST
    with pytest.raises(connector.ConnectorError, match=r"Invalid settings: .* at `\$.settings.x`"):
        connector.get_settings(
            msgspec.json.decode(
                b'{"auth": {}, "request": {}, "settings": {"x": "1"}}', type=ListAccountsRequest
            ),
            OtherSettings,
        )


def test_types_imported_inside_a_function_resolve_under_future_annotations() -> None:
    """This module has `from __future__ import annotations`: the annotations are
    strings naming this function's locals, as a test module's often are."""
    from connector import ListAccountsRequest as LocalRequest
    from connector import ListAccountsResponse as LocalResponse

    class LocalSettings(msgspec.Struct, kw_only=True):
        region: str = "eu"

    integration = fresh()

    @integration.capability
    async def list_accounts(request: LocalRequest) -> LocalResponse:
        return LocalResponse(response=[])

    @integration.custom_capability("sync_things")
    async def sync_things(
        request: connector.CustomRequest[LocalSettings],
    ) -> connector.CustomResponse[LocalSettings]:
        return connector.CustomResponse(response=request.request)

    assert {"list_accounts", "sync_things"} <= set(integration.capabilities)


def test_python_m_connector_names_itself_connector(tmp_path: Path) -> None:
    import subprocess

    target = tmp_path / "bad_import.py"
    target.write_text("from connector import TokenAuth\n")
    proc = subprocess.run(
        [sys.executable, "-m", "connector", "info", str(target)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 2
    assert "from 'connector'" in proc.stderr and "__main__" not in proc.stderr


def test_a_sync_capability_without_anyio_is_refused_at_registration() -> None:
    import subprocess

    program = (
        "import sys; sys.modules['anyio'] = None\n"
        "import connector\n"
        "i = connector.Integration(app_id='a', version='1')\n"
        "def list_accounts(request: connector.ListAccountsRequest)"
        " -> connector.ListAccountsResponse: ...\n"
        "try:\n"
        "    i.capability(list_accounts)\n"
        "except connector.RegistrationError as exc:\n"
        "    print(exc)\n"
    )
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=root)
    assert "needs anyio (pip install anyio)" in proc.stdout, proc.stderr


def test_all_names_every_public_definition() -> None:
    """What a vendoring user may rely on is declared once, in __all__."""
    import re
    import types

    source = Path(connector.__file__).read_text()
    defined = {
        name
        for name in re.findall(r"^(?:class|def|async def) ([A-Za-z]\w*)", source, re.M)
        if isinstance(getattr(connector, name, None), type | types.FunctionType)
    }
    assert defined - set(connector.__all__) == set()  # (ruff keeps it sorted: RUF022)


def test_an_http_client_without_httpcore_says_what_to_install() -> None:
    import subprocess

    program = (
        "import sys; sys.modules['httpcore'] = None\n"
        "import connector\n"
        "try:\n"
        "    connector.HTTPClient('https://api.example')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "mock = connector.MockTransport(lambda r: connector.Response(204))\n"
        "connector.HTTPClient('https://api.example', transport=mock)\n"
        "print('with a transport: fine')\n"
    )
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=root)
    assert "pip install httpcore anyio" in proc.stdout, proc.stderr
    assert "with a transport: fine" in proc.stdout
