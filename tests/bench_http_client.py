"""Benchmark: shared connection pools against a client per call, and HTTPClient against httpx.

    python tests/bench_http_client.py

A local HTTPS server (stdlib, self-signed certificate made with openssl) counts
the connections it accepts. Part 1 runs 200 sequential platform calls
(`dispatch` of a capability making one upstream GET) twice: with a client of
its own per call (``HTTPClient(..., shared=False)``, what the README's idiom
did before pools were shared) and with ``integration.http_client(...)``, which
shares the integration's pool. It prints connections opened and wall time of
each, and the speed-up (target: <= 2 connections, >= 3x). Part 2 prints
microseconds per request of one HTTPClient and of one httpx.AsyncClient on the
same server, interleaved in rounds so both see the same machine; httpx is used
only if it is importable (it is never a dependency).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from _upstream import self_signed_cert, upstream  # noqa: E402

from connector import (  # noqa: E402
    HTTPClient,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
)

CALLS = 200
ROUNDS = 7
PER_ROUND = 200
BODY = b'{"request": {}}'


def connector_for(url: str, cafile: str, *, shared: bool) -> Integration:
    integration = Integration(app_id="bench-http", version="1.0")

    if shared:

        @integration.capability
        async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
            client = integration.http_client(url, verify=cafile)
            (await client.get("/me")).raise_for_status()
            return ListAccountsResponse(response=[])

    else:

        @integration.capability
        async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
            async with HTTPClient(url, verify=cafile, shared=False) as client:
                (await client.get("/me")).raise_for_status()
            return ListAccountsResponse(response=[])

    return integration


async def platform_calls(integration: Integration) -> float:
    started = time.perf_counter()
    for _ in range(CALLS):
        out = await integration.dispatch("list_accounts", BODY)
        assert b'"response":[]' in out, out
    elapsed = time.perf_counter() - started
    await integration.aclose_http()
    return elapsed


async def per_request(url: str, cafile: str) -> None:
    try:
        import httpx
    except ImportError:
        httpx = None
        print("part 2: httpx is not importable here; HTTPClient alone:")
    import ssl

    context = ssl.create_default_context(cafile=cafile)
    ours = HTTPClient(url, ssl_context=context, shared=False)
    theirs = httpx.AsyncClient(base_url=url, verify=context) if httpx else None
    timings: dict[str, list[float]] = {"HTTPClient": [], "httpx.AsyncClient": []}

    async def run(name: str, get: object) -> None:
        started = time.perf_counter()
        for _ in range(PER_ROUND):
            response = await get("/me")  # type: ignore[operator]
            assert response.status_code == 200
        timings[name].append((time.perf_counter() - started) / PER_ROUND * 1e6)

    await ours.get("/me")  # connect and warm up both
    if theirs is not None:
        await theirs.get("/me")
    for _ in range(ROUNDS):
        await run("HTTPClient", ours.get)
        if theirs is not None:
            await run("httpx.AsyncClient", theirs.get)
    await ours.aclose()
    if theirs is not None:
        await theirs.aclose()
    mine = statistics.median(timings["HTTPClient"])
    print(f"  HTTPClient         {mine:8.1f} us/request (median of {ROUNDS} rounds)")
    if theirs is not None:
        other = statistics.median(timings["httpx.AsyncClient"])
        print(f"  httpx.AsyncClient  {other:8.1f} us/request")
        print(f"  ratio HTTPClient / httpx: {mine / other:.2f}")


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        tls = self_signed_cert(Path(directory))
        if tls is None:
            print("skipped: openssl is not installed, so no self-signed certificate can be made")
            return 0
        cafile = str(tls[0])
        with upstream(tls=tls) as api:
            print(f"part 1: {CALLS} sequential platform calls, one upstream GET each ({api.url})")
            results = {}
            for shared in (False, True):
                before = api.connections
                elapsed = asyncio.run(platform_calls(connector_for(api.url, cafile, shared=shared)))
                results[shared] = (api.connections - before, elapsed)
                label = "shared pool      " if shared else "client per call  "
                print(
                    f"  {label} {results[shared][0]:4d} connections  {elapsed * 1000:8.1f} ms"
                    f"  ({elapsed / CALLS * 1e6:7.1f} us/call)"
                )
            speedup = results[False][1] / results[True][1]
            print(
                f"  shared pool: {results[True][0]} connection(s) (target <= 2), "
                f"{speedup:.1f}x faster (target >= 3x)"
            )
        print(
            f"part 2: us per GET on one open connection, interleaved, {ROUNDS} rounds "
            "(the server in a process of its own)"
        )
        helper = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "_upstream.py"), *map(str, tls)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert helper.stdout is not None
            asyncio.run(per_request(helper.stdout.readline().strip(), cafile))
        finally:
            helper.communicate("")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
