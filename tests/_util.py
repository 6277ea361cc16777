"""Small helpers shared by the test modules.

Async tests are `async def` under `pytest.mark.anyio` (the backend fixture is in
conftest.py). Only a test that must stay synchronous (a hypothesis `@given`
property: hypothesis drives plain functions) runs a coroutine with `run`.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# One event loop for every synchronous caller, kept between calls (as a long-lived
# server's loop is): a new loop per hypothesis example would cost more than the example.
_RUNNER = asyncio.Runner()
atexit.register(_RUNNER.close)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion from synchronous code (never from inside a running loop)."""
    return _RUNNER.run(coro)


class Records(logging.Handler):
    """Keeps every record it is given, at any level."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
