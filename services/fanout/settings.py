"""What the fanout service reads beside what every service does: where auth listens."""

from __future__ import annotations

from libs.config import LOCAL_ADDRESSES, RpcClientSettings, address, setting

__all__ = ["FanoutSettings"]


class FanoutSettings(RpcClientSettings):
    """The fanout service's settings: it checks each stream's key with auth."""

    service = "fanout"

    auth_addr: str = setting(default=LOCAL_ADDRESSES["auth"], parse=address)
