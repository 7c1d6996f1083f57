"""Report dataclasses to JSON values and back, field by field in declaration order.

The report's parts (:mod:`unmask.report.model`, :mod:`unmask.report.section`) declare their
fields in the order the JSON document lists its keys, so one generic walk writes the document
and reads it back exactly: ``from_dict(cls, d)`` then ``to_dict`` gives ``d`` again.
Numbers are kept as they were read (an ``int`` stays an ``int``); labels become :class:`Label`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union

from unmask.errors import UnmaskError

T = TypeVar("T")


class ReportError(UnmaskError):
    """A saved report that does not have the report's shape."""

#: field metadata key: the field is not part of the JSON document (e.g. a report's pictures)
NOT_IN_JSON = "not_in_json"


def to_dict(obj: object) -> Any:
    """The JSON value of a report part: dataclasses become objects, tuples lists, enums their strings."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.metadata.get(NOT_IN_JSON)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (tuple, list)):
        return [to_dict(x) for x in obj]
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _read(tp: Any, value: Any, where: str) -> Any:
    if tp is Any or value is None:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        return _read(arms[0], value, where) if len(arms) == 1 else value
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_read(args[0], x, where) for x in value)
        return tuple(_read(a, x, where) for a, x in zip(args, value))
    if origin in (dict, Mapping, typing.Mapping):
        _, vt = typing.get_args(tp)
        return {k: _read(vt, v, where) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_dict(tp, value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    return value


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Read one report part from its JSON object. A key missing from an older report takes the field's default."""
    if not isinstance(data, Mapping):
        raise ReportError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    hints = _hints(typing.cast(type, cls))
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # cls is a dataclass type
        if f.metadata.get(NOT_IN_JSON) or f.name not in data:
            continue
        kwargs[f.name] = _read(hints[f.name], data[f.name], f"{cls.__name__}.{f.name}")
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ReportError(f"{cls.__name__}: {e}") from None
