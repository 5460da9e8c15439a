"""The gRPC wire contract: services, methods and field numbers only change deliberately.

A change that renumbers a field or drops a method breaks deployed peers silently; this test
makes it loud. After an intended, compatible change, regenerate the snapshot with
``python -m tests.contract.test_grpc_contracts`` and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.protobuf.descriptor import Descriptor, FileDescriptor

from shotgraph.auth.v1 import auth_pb2
from shotgraph.batch.v1 import batch_pb2
from shotgraph.canvas.v1 import canvas_pb2
from shotgraph.image.v1 import image_pb2
from shotgraph.render.v1 import render_pb2

SNAPSHOT = Path(__file__).with_name("grpc_api.json")
FILES: list[FileDescriptor] = [
    auth_pb2.DESCRIPTOR,
    batch_pb2.DESCRIPTOR,
    canvas_pb2.DESCRIPTOR,
    image_pb2.DESCRIPTOR,
    render_pb2.DESCRIPTOR,
]


def _fields(message: Descriptor) -> dict[str, str]:
    described = {}
    for field in message.fields:
        kind = field.message_type.full_name if field.message_type else str(field.type)
        described[field.name] = f"{field.number}:{kind}" + (
            ":repeated" if field.is_repeated else ""
        )
    return described


def describe() -> dict[str, Any]:
    api: dict[str, Any] = {"services": {}, "messages": {}}
    for file in FILES:
        for service in file.services_by_name.values():
            api["services"][service.full_name] = {
                method.name: {
                    "in": method.input_type.full_name,
                    "out": method.output_type.full_name,
                    "client_streaming": method.client_streaming,
                    "server_streaming": method.server_streaming,
                }
                for method in service.methods
            }
        for message in file.message_types_by_name.values():
            api["messages"][message.full_name] = _fields(message)
    return api


def test_every_package_is_versioned_per_service() -> None:
    for file in FILES:
        parts = file.package.split(".")
        assert parts[0] == "shotgraph" and parts[-1] == "v1", file.package


def test_wire_contract_matches_the_snapshot() -> None:
    assert describe() == json.loads(SNAPSHOT.read_text())


def test_field_numbers_are_never_reused_within_a_message() -> None:
    for fields in describe()["messages"].values():
        numbers = [spec.split(":")[0] for spec in fields.values()]
        assert len(numbers) == len(set(numbers))


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(describe(), indent=2, sort_keys=True) + "\n")
