"""What the gateway reads beside what every service does: where the services behind it listen,
how large an upload may be, the keys that sign image URLs, its rate limits and the proxies it
trusts.

``SHOTGRAPH_RATE_LIMITS`` is JSON, inline (text starting with ``{``) or the path of a file; what
it names replaces the built-in policies member by member (``libs/ratelimit.py``), for example
``{"address": {"limit": 1000, "window_s": 60, "burst": 200}}`` or a whole plan under
``"plans"``. ``SHOTGRAPH_TRUSTED_PROXIES`` is a comma-separated list of addresses or CIDRs whose
``X-Forwarded-For`` is believed; empty (the default) believes no one.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from libs.config import (
    LOCAL_ADDRESSES,
    MAX_UPLOAD_BYTES,
    ConfigError,
    RpcClientSettings,
    address,
    on_off,
    positive_float,
    positive_int,
    setting,
    url,
)
from libs.ratelimit import DEFAULT_POLICIES, Policies, load_policies

__all__ = ["STUDIO_DIST", "GatewaySettings", "networks", "origins", "url_keys"]

STUDIO_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"

MIN_KEY_BYTES = 32
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def url_keys(raw: str) -> tuple[bytes, ...]:
    """HMAC keys, hex, comma-separated, each long enough to be a secret."""
    keys = []
    for key in raw.split(","):
        try:
            keys.append(bytes.fromhex(key.strip()))
        except ValueError:
            raise ValueError("must be comma-separated hex keys") from None
        if len(keys[-1]) < MIN_KEY_BYTES:
            raise ValueError(
                f"each key must be at least {MIN_KEY_BYTES} bytes ({2 * MIN_KEY_BYTES} hex digits)"
            )
    return tuple(keys)


def origins(raw: str) -> tuple[str, ...]:
    """Web origins, comma-separated, each ``scheme://host[:port]`` with nothing after it."""
    found = tuple(origin.strip() for origin in raw.split(",") if origin.strip())
    for origin in found:
        scheme, sep, rest = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest or "*" in rest:
            raise ValueError(f"{origin!r} is not an origin such as https://studio.example.com")
    return found


def networks(raw: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Addresses or CIDRs, comma-separated."""
    try:
        return tuple(ip_network(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"must be comma-separated addresses or CIDRs ({exc})") from None


class GatewaySettings(RpcClientSettings):
    """The gateway's settings."""

    service = "gateway"

    auth_addr: str = setting(default=LOCAL_ADDRESSES["auth"], parse=address)
    canvas_addr: str = setting(default=LOCAL_ADDRESSES["canvas"], parse=address)
    batch_addr: str = setting(default=LOCAL_ADDRESSES["batch"], parse=address)
    image_addr: str = setting(default=LOCAL_ADDRESSES["image"], parse=address)
    render_addr: str = setting(default=LOCAL_ADDRESSES["render"], parse=address)
    fanout_url: str = setting(default="http://127.0.0.1:8086", parse=url("http", "https"))
    # How often the gateway pings a browser's WebSocket (and fan-out's end of it); a ping
    # unanswered for half of it closes the connection. Fan-out's own heartbeat is 20 s too.
    live_heartbeat_s: float = setting(default=20.0, parse=positive_float)
    max_upload_bytes: int = setting(default=MAX_UPLOAD_BYTES, parse=positive_int)
    # The first key signs, all verify (rotation). No default: image URLs are always signed.
    image_url_keys: tuple[bytes, ...] = setting(parse=url_keys)
    # Browser origins other than the gateway's own that may call the API with credentials.
    cors_origins: tuple[str, ...] = setting(default=(), parse=origins)
    # The same for CSRF tokens; a key of their own, so neither secret can stand for the other.
    csrf_keys: tuple[bytes, ...] = setting(parse=url_keys)
    # Plain HTTP for browsers, for development on loopback only: cookies lose ``Secure`` and
    # their ``__Host-`` prefix. Off, signing in over plain HTTP is refused.
    dev_insecure_http: bool = setting(default=False, parse=on_off)
    # How long a worker trusts a verified credential without asking auth again; revocations
    # reach it at once regardless.
    identity_cache_s: float = setting(default=10.0, parse=positive_float)
    # Responses smaller than this leave uncompressed: below ~1 KiB the saving is a few hundred
    # bytes, less than a packet, for the same CPU per call.
    compress_min_bytes: int = setting(default=1024, parse=positive_int)
    # The web studio's build (``make web``), served at ``/``; without one, ``/`` is a 404.
    studio_dir: Path = setting(default=STUDIO_DIST, parse=Path)

    def __post_init__(self) -> None:
        if self.dev_insecure_http and self.http_host not in LOOPBACK_HOSTS:
            raise ConfigError(
                "Config 'SHOTGRAPH_DEV_INSECURE_HTTP' is on, but SHOTGRAPH_HTTP_HOST is"
                f" {self.http_host!r}: plain HTTP for browsers is for loopback only."
            )

    # "off" only to measure what the limiter costs (loadtests/bench_gateway.py).
    rate_limiting: bool = setting(default=True, parse=on_off)
    rate_limits: Policies = setting(default=DEFAULT_POLICIES, parse=load_policies)
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = setting(default=(), parse=networks)
    # Set by the runner: each worker takes this share of a limit while Redis is unreachable.
    worker_count: int = setting(default=1, parse=positive_int)
