"""Typed records to and from plain data (dicts, lists, scalars, tensors), checked on the way in.

Two kinds of plain data become typed records here: the protocol's messages, which arrive from a
process that runs untrusted code (so every field is checked against its declared type, and an
unknown or missing field is refused rather than guessed), and the JSON of verdicts and
measurements read back from the store. Records are dataclasses; their annotations are the schema.

Shared by both sides, so standard library and torch only.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import torch

T = TypeVar("T")


class PlainError(ValueError):
    """Plain data that does not fit the record it should become (the message says where)."""


def to_plain(value: Any) -> Any:
    """A record as nested dicts, lists and tuples of scalars and tensors; enums by their value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return tuple(to_plain(v) for v in value)
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def from_plain(tp: Any, data: Any, where: str = "") -> Any:
    """``data`` as a value of type ``tp`` (a record, a container of them, a scalar)."""
    here = where or getattr(tp, "__name__", str(tp))
    if tp is Any or tp is object:
        return data
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _record(tp, data, here)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        if data is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return from_plain(option, data, here)
            except PlainError as exc:
                errors.append(str(exc))
        raise PlainError(f"{here}: {'; or '.join(errors)}")
    if origin is list:
        if not isinstance(data, list | tuple):
            raise PlainError(f"{here}: expected a list, got {type(data).__name__}")
        (item,) = args or (Any,)
        return [from_plain(item, v, f"{here}[{i}]") for i, v in enumerate(data)]
    if origin is tuple:
        if not isinstance(data, list | tuple):
            raise PlainError(f"{here}: expected a tuple, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_plain(args[0], v, f"{here}[{i}]") for i, v in enumerate(data))
        if args and len(args) != len(data):
            raise PlainError(f"{here}: expected {len(args)} items, got {len(data)}")
        return tuple(
            from_plain(a, v, f"{here}[{i}]")
            for i, (a, v) in enumerate(zip(args, data, strict=False))
        )
    if origin is dict:
        if not isinstance(data, dict):
            raise PlainError(f"{here}: expected a mapping, got {type(data).__name__}")
        key_type, value_type = args or (str, Any)
        return {
            from_plain(key_type, k, f"{here} key"): from_plain(value_type, v, f"{here}[{k!r}]")
            for k, v in data.items()
        }
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            known = ", ".join(str(m.value) for m in tp)
            raise PlainError(f"{here}: {data!r} is not one of {known}") from None
    return _scalar(tp, data, here)


def _scalar(tp: Any, data: Any, here: str) -> Any:
    if tp is float:
        if data in ("nan", "inf", "-inf"):  # how strict JSON carries non-finite numbers
            return float(data)
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise PlainError(f"{here}: expected a number, got {type(data).__name__}")
        return float(data)
    if tp is int or tp is bool or tp is str:
        # bool is an int in Python; an int field must not take True, nor a bool field 1
        if type(data) is not tp:
            raise PlainError(f"{here}: expected {tp.__name__}, got {type(data).__name__}")
        return data
    if tp is torch.Tensor:
        if type(data) is not torch.Tensor:
            raise PlainError(f"{here}: expected a tensor, got {type(data).__name__}")
        return data
    if tp is Path:
        if not isinstance(data, str):
            raise PlainError(f"{here}: expected a path, got {type(data).__name__}")
        return Path(data)
    if tp is type(None):
        if data is not None:
            raise PlainError(f"{here}: expected nothing, got {type(data).__name__}")
        return None
    raise PlainError(f"{here}: no rule for values of type {tp!r}")  # a bug of the schema


def _record(cls: type[T], data: Any, here: str) -> T:
    if not isinstance(data, dict):
        raise PlainError(f"{here}: expected a {cls.__name__} record, got {type(data).__name__}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise PlainError(f"{here}: unknown fields {', '.join(map(str, unknown))}")
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = from_plain(hints[name], data[name], f"{here}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise PlainError(f"{here}: missing field {name}")
    return cls(**values)
