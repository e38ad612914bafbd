"""Which rule each refused field broke, as a stable code: other systems branch on the code, never on
marshmallow's English messages, whose wording is marshmallow's to change.

Codes: `required`, `type`, `one_of`, `pattern`, `length`, `range`, `unknown_field`, `unstorable_text`,
and `invalid` for anything else (a rule across fields, a custom check, a refusal made without a schema).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, validate

# Shown beside each code as `rule_label`, in the users' language, like every other code's label.
RULE_LABELS: dict[str, str] = {
    "required": "必填项缺失或为空", "type": "类型不符", "one_of": "不在可选值之内", "pattern": "格式不符",
    "length": "长度不符", "range": "超出允许范围", "unknown_field": "未知字段", "unstorable_text": "含无法保存的字符",
    "invalid": "不符合要求",
}
VALIDATOR_RULES: tuple[tuple[type, str], ...] = (
    (validate.OneOf, "one_of"), (validate.Regexp, "pattern"), (validate.Length, "length"), (validate.Range, "range"),
)
UNKNOWN_FIELD = Schema().error_messages["unknown"]
UNSTORABLE_TEXT = "contains a NUL character or an unpaired surrogate, which cannot be stored as text"
NOT_ISO_DATE = "Not a valid date: write it YYYY-MM-DD."
# Refusals worded by this project rather than by a field: the message alone says which rule it is.
WORDED_RULES = {UNSTORABLE_TEXT: "unstorable_text", NOT_ISO_DATE: "type"}

Path = tuple[str | int, ...]
_ABSENT = object()  # nothing was sent where the path leads


def invalid_fields(schema: Schema | None, data: Any, messages: Any) -> list[dict[str, str]]:
    """One `{field, rule, rule_label, message}` per message of a refused `schema.load(data)`, the field a dotted
    path (`cadres.0.rank`); without a schema only the worded refusals and unknown fields get their own code.
    Never raises, whatever `data` and `messages` hold."""
    return [refused(dotted(path), rule_of(schema, data, path, message), message) for path, message in leaves(messages)]


def refused(field: str, rule: str, message: str) -> dict[str, str]:
    """One entry of `invalid_fields`."""
    return {"field": field, "rule": rule, "rule_label": RULE_LABELS[rule], "message": message}


def leaves(messages: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Each of marshmallow's nested messages with the keys leading to it: (("cadres", 0, "rank"), "Must be one of: …")."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            yield from leaves(value, (*path, key))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        yield from ((path, m) for m in messages)
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            yield from leaves(value, (*path, i))
    else:
        yield path, str(messages)


def dotted(path: Path) -> str:
    """A path as problem details write it: `cadres.0.rank`; `_schema` for the body itself."""
    return ".".join(map(str, path)) or "_schema"


def unstorable_text_at(value: Any, path: Path = ()) -> Path | None:
    """Where the first text PostgreSQL cannot store (NUL) or UTF-8 cannot encode (a lone surrogate) is in a
    JSON value, or None; a key holding it is placed where the key is."""
    if isinstance(value, str):
        return path if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = unstorable_text_at(key, path) if isinstance(key, str) else None
        found = found if found is not None else unstorable_text_at(item, (*path, key))
        if found is not None:
            return found
    return None


def rule_of(schema: Schema | None, data: Any, path: Path, message: str) -> str:
    """The code of one message: which check of the field at `path` refused the value sent there."""
    if message in WORDED_RULES:
        return WORDED_RULES[message]
    node, value = schema, data
    for key in path:
        node, value = _step(node, value, key)
    if isinstance(node, Schema):  # a message on the object itself (`_schema`)
        return "type" if message == node.error_messages["type"] else "invalid"
    if not isinstance(node, fields.Field):
        return "unknown_field" if message == UNKNOWN_FIELD else "invalid"
    if message in (node.error_messages["required"], node.error_messages["null"]):
        return "required"
    return "invalid" if value is _ABSENT else _failed_check(node, value)


def _step(node: Any, value: Any, key: str | int) -> tuple[Any, Any]:
    """One key further into the schema and the data side by side; (None, _ABSENT) off the schema's map."""
    if isinstance(node, _Entry):  # marshmallow names a Dict entry's "key" or "value"
        return (node.field.key_field, node.key) if key == "key" else (node.field.value_field, value)
    if isinstance(node, fields.Nested) and not isinstance(key, int):
        node = node.schema
    if isinstance(node, Schema):
        if key == "_schema":
            return node, value
        field = next((f for name, f in node.load_fields.items() if (f.data_key or name) == key), None)
        return field, value.get(key, _ABSENT) if isinstance(value, Mapping) else _ABSENT
    item = value[key] if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value) else _ABSENT
    if isinstance(node, fields.List):
        return node.inner, item
    if isinstance(node, fields.Nested):  # many=True: one of its objects
        return node.schema, item
    if isinstance(node, fields.Dict):
        return _Entry(node, key), value.get(key, _ABSENT) if isinstance(value, Mapping) else _ABSENT
    return None, _ABSENT


@dataclass(frozen=True)
class _Entry:
    """A Dict field's entry, on the way to its key or its value."""

    field: fields.Dict
    key: str | int


def _failed_check(field: fields.Field[Any], value: Any) -> str:
    """`type` if the field cannot read the value, else the code of the first of its validators to refuse it."""
    try:
        read = field._deserialize(value, None, None)
    except Exception:  # noqa: BLE001  (whatever a field raises on a value, it did not read it as its type)
        return "type"
    for validator in field.validators:
        try:
            validator(read)
        except Exception:  # noqa: BLE001  (a validator that fails on the value refuses it)
            return next((rule for kind, rule in VALIDATOR_RULES if isinstance(validator, kind)), "invalid")
    return "invalid"
