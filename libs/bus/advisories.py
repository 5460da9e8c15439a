"""JetStream's own messages that the platform acts on (JSON, written by the NATS server)."""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from libs.errors import MalformedMessage

__all__ = ["MAX_DELIVERIES_TYPE", "MaxDeliveriesAdvisory"]

MAX_DELIVERIES_TYPE: Final = "io.nats.jetstream.advisory.v1.max_deliver"


class MaxDeliveriesAdvisory(msgspec.Struct, kw_only=True, frozen=True):
    """A stream message ran out of deliveries to a consumer (its workers kept dying).

    Only the fields batch reads are declared; the server sends more, which are ignored.
    """

    type: Annotated[str, msgspec.Meta(pattern=f"^{MAX_DELIVERIES_TYPE.replace('.', '[.]')}$")]
    stream: str
    consumer: str
    stream_seq: Annotated[int, msgspec.Meta(ge=1)]
    deliveries: Annotated[int, msgspec.Meta(ge=1)]

    @classmethod
    def decode(cls, data: bytes) -> MaxDeliveriesAdvisory:
        try:
            return msgspec.json.decode(data, type=cls)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise MalformedMessage(f"not a max-deliveries advisory: {exc}") from exc
