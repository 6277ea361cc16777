"""Benchmark: the built-in server against uvicorn, serving the same ASGI app.

    python tests/bench_server.py [--duration 5] [--connections 10]

Each server runs in its own process on a free loopback port and serves
`server.asgi(examples/mock_connector.py)`; the load is `POST /list_accounts`
answering 1 and 100 accounts over keep-alive connections. The load generator is
`wrk` (Debian package `wrk`) when installed, else a Python client in another
process. Prints requests/second, p99 latency, the ratio to uvicorn's h11 mode,
and each server's peak RSS (VmHWM) after the load. Access logs are off in every
server, so the figures compare the HTTP paths, not logging.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"basic": {"username": "admin", "password": "correct-horse"}}


def body_for(accounts: int) -> bytes:
    """A list_accounts request answering exactly `accounts` accounts."""
    envelope = {
        "auth": AUTH,
        "request": {},
        "page": {"size": accounts},
        "settings": {"users": max(accounts, 1)},
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


# ---- Server side (child process) --------------------------------------------------


def child(kind: str) -> None:
    sys.path.insert(0, str(ROOT))
    import importlib.util

    import server

    spec = importlib.util.spec_from_file_location(
        "mock_connector", ROOT / "examples/mock_connector.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mock_connector"] = module
    spec.loader.exec_module(module)
    app = server.asgi(module.integration)

    def report(host: str, port: int) -> None:
        print(port, flush=True)

    if kind == "builtin":
        server.serve(app, "127.0.0.1", 0, on_bound=report, access_log=False)
        return
    import socket

    import uvicorn

    # proto=IPPROTO_TCP, as uvicorn's own bind has it, so asyncio sets TCP_NODELAY.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    report(*sock.getsockname())
    config = uvicorn.Config(
        app, http=kind.split("-")[1], loop="asyncio", log_level="warning", access_log=False
    )
    uvicorn.Server(config).run(sockets=[sock])


# ---- Load generators ----------------------------------------------------------------

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open(os.getenv("BENCH_BODY_FILE")):read("*a")
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %d\\n",
    summary.requests, summary.duration, latency:percentile(99), bad))
end
"""


def run_wrk(port: int, body: bytes, seconds: float, connections: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder, "post.lua")
        script.write_text(WRK_SCRIPT)
        body_file = Path(folder, "body.json")
        body_file.write_bytes(body)
        command = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/list_accounts",
        ]
        env = {**os.environ, "BENCH_BODY_FILE": str(body_file)}
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    requests, duration_us, p99_us, bad = (int(x) for x in line.split()[1:])
    return {"rps": requests / (duration_us / 1e6), "p99_ms": p99_us / 1000, "errors": bad}


async def _python_load(port: int, body: bytes, seconds: float, connections: int) -> dict[str, Any]:
    request = (
        b"POST /list_accounts HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def one() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            latencies.append(time.perf_counter() - started)
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else 0.0
    return {"rps": len(latencies) / elapsed, "p99_ms": p99 * 1000, "errors": errors}


def run_python(port: int, body: bytes, seconds: float, connections: int) -> dict[str, float]:
    # In a separate process, so the client does not share the server's interpreter.
    code = (
        "import asyncio, json, sys; sys.path.insert(0, sys.argv[1]); import bench_server as b; "
        "print(json.dumps(asyncio.run(b._python_load(int(sys.argv[2]), sys.stdin.buffer.read(), "
        "float(sys.argv[3]), int(sys.argv[4])))))"
    )
    args = [sys.executable, "-c", code, str(Path(__file__).parent), str(port), str(seconds)]
    out = subprocess.run(
        [*args, str(connections)], input=body, capture_output=True, check=True
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


# ---- Driver --------------------------------------------------------------------------


def start(kind: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, port


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def check_answer(port: int, body: bytes, accounts: int) -> None:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/list_accounts", body, {"content-type": "application/json"})
    response = connection.getresponse()
    payload = json.loads(response.read())
    connection.close()
    assert response.status == 200, payload
    assert len(payload["response"]) == accounts, len(payload["response"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=10, help="keep-alive connections")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument(
        "--python-client", action="store_true", help="use the Python load generator, not wrk"
    )
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0

    kinds = ["builtin", "uvicorn-h11"]
    try:
        import httptools  # noqa: F401

        kinds.append("uvicorn-httptools")
    except ImportError:
        pass
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    load = run_wrk if use_wrk else run_python
    print(
        f"load: {'wrk' if use_wrk else 'python client'}, {args.connections} keep-alive "
        f"connections, {args.duration:g} s per run, {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}"
    )
    results: dict[tuple[str, int], dict[str, float]] = {}
    for kind in kinds:
        process, port = start(kind)
        try:
            for accounts in (1, 100):
                body = body_for(accounts)
                check_answer(port, body, accounts)
                load(port, body, 1.0, args.connections)  # warm-up
                results[kind, accounts] = load(port, body, args.duration, args.connections)
            rss = peak_rss_mb(process.pid)
            for accounts in (1, 100):
                results[kind, accounts]["rss_mb"] = rss
        finally:
            process.terminate()
            process.wait(10)

    print(
        f"\n{'server':<20}{'accounts':>9}{'req/s':>10}{'p99 ms':>9}{'vs h11':>8}{'errors':>8}"
        f"{'peak RSS MB':>13}"
    )
    for accounts in (1, 100):
        base = results["uvicorn-h11", accounts]["rps"]
        for kind in kinds:
            r = results[kind, accounts]
            print(
                f"{kind:<20}{accounts:>9}{r['rps']:>10.0f}{r['p99_ms']:>9.2f}"
                f"{r['rps'] / base:>7.2f}x{r['errors']:>8.0f}{r['rss_mb']:>13.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
