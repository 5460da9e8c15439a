"""JSON Schemas of protobuf messages exactly as ``protojson.message_json`` prints them.

``MessageToDict`` with ``preserving_proto_field_name`` and ``always_print_fields_with_no_presence``
prints every field without presence (scalars, enums, repeated, maps), so those are required;
a field with presence (a message, a proto3 ``optional``, a oneof member) appears only when set.
64-bit integers are JSON strings, enums their names, bytes base64; the well-known types have
their own JSON forms.
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf.descriptor import Descriptor, FieldDescriptor

__all__ = ["JsonSchema", "MessageSchemas", "ref"]

JsonSchema = dict[str, Any]

_F = FieldDescriptor
_INTEGER: Final = {_F.TYPE_INT32, _F.TYPE_SINT32, _F.TYPE_SFIXED32}
_UNSIGNED: Final = {_F.TYPE_UINT32, _F.TYPE_FIXED32}
_LONG: Final = {_F.TYPE_INT64, _F.TYPE_SINT64, _F.TYPE_SFIXED64}
_UNSIGNED_LONG: Final = {_F.TYPE_UINT64, _F.TYPE_FIXED64}
_JSON_TYPES: Final = ["null", "boolean", "number", "string", "array", "object"]

# The well-known types, by full name, as the JSON mapping of proto3 writes them.
_WELL_KNOWN: Final[dict[str, JsonSchema]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?s$"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": {"type": _JSON_TYPES}},
    "google.protobuf.Value": {"type": _JSON_TYPES},
    "google.protobuf.ListValue": {"type": "array", "items": {"type": _JSON_TYPES}},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.Int32Value": {"type": "integer"},
    "google.protobuf.DoubleValue": {"type": "number"},
}


def ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/{name}"}


class MessageSchemas:
    """Collects a component schema for every message reached from the ones asked for."""

    def __init__(self) -> None:
        self.components: dict[str, JsonSchema] = {}

    def of(self, message: Descriptor, *, sparse: bool = False) -> JsonSchema:
        """A reference to ``message``'s schema (or the inline form of a well-known type).

        ``sparse``: as plain ``MessageToDict`` prints it, without the fields left at their
        defaults, so no field is required.
        """
        known = _WELL_KNOWN.get(message.full_name)
        if known is not None:
            return dict(known)
        name = f"{message.full_name}.Sparse" if sparse else message.full_name
        if name not in self.components:
            self.components[name] = {}  # reserved first: messages may nest themselves
            self.components[name] = self._object(message, sparse)
        return ref(name)

    def fields_of(self, message: Descriptor) -> JsonSchema:
        """``message``'s object schema inline, for a response that adds members to it."""
        return self._object(message, sparse=False)

    def _object(self, message: Descriptor, sparse: bool) -> JsonSchema:
        properties = {field.name: self._field(field, sparse) for field in message.fields}
        required = [f.name for f in message.fields if not f.has_presence and not sparse]
        schema: JsonSchema = {
            "type": "object",
            "title": message.name,
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        return schema

    def _field(self, field: FieldDescriptor, sparse: bool) -> JsonSchema:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self._single(value, sparse)}
        if _is_repeated(field):
            return {"type": "array", "items": self._single(field, sparse)}
        return self._single(field, sparse)

    def _single(self, field: FieldDescriptor, sparse: bool) -> JsonSchema:
        kind = field.type
        if field.message_type is not None:
            return self.of(field.message_type, sparse=sparse)
        if field.enum_type is not None:
            return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
        if kind in _INTEGER:
            return {"type": "integer", "format": "int32"}
        if kind in _UNSIGNED:
            return {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
        if kind in _LONG:
            return {"type": "string", "pattern": "^-?[0-9]+$", "format": "int64"}
        if kind in _UNSIGNED_LONG:
            return {"type": "string", "pattern": "^[0-9]+$", "format": "uint64"}
        if kind in (_F.TYPE_FLOAT, _F.TYPE_DOUBLE):
            return {"type": "number"}
        if kind == _F.TYPE_BOOL:
            return {"type": "boolean"}
        if kind == _F.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64"}
        return {"type": "string"}


def _is_repeated(field: FieldDescriptor) -> bool:
    # ``is_repeated`` is the newer spelling; ``label`` the one every protobuf 5 has.
    repeated = getattr(field, "is_repeated", None)
    if repeated is not None:
        return bool(repeated)
    return bool(field.label == _F.LABEL_REPEATED)
