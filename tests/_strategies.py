"""Hypothesis strategies for msgspec structs, built from their field types."""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

import msgspec
from hypothesis import strategies as st

INT64 = st.integers(-(2**63), 2**63 - 1)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | INT64
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    """A strategy producing valid values of a msgspec-supported type."""
    if tp is Any:
        return json_values
    if typing.get_origin(tp) is typing.Literal:
        return st.sampled_from(typing.get_args(tp))
    if typing.get_origin(tp) is typing.Annotated:  # Annotated[str, Secret] and the like
        return strategy_for(typing.get_args(tp)[0])
    if tp is type(None) or tp is None:
        return st.none()
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        return st.one_of([strategy_for(arg) for arg in args])
    if origin is list:
        return st.lists(strategy_for(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(strategy_for(args[0]), strategy_for(args[1]), max_size=3)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if tp is str:
        return st.text(max_size=16)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return INT64
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for field in msgspec.structs.fields(tp):
            target = required if field.required else optional
            target[field.name] = _deferred(field.type)
        return st.fixed_dictionaries(required, optional=optional).map(lambda kw: tp(**kw))
    raise TypeError(f"no strategy for {tp!r}")


def _deferred(tp: Any) -> st.SearchStrategy[Any]:
    """`strategy_for(tp)`, built on first use (a struct may refer to itself)."""
    return st.deferred(lambda: strategy_for(tp))
