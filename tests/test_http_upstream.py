"""The HTTP client against real upstream behaviour: error detail in envelopes,
empty bodies, retries and rate limits (every header dialect), the deadline,
limiter state across page calls, shared connections and the MockTransport seam."""

from __future__ import annotations

import contextlib
import email.utils
import json
import socket
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import anyio
import httpcore
import pytest
from _upstream import Answer, self_signed_cert, upstream

import connector
import server
from connector import (
    ErrorCode,
    HTTPClient,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
    MockTransport,
    Page,
    RateLimitPolicy,
    Request,
    Response,
    TokenCredential,
    get_token_auth,
)

pytestmark = pytest.mark.anyio

BASE = "https://api.example.com/v2"
HOST = "api.example.com"
TOKEN = "tok-secret-123456"
NOW = 1_700_000_000.0


class FakeTime:
    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


Action = Callable[[HTTPClient], Awaitable[Any]]


def make(
    action: Action,
    transport: Any = None,
    fake: FakeTime | None = None,
    *,
    base: str = BASE,
    **options: Any,
) -> Integration:
    """A connector whose list_accounts runs `action` with an integration.http_client."""
    integration = Integration(app_id="scim-app", version="1.0", auth=TokenCredential)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        client = integration.http_client(
            base, bearer_token=get_token_auth(request).token, **options
        )
        page = await action(client)
        return ListAccountsResponse(response=[], page=page if isinstance(page, Page) else None)

    if transport is not None:
        integration.configure_http(transport=transport)
    if fake is not None:
        integration.configure_http(sleep=fake.sleep, clock=fake.clock)
    return integration


def envelope(**extra: Any) -> bytes:
    return json.dumps({"auth": {"token": {"token": TOKEN}}, "request": {}, **extra}).encode()


async def call(integration: Integration, **extra: Any) -> dict[str, Any]:
    return json.loads(await integration.dispatch("list_accounts", envelope(**extra)))  # type: ignore[no-any-return]


def gets(n: int, path: str = "/Users") -> Action:
    async def action(client: HTTPClient) -> None:
        for _ in range(n):
            await client.get(path)

    return action


def failing(method: str, path: str = "/Users", **kwargs: Any) -> Action:
    async def action(client: HTTPClient) -> None:
        (await client.request(method, path, **kwargs)).raise_for_status()

    return action


# ---- Errors with the upstream's detail ---------------------------------------


@pytest.mark.parametrize(
    ("status", "answer", "detail", "code"),
    [
        (  # SCIM 2.0 (RFC 7644 §3.12)
            409,
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "409",
                "scimType": "uniqueness",
                "detail": "User ada already exists",
            },
            "User ada already exists",
            "conflict",
        ),
        (  # RFC 7807 problem details: `detail` wins over `title`
            422,
            {"type": "about:blank", "title": "Invalid", "detail": "email is not valid"},
            "email is not valid",
            "bad_request",
        ),
        (  # OAuth 2.0 style (RFC 6750 §3)
            401,
            {"error": "invalid_token", "error_description": "The access token expired"},
            "The access token expired",
            "unauthorized",
        ),
        (
            403,
            {"error": {"message": "Quota exceeded", "code": 403}},
            "Quota exceeded",
            "permission_denied",
        ),
        (400, {"errors": [{"message": "name is required"}]}, "name is required", "bad_request"),
        (404, {"message": "Not Found"}, "Not Found", "not_found"),
        (400, {"title": "Bad filter"}, "Bad filter", "bad_request"),
        (401, {"error": "Not authorized"}, "Not authorized", "unauthorized"),
    ],
)
async def test_error_bodies_give_their_detail(
    status: int, answer: dict[str, Any], detail: str, code: str
) -> None:
    transport = MockTransport()
    transport.add("POST", "/v2/Users", Response(status, json=answer))
    data = await call(make(failing("POST", json={"userName": "ada"}), transport))
    error = data["error"]
    assert error["message"] == f"Client error {status} for POST /v2/Users: {detail}"
    assert error["error_code"] == code
    assert error["status_code"] == status
    assert error["raised_by"] == "HTTPStatusError"
    if "scimType" in answer:
        assert error["app_error_code"] == "scim-app.uniqueness"
    else:
        assert error["app_error_code"] is None


async def test_problem_json_content_type_is_read() -> None:
    body = b'{"title": "Gone", "detail": "user 7 was deleted"}'
    answer = Response(410, headers={"Content-Type": "application/problem+json"}, content=body)
    transport = MockTransport()
    transport.add("GET", "/v2/Users/7", answer)
    data = await call(make(failing("GET", "/Users/7"), transport))
    assert data["error"]["message"] == "Client error 410 for GET /v2/Users/7: user 7 was deleted"


async def test_html_error_pages_are_summarised() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "<p>x</p>" * 2000
    transport = MockTransport()
    transport.add(
        "GET", "/v2/Users", Response(502, headers={"Content-Type": "text/html"}, text=page)
    )
    data = await call(make(failing("GET"), transport, retries=0))
    message = data["error"]["message"]
    assert message == "Server error 502 for GET /v2/Users: an HTML page titled '502 Bad Gateway'"
    assert data["error"]["error_code"] == "bad_gateway"


async def test_huge_bodies_are_truncated() -> None:
    transport = MockTransport()
    transport.add("GET", "/v2/Users", Response(500, json={"message": "word " * 10_000}))
    data = await call(make(failing("GET"), transport))
    message = data["error"]["message"]
    prefix = "Server error 500 for GET /v2/Users: "
    assert message.startswith(prefix + "word word")
    assert len(message) <= len(prefix) + 300
    assert message.endswith("\u2026")


async def test_plain_text_bodies_are_one_clipped_line() -> None:
    transport = MockTransport()
    transport.add("GET", "/v2/Users", Response(429, text="Slow\r\n  down\x00 please"))
    data = await call(make(failing("GET"), transport, retries=0))
    assert data["error"]["message"] == "Client error 429 for GET /v2/Users: Slow down please"


async def test_secrets_in_upstream_error_bodies_are_scrubbed() -> None:
    echoed = f"Token {TOKEN} is invalid (sent as Bearer {TOKEN}); try Bearer abcdefghijklmnop"
    transport = MockTransport()
    transport.add("GET", "/v2/Users", Response(401, json={"detail": echoed}))
    transport.add("GET", "/v2/Groups", Response(401, json={"detail": "a" * 290 + TOKEN}))
    data = await call(make(failing("GET"), transport))
    text = json.dumps(data)
    assert TOKEN not in text
    assert "abcdefghijklmnop" not in text  # token-shaped, though not the request's
    assert "[redacted]" in data["error"]["message"]
    # A secret cut by the clipping is scrubbed before it is cut.
    data = await call(make(failing("GET", "/Groups"), transport))
    assert TOKEN[:6] not in json.dumps(data)


async def test_status_and_retry_after_are_carried() -> None:
    transport = MockTransport()
    answer = Response(503, headers={"Retry-After": "12"}, json={"message": "maintenance"})
    transport.add("POST", "/v2/Users", answer)
    data = await call(make(failing("POST", json={}), transport))
    error = data["error"]
    assert error["status_code"] == 503
    assert error["error_code"] == "service_error"
    assert error["error_metadata"]["retry_after_seconds"] == 12
    assert len(transport.requests) == 1  # a 503 to a POST is not retried


async def test_str_of_the_status_error_stays_method_and_path() -> None:
    response = Response(409, json={"detail": "taken", "scimType": "uniqueness"})
    error = connector.HTTPStatusError(
        "Client error 409 for POST /Users", request=None, response=response
    )
    assert str(error) == "Client error 409 for POST /Users"
    assert (error.detail, error.upstream_code) == ("taken", "uniqueness")


async def test_connection_errors_name_scheme_host_and_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://user:userinfo-secret@127.0.0.1:{port}/v1"
    data = await call(make(failing("GET", "/me?api_key=query-secret"), base=base))
    message = data["error"]["message"]
    assert message == f"Connection refused for GET http://127.0.0.1:{port}/v1/me"
    assert data["error"]["error_code"] == "connection_rejected"
    assert "secret" not in json.dumps(data)


# ---- Empty bodies and bodyless requests --------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        Response(204),
        Response(205),
        Response(304),
        Response(200, headers={"Content-Length": "0"}),
        Response(200, request=Request("HEAD", "https://h.example/")),
    ],
)
def test_json_of_an_empty_body_is_none(response: Response) -> None:
    assert response.json() is None
    assert response.raise_for_status().json() is None


def test_an_empty_200_without_length_is_still_not_json() -> None:
    with pytest.raises(connector.ConnectorError) as info:
        Response(200).json()
    assert info.value.error_code == ErrorCode.INVALID_RESPONSE


async def test_204_from_a_real_server() -> None:
    def answer(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        return 204, [], b""

    with upstream(answer) as api:
        async with HTTPClient(api.url) as client:
            response = await client.delete("/Users/1")
    assert response.status_code == 204
    assert response.raise_for_status().json() is None


async def test_no_body_headers_on_bodyless_requests() -> None:
    transport = MockTransport(lambda request: Response(200))
    client = HTTPClient(
        BASE,
        transport=transport,
        headers={"Content-Type": "application/scim+json", "Accept": "application/scim+json"},
    )
    await client.get("/Users")
    await client.delete("/Users/1")
    await client.post("/Users", json={"userName": "ada"})
    get, delete, post = transport.requests
    for request in (get, delete):
        assert "content-type" not in request.headers
        assert "content-length" not in request.headers
        assert request.headers["accept"] == "application/scim+json"
    assert post.headers.get_list("content-type") == ["application/scim+json"]
    assert post.headers["content-length"] == str(len(post.content))


# ---- Retries -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
async def test_429_is_retried_for_every_method(method: str) -> None:
    fake = FakeTime()
    transport = MockTransport()
    route = transport.add(
        method, "/v2/Users", [Response(429, headers={"Retry-After": "3"}), Response(201)]
    )

    async def action(client: HTTPClient) -> None:
        assert (await client.request(method, "/Users", json={"a": 1})).status_code == 201

    data = await call(make(action, transport, fake))
    assert "error" not in data, data
    assert len(route.calls) == 2
    assert fake.sleeps == [3.0]


async def test_a_long_retry_wait_past_the_deadline_is_budget_exhausted() -> None:
    fake = FakeTime()
    transport = MockTransport()
    transport.add("POST", "/v2/Users", Response(429, headers={"Retry-After": "30"}))
    integration = make(failing("POST", json={}), transport, fake)
    data = await call(integration, rate_limit={"max_execution_time": 10})
    error = data["error"]
    assert error["error_code"] == "budget_exhausted"
    assert error["error_metadata"]["retry_after_seconds"] == 30
    assert error["error_metadata"]["throttled"] is True
    assert "max_execution_time of 10s" in error["message"]
    assert fake.sleeps == []  # it failed instead of waiting
    assert len(transport.requests) == 1


async def test_a_limiter_wait_past_the_deadline_is_budget_exhausted() -> None:
    fake = FakeTime()
    transport = MockTransport(lambda request: Response(200))
    seed = {HOST: {"remaining": 0, "limit": 100, "reset": int(NOW) + 60}}
    data = await call(
        make(gets(1), transport, fake),
        rate_limit={"max_execution_time": 20, "last_known_state": seed},
    )
    assert data["error"]["error_code"] == "budget_exhausted"
    assert data["error"]["error_metadata"]["retry_after_seconds"] == 60
    assert transport.requests == []  # nothing was sent


async def test_a_limiter_wait_longer_than_max_retry_wait_is_rate_limit() -> None:
    fake = FakeTime()
    transport = MockTransport(lambda request: Response(200))
    seed = {HOST: {"remaining": 0, "reset": int(NOW) + 3600}}
    data = await call(make(gets(1), transport, fake), rate_limit={"last_known_state": seed})
    assert data["error"]["error_code"] == "rate_limit"
    assert data["error"]["error_metadata"]["retry_after_seconds"] == 3600
    assert "Rate limited by https://api.example.com:443" in data["error"]["message"]


# ---- The limiter, one test per header dialect --------------------------------


def throttled_then_ok(headers: dict[str, str], status: int = 200) -> MockTransport:
    transport = MockTransport()
    transport.add("GET", "/v2/Users", [Response(status, headers=headers), Response(200)])
    return transport


async def waits_before_second_request(
    headers: dict[str, str], status: int = 200, **options: Any
) -> tuple[list[float], dict[str, Any]]:
    fake = FakeTime()
    options.setdefault("retries", 0)
    data = await call(make(gets(2), throttled_then_ok(headers, status), fake, **options))
    assert "error" not in data, data
    return fake.sleeps, data


async def test_retry_after_seconds_holds_the_next_request() -> None:
    sleeps, _ = await waits_before_second_request({"Retry-After": "4"}, status=429)
    assert sleeps == [4.0]


async def test_retry_after_http_date_holds_the_next_request() -> None:
    date = email.utils.formatdate(NOW + 9, usegmt=True)
    sleeps, _ = await waits_before_second_request({"Retry-After": date}, status=503)
    assert sleeps == [9.0]


async def test_ietf_ratelimit_headers_delta_seconds() -> None:
    headers = {"RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": "7"}
    sleeps, data = await waits_before_second_request(headers)
    assert sleeps == [7.0]
    state = data["rate_limit"]["current_state"][HOST]
    assert state["limit"] == 100
    assert state["source"] == "api_headers"


async def test_ietf_structured_ratelimit_header() -> None:
    headers = {"RateLimit": '"default";r=0;t=9', "RateLimit-Policy": '"default";q=100;w=60'}
    sleeps, data = await waits_before_second_request(headers)
    assert sleeps == [9.0]
    assert data["rate_limit"]["current_state"][HOST]["window_seconds"] == 60


async def test_x_ratelimit_headers_epoch_seconds() -> None:  # GitHub
    headers = {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(NOW) + 12),
    }
    sleeps, _ = await waits_before_second_request(headers)
    assert sleeps == [12.0]


async def test_x_ratelimit_headers_delta_seconds() -> None:
    headers = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "15"}
    sleeps, _ = await waits_before_second_request(headers)
    assert sleeps == [15.0]


async def test_okta_x_rate_limit_headers_epoch_seconds() -> None:
    headers = {
        "X-Rate-Limit-Limit": "600",
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": str(int(NOW) + 20),
    }
    sleeps, data = await waits_before_second_request(headers)
    assert sleeps == [20.0]
    assert data["rate_limit"]["current_state"][HOST]["limit"] == 600


async def test_reset_in_epoch_milliseconds() -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int((NOW + 5) * 1000))}
    sleeps, _ = await waits_before_second_request(headers)
    assert sleeps == pytest.approx([5.0])


async def test_reset_as_delta_milliseconds() -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "90000"}
    sleeps, _ = await waits_before_second_request(headers, max_retry_wait=120)
    assert sleeps == [90.0]


async def test_remaining_above_zero_does_not_wait() -> None:
    headers = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "30"}
    sleeps, data = await waits_before_second_request(headers)
    assert sleeps == []
    state = data["rate_limit"]["current_state"][HOST]
    # The second answer has no headers: the count from the first goes on.
    assert state == {
        "remaining": 2,
        "limit": 10,
        "reset": int(NOW) + 30,
        "window_seconds": None,
        "current_delay": 0,
        "source": "api_headers",
    }


async def test_requests_per_window_counted_by_the_client() -> None:
    fake = FakeTime()
    transport = MockTransport(lambda request: Response(200))
    policy = RateLimitPolicy(requests=2, window_seconds=10)
    data = await call(make(gets(3), transport, fake, rate_limit=policy))
    assert fake.sleeps == [10.0]
    state = data["rate_limit"]["current_state"][HOST]
    assert state["source"] == "sdk_counter"
    assert (state["limit"], state["window_seconds"]) == (2, 10)


async def test_max_concurrency() -> None:
    in_flight = peak = 0

    async def slow(request: Request) -> Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.sleep(0.01)
        in_flight -= 1
        return Response(200)

    async def action(client: HTTPClient) -> None:
        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(client.get, "/Users")

    policy = RateLimitPolicy(max_concurrency=2)
    data = await call(make(action, MockTransport(slow), rate_limit=policy))
    assert "error" not in data, data
    assert peak == 2


async def test_limiter_state_round_trips_through_two_page_calls() -> None:
    """Page 1's state comes back in rate_limit.current_state; sent back as
    last_known_state to a fresh process, it holds page 2's first request."""
    reset = int(NOW) + 20

    def pages(fake: FakeTime) -> tuple[Integration, MockTransport]:
        transport = MockTransport()
        transport.add(
            "GET",
            "/v2/Users",
            Response(
                200,
                headers={
                    "X-RateLimit-Limit": "50",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(reset),
                },
                json={"Resources": []},
            ),
        )

        async def action(client: HTTPClient) -> Page:
            (await client.get("/Users")).raise_for_status()
            return Page(token="next")  # never the token given (dispatch refuses that)

        return make(action, transport, fake), transport

    first_time = FakeTime()
    integration, _ = pages(first_time)
    page1 = await call(integration, page={"token": "1"})
    state = page1["rate_limit"]["current_state"]
    assert state[HOST] == {
        "remaining": 0,
        "limit": 50,
        "reset": reset,
        "window_seconds": None,
        "current_delay": 20,
        "source": "api_headers",
    }
    assert first_time.sleeps == []

    second_time = FakeTime(NOW + 1)  # one second later, in another process
    integration, transport = pages(second_time)
    page2 = await call(integration, page={"token": "2"}, rate_limit={"last_known_state": state})
    assert second_time.sleeps == [19.0]
    assert len(transport.requests) == 1
    # Page 2 ran at the reset: that window is over, the limit is still known.
    assert page2["rate_limit"]["current_state"][HOST]["limit"] == 50
    assert page2["rate_limit"]["current_state"][HOST]["reset"] is None


async def test_caller_override_bypass_never_waits() -> None:
    fake = FakeTime()
    transport = MockTransport(lambda request: Response(200))
    seed = {HOST: {"remaining": 0, "reset": int(NOW) + 20}}
    rate_limit = {"last_known_state": seed, "caller_override_mode": "bypass"}
    data = await call(make(gets(1), transport, fake), rate_limit=rate_limit)
    assert "error" not in data
    assert fake.sleeps == []


async def test_no_rate_limit_in_the_envelope_without_upstream_calls() -> None:
    async def nothing(client: HTTPClient) -> None:
        return None

    data = await call(make(nothing, MockTransport()))
    assert data.get("rate_limit") is None


async def test_api_35_envelopes_carry_no_rate_limit() -> None:
    integration = Integration(app_id="old", version="1.0", auth=TokenCredential, api_version="3.5")

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        await integration.http_client(BASE).get("/Users")
        return ListAccountsResponse(response=[])

    integration.configure_http(transport=MockTransport(lambda request: Response(200)))
    data = await call(integration)
    assert data["response"] == []
    assert data.get("rate_limit") is None


# ---- MockTransport -------------------------------------------------------------


async def test_mock_routes_match_method_path_query_and_body() -> None:
    transport = MockTransport()
    page2 = transport.add(
        "GET", "/v2/Users", Response(200, json={"page": 2}), params={"startIndex": 2}
    )
    page1 = transport.add("GET", "/v2/Users", Response(200, json={"page": 1}))
    ada = transport.add(
        "POST", "/v2/Users", Response(201, json={"id": "a"}), json={"userName": "ada"}
    )
    other = transport.add("POST", "/v2/Users", lambda request: Response(201, json=request.json()))
    anywhere = transport.add("DELETE", "/v2/Users/*", Response(204))
    full = transport.add("GET", "https://api.example.com/v2/Groups", [Response(500), Response(200)])
    client = HTTPClient(BASE, transport=transport, retries=0)

    assert (await client.get("/Users", params={"startIndex": 2, "count": 10})).json() == {"page": 2}
    assert (await client.get("/Users")).json() == {"page": 1}
    assert (await client.post("/Users", json={"userName": "ada"})).json() == {"id": "a"}
    assert (await client.post("/Users", json={"userName": "bob"})).json() == {"userName": "bob"}
    assert (await client.delete("/Users/42")).status_code == 204
    assert [(await client.get("/Groups")).status_code for _ in range(3)] == [500, 200, 200]

    assert [len(r.calls) for r in (page2, page1, ada, other, anywhere, full)] == [1, 1, 1, 1, 1, 3]
    assert [r.method for r in transport.requests[:5]] == ["GET", "GET", "POST", "POST", "DELETE"]
    assert transport.requests[2].json() == {"userName": "ada"}
    assert transport.requests[0].headers["host"] == HOST
    transport.assert_all_called()


async def test_an_unused_route_fails_assert_all_called() -> None:
    transport = MockTransport()
    transport.add("GET", "/v2/Users", Response(200))
    transport.add("PATCH", "/v2/Users/1", Response(200))
    await call(make(gets(1), transport))
    with pytest.raises(AssertionError, match=r"never called: PATCH /v2/Users/1"):
        transport.assert_all_called()


async def test_a_request_without_a_route_fails_the_test() -> None:
    transport = MockTransport()
    transport.add("GET", "/v2/Groups", Response(200))
    with pytest.raises(AssertionError, match=r"no route for GET https://api.example.com/v2/Users"):
        await call(make(gets(1), transport))


async def test_an_assertion_in_a_handler_propagates_from_dispatch() -> None:
    def handler(request: Request) -> Response:
        assert request.headers["authorization"] == "Bearer something-else"
        return Response(200)

    with pytest.raises(AssertionError, match="something-else"):
        await call(make(gets(1), MockTransport(handler)))


async def test_a_swallowed_handler_error_is_raised_by_assert_all_called() -> None:
    def handler(request: Request) -> Response:
        raise KeyError("the handler is wrong")

    async def careless(client: HTTPClient) -> None:
        with contextlib.suppress(Exception):
            await client.get("/Users")

    transport = MockTransport(handler)
    data = await call(make(careless, transport))
    assert data["response"] == []
    with pytest.raises(KeyError, match="the handler is wrong"):
        transport.assert_all_called()


async def test_network_failures_acted_out_by_a_handler_are_envelopes() -> None:
    def handler(request: Request) -> Response:
        raise httpcore.ConnectError("no route to host")

    data = await call(make(gets(1), MockTransport(handler)))
    assert data["error"]["error_code"] == "connection_rejected"
    assert (
        data["error"]["message"] == "Connection failed for GET https://api.example.com:443/v2/Users"
    )


async def test_a_client_made_directly_in_a_capability_uses_the_integration_seam() -> None:
    integration = Integration(app_id="direct", version="1.0", auth=TokenCredential)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        async with HTTPClient(BASE) as client:  # the README's older idiom
            (await client.get("/Users")).raise_for_status()
        return ListAccountsResponse(response=[])

    transport = MockTransport()
    transport.add("GET", "/v2/Users", Response(200))
    integration.configure_http(transport=transport)
    assert (await call(integration))["response"] == []
    transport.assert_all_called()
    integration.configure_http(transport=None)
    assert integration.http_transport is None


# ---- Shared connections --------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = self_signed_cert(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("openssl is not installed: cannot make a self-signed certificate")
    return made


@pytest.fixture
def https_api(tls: tuple[Path, Path]) -> Iterator[Any]:
    with upstream(tls=tls) as api:
        yield api


async def test_one_pool_per_integration_reused_across_calls(https_api: Any, tls: Any) -> None:
    async def me(client: HTTPClient) -> None:
        assert (await client.get("/me")).raise_for_status().json()["id"] == "42"
        assert (await client.get("/me")).status_code == 200

    integration = make(me, base=https_api.url, verify=str(tls[0]))
    for _ in range(5):
        data = await call(integration)
        assert "error" not in data, data
    assert https_api.connections == 1
    assert len(https_api.requests) == 10

    own = make(me, base=https_api.url, verify=str(tls[0]), shared=False)
    for _ in range(3):
        await call(own)
    # No pool of its own is closed by anyone but the client; each call opened one.
    assert https_api.connections == 4

    assert integration._http_loops
    await integration.aclose_http()
    assert integration._http_loops == {}


async def test_verify_options(https_api: Any, tls: Any) -> None:
    import ssl

    async def me(client: HTTPClient) -> None:
        (await client.get("/me")).raise_for_status()

    refused = await call(make(me, base=https_api.url))  # the system CAs do not know it
    assert refused["error"]["error_code"] == "connection_rejected"
    assert https_api.url + "/me" in refused["error"]["message"]
    assert "error" not in await call(make(me, base=https_api.url, verify=False))
    context = ssl.create_default_context(cafile=str(tls[0]))
    assert "error" not in await call(make(me, base=https_api.url, ssl_context=context))


async def test_lifespan_shutdown_closes_the_shared_pool() -> None:
    with upstream() as api:
        integration = make(gets(1, "/me"), base=api.url)
        assert "error" not in await call(integration)
        assert integration._http_loops
        app = server.asgi(integration)
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent: list[str] = []

        async def receive() -> dict[str, Any]:
            return next(messages)

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert integration._http_loops == {}


def test_a_cli_call_closes_the_shared_pool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = tmp_path / "cli_upstream_connector.py"
    with upstream() as api:
        module.write_text(
            textwrap.dedent(
                f"""
                from connector import Integration, ListAccountsRequest, ListAccountsResponse

                integration = Integration(app_id="cli-up", version="1.0")

                @integration.capability
                async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
                    client = integration.http_client({api.url!r})
                    (await client.get("/me")).raise_for_status()
                    assert integration._http_loops  # the shared pool is open here
                    return ListAccountsResponse(response=[])
                """
            )
        )
        code = connector.main(["call", str(module), "list_accounts", "--json", '{"request": {}}'])
    assert code == 0, capsys.readouterr()
    assert json.loads(capsys.readouterr().out)["response"] == []
    assert sys.modules["cli_upstream_connector"].integration._http_loops == {}
    assert api.connections == 1
