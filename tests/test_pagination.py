"""Page tokens and upstream page walkers, against in-process upstreams (MockTransport)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pytest
from _util import run
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import connector
from connector import (
    ConnectorError,
    ErrorCode,
    HTTPClient,
    InvalidPageTokenError,
    MockTransport,
    Page,
    Pages,
    PageToken,
    Request,
    Response,
    UpstreamPage,
)

pytestmark = pytest.mark.anyio

BASE = "https://upstream.test"
DIALECTS = ("offset", "page_number", "cursor", "link", "scim")
# What the walkers ask the upstream for per request; the upstream may answer fewer.
ASK = 6


# ---- an in-process upstream ----------------------------------------------------


def split(items: Sequence[Any], sizes: Sequence[int]) -> list[list[Any]]:
    """`items` cut into upstream pages of `sizes` (cycled); a 0 is an empty page."""
    pages: list[list[Any]] = []
    at = 0
    while at < len(items):
        size = sizes[len(pages) % len(sizes)]
        pages.append(list(items[at : at + size]))
        at += size
    return pages or [[]]


class Route:
    """One collection served in one pagination dialect, the upstream choosing page sizes."""

    def __init__(self, dialect: str, items: Sequence[Any], sizes: Sequence[int]) -> None:
        self.dialect, self.items, self.sizes = dialect, list(items), list(sizes)
        self.pages = split(self.items, self.sizes)

    def answer(self, request: Request) -> Response:
        query = dict(request.params)
        if self.dialect in ("offset", "scim"):
            # the page size depends on the position only, so a page fetched again is the same
            start = int(query["offset"]) if self.dialect == "offset" else int(query["startIndex"])
            asked = int(query["limit"] if self.dialect == "offset" else query["count"])
            first = start if self.dialect == "offset" else start - 1
            cap = max(1, self.sizes[first % len(self.sizes)])
            chunk = self.items[first : first + min(asked, cap)]
            if self.dialect == "offset":
                return Response(200, json={"items": chunk})
            body: dict[str, Any] = {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": len(self.items),
                "startIndex": start,
                "itemsPerPage": len(chunk),
            }
            if chunk or self.items:
                body["Resources"] = chunk
            return Response(200, json=body)
        if self.dialect == "page_number":
            number = int(query["page"])
            pages = [p for p in self.pages if p]  # page numbers: no empty pages mid-way
            chunk = pages[number - 1] if 1 <= number <= len(pages) else []
            return Response(200, json={"items": chunk})
        key = "cursor" if self.dialect == "cursor" else "after"
        index = int(query[key].removeprefix("p")) if key in query else 0
        if index >= len(self.pages):
            return Response(400, json={"error": "bad cursor"})
        following = f"p{index + 1}" if index + 1 < len(self.pages) else None
        if self.dialect == "cursor":
            return Response(200, json={"items": self.pages[index], "next_cursor": following})
        links = [f'<{BASE}{request.path}?after=p0>; rel="first"']
        if following is not None:
            # relative and absolute targets, and a rel holding two relation types
            target = (
                f"?after={following}" if index % 2 else f"{BASE}{request.path}?after={following}"
            )
            links.append(f'<{target}>; rel="next {"last" if index % 3 == 2 else "x"}"')
        return Response(200, json=self.pages[index], headers=[("Link", ", ".join(links))])


class Upstream:
    """An upstream API: routes by path, and a record of every request."""

    def __init__(self, routes: dict[str, Route | Callable[[Request], Response]]) -> None:
        self.routes = routes
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        route = self.routes.get(request.path)
        if route is None:
            return Response(404, json={"error": "no route"})
        return route.answer(request) if isinstance(route, Route) else route(request)

    def client(self) -> HTTPClient:
        return HTTPClient(BASE, transport=MockTransport(self))


def pages_for(dialect: str, client: HTTPClient, path: str) -> Pages:
    """The walker for `dialect`, configured as the upstream above expects."""
    if dialect == "offset":
        return Pages.offset(client, path, size=ASK)
    if dialect == "page_number":
        return Pages.page_number(client, path, size=ASK)
    if dialect == "cursor":
        return Pages.cursor(client, path)
    if dialect == "link":
        return Pages.link(client, path)
    return Pages.scim(client, path, size=ASK)


async def walk(
    pages: Pages,
    platform_sizes: Sequence[int],
    *,
    capability: str = "list_accounts",
    nested: Callable[[Any], Pages] | None = None,
    limit: int = 1000,
    **options: Any,
) -> list[list[Any]]:
    """Every platform page, following tokens; fails if the walk does not end."""
    out: list[list[Any]] = []
    token: str | None = None
    for call in range(limit):
        size = platform_sizes[call % len(platform_sizes)]
        page = Page(token=token, size=size)
        if nested is None:
            items, following = await pages.fill(page, capability=capability, **options)
        else:
            pairs, following = await pages.fill_nested(
                page, nested, capability=capability, **options
            )
            items = list(pairs)
        assert len(items) <= size
        out.append(items)
        if following is None:
            return out
        assert following.size == size and following.token and following.token != token
        token = following.token
    pytest.fail("the walk never ended")


# ---- strategies ----------------------------------------------------------------


def item_lists() -> st.SearchStrategy[list[dict[str, str]]]:
    return st.integers(0, 40).map(lambda n: [{"id": f"u{i}"} for i in range(n)])


def upstream_sizes(dialect: str) -> st.SearchStrategy[list[int]]:
    """Upstream page sizes; cursor and link upstreams may answer empty pages mid-way."""
    low = 0 if dialect in ("cursor", "link") else 1
    return st.lists(st.integers(low, 8), min_size=1, max_size=6).filter(any)


def platform_sizes() -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(1, 12), min_size=1, max_size=4)


# ---- PageToken -----------------------------------------------------------------


class Cursor(msgspec.Struct):
    cursor: str


class Offset(msgspec.Struct):
    offset: int


def test_a_token_round_trips_and_stays_short() -> None:
    tokens = PageToken(Cursor, capability="list_accounts")
    value = Cursor("c" * 40)
    token = tokens.encode(value)
    assert tokens.decode(token) == value
    assert len(token) < 120
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert tokens.decode(None) is None and tokens.decode("") is None
    keyed = PageToken(Cursor, capability="list_accounts", key=b"k" * 32)
    assert len(keyed.encode(value)) == len(token)


def test_a_stack_of_positions_round_trips() -> None:
    tokens = PageToken(tuple[Offset, Cursor | None], capability="find_entitlement_associations")
    for value in ((Offset(3), Cursor("x")), (Offset(0), None)):
        assert tokens.decode(tokens.encode(value)) == value


def test_walker_tokens_for_a_40_char_cursor_stay_well_under_200() -> None:
    tokens = connector._walk_tokens("list_accounts", None)
    state = connector._WalkState(at="c" * 40, skip=99, n=1000, mark=b"\xff" * 8)
    assert len(tokens.encode([state])) < 110
    assert len(tokens.encode([state, state])) < 200


@given(
    offset=st.integers(0, 10**6),
    edit=st.data(),
)
@settings(max_examples=150)
def test_every_edit_of_a_token_is_refused(offset: int, edit: st.DataObject) -> None:
    """Truncated, extended or altered anywhere, a token is invalid_page_token."""
    tokens = PageToken(Offset, capability="list_accounts")
    token = tokens.encode(Offset(offset))
    kind = edit.draw(st.sampled_from(["truncate", "extend", "replace"]))
    if kind == "truncate":
        bad = token[: edit.draw(st.integers(1, len(token) - 1))]
    elif kind == "extend":
        bad = token + edit.draw(st.text(min_size=1, max_size=4))
    else:
        at = edit.draw(st.integers(0, len(token) - 1))
        other = edit.draw(st.characters().filter(lambda c: c != token[at]))
        bad = token[:at] + other + token[at + 1 :]
    with pytest.raises(InvalidPageTokenError) as info:
        tokens.decode(bad)
    assert info.value.error_code == ErrorCode.INVALID_PAGE_TOKEN


def test_every_single_character_edit_of_a_token_is_refused() -> None:
    """Base64 leaves spare bits in the last character: a token must be canonical too."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for value in (Offset(0), Offset(7), Offset(10**9)):
        tokens = PageToken(Offset, capability="list_accounts")
        token = tokens.encode(value)
        for at, original in enumerate(token):
            for other in alphabet.replace(original, ""):
                with pytest.raises(InvalidPageTokenError):
                    tokens.decode(token[:at] + other + token[at + 1 :])


@given(garbage=st.text(min_size=1, max_size=300) | st.binary(min_size=1).map(lambda b: b.hex()))
@example(garbage="AQ")
@example(garbage="A" * 5000)
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidPageTokenError):
        PageToken(Offset, capability="list_accounts").decode(garbage)


def test_other_capabilities_keys_and_models_are_refused() -> None:
    token = PageToken(Offset, capability="list_accounts").encode(Offset(5))
    for other in (
        PageToken(Offset, capability="list_resources"),
        PageToken(Offset, capability="list_accounts", key="secret-key"),
    ):
        with pytest.raises(InvalidPageTokenError, match="altered, or issued for another"):
            other.decode(token)
    with pytest.raises(InvalidPageTokenError, match="content is not a position"):
        PageToken(Cursor, capability="list_accounts").decode(token)
    signed = PageToken(Offset, capability="list_accounts", key="secret-key")
    with pytest.raises(InvalidPageTokenError):
        signed.decode(PageToken(Offset, capability="list_accounts", key="guess").encode(Offset(5)))
    assert signed.decode(signed.encode(Offset(5))) == Offset(5)


def test_the_key_is_what_stops_a_forged_offset() -> None:
    """Without a key anyone can mint a token (the format is public); with one, nobody can."""
    forged = PageToken(Offset, capability="list_accounts").encode(Offset(10**6))
    assert PageToken(Offset, capability="list_accounts", key="").decode(forged) == Offset(10**6)
    with pytest.raises(InvalidPageTokenError):
        PageToken(Offset, capability="list_accounts", key="server-side").decode(forged)
    assert "server-side" not in repr(PageToken(Offset, capability="x", key="server-side"))


# ---- every dialect: every item exactly once, in order ---------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@given(data=st.data(), items=item_lists(), sizes=platform_sizes())
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
def test_walking_every_page_returns_every_item_once_in_order(
    dialect: str, data: st.DataObject, items: list[Any], sizes: list[int]
) -> None:
    """For any upstream and platform page sizes, the pages concatenate to the items and
    every page but the last is full."""
    upstream = Upstream({"/users": Route(dialect, items, data.draw(upstream_sizes(dialect)))})

    async def main() -> list[list[Any]]:
        async with upstream.client() as client:
            return await walk(pages_for(dialect, client, "/users"), sizes)

    pages = run(main())
    assert [item for page in pages for item in page] == items
    for call, page in enumerate(pages[:-1]):
        assert len(page) == sizes[call % len(sizes)]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_async_iteration_walks_the_whole_collection(dialect: str) -> None:
    items = [{"id": f"u{i}"} for i in range(17)]
    upstream = Upstream({"/users": Route(dialect, items, [4, 1, 5])})

    async def main() -> list[Any]:
        async with upstream.client() as client:
            return [item async for item in pages_for(dialect, client, "/users")]

    assert await main() == items


async def test_a_page_stopping_mid_upstream_page_resumes_there() -> None:
    items = [{"id": f"u{i}"} for i in range(10)]
    upstream = Upstream({"/users": Route("cursor", items, [10])})

    async def main() -> list[list[Any]]:
        async with upstream.client() as client:
            return await walk(Pages.cursor(client, "/users"), [3])

    pages = await main()
    assert pages == [items[0:3], items[3:6], items[6:9], items[9:]]
    # each call fetched the one upstream page again and skipped what was returned
    assert [r.params for r in upstream.requests] == [[]] * 4


async def test_a_page_filled_at_the_upstream_end_has_no_next_page() -> None:
    items = [{"id": f"u{i}"} for i in range(8)]
    upstream = Upstream({"/Users": Route("scim", items, [4])})

    async def main() -> list[list[Any]]:
        async with upstream.client() as client:
            return await walk(Pages.scim(client, "/Users", size=4), [4])

    assert await main() == [items[:4], items[4:]]
    assert len(upstream.requests) == 2  # totalResults told us: no empty third request


# ---- each dialect's requests and answers ----------------------------------------


async def one(fill: Callable[[HTTPClient], Any], handler: Callable[[Request], Response]) -> Any:
    async def main() -> Any:
        async with HTTPClient(BASE, transport=MockTransport(handler)) as client:
            return await fill(client)

    return await main()


async def test_offset_sends_offset_and_limit_and_counts_what_came_back() -> None:
    users = [{"id": i} for i in range(7)]
    seen: list[list[tuple[str, str]]] = []

    def handler(request: Request) -> Response:
        seen.append(request.params)
        query = dict(request.params)
        offset = int(query["skip"])
        # a server that caps `top` at 3 whatever is asked, and reports the total
        return Response(200, json={"data": {"rows": users[offset : offset + 3], "n": 7}})

    items, page = await one(
        lambda c: Pages.offset(
            c,
            "/users",
            items="data.rows",
            size=50,
            offset_param="skip",
            size_param="top",
            total="data.n",
            params={"filter": "x", "skip": 99},
        ).fill(Page(size=100), capability="list_accounts"),
        handler,
    )
    assert items == users and page is None
    assert seen == [
        [("filter", "x"), ("skip", str(n)), ("top", "50")] for n in (0, 3, 6)
    ]  # no fourth request: `total` was reached


async def test_page_number_counts_from_first_and_stops_at_total_pages() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: Request) -> Response:
        seen.append(dict(request.params))
        number = int(dict(request.params)["p"])
        return Response(200, json={"users": [number * 10, number * 10 + 1], "pages": 2})

    items, page = await one(
        lambda c: Pages.page_number(
            c, "/users", items="users", page_param="p", size=None, first=0, total_pages="pages"
        ).fill(Page(size=10), capability="list_accounts"),
        handler,
    )
    assert items == [0, 1, 10, 11, 20, 21] and page is None
    assert seen == [{"p": "0"}, {"p": "1"}, {"p": "2"}]


async def test_cursor_from_a_dotted_path_or_a_function() -> None:
    pages = {None: ([1, 2], "abc"), "abc": ([3], "")}

    def handler(request: Request) -> Response:
        members, following = pages[dict(request.params).get("next")]
        return Response(200, json={"members": members, "meta": {"next": following}})

    def walker(c: HTTPClient, next_cursor: Any) -> Any:
        return Pages.cursor(
            c, "/users.list", items="members", next_cursor=next_cursor, cursor_param="next"
        ).fill(Page(size=10), capability="list_accounts")

    assert await one(lambda c: walker(c, "meta.next"), handler) == ([1, 2, 3], None)
    by_function = await one(lambda c: walker(c, lambda body: body["meta"]["next"] or None), handler)
    assert by_function == ([1, 2, 3], None)


async def test_link_headers_follow_rel_next_only() -> None:
    seen: list[str] = []
    answers = {
        "/users": (
            [1],
            '<https://upstream.test/users?page=9>; rel="last", '
            '<users?page=2&a=1,2>; title="p, 2"; rel="prev next"',
        ),
        "/users?page=2&a=1,2": ([2], "<https://upstream.test/x/users?page=3>; REL=NEXT"),
        "/x/users?page=3": ([3], '<https://upstream.test/users?page=1>; rel="prev"'),
    }

    def handler(request: Request) -> Response:
        url = urllib.parse.urlsplit(request.url)
        key = url.path + (f"?{url.query}" if url.query else "")
        seen.append(key)
        body, link = answers[key]
        return Response(200, json=body, headers={"Link": link})

    result = await one(
        lambda c: Pages.link(c, "/users").fill(Page(size=10), capability="list_accounts"),
        handler,
    )
    assert result == ([1, 2, 3], None)
    assert seen == ["/users", "/users?page=2&a=1,2", "/x/users?page=3"]


async def test_a_next_link_to_another_host_is_refused() -> None:
    def handler(request: Request) -> Response:
        return Response(
            200, json=[1], headers={"Link": '<https://evil.test/users?p=2>; rel="next"'}
        )

    with pytest.raises(ConnectorError, match="another host") as info:
        await one(
            lambda c: Pages.link(c, "/users").fill(Page(), capability="list_accounts"), handler
        )
    assert info.value.error_code == ErrorCode.INVALID_RESPONSE


async def test_scim_start_index_count_and_an_empty_list_without_resources() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: Request) -> Response:
        seen.append(dict(request.params))
        return Response(200, json={"totalResults": 0, "itemsPerPage": 0, "startIndex": 1})

    result = await one(
        lambda c: Pages.scim(
            c, "/scim/v2/Users", size=25, params={"filter": "active eq true"}
        ).fill(Page(), capability="list_accounts"),
        handler,
    )
    assert result == ([], None)
    assert seen == [{"filter": "active eq true", "startIndex": "1", "count": "25"}]


@pytest.mark.parametrize(
    ("walker", "body", "message"),
    [
        (lambda c: Pages.offset(c, "/u"), {"users": []}, "without a list at `items`"),
        (lambda c: Pages.offset(c, "/u", items=None), {"items": []}, "at the top level"),
        (lambda c: Pages.offset(c, "/u", total="n"), {"items": [1], "n": "9"}, "not an integer"),
        (lambda c: Pages.cursor(c, "/u"), {"items": [], "next_cursor": {}}, "not a string"),
        (lambda c: Pages.scim(c, "/u"), {"totalResults": 3}, "without a list at `Resources`"),
        (lambda c: Pages.scim(c, "/u"), [], "without a count at `totalResults`"),
    ],
)
async def test_a_body_without_the_expected_shape_is_invalid_response(
    walker: Callable[[HTTPClient], Pages], body: Any, message: str
) -> None:
    with pytest.raises(ConnectorError, match=message) as info:
        await one(
            lambda c: walker(c).fill(Page(), capability="list_accounts"),
            lambda r: Response(200, json=body),
        )
    assert info.value.error_code == ErrorCode.INVALID_RESPONSE
    assert "GET /u" in str(info.value)


async def test_upstream_errors_raise_as_usual() -> None:
    with pytest.raises(connector.HTTPStatusError, match="Client error 403 for GET /users"):
        await one(
            lambda c: Pages.cursor(c, "/users").fill(Page(), capability="list_accounts"),
            lambda r: Response(403, json={}),
        )


async def test_a_custom_fetch_function() -> None:
    async def fetch(at: connector.Position) -> UpstreamPage:
        n = int(at or 0)
        return UpstreamPage([n, n + 1], n + 2 if n < 4 else None)

    async def main() -> list[list[Any]]:
        return await walk(Pages(fetch, start=0, name="my API"), [3])

    assert await main() == [[0, 1, 2], [3, 4, 5]]


# ---- loops and the request cap ---------------------------------------------------


def looping(cycle: dict[str | None, str]) -> Callable[[Request], Response]:
    """A cursor upstream answering one item per page, its next cursor from `cycle`."""

    def handler(request: Request) -> Response:
        at = dict(request.params).get("cursor")
        return Response(200, json={"items": [at], "next_cursor": cycle[at]})

    return handler


async def test_a_looping_upstream_stops_within_one_call() -> None:
    """Every position of the call is remembered: B -> A stops before A is fetched again."""
    seen: list[str | None] = []
    loop = looping({None: "A", "A": "B", "B": "A"})

    def handler(request: Request) -> Response:
        seen.append(dict(request.params).get("cursor"))
        return loop(request)

    with pytest.raises(ConnectorError, match="pagination loops: GET /users led back") as info:
        await one(
            lambda c: Pages.cursor(c, "/users").fill(Page(size=50), capability="list_accounts"),
            handler,
        )
    assert info.value.error_code == ErrorCode.BAD_GATEWAY
    assert info.value.retryable is False
    assert seen == [None, "A", "B"]


async def test_a_self_loop_and_a_link_loop_stop_too() -> None:
    with pytest.raises(ConnectorError, match="loops"):
        await one(
            lambda c: Pages.cursor(c, "/users").fill(Page(size=5), capability="list_accounts"),
            looping({None: "A", "A": "A"}),
        )

    def link_loop(request: Request) -> Response:
        return Response(200, json=[1], headers={"Link": f'<{BASE}/users?p=1>; rel="next"'})

    with pytest.raises(ConnectorError, match="loops"):
        await one(
            lambda c: Pages.link(c, "/users").fill(Page(size=5), capability="list_accounts"),
            link_loop,
        )
    with pytest.raises(ConnectorError, match="loops"):
        await one(lambda c: collect(Pages.link(c, "/users")), link_loop)


async def collect(pages: Pages) -> list[Any]:
    return [item async for item in pages]


@given(tail=st.integers(0, 12), length=st.integers(1, 12))
@settings(max_examples=60)
def test_a_loop_spread_over_many_calls_stops_too(tail: int, length: int) -> None:
    """One upstream page per platform page, so no call sees the loop: the token's
    guard (Brent's) stops any tail-then-cycle shape within 2 * max(tail, length) + length
    pages, counting the first page in the tail."""
    names: list[str | None] = [None, *(f"c{i}" for i in range(tail + length))]
    cycle = {names[i]: str(names[i + 1]) for i in range(len(names) - 1)}
    cycle[names[-1]] = str(names[tail + 1 if tail + 1 < len(names) else -1])
    calls = 0

    async def main() -> None:
        nonlocal calls
        token = None
        async with HTTPClient(BASE, transport=MockTransport(looping(cycle))) as client:
            pages = Pages.cursor(client, "/users")
            for _ in range(200):
                calls += 1
                _, page = await pages.fill(Page(token=token, size=1), capability="list_accounts")
                assert page is not None
                token = page.token

    with pytest.raises(ConnectorError, match="loops"):
        run(main())
    assert calls <= 2 * max(tail + 1, length) + length


async def test_the_request_cap_ends_an_upstream_of_empty_pages() -> None:
    upstream_calls = 0

    def handler(request: Request) -> Response:
        nonlocal upstream_calls
        upstream_calls += 1
        return Response(200, json={"items": [], "next_cursor": f"c{upstream_calls}"})

    with pytest.raises(
        ConnectorError, match="made no progress: GET /users answered 5 pages"
    ) as info:
        await one(
            lambda c: Pages.cursor(c, "/users").fill(
                Page(size=10), capability="list_accounts", max_pages=5
            ),
            handler,
        )
    assert info.value.error_code == ErrorCode.BAD_GATEWAY
    assert upstream_calls == 5


async def test_the_request_cap_with_items_in_hand_gives_a_short_page() -> None:
    items = [{"id": f"u{i}"} for i in range(10)]
    upstream = Upstream({"/users": Route("cursor", items, [1])})

    async def main() -> list[list[Any]]:
        async with upstream.client() as client:
            return await walk(Pages.cursor(client, "/users"), [4], max_pages=3)

    pages = await main()
    assert pages == [items[0:3], items[3:6], items[6:9], items[9:]]
    assert len(upstream.requests) == 10


# ---- nested walks: groups -> members ---------------------------------------------


def nested_upstream(
    dialects: tuple[str, str], members: list[int], outer: list[int], inner: list[int]
) -> tuple[Upstream, list[tuple[Any, Any]]]:
    groups = [{"id": f"g{i}"} for i in range(len(members))]
    routes: dict[str, Route | Callable[[Request], Response]] = {
        "/groups": Route(dialects[0], groups, outer)
    }
    expected: list[tuple[Any, Any]] = []
    for group, count in zip(groups, members, strict=True):
        people = [{"id": f"{group['id']}-m{i}"} for i in range(count)]
        routes[f"/groups/{group['id']}/members"] = Route(dialects[1], people, inner)
        expected += [(group, person) for person in people]
    return Upstream(routes), expected


@given(
    data=st.data(),
    dialects=st.tuples(st.sampled_from(DIALECTS), st.sampled_from(DIALECTS)),
    members=st.lists(st.integers(0, 9), max_size=8),
    sizes=platform_sizes(),
)
@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
def test_a_nested_walk_returns_every_pair_once_in_order(
    data: st.DataObject, dialects: tuple[str, str], members: list[int], sizes: list[int]
) -> None:
    """Groups then each group's members: any page sizes at both levels and on the
    platform, every (group, member) pair exactly once, in order, pages full but the last."""
    upstream, expected = nested_upstream(
        dialects,
        members,
        data.draw(upstream_sizes(dialects[0])),
        data.draw(upstream_sizes(dialects[1])),
    )

    async def main() -> list[list[Any]]:
        async with upstream.client() as client:
            return await walk(
                pages_for(dialects[0], client, "/groups"),
                sizes,
                capability="find_entitlement_associations",
                nested=lambda g: pages_for(dialects[1], client, f"/groups/{g['id']}/members"),
            )

    pages = run(main())
    assert [pair for page in pages for pair in page] == expected
    for call, page in enumerate(pages[:-1]):
        assert len(page) == sizes[call % len(sizes)]


async def test_a_huge_group_spans_pages_and_the_token_holds_the_stack() -> None:
    upstream, expected = nested_upstream(("cursor", "offset"), [2, 30, 0, 1], [2], [5])

    async def main() -> tuple[list[list[Any]], list[Any]]:
        tokens = connector._walk_tokens("find_entitlement_associations", None)
        stacks: list[Any] = []
        out: list[list[Any]] = []
        token = None
        async with upstream.client() as client:
            groups = Pages.cursor(client, "/groups")
            for _ in range(20):
                pairs, page = await groups.fill_nested(
                    Page(token=token, size=8),
                    lambda g: Pages.offset(client, f"/groups/{g['id']}/members", size=ASK),
                    capability="find_entitlement_associations",
                )
                out.append(pairs)
                if page is None:
                    return out, stacks
                token = page.token
                stacks.append(tokens.decode(token))
        pytest.fail("the walk never ended")

    pages, stacks = await main()
    assert [len(p) for p in pages] == [8, 8, 8, 8, 1]
    assert [pair for page in pages for pair in page] == expected
    assert [len(s) for s in stacks] == [2, 2, 2, 2]  # each stop is inside group g1's members


async def test_a_nested_token_is_not_a_flat_one() -> None:
    upstream, _ = nested_upstream(("cursor", "cursor"), [5], [1], [1])

    async def main() -> None:
        async with upstream.client() as client:
            groups = Pages.cursor(client, "/groups")
            _, page = await groups.fill_nested(
                Page(size=2),
                lambda g: Pages.cursor(client, f"/groups/{g['id']}/members"),
                capability="list_accounts",
            )
            assert page is not None
            await groups.fill(page, capability="list_accounts")

    with pytest.raises(InvalidPageTokenError, match="nested walk"):
        await main()


# ---- through integration.dispatch -------------------------------------------------

AUTH = {"token": {"token": "upstream-token-1"}}
UPSTREAM: dict[str, Upstream] = {}  # the current example's upstream, by name


class PagerSettings(msgspec.Struct, kw_only=True):
    dialect: str = "cursor"
    inner: str = "offset"
    page_key: str | None = None


pager = connector.Integration(
    app_id="pager",
    version="1.0.0",
    auth=connector.TokenCredential,
    settings_model=PagerSettings,
)


def client_for(request: Any) -> HTTPClient:
    token = connector.get_token_auth(request).token
    return HTTPClient(BASE, bearer_token=token, transport=MockTransport(UPSTREAM["current"]))


@pager.capability
async def list_accounts(
    request: connector.ListAccountsRequest, settings: PagerSettings
) -> connector.ListAccountsResponse:
    async with client_for(request) as client:
        users, page = await pages_for(settings.dialect, client, "/users").fill(
            request, key=settings.page_key
        )
    return connector.ListAccountsResponse(
        response=[connector.FoundAccountData(integration_specific_id=u["id"]) for u in users],
        page=page,
    )


@pager.capability
async def list_resources(
    request: connector.ListResourcesRequest, settings: PagerSettings
) -> connector.ListResourcesResponse:
    async with client_for(request) as client:
        found, page = await pages_for(settings.dialect, client, "/users").fill(request)
    return connector.ListResourcesResponse(
        response=[
            connector.FoundResourceData(
                integration_specific_id=r["id"], label="r", resource_type="t"
            )
            for r in found
        ],
        page=page,
    )


@pager.capability
async def find_entitlement_associations(
    request: connector.FindEntitlementAssociationsRequest, settings: PagerSettings
) -> connector.FindEntitlementAssociationsResponse:
    async with client_for(request) as client:
        pairs, page = await pages_for(settings.dialect, client, "/groups").fill_nested(
            request,
            lambda g: pages_for(settings.inner, client, f"/groups/{g['id']}/members"),
        )
    return connector.FindEntitlementAssociationsResponse(
        response=[
            connector.FoundEntitlementAssociation(
                integration_specific_entitlement_id=group["id"],
                account_id=member["id"],
                integration_specific_resource_id="org",
            )
            for group, member in pairs
        ],
        page=page,
    )


async def dispatch(name: str, page: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"auth": AUTH, "request": {}, "page": page, "settings": settings})
    out: bytes = await pager.dispatch(name, body)
    decoded: dict[str, Any] = json.loads(out)
    return decoded


async def dispatch_all(name: str, sizes: list[int], settings: dict[str, Any]) -> list[list[Any]]:
    pages: list[list[Any]] = []
    token: str | None = None
    for call in range(1000):
        size = sizes[call % len(sizes)]
        answer = await dispatch(name, {"token": token, "size": size}, settings)
        assert answer.get("is_error") is not True, answer
        pages.append(answer["response"])
        if answer["page"] is None:
            return pages
        token = answer["page"]["token"]
        assert isinstance(token, str) and json.loads(json.dumps(token)) == token
    pytest.fail("the walk never ended")


@pytest.mark.parametrize("dialect", DIALECTS)
@given(data=st.data(), items=item_lists(), sizes=platform_sizes())
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
def test_through_dispatch_every_account_once_in_order(
    dialect: str, data: st.DataObject, items: list[Any], sizes: list[int]
) -> None:
    """The same property with tokens round-tripped as JSON strings through dispatch."""
    UPSTREAM["current"] = Upstream(
        {"/users": Route(dialect, items, data.draw(upstream_sizes(dialect)))}
    )
    pages = run(
        dispatch_all("list_accounts", sizes, {"dialect": dialect, "page_key": "k-123456789"})
    )
    ids = [account["integration_specific_id"] for page in pages for account in page]
    assert ids == [item["id"] for item in items]


@given(
    data=st.data(),
    dialects=st.tuples(st.sampled_from(DIALECTS), st.sampled_from(DIALECTS)),
    members=st.lists(st.integers(0, 7), max_size=6),
    sizes=platform_sizes(),
)
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
def test_through_dispatch_every_association_once_in_order(
    data: st.DataObject, dialects: tuple[str, str], members: list[int], sizes: list[int]
) -> None:
    upstream, expected = nested_upstream(
        dialects,
        members,
        data.draw(upstream_sizes(dialects[0])),
        data.draw(upstream_sizes(dialects[1])),
    )
    UPSTREAM["current"] = upstream
    pages = run(
        dispatch_all(
            "find_entitlement_associations", sizes, {"dialect": dialects[0], "inner": dialects[1]}
        )
    )
    pairs = [
        (a["integration_specific_entitlement_id"], a["account_id"]) for page in pages for a in page
    ]
    assert pairs == [(g["id"], m["id"]) for g, m in expected]


async def first_token(name: str = "list_accounts", **settings: Any) -> str:
    items = [{"id": f"u{i}"} for i in range(20)]
    UPSTREAM["current"] = Upstream({"/users": Route("cursor", items, [3])})
    answer = await dispatch(name, {"size": 5}, {"dialect": "cursor", **settings})
    token: str = answer["page"]["token"]
    return token


async def error_of(name: str, token: str, **settings: Any) -> dict[str, Any]:
    answer = await dispatch(name, {"token": token, "size": 5}, {"dialect": "cursor", **settings})
    assert answer["is_error"] is True and answer["response"] is None
    error: dict[str, Any] = answer["error"]
    return error


@given(data=st.data())
@settings(max_examples=30)
def test_through_dispatch_tampered_and_truncated_tokens_are_invalid_page_token(
    data: st.DataObject,
) -> None:
    token = run(first_token())
    if data.draw(st.booleans()):
        bad = token[: data.draw(st.integers(1, len(token) - 1))]
    else:
        at = data.draw(st.integers(0, len(token) - 1))
        other = data.draw(st.sampled_from("AQgw-_9z").filter(lambda c: c != token[at]))
        bad = token[:at] + other + token[at + 1 :]
    error = run(error_of("list_accounts", bad))
    assert error["error_code"] == "invalid_page_token"
    assert error["raised_by"] == "InvalidPageTokenError"
    assert error["error_metadata"]["fault"] == "caller"


async def test_through_dispatch_a_token_of_another_capability_is_invalid_page_token() -> None:
    token = await first_token("list_accounts")
    assert (await dispatch("list_accounts", {"token": token, "size": 5}, {}))["page"] is not None
    error = await error_of("list_resources", token)
    assert error["error_code"] == "invalid_page_token"
    assert "list_resources" in error["message"]


async def test_through_dispatch_a_forged_or_unsigned_token_is_refused_when_keyed() -> None:
    token = await first_token(page_key="right-key-123")
    answer = await dispatch(
        "list_accounts",
        {"token": token, "size": 5},
        {"dialect": "cursor", "page_key": "right-key-123"},
    )
    assert [a["integration_specific_id"] for a in answer["response"]] == [
        f"u{i}" for i in range(5, 10)
    ]
    # an offset minted by a caller who knows the format but not the key
    forged = connector._walk_tokens("list_accounts", None).encode(
        [connector._WalkState(at="p2", skip=1)]
    )
    for bad, key in (
        (forged, "right-key-123"),
        (token, "other-key-456"),
        (await first_token(), "right-key-123"),
    ):
        assert (await error_of("list_accounts", bad, page_key=key))[
            "error_code"
        ] == "invalid_page_token"
    # ...which a connector without a key accepts: the key is what makes offsets unforgeable
    assert (await dispatch("list_accounts", {"token": forged, "size": 5}, {"dialect": "cursor"}))[
        "response"
    ]


async def test_through_dispatch_a_loop_is_a_clear_bad_gateway() -> None:
    UPSTREAM["current"] = Upstream({"/users": looping({None: "A", "A": "B", "B": "A"})})
    answer = await dispatch("list_accounts", {"size": 10}, {"dialect": "cursor"})
    assert answer["error"]["error_code"] == "bad_gateway"
    assert "loops" in answer["error"]["message"]
    assert answer["error"]["error_metadata"]["retryable"] is False


async def test_a_page_size_below_one_is_bad_request() -> None:
    UPSTREAM["current"] = Upstream({"/users": Route("cursor", [], [1])})
    answer = await dispatch("list_accounts", {"size": 0}, {"dialect": "cursor"})
    assert answer["error"]["error_code"] == "bad_request"


async def test_the_capability_must_be_named_for_a_bare_page() -> None:
    pages = Pages.from_list([1, 2])
    with pytest.raises(TypeError, match="pass capability="):
        await pages.fill(Page(size=1))
    assert await pages.fill(Page(size=5), capability="list_accounts") == ([1, 2], None)


# ---- the examples ----------------------------------------------------------------


async def test_the_pagination_examples_run() -> None:
    import pagination_examples  # examples/ is on sys.path (tests/conftest.py)

    assert await pagination_examples.offset_example() == [f"user-{n}" for n in range(1, 24)]
    assert await pagination_examples.cursor_example() == list(pagination_examples.GROUPS)
    pairs = await pagination_examples.nested_example()
    assert pairs == [
        (group, member)
        for group, members in pagination_examples.GROUPS.items()
        for member in members
    ]


async def test_a_parent_gone_between_calls_does_not_shift_the_next_one() -> None:
    """A token stopping inside a group that has since vanished resumes at the next
    group's first member, not at the old group's offset."""
    upstream, _ = nested_upstream(("cursor", "offset"), [1, 1, 9, 4], [3], [9])

    async def main() -> list[Any]:
        async with upstream.client() as client:
            groups = Pages.cursor(client, "/groups")

            def members(g: Any) -> Pages:
                return Pages.offset(client, f"/groups/{g['id']}/members", size=ASK)

            options: dict[str, Any] = {"capability": "find_entitlement_associations"}
            first, page = await groups.fill_nested(Page(size=6), members, **options)
            assert [m["id"] for _, m in first][-1] == "g2-m3"  # stopped inside g2
            upstream.routes["/groups"] = Route(
                "cursor", [{"id": "g0"}, {"id": "g1"}, {"id": "g3"}], [2]
            )
            assert page is not None
            rest, _ = await groups.fill_nested(page, members, **options)
            return [m["id"] for _, m in rest]

    assert await main() == ["g3-m0", "g3-m1", "g3-m2", "g3-m3"]
