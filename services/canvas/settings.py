"""What the canvas service reads beside what every service does: where batch listens."""

from __future__ import annotations

from libs.config import LOCAL_ADDRESSES, RpcClientSettings, address, setting

__all__ = ["CanvasSettings"]


class CanvasSettings(RpcClientSettings):
    """The canvas service's settings: it submits compiled graphs to batch."""

    service = "canvas"

    batch_addr: str = setting(default=LOCAL_ADDRESSES["batch"], parse=address)
