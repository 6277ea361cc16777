"""The error-wrapping chain: every failure is an envelope, no secret leaks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any, cast

import msgspec
import pytest
from _schemas import errors4
from _util import run
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import connector
from connector import (
    BasicCredential,
    ConnectorError,
    ErrorCode,
    ErrorResponse,
    ExceptionHandler,
    FoundAccountData,
    HTTPHandler,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
    ValidateCredentialsRequest,
    ValidateCredentialsResponse,
    ValidatedCredentials,
)

pytestmark = pytest.mark.anyio
ERROR_CODES = {code.value for code in ErrorCode}


class Settings(msgspec.Struct, kw_only=True):
    region: str = "eu"
    retries: int = 3
    api_key: str = ""  # secret by its name
    signing: Annotated[str, connector.Secret] = ""  # secret by its mark


class RequiredSettings(msgspec.Struct, kw_only=True):
    account_id: str


class Collect(logging.Handler):
    """Keeps every record of the `connector` logger, formatted in full."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        formatter = logging.Formatter()
        return "\n".join(formatter.format(r) for r in self.records)


@pytest.fixture
def logs() -> Iterator[Collect]:
    with collecting() as handler:
        yield handler


class collecting:
    def __enter__(self) -> Collect:
        self.handler = Collect()
        self.logger = logging.getLogger("connector")
        self.level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.handler)
        return self.handler

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)


def body(**members: Any) -> bytes:
    envelope: dict[str, Any] = {
        "auth": {"basic": {"username": "u", "password": "pw"}},
        "request": {},
    }
    envelope.update(members)
    return json.dumps(envelope).encode()


def error_of(out: bytes) -> connector.Error:
    return msgspec.json.decode(out, type=ErrorResponse).error


def make_integration(**options: Any) -> Integration:
    options.setdefault("auth", BasicCredential)
    return Integration(app_id="acme", version="1.0", **options)


# ---- wire-level failures ----------------------------------------------------


@pytest.fixture(scope="module")
def accounts() -> Integration:
    integration = make_integration(settings_model=Settings)

    @integration.capability
    async def list_accounts(
        request: ListAccountsRequest, settings: Settings
    ) -> ListAccountsResponse:
        account = FoundAccountData(integration_specific_id=settings.region)
        return ListAccountsResponse(response=[account], raw_data={"upstream": 1})

    return integration


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "Input data was truncated"),
        (b"{", "Input data was truncated"),
        (b"not json", "JSON is malformed"),
        (b"[1, 2]", "Expected `object`, got `array`"),
        (b'"text"', "Expected `object`, got `str`"),
        (b"{}", "missing required field `request`"),
        (b'{"auth": {}}', "missing required field `request`"),
        (b'{"auth": null, "request": {}}', "Missing `auth.basic`"),
        (b'{"request": {}}', "Missing `auth.basic`"),
        (b'{"auth": 3, "request": {}}', "at `$.auth`"),
        (body(page={"size": "100"}), "Expected `int | null`, got `str` - at `$.page.size`"),
        (body(page={"size": 100.0}), "at `$.page.size`"),
        (body(request={"custom_attributes": [1]}), "at `$.request.custom_attributes[0]`"),
        (body(auth={"token": {"token": "tok-123456"}}), "Missing `auth.basic`"),
        (body(auth={}), "Missing `auth.basic`"),
        (
            body(settings={"retries": "many"}),
            "Invalid settings: Expected `int`, got `str` - at `$.settings.retries`",
        ),
        (body(settings=[1]), "at `$.settings`"),
    ],
)
async def test_wire_failures_are_bad_request_envelopes(
    accounts: Integration, raw: bytes, fragment: str
) -> None:
    out, code = await accounts.dispatch_result("list_accounts", raw)
    assert code is ErrorCode.BAD_REQUEST
    error = error_of(out)
    assert fragment in error.message
    assert error.error_code == "bad_request"
    assert error.app_id == "acme"
    assert error.raised_by is None and error.raised_in is None


async def test_unregistered_names_are_not_implemented(accounts: Integration) -> None:
    for name in ("validate_credentials", "get_authorization_url", "no_such_thing", ""):
        out, code = await accounts.dispatch_result(name, body())
        assert code is ErrorCode.UNSUPPORTED_OPERATION  # not_implemented, on the 4.x wire
        assert error_of(out).error_code == "unsupported_operation"


async def test_success_drops_raw_data_unless_asked(accounts: Integration) -> None:
    plain = msgspec.json.decode(await accounts.dispatch("list_accounts", body()))
    assert plain["raw_data"] is None and plain["response"][0]["integration_specific_id"] == "eu"
    asked = msgspec.json.decode(
        await accounts.dispatch("list_accounts", body(include_raw_data=True))
    )
    assert asked["raw_data"] == {"upstream": 1}
    explicit = msgspec.json.decode(
        await accounts.dispatch("list_accounts", body(settings={"region": "us"}))
    )
    assert explicit["response"][0]["integration_specific_id"] == "us"


async def test_dispatch_accepts_str_bodies(accounts: Integration) -> None:
    out, code = await accounts.dispatch_result("list_accounts", body().decode())
    assert code is None and b'"response"' in out


async def test_settings_with_all_defaults_accept_missing_settings(accounts: Integration) -> None:
    for raw in (body(), body(settings=None), body(settings={})):
        out, code = await accounts.dispatch_result("list_accounts", raw)
        assert code is None, out


async def test_required_settings_are_named_when_missing() -> None:
    integration = make_integration(settings_model=RequiredSettings)

    @integration.capability
    async def validate_credentials(
        request: ValidateCredentialsRequest,
    ) -> ValidateCredentialsResponse:
        settings = connector.get_settings(request, RequiredSettings)
        return ValidateCredentialsResponse(
            response=ValidatedCredentials(valid=True, unique_tenant_id=settings.account_id)
        )

    out, code = await integration.dispatch_result("validate_credentials", body())
    assert code is ErrorCode.BAD_REQUEST
    assert "missing required field `account_id`" in error_of(out).message
    assert "$.settings" in error_of(out).message
    out, code = await integration.dispatch_result(
        "validate_credentials", body(settings={"account_id": "t1"})
    )
    assert code is None and b'"unique_tenant_id":"t1"' in out


async def test_every_auth_kind_is_checked() -> None:
    credentials = {
        BasicCredential: {"basic": {"username": "u", "password": "p"}},
        connector.TokenCredential: {"token": {"token": "t"}},
        connector.OAuthCredential: {"oauth": {"access_token": "a"}},
    }
    for kind, good in credentials.items():
        integration = make_integration(auth=kind)

        @integration.capability
        async def validate_credentials(
            request: ValidateCredentialsRequest,
        ) -> ValidateCredentialsResponse:
            return ValidateCredentialsResponse(
                response=ValidatedCredentials(valid=True, unique_tenant_id="t")
            )

        assert (await integration.dispatch_result("validate_credentials", body(auth=good)))[
            1
        ] is None
        for other_kind, other in credentials.items():
            if other_kind is kind:
                continue
            out, code = await integration.dispatch_result("validate_credentials", body(auth=other))
            assert code is ErrorCode.BAD_REQUEST
            assert "Missing `auth." in error_of(out).message


def test_enum_values_are_not_echoed() -> None:
    integration = make_integration()

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        return ListAccountsResponse(response=[])

    class Bad(msgspec.Struct):
        status: connector.AccountStatus

    decoder = msgspec.json.Decoder(Bad)
    with pytest.raises(msgspec.ValidationError) as info:
        decoder.decode(b'{"status": "hunter2-secret"}')
    assert "hunter2-secret" in str(info.value)  # msgspec itself echoes it ...
    assert "hunter2-secret" not in connector._describe_decode_error(info.value)  # ... we do not
    assert "at `$.status`" in connector._describe_decode_error(info.value)


async def test_wrong_return_type_is_invalid_response(logs: Collect) -> None:
    integration = make_integration()

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        return [FoundAccountData(integration_specific_id="1")]  # type: ignore[return-value]

    out, code = await integration.dispatch_result("list_accounts", body())
    assert code is ErrorCode.INVALID_RESPONSE
    assert "returned list, expected ListAccountsResponse" in error_of(out).message


# ---- exceptions raised by capabilities --------------------------------------


def raising(exc: BaseException, **options: Any) -> Integration:
    integration = make_integration(**options)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        raise exc

    return integration


class FakeResponse:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


class UpstreamError(Exception):
    """Shaped like httpx.HTTPStatusError: carries `.response.status_code`."""

    def __init__(self, status: int) -> None:
        super().__init__(f"Client error {status} for GET /users")
        self.response = FakeResponse(status)


STATUS_TABLE = {
    400: "bad_request", 413: "bad_request", 415: "bad_request", 422: "bad_request",
    401: "unauthorized", 403: "permission_denied", 404: "not_found",
    405: "unsupported_operation", 406: "unsupported_operation", 501: "unsupported_operation",
    408: "request_timeout", 409: "conflict", 429: "rate_limit",
    500: "bad_gateway", 502: "bad_gateway", 504: "bad_gateway", 503: "service_error",
    410: "invalid_response", 418: "invalid_response", 599: "invalid_response",
}  # fmt: skip


@pytest.mark.parametrize(("status", "code"), sorted(STATUS_TABLE.items()))
async def test_http_handler_follows_the_status_table(status: int, code: str) -> None:
    for handlers in ([(UpstreamError, HTTPHandler, None)], []):  # listed, and the built-in fallback
        integration = raising(UpstreamError(status), exception_handlers=handlers)
        error = error_of(await integration.dispatch("list_accounts", body()))
        assert error.error_code == code
        assert error.status_code == status
        assert error.raised_by == "UpstreamError"
        assert error.raised_in == f"{__name__}:list_accounts"


async def test_connector_error_keeps_its_code_and_app_error_code() -> None:
    exc = ConnectorError(
        "Seat limit reached", ErrorCode.PERMISSION_DENIED, app_error_code="acme.seats"
    )
    error = error_of(await raising(exc).dispatch("list_accounts", body()))
    assert error.error_code == "permission_denied"
    assert error.app_error_code == "acme.seats"
    assert error.message == "Seat limit reached"
    assert str(exc) == "Seat limit reached"


async def test_first_matching_handler_wins_and_third_element_sets_the_code() -> None:
    class Shout(ExceptionHandler):
        @staticmethod
        def handle(
            e: Exception,
            original_func: Any,
            response: ErrorResponse,
            error_code: ErrorCode | None = None,
        ) -> ErrorResponse:
            response.error.message = f"handled in {original_func.__name__}: {e}"
            response.error.app_error_code = "acme.shout"
            return ExceptionHandler.handle(e, original_func, response, error_code)

    handlers = [
        (KeyError, Shout, ErrorCode.NOT_FOUND),
        (LookupError, HTTPHandler, ErrorCode.INVALID_VALUE),
    ]
    error = error_of(
        await raising(KeyError("k"), exception_handlers=handlers).dispatch("list_accounts", body())
    )
    assert error.error_code == "not_found"
    assert error.message == "handled in list_accounts: 'k'"
    assert error.app_error_code == "acme.shout"
    error = error_of(
        await raising(IndexError("i"), exception_handlers=handlers).dispatch(
            "list_accounts", body()
        )
    )
    assert error.error_code == "invalid_value"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("ConnectTimeout", "connection_timeout"),
        ("ReadTimeout", "request_timeout"),
        ("WriteTimeout", "request_timeout"),
        ("PoolTimeout", "request_timeout"),
        ("ConnectError", "connection_rejected"),
        ("ReadError", "connection_closed"),
        ("RemoteProtocolError", "connection_closed"),
    ],
)
async def test_httpcore_exceptions_are_classified(name: str, code: str) -> None:
    import httpcore

    exc = getattr(httpcore, name)("boom")
    error = error_of(await raising(exc).dispatch("list_accounts", body()))
    assert error.error_code == code
    assert error.raised_by == name


async def test_unexpected_errors_log_one_traceback(logs: Collect) -> None:
    await raising(ZeroDivisionError("division by zero")).dispatch("list_accounts", body())
    errors = [r for r in logs.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert errors[0].levelno == logging.ERROR
    assert "Traceback" in errors[0].getMessage() and "ZeroDivisionError" in errors[0].getMessage()
    assert errors[0].exc_info is None


async def test_expected_errors_log_one_line_without_traceback(logs: Collect) -> None:
    await raising(ConnectorError("gone", ErrorCode.NOT_FOUND)).dispatch("list_accounts", body())
    await raising(UpstreamError(404)).dispatch("list_accounts", body())
    records = [r for r in logs.records if r.levelno >= logging.WARNING]
    assert len(records) == 2
    for record in records:
        assert record.levelno == logging.WARNING
        assert "\n" not in record.getMessage() and record.exc_info is None


async def test_handle_errors_false_lets_capability_errors_propagate() -> None:
    integration = raising(ValueError("debug me"), handle_errors=False)
    with pytest.raises(ValueError, match="debug me"):
        await integration.dispatch("list_accounts", body())
    _, code = await integration.dispatch_result("list_accounts", b"nope")
    assert code is ErrorCode.BAD_REQUEST


async def test_sync_capabilities_run_in_a_worker_thread() -> None:
    import threading

    seen: list[int] = []
    integration = make_integration()

    @integration.capability
    def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        seen.append(threading.get_ident())
        return ListAccountsResponse(response=[])

    async def call() -> bytes:
        return await integration.dispatch("list_accounts", body())

    assert b'"response":[]' in await call()
    assert seen and seen[0] != threading.get_ident()


async def test_sync_capability_errors_are_envelopes_too() -> None:
    integration = make_integration()

    @integration.capability
    def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        raise ConnectorError("nope", ErrorCode.RATE_LIMIT)

    assert error_of(await integration.dispatch("list_accounts", body())).error_code == "rate_limit"


# ---- properties ---------------------------------------------------------------

from mock_connector import integration as mock_integration  # noqa: E402

MOCK_NAMES = sorted(mock_integration.capabilities)

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
envelope_like = st.fixed_dictionaries(
    {},
    optional={
        "auth": st.one_of(
            json_like, st.just({"basic": {"username": "admin", "password": "correct-horse"}})
        ),
        "request": st.one_of(json_like, st.just({})),
        "page": st.one_of(
            json_like, st.fixed_dictionaries({}, optional={"token": json_like, "size": json_like})
        ),
        "settings": json_like,
        "include_raw_data": json_like,
    },
)
bodies = st.one_of(st.binary(max_size=200), envelope_like.map(lambda d: json.dumps(d).encode()))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from([*MOCK_NAMES, "get_authorization_url", "nope"]), raw=bodies)
@example(name="list_accounts", raw=b"\xff\xfe")
@example(
    name="list_accounts",
    raw=b'{"auth": {"basic": {"username": "admin", "password": "correct-horse"}}, "request": {}, "page": {"token": "!!"}}',
)
@example(
    name="create_account",
    raw=b'{"auth": {"basic": {"username": "admin", "password": "correct-horse"}}, "request": {"entitlements": [], "email": "e", "user_status": "WEIRD"}}',
)
def test_any_bytes_give_the_response_or_an_envelope(name: str, raw: bytes) -> None:
    """For any body and any name, dispatch returns the capability's response or an error envelope."""
    out, code = run(mock_integration.dispatch_result(name, raw))
    if code is None:
        msgspec.json.decode(out, type=connector.CAPABILITIES[name].response_type)
    else:
        error = error_of(out)
        assert error.error_code == code and code in connector.CANONICAL_CODES
        assert json.loads(out)["is_error"] is True


exception_types = st.sampled_from(
    [Exception, ValueError, KeyError, RuntimeError, TypeError, OSError, LookupError, ZeroDivisionError,
     UnicodeError, ConnectionError, TimeoutError, NotImplementedError, AssertionError, ConnectorError]
)  # fmt: skip
class_names = st.from_regex(r"\A[A-Z][A-Za-z0-9_]{0,20}\Z")


@st.composite
def exceptions(draw: st.DrawFn) -> Exception:
    base: type[Exception] = draw(exception_types)
    message = draw(st.text())
    if draw(st.booleans()):
        # type() builds a subclass of `base`; mypy only knows it returns a `type`.
        base = cast(type[Exception], type(draw(class_names), (base,), {}))
    if issubclass(base, ConnectorError):
        return base(message, draw(st.sampled_from(list(ErrorCode))), draw(st.none() | st.text()))
    exc = base(message)
    if draw(st.booleans()):
        exc.response = FakeResponse(draw(st.integers(100, 599)))  # type: ignore[attr-defined]
    return exc


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(exc=exceptions(), handle=st.booleans())
def test_any_exception_becomes_a_well_formed_envelope(exc: Exception, handle: bool) -> None:
    """Whatever a capability raises, the envelope is complete and names the exception."""
    handlers = [(Exception, HTTPHandler, None)] if handle else []
    out, code = run(
        raising(exc, exception_handlers=handlers).dispatch_result("list_accounts", body())
    )
    data = json.loads(out)
    assert set(data) == {"is_error", "error", "response", "raw_data", "page"}
    assert data["is_error"] is True and data["response"] is None
    assert set(data["error"]) == {
        "message", "status_code", "error_code", "app_error_code", "app_id", "raised_by", "raised_in",
        "error_metadata",
    }  # fmt: skip
    bare = data["error"]["error_code"]
    assert bare in connector.CANONICAL_CODES and code == bare
    assert data["error"]["error_metadata"] == msgspec.to_builtins(
        connector.error_metadata(ErrorCode(bare))
    ) | _overrides(exc)
    assert data["error"]["app_id"] == "acme"
    assert data["error"]["raised_by"] == type(exc).__name__
    assert data["error"]["raised_in"] == f"{__name__}:list_accounts"
    if isinstance(exc, ConnectorError):
        assert bare == connector.canonical_code(exc.error_code)
    assert errors4("ErrorResponse", out) == []


def _overrides(exc: Exception) -> dict[str, Any]:
    return {
        name: getattr(exc, name)
        for name in ("retryable", "throttled", "refreshable", "hint", "retry_after_seconds")
        if getattr(exc, name, None) is not None
    }


secrets = st.text(min_size=8, max_size=30).filter(lambda s: s.strip() == s and len(set(s)) > 2)


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def build_exception(recipe: int, planted: list[str]) -> Exception:
    """One of several exceptions whose message (or cause) carries the planted secrets."""
    templates = ["{0}", "bad password {0} for {1}", "{1}{0}", "{0!r} / {1!r}"]
    text = templates[recipe % len(templates)].format(*planted)
    kind = (recipe // len(templates)) % 4
    if kind == 0:
        return ConnectorError(text, ErrorCode.UNAUTHORIZED, app_error_code=planted[0])
    if kind == 1:
        exc: Exception = UpstreamError(401)
        exc.args = (text,)
        return exc
    if kind == 2:
        try:
            raise KeyError(planted[1])
        except KeyError as inner:
            outer = RuntimeError(text)
            outer.__cause__ = inner
            return outer
    return ValueError(text)


async def failing_call(
    exc_for: Any, password: str, setting: str, wire_failure: bool
) -> tuple[list[str], str]:
    """Runs a failing list_accounts carrying two secrets; returns the envelope's strings and the log."""
    integration = make_integration(settings_model=Settings)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        raise exc_for([password, setting])

    # The setting's secret sits in a field secret by its name or by its mark.
    field = "api_key" if len(setting) % 2 else "signing"
    settings_value: Any = {field: setting, "retries": "x" if wire_failure else 1}
    raw = json.dumps(
        {
            "auth": {"basic": {"username": "someone", "password": password}},
            "request": {},
            "settings": settings_value,
        }
    )
    with collecting() as handler:
        out, code = await integration.dispatch_result("list_accounts", raw)
    assert code is not None
    return list(strings_in(json.loads(out))), handler.text()


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(password=secrets, setting=secrets, data=st.data())
def test_secrets_never_reach_errors_or_logs(
    password: str, setting: str, data: st.DataObject
) -> None:
    """A secret sent in auth or settings is absent from a failing call's output and log."""
    recipe = data.draw(st.integers(0, 2**32))
    wire_failure = data.draw(st.booleans())

    def exc_for(planted: list[str]) -> Exception:
        return build_exception(recipe, planted)

    # The same call with inert placeholders shows the fixed words of the envelope
    # and log; a "secret" that is one of them (say `bad_requ`) proves nothing.
    base_values, base_log = run(failing_call(exc_for, "\u2603" * 8, "\u2604" * 8, wire_failure))
    baseline = "\n".join(base_values) + base_log
    for secret in (password, setting):
        assume(secret not in baseline)
    values, log_text = run(failing_call(exc_for, password, setting, wire_failure))
    for secret in (password, setting):
        assert all(secret not in value for value in values), (secret, values)
        assert secret not in log_text


async def test_broken_exceptions_and_handlers_still_give_envelopes(logs: Collect) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str for you")

    error = error_of(await raising(Unprintable()).dispatch("list_accounts", body()))
    assert error.error_code == "internal_error" and error.raised_by == "Unprintable"

    class Broken(ExceptionHandler):
        @staticmethod
        def handle(
            e: Exception,
            original_func: Any,
            response: ErrorResponse,
            error_code: ErrorCode | None = None,
        ) -> ErrorResponse:
            raise RuntimeError("handler bug")

    integration = raising(
        ConnectorError("gone", ErrorCode.NOT_FOUND), exception_handlers=[(Exception, Broken, None)]
    )
    error = error_of(await integration.dispatch("list_accounts", body()))
    assert error.error_code == "not_found" and error.message == "gone"
    assert any("Broken failed on ConnectorError" in r.getMessage() for r in logs.records)


async def test_a_handler_catching_everything_still_logs_unexpected_errors_in_full(
    logs: Collect,
) -> None:
    integration = raising(KeyError("k"), exception_handlers=[(Exception, ExceptionHandler, None)])
    assert (
        error_of(await integration.dispatch("list_accounts", body())).error_code == "internal_error"
    )
    assert any("Traceback" in r.getMessage() for r in logs.records)
