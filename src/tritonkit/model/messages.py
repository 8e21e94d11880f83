"""Plain data (YAML/JSON values) <-> `ModelConfig` messages, checked against the official descriptor.

The spec file holds a ModelConfig under its protobuf field names (snake_case, as
`json_format.MessageToDict(preserving_proto_field_name=True)` names them; camelCase json names are
refused with a hint). Enums are written by name, 64-bit integers as numbers (json_format writes them
as strings), and a `ModelParameter` map value may be the bare string (`{k: v}` = `{k: {string_value: v}}`,
the only field that message has). Every check reports the path of the offending value so the spec
reader can turn it into file:line.
"""

from __future__ import annotations

import base64
import difflib
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

Path = tuple[str | int, ...]

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_FLOATS = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)
_PARAMETER = "inference.ModelParameter"


class MessageDataError(ValueError):
    """A value does not fit the descriptor: where (a path of keys/indexes), what, and a suggestion."""

    def __init__(self, path: Path, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.hint = hint


def is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated) if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED


def did_you_mean(word: str, candidates: list[str]) -> str | None:
    close = difflib.get_close_matches(word, candidates, n=3, cutoff=0.6)
    if not close:
        return None
    return f"did you mean {close[0]}?" + (f" (or {', '.join(close[1:])})" if close[1:] else "")


def fill_message(data: Any, message: Any, path: Path = ()) -> Any:
    """Set `message` from plain `data` (a mapping of field names); raises MessageDataError."""
    descriptor: Descriptor = message.DESCRIPTOR
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MessageDataError(path, f"expected a mapping ({descriptor.name}), got {_kind(data)}")
    oneofs: dict[str, str] = {}
    for key, value in data.items():
        here = (*path, key)
        field = descriptor.fields_by_name.get(key) if isinstance(key, str) else None
        if field is None:
            raise MessageDataError(
                here, f"unknown field {key!r} in {descriptor.name}", _field_hint(key, descriptor)
            )
        if field.containing_oneof is not None:
            other = oneofs.setdefault(field.containing_oneof.name, key)
            if other != key:
                raise MessageDataError(
                    here,
                    f"{other!r} and {key!r} cannot both be set",
                    f"keep one of them ({field.containing_oneof.name})",
                )
        if is_map(field):
            _fill_map(value, field, getattr(message, key), here)
        elif is_repeated(field):
            if not isinstance(value, list):
                raise MessageDataError(
                    here, f"{key!r} must be a list, got {_kind(value)}", f"write {key}: [ ... ]"
                )
            target = getattr(message, key)
            for i, item in enumerate(value):
                if field.message_type is not None:
                    fill_message(item, target.add(), (*here, i))
                else:
                    target.append(_scalar(item, field, (*here, i)))
        elif field.message_type is not None:
            sub = getattr(message, key)
            sub.SetInParent()
            fill_message(value, sub, here)
        else:
            setattr(message, key, _scalar(value, field, here))
    return message


def _fill_map(value: Any, field: FieldDescriptor, target: Any, path: Path) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise MessageDataError(path, f"{field.name!r} must be a mapping, got {_kind(value)}")
    key_field = field.message_type.fields_by_name["key"]
    value_field = field.message_type.fields_by_name["value"]
    for k, v in value.items():
        here = (*path, k)
        if key_field.type == FieldDescriptor.TYPE_STRING:
            if not isinstance(k, str):
                raise MessageDataError(here, f"map key {k!r} must be a string", "quote it")
            key: Any = k
        else:
            key = _scalar(int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k, key_field, here)
        if value_field.message_type is not None:
            if value_field.message_type.full_name == _PARAMETER and isinstance(v, str):
                v = {"string_value": v}  # the one field ModelParameter has
            fill_message(v, target[key], here)
        else:
            target[key] = _scalar(v, value_field, here)


def _scalar(value: Any, field: FieldDescriptor, path: Path) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_ENUM:
        enum = field.enum_type
        if isinstance(value, str) and value in enum.values_by_name:
            return enum.values_by_name[value].number
        if isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31:
            return value  # proto3 enums are open: the text format takes any number too (validate flags it)
        names = [v.name for v in enum.values]
        hint = did_you_mean(str(value).upper(), names) or f"one of {', '.join(names)}"
        raise MessageDataError(path, f"unknown {enum.name} value {value!r}", hint)
    if kind == FieldDescriptor.TYPE_BOOL:
        if isinstance(value, bool):
            return value
        raise MessageDataError(path, f"{field.name!r} must be true or false, got {_kind(value)}")
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        if isinstance(value, bool) or not isinstance(value, int):
            raise MessageDataError(path, f"{field.name!r} must be an integer, got {_kind(value)}")
        if not low <= value <= high:
            raise MessageDataError(path, f"{field.name!r} = {value} is out of range [{low}, {high}]")
        return value
    if kind in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MessageDataError(path, f"{field.name!r} must be a number, got {_kind(value)}")
        return float(value)
    if kind == FieldDescriptor.TYPE_STRING:
        if not isinstance(value, str):
            raise MessageDataError(path, f"{field.name!r} must be a string, got {_kind(value)}", "quote it")
        return value
    if kind == FieldDescriptor.TYPE_BYTES:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return base64.b64decode(value)
        raise MessageDataError(path, f"{field.name!r} must be base64 text, got {_kind(value)}")
    raise MessageDataError(path, f"{field.name!r}: unsupported field type {kind}")  # pragma: no cover


def _field_hint(key: object, descriptor: Descriptor) -> str | None:
    names = [f.name for f in descriptor.fields]
    if isinstance(key, str):
        by_json = {f.json_name: f.name for f in descriptor.fields}
        if key in by_json and by_json[key] != key:
            return f"write {by_json[key]} (tritonkit.yaml uses the protobuf field names)"
        return did_you_mean(key, names) or f"fields of {descriptor.name}: {', '.join(names)}"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    ) + ("" if isinstance(value, (dict, list)) else f" ({value!r})")


def message_to_data(message: Any) -> dict[str, Any]:
    """The plain data of `message`: set fields only, enums by name, numbers as numbers."""
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        if is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            out[field.name] = {k: _value_data(value[k], value_field) for k in value}
        elif is_repeated(field):
            out[field.name] = [_value_data(v, field) for v in value]
        else:
            out[field.name] = _value_data(value, field)
    return out


def _value_data(value: Any, field: FieldDescriptor) -> Any:
    if field.message_type is not None:
        data = message_to_data(value)
        if field.message_type.full_name == _PARAMETER and set(data) <= {"string_value"}:
            return data.get("string_value", "")
        return data
    if field.type == FieldDescriptor.TYPE_ENUM:
        named = field.enum_type.values_by_number.get(value)
        return named.name if named is not None else value
    if field.type == FieldDescriptor.TYPE_FLOAT:
        from google.protobuf.internal import type_checkers

        return type_checkers.ToShortestFloat(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    return value
