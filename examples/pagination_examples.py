"""Pagination with `connector.Pages`: offset, cursor and nested (groups -> members) walks.

Each capability below is a few lines: pick the upstream's dialect, `fill` one
platform page, map the items. The upstream is in-process (a `MockTransport`
handler), so the file runs without a network:

    python examples/pagination_examples.py
"""

from __future__ import annotations

import json
from typing import Any

from connector import (
    FindEntitlementAssociationsRequest,
    FindEntitlementAssociationsResponse,
    FoundAccountData,
    FoundEntitlementAssociation,
    FoundEntitlementData,
    HTTPClient,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
    ListEntitlementsRequest,
    ListEntitlementsResponse,
    MockTransport,
    Pages,
    Request,
    Response,
    TokenCredential,
    get_token_auth,
)

# ---- the upstream: /users by offset, /groups by cursor, members by Link header ----

USERS = [{"id": f"user-{n}", "email": f"user-{n}@example.com"} for n in range(1, 24)]
GROUPS = {
    "admins": ["user-1", "user-2"],
    "engineering": [f"user-{n}" for n in range(3, 16)],
    "empty": [],
    "sales": [f"user-{n}" for n in range(16, 24)],
}


def fake_api(request: Request) -> Response:
    query = dict(request.params)
    if request.path == "/users":  # ?offset=&limit=, at most 5 per page whatever is asked
        offset, limit = int(query["offset"]), min(int(query["limit"]), 5)
        return Response(200, json={"users": USERS[offset : offset + limit], "total": len(USERS)})
    if request.path == "/groups":  # ?cursor=, two groups per page
        names = list(GROUPS)
        at = names.index(query["cursor"]) if "cursor" in query else 0
        following = names[at + 2] if at + 2 < len(names) else None
        page = [{"id": name} for name in names[at : at + 2]]
        return Response(200, json={"groups": page, "meta": {"next": following}})
    group = request.path.removeprefix("/groups/").removesuffix("/members")
    start = int(query.get("from", 0))  # three members per page, then a Link to the next
    members = GROUPS[group][start : start + 3]
    headers = {}
    if start + 3 < len(GROUPS[group]):
        headers["Link"] = f'<{request.path}?from={start + 3}>; rel="next"'
    return Response(200, json=[{"id": m} for m in members], headers=headers)


def upstream(request: Any) -> HTTPClient:
    token = get_token_auth(request).token
    return integration.http_client("https://api.example.test", bearer_token=token)


integration = Integration(app_id="pagination-examples", version="1.0.0", auth=TokenCredential)
integration.configure_http(transport=MockTransport(fake_api))  # the in-process upstream


# ---- offset/limit ----------------------------------------------------------------


@integration.capability
async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
    async with upstream(request) as api:
        users, page = await Pages.offset(api, "/users", items="users", total="total").fill(request)
    accounts = [FoundAccountData(integration_specific_id=u["id"], email=u["email"]) for u in users]
    return ListAccountsResponse(response=accounts, page=page)


# ---- a cursor in the body ----------------------------------------------------------


@integration.capability
async def list_entitlements(request: ListEntitlementsRequest) -> ListEntitlementsResponse:
    async with upstream(request) as api:
        groups = Pages.cursor(api, "/groups", items="groups", next_cursor="meta.next")
        found, page = await groups.fill(request)
    return ListEntitlementsResponse(
        response=[
            FoundEntitlementData(
                integration_specific_id=g["id"],
                integration_specific_resource_id="org",
                entitlement_type="group",
                label=g["id"],
            )
            for g in found
        ],
        page=page,
    )


# ---- nested: each group, then its members (one token holds both positions) ---------


@integration.capability
async def find_entitlement_associations(
    request: FindEntitlementAssociationsRequest,
) -> FindEntitlementAssociationsResponse:
    async with upstream(request) as api:
        groups = Pages.cursor(api, "/groups", items="groups", next_cursor="meta.next")
        pairs, page = await groups.fill_nested(
            request, lambda group: Pages.link(api, f"/groups/{group['id']}/members")
        )
    return FindEntitlementAssociationsResponse(
        response=[
            FoundEntitlementAssociation(
                integration_specific_entitlement_id=group["id"],
                account_id=member["id"],
                integration_specific_resource_id="org",
            )
            for group, member in pairs
        ],
        page=page,
    )


# ---- the three examples: every page of a capability, tokens sent back as given ----


async def every_page(capability: str, size: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        body: dict[str, Any] = {"auth": {"token": {"token": "example-token"}}, "request": {}}
        body["page"] = {"token": token, "size": size}
        answer = json.loads(await integration.dispatch(capability, json.dumps(body)))
        found += answer["response"]
        if answer["page"] is None:
            return found
        token = answer["page"]["token"]


async def offset_example() -> list[str]:
    """Every account, 7 per platform page, from an upstream that gives 5 per request."""
    return [a["integration_specific_id"] for a in await every_page("list_accounts", 7)]


async def cursor_example() -> list[str]:
    """Every group, 3 per platform page, from an upstream that gives 2 per request."""
    return [e["integration_specific_id"] for e in await every_page("list_entitlements", 3)]


async def nested_example() -> list[tuple[str, str]]:
    """Every (group, member), 4 per platform page; a big group spans several pages."""
    found = await every_page("find_entitlement_associations", 4)
    return [(a["integration_specific_entitlement_id"], a["account_id"]) for a in found]


if __name__ == "__main__":
    import anyio

    print("offset:", anyio.run(offset_example))
    print("cursor:", anyio.run(cursor_example))
    print("nested:", anyio.run(nested_example))
