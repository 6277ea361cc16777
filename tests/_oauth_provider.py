"""A tiny OAuth 2.0 provider as a raw ASGI app, and a way to serve it on 127.0.0.1.

It implements just enough of RFC 6749 and RFC 7636 for the tests: an
authorization endpoint that "consents" at once and redirects back with a code,
a token endpoint for the three grants, and a userinfo endpoint. The token
endpoint checks that requests arrive in the shape it was told to expect (data
type, client authentication, method) and records any mismatch in `failures`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from _srv_util import running_uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Provider:
    def __init__(self, client_id: str = "client-1", client_secret: str = "s3cret-client") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.reset()

    def reset(self) -> None:
        """Back to defaults: POST form data with the secret in the body."""
        self.expect_method = "POST"
        self.expect_data = "FORMDATA"  # or JSON, QUERY
        self.expect_auth = "CLIENT_SECRET_POST"  # or CLIENT_SECRET_BASIC
        self.token_type = "Bearer"
        self.rotate_refresh_tokens = True
        self.redirect_extras: list[tuple[str, str]] = []  # more params on the redirect
        self.redirect_fragment = ""
        self.answer: tuple[int, bytes, str] | None = None  # canned token answer
        self.delay = 0.0
        self.codes: dict[str, dict[str, str | None]] = {}
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.token_requests: list[dict[str, Any]] = []
        self.failures: list[str] = []

    # -- ASGI --

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope["query_string"].decode("ascii")
        path = scope["path"]
        if path == "/authorize":
            status, out_headers, out = self.authorize(query)
        elif path == "/token":
            status, out_headers, out = await self.token(scope["method"], headers, query, body)
        elif path == "/userinfo":
            status, out_headers, out = self.userinfo(headers)
        else:
            status, out_headers, out = 404, [], b"not found"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in out_headers]
                + [(b"content-length", str(len(out)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": out})

    # -- endpoints --

    def authorize(self, query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if params.get("response_type") != "code" or params.get("client_id") != self.client_id:
            return 400, [], b"bad authorization request"
        code = "code-" + secrets.token_urlsafe(12)
        challenge = params.get("code_challenge")
        if challenge is not None and params.get("code_challenge_method") != "S256":
            return 400, [], b"only S256"
        redirect_uri = params["redirect_uri"]
        self.codes[code] = {
            "redirect_uri": redirect_uri,
            "challenge": challenge,
            "scope": params.get("scope"),
        }
        added = urllib.parse.urlencode(
            [("code", code), ("state", params["state"]), *self.redirect_extras]
        )
        separator = "&" if "?" in redirect_uri else "?"
        location = f"{redirect_uri}{separator}{added}{self.redirect_fragment}"
        return 302, [("location", location)], b""

    async def token(
        self, method: str, headers: dict[str, str], query: str, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        params = self.token_params(method, headers, query, body)
        self.token_requests.append({"method": method, "headers": headers, "params": params})
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.answer is not None:
            status, content, content_type = self.answer
            return status, [("content-type", content_type)], content
        if params is None:
            return self.error(400, "invalid_request")
        client = self.authenticate(headers, params)
        if client is not None:
            return client
        grant = params.get("grant_type")
        if grant == "authorization_code":
            record = self.codes.pop(str(params.get("code")), None)
            if record is None or record["redirect_uri"] != params.get("redirect_uri"):
                return self.error(400, "invalid_grant")
            challenge = record["challenge"]
            if challenge is not None:
                verifier = str(params.get("code_verifier", ""))
                digest = hashlib.sha256(verifier.encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
                    return self.error(400, "invalid_grant")
            return self.issue(scope=record["scope"], refresh=True)
        if grant == "refresh_token":
            token = params.get("refresh_token")
            if token not in self.refresh_tokens:
                return self.error(400, "invalid_grant")
            if self.rotate_refresh_tokens:
                self.refresh_tokens.discard(str(token))
            return self.issue(scope=None, refresh=self.rotate_refresh_tokens)
        if grant == "client_credentials":
            return self.issue(scope=params.get("scope"), refresh=False)
        return self.error(400, "unsupported_grant_type")

    def userinfo(self, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.access_tokens:
            return self.error(401, "invalid_token")
        return self.json(200, {"sub": "user-1", "tenant": "acme"})

    # -- helpers --

    def token_params(
        self, method: str, headers: dict[str, str], query: str, body: bytes
    ) -> dict[str, Any] | None:
        """The token request's parameters, checking they came the way we expect."""
        if method != self.expect_method:
            self.failures.append(f"method {method}, expected {self.expect_method}")
        content_type = headers.get("content-type", "").split(";")[0].strip()
        if self.expect_data == "QUERY":
            if body:
                self.failures.append("QUERY token request has a body")
            return dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if query:
            self.failures.append(f"{self.expect_data} token request has a query string")
        if self.expect_data == "JSON":
            if content_type != "application/json":
                self.failures.append(f"JSON token request has content-type {content_type!r}")
                return None
            decoded = json.loads(body)
            if not isinstance(decoded, dict) or not all(
                isinstance(v, str) for v in decoded.values()
            ):
                self.failures.append("JSON token request is not an object of strings")
                return None
            return decoded
        if content_type != "application/x-www-form-urlencoded":
            self.failures.append(f"FORMDATA token request has content-type {content_type!r}")
            return None
        return dict(urllib.parse.parse_qsl(body.decode("ascii"), keep_blank_values=True))

    def authenticate(
        self, headers: dict[str, str], params: dict[str, Any]
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """None if the client authenticated as expected, else the error answer."""
        authorization = headers.get("authorization")
        if self.expect_auth == "CLIENT_SECRET_BASIC":
            if "client_secret" in params or authorization is None:
                self.failures.append("expected HTTP Basic client authentication only")
                return self.error(401, "invalid_client")
            scheme, _, encoded = authorization.partition(" ")
            decoded = base64.b64decode(encoded).decode()
            client_id, _, client_secret = decoded.partition(":")
            client_id = urllib.parse.unquote_plus(client_id)
            client_secret = urllib.parse.unquote_plus(client_secret)
            if scheme != "Basic":
                self.failures.append(f"Authorization scheme {scheme!r}")
        else:
            if authorization is not None:
                self.failures.append("expected client_secret in the parameters, got a header")
            client_id = params.get("client_id", "")
            client_secret = params.get("client_secret", "")
        if client_id != self.client_id or client_secret != self.client_secret:
            return self.error(401, "invalid_client")
        return None

    def issue(self, *, scope: Any, refresh: bool) -> tuple[int, list[tuple[str, str]], bytes]:
        access_token = "at-" + secrets.token_urlsafe(16)
        self.access_tokens.add(access_token)
        answer: dict[str, Any] = {
            "access_token": access_token,
            "token_type": self.token_type,
            "expires_in": 3600,
        }
        if scope:
            answer["scope"] = scope
        if refresh:
            refresh_token = "rt-" + secrets.token_urlsafe(16)
            self.refresh_tokens.add(refresh_token)
            answer["refresh_token"] = refresh_token
        return self.json(200, answer, [("cache-control", "no-store")])

    def error(self, status: int, error: str) -> tuple[int, list[tuple[str, str]], bytes]:
        return self.json(status, {"error": error, "error_description": f"{error} (test)"})

    @staticmethod
    def json(
        status: int, payload: Any, headers: list[tuple[str, str]] | None = None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        return (
            status,
            [("content-type", "application/json"), *(headers or [])],
            json.dumps(payload).encode(),
        )


@contextlib.contextmanager
def serve(app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> Iterator[str]:
    """Serve `app` with uvicorn (h11) on a free 127.0.0.1 port; yields its base URL."""
    with running_uvicorn(app, lifespan="off") as port:
        yield f"http://127.0.0.1:{port}"
