import sys
from pathlib import Path

import pytest
from hypothesis import settings

# The example connectors are imported by name in tests, as the CLI imports them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# No per-example deadline: on a busy 2-core CI machine a first call (a worker
# thread starting, a lazy import) may take longer than hypothesis' 200 ms and
# be reported as flaky. The properties check behaviour, not speed.
settings.register_profile("project", deadline=None)
settings.load_profile("project")


@pytest.fixture
def anyio_backend() -> str:
    """Async tests are `async def` under `pytest.mark.anyio`, on asyncio (the server's loop)."""
    return "asyncio"
