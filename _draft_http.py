from __future__ import annotations

import base64
import logging
import math
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, TypeAlias

import msgspec

from connector import ConnectorError, ErrorCode

if TYPE_CHECKING:
    import httpcore

# ---- HTTP client ------------------------------------------------------------
# A small async client over httpcore. httpcore and anyio are imported inside the
# functions that need them, so `import connector` stays light. Everything that
# can go wrong on the wire surfaces as one of the exceptions below, whose
# messages name the method and URL path only: never the query string, a header
# or a body, where credentials travel.

_http_log: Final = logging.getLogger("connector.http")

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
        return urllib.parse.urlsplit(self.url).path or "/"

    @property
    def params(self) -> list[tuple[str, str]]:
        """The decoded query parameters, repeated keys included."""
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

    def raise_for_status(self) -> Response:
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

    async def __aenter__(self) -> HTTPClient:
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
            _http_log.info(
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
            raise type(translated)(str(exc), request=request) from exc

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
    quote = urllib.parse.quote
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def _form_encode(pairs: Iterable[tuple[str, str]]) -> str:
    # application/x-www-form-urlencoded (WHATWG URL §5): "+" for space.
    return urllib.parse.urlencode(list(pairs))


def _join_url(base_url: str, url: str, params: list[tuple[str, str]]) -> str:
    """base + relative path (the base's path is kept as a prefix), then params."""
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
