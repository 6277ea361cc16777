"""Benchmark: the cost of `dispatch` against msgspec's own encoding, and CLI start-up.

    python tests/bench_dispatch.py

    python tests/bench_dispatch.py --before 1b73c70   # info start-up then and now

Prints microseconds per `dispatch` of list_accounts returning 1 and 1000
prebuilt accounts, with response validation off and on, next to msgspec's
`encode` alone and `encode` + typed `decode` (what validation costs at least),
measured in turns in one process; then the median wall time of
`python -m connector info examples/mock_connector.py` over 20 runs next to
`python -c pass` and `import msgspec`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector import (  # noqa: E402
    AccountStatus,
    AccountType,
    BasicCredential,
    FoundAccountData,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
)

BODY = b'{"auth":{"basic":{"username":"admin","password":"correct-horse"}},"request":{},"page":{"size":1000}}'


def accounts(n: int) -> ListAccountsResponse:
    return ListAccountsResponse(
        response=[
            FoundAccountData(
                integration_specific_id=f"user-{i:05d}",
                email=f"user{i}@example.com",
                given_name="Given",
                family_name=f"Family{i}",
                username=f"user{i}",
                user_status=AccountStatus.ACTIVE,
                account_type=AccountType.USER,
            )
            for i in range(n)
        ]
    )


def integration_returning(response: ListAccountsResponse, validate: bool) -> Integration:
    integration = Integration(
        app_id="bench", version="1.0", auth=BasicCredential, validate_responses=validate
    )

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        return response

    return integration


Run = Callable[[int], object]


def interleaved(rounds: int, reps: int, runs: dict[str, Run]) -> dict[str, float]:
    """Microseconds per call of each run: the best of several rounds, taken in turn
    (so that a disturbance of the machine hits every variant alike)."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run(reps)
            best[name] = min(best[name], (time.perf_counter() - start) / reps)
    return {name: seconds * 1e6 for name, seconds in best.items()}


def dispatching(
    loop: asyncio.AbstractEventLoop, dispatch: Callable[[str, bytes], Awaitable[bytes]]
) -> Run:
    """k dispatches of BODY, awaited in turn on `loop`."""

    async def many(k: int) -> None:
        for _ in range(k):
            await dispatch("list_accounts", BODY)

    return lambda k: loop.run_until_complete(many(k))


def encoding(work: Callable[[ListAccountsResponse], object], response: ListAccountsResponse) -> Run:
    """k calls of `work(response)`."""

    def run(k: int) -> None:
        for _ in range(k):
            work(response)

    return run


def bench_dispatch() -> None:
    encode = msgspec.json.Encoder().encode
    decode = msgspec.json.Decoder(ListAccountsResponse).decode
    loop = asyncio.new_event_loop()
    print("dispatch of list_accounts (prebuilt response), µs per call, interleaved best of 7")
    for n, reps in ((1, 20_000), (1000, 300)):
        response = accounts(n)
        runs: dict[str, Run] = {}
        for validate in (False, True):
            dispatch = integration_returning(response, validate).dispatch
            assert loop.run_until_complete(dispatch("list_accounts", BODY)) == encode(response)
            runs[f"dispatch, validation {'on' if validate else 'off'}"] = dispatching(
                loop, dispatch
            )
        runs["encode alone"] = encoding(encode, response)
        runs["encode + typed decode"] = encoding(lambda r: decode(encode(r)), response)
        for run in runs.values():
            run(reps // 10)
        us = interleaved(7, reps, runs)
        off, on = us["dispatch, validation off"], us["dispatch, validation on"]
        plain, checked = us["encode alone"], us["encode + typed decode"]
        print(f"  {n} account(s):")
        for name, value in us.items():
            print(f"    {name:<28} {value:10.2f} µs")
        print(f"    validation off / encode alone          {off / plain:6.3f}  (target <= 1.10)")
        print(f"    validation on / (encode + typed decode) {on / checked:6.3f}  (target <= 1.15)")
        print(f"    cost of validation: {on - off:.2f} µs ({on / off:.2f}x)")


def median_ms(command: list[str], runs: int = 20) -> float:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # let the first run write .pyc files, as users have
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def info_at(revision: str) -> float:
    """`info` cold start of the library as it was at a git revision (a temporary checkout)."""
    import tempfile

    with tempfile.TemporaryDirectory() as where:
        archive = subprocess.run(
            ["git", "archive", revision, "connector.py", "examples"], cwd=ROOT, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", where], input=archive.stdout, check=True)
        command = [sys.executable, "-m", "connector", "info", "examples/mock_connector.py"]
        env = dict(os.environ, PYTHONPATH=where)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(command, cwd=where, env=env, capture_output=True, check=True)
        times = []
        for _ in range(20):
            start = time.perf_counter()
            subprocess.run(command, cwd=where, env=env, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e3


def bench_cli(before: str | None) -> None:
    python = sys.executable
    baseline = median_ms([python, "-c", "pass"])
    msgspec_only = median_ms([python, "-c", "import msgspec"])
    info = median_ms([python, "-m", "connector", "info", "examples/mock_connector.py"])
    print("\nCLI start-up, median of 20 runs (bytecode written)")
    print(f"  python -c pass                                      {baseline:6.1f} ms")
    print(f"  python -c 'import msgspec'                          {msgspec_only:6.1f} ms")
    print(f"  python -m connector info examples/mock_connector.py {info:6.1f} ms")
    print(f"  info minus 'import msgspec': {info - msgspec_only:.1f} ms; target: info under 45 ms")
    if before is not None:
        then = info_at(before)
        print(f"  the same at {before}: {then:6.1f} ms; this tree adds {info - then:+.1f} ms")
    probe = (
        "import sys, connector; "
        "print(sorted(m for m in ('httpcore', 'h11', 'anyio', 'ssl') if m in sys.modules))"
    )
    heavy = subprocess.run([python, "-c", probe], cwd=ROOT, capture_output=True, text=True).stdout
    print(f"  heavy modules loaded by 'import connector': {heavy.strip()}")


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}, msgspec {msgspec.__version__}")
    # `--before REV` also times `info` as of a git revision (e.g. before a change).
    before = sys.argv[sys.argv.index("--before") + 1] if "--before" in sys.argv else None
    bench_dispatch()
    bench_cli(before)
