"""The JSON Schema pieces the kinds' property forms are built from: every string bounded,
every property described, every object closed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["blob_id", "choice", "object_of", "text"]


def text(description: str, max_length: int, *, min_length: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": description}
    if min_length:
        schema["minLength"] = min_length
    schema["maxLength"] = max_length
    return schema


def choice(description: str, options: Iterable[str], default: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": description, "enum": list(options)}
    if default is not None:
        schema["default"] = default
    return schema


def blob_id(description: str) -> dict[str, Any]:
    # maxLength is not redundant: Python's ``$`` also matches before a final newline.
    return {
        "type": "string",
        "description": description,
        "pattern": "^[0-9a-f]{64}$",
        "maxLength": 64,
    }


def object_of(
    description: str, properties: dict[str, Any], required: Iterable[str] = ()
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = list(required)
    return schema
