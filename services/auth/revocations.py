"""Announcing revoked credentials on ``auth.revoked.<user_id>`` (core NATS), after the change is
stored, so every gateway and fanout worker drops them from its caches at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from nats.aio.client import Client

from libs.bus import publish
from libs.bus.events import CredentialRevoked
from libs.bus.subjects import auth_revoked_subject
from libs.logs import get_logger

__all__ = ["Revocations"]

log = get_logger(__name__)


class Revocations:
    def __init__(self, nc: Client | None) -> None:
        self._nc = nc

    async def announce(
        self, user_id: str, kind: Literal["session", "key"], credential_ids: Iterable[str]
    ) -> None:
        """Publish one CredentialRevoked per id. A failure is logged, not raised: the change
        is stored, and the caches' short lifetimes bound how long it goes unseen."""
        if self._nc is None:
            return
        subject = auth_revoked_subject(user_id)
        for credential_id in credential_ids:
            message = CredentialRevoked(
                user_id=user_id, credential_kind=kind, credential_id=credential_id
            )
            try:
                await publish(self._nc, subject, message)
            except Exception as exc:  # the revocation itself is stored
                log.warning(
                    "auth.revocation_not_published",
                    user_id=user_id,
                    credential_id=credential_id,
                    error=repr(exc),
                )
