"""JSON-schema compliance: the format compliance rate of structured outputs.

Uses the ``jsonschema`` package when it is installed; otherwise a built-in checker covering the
keywords structured-output schemas use (type, enum, const, properties, required,
additionalProperties, items, min/max for numbers, strings and arrays, pattern, anyOf/oneOf/allOf,
uniqueItems). ``$ref`` and formats need ``pip install jsonschema``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftkit.evaluation.metrics import ExampleMetric, parse_json

__all__ = ["JsonSchema", "schema_errors"]

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES.get(name, object))


def schema_errors(value: Any, schema: dict[str, Any] | bool, path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema`` (empty when it complies), with a JSON path each.

    >>> schema_errors({"queue": 3}, {"type": "object", "properties": {"queue": {"type": "string"}}})
    ['$.queue: expected string']
    """
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{path}: no value is allowed here"]
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(value, t) for t in names):
            return [f"{path}: expected {' or '.join(names)}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    if isinstance(value, dict):
        errors += _object_errors(value, schema, path)
    if isinstance(value, list):
        errors += _array_errors(value, schema, path)
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: does not match {schema['pattern']!r}")
    if _is_type(value, "number"):
        errors += _number_errors(value, schema, path)
    for sub in schema.get("allOf", []):
        errors += schema_errors(value, sub, path)
    if "anyOf" in schema and all(schema_errors(value, sub, path) for sub in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema and sum(not schema_errors(value, sub, path) for sub in schema["oneOf"]) != 1:
        errors.append(f"{path}: must match exactly one of oneOf")
    return errors


def _object_errors(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    errors = [f"{path}: missing required {key!r}" for key in schema.get("required", []) if key not in value]
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            errors += schema_errors(item, properties[key], f"{path}.{key}")
        elif extra is False:
            errors.append(f"{path}: unexpected property {key!r}")
        elif isinstance(extra, dict):
            errors += schema_errors(item, extra, f"{path}.{key}")
    return errors


def _array_errors(value: list[Any], schema: dict[str, Any], path: str) -> list[str]:
    errors = []
    if len(value) < schema.get("minItems", 0):
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) != len(value):
        errors.append(f"{path}: items are not unique")
    if isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{path}[{i}]")
    return errors


def _number_errors(value: float, schema: dict[str, Any], path: str) -> list[str]:
    checks = [
        ("minimum", lambda bound: value >= bound),
        ("maximum", lambda bound: value <= bound),
        ("exclusiveMinimum", lambda bound: value > bound),
        ("exclusiveMaximum", lambda bound: value < bound),
    ]
    return [f"{path}: {value} breaks {key} {schema[key]}" for key, ok in checks if key in schema and not ok(schema[key])]


def _load_schema(schema: dict[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    return json.loads(Path(schema).read_text(encoding="utf-8"))


@dataclass(frozen=True, eq=False)
class JsonSchema(ExampleMetric):
    """1 when the prediction is JSON that complies with ``schema`` (a dict or a path to a .json file)."""

    schema: Any = None
    allow_code_fence: bool = False
    name: str = "json_schema"

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", _load_schema(self.schema or {}))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonSchema) and (other.schema, other.name) == (self.schema, self.name)

    def __hash__(self) -> int:
        return hash((json.dumps(self.schema, sort_keys=True), self.name))

    def score(self, prediction: str, reference: str, example: dict[str, Any]) -> float:
        ok, value = parse_json(prediction, allow_code_fence=self.allow_code_fence)
        if not ok:
            return 0.0
        try:
            import jsonschema
        except ImportError:
            return float(not schema_errors(value, self.schema))
        return float(jsonschema.Draft202012Validator(self.schema).is_valid(value))
