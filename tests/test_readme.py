"""The README's generated capability reference is current, and its samples decode."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import msgspec
from _reference import BEGIN, END, reference

import connector

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_the_capability_reference_is_generated_from_the_structs() -> None:
    start, end = README.index(BEGIN), README.index(END) + len(END)
    assert README[start:end] == reference(), "run: python tests/_reference.py"


def test_every_sample_request_decodes() -> None:
    for line in reference().splitlines():
        if line.startswith("    python -m connector call"):
            words = shlex.split(line)
            name, body = words[5], words[7]
            spec = connector.CAPABILITIES[name]
            msgspec.json.decode(body, type=spec.request_type)
            assert json.loads(body)["request"] is not None
