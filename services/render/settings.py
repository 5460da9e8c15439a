"""What the render service reads beside what every JetStream worker does."""

from __future__ import annotations

from libs.config import (
    LOCAL_ADDRESSES,
    RpcClientSettings,
    WorkerSettings,
    address,
    on_off,
    setting,
)

__all__ = ["RenderSettings"]


class RenderSettings(WorkerSettings, RpcClientSettings):
    """The render service's settings. Its concurrency is its share of the cores, not a setting:
    each job holds one OpenSCAD process."""

    service = "render"

    # off: OpenSCAD runs without bubblewrap, for development machines only.
    render_sandbox: bool = setting(default=True, parse=on_off)
    # Declared ahead of render's first call to batch, so deployments set it once for all.
    batch_addr: str = setting(default=LOCAL_ADDRESSES["batch"], parse=address)
