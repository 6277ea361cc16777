import sys
from pathlib import Path

# The example connectors are imported by name in tests, as the CLI imports them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
