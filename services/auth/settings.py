"""What the auth service reads: password hashing cost, session lifetimes, login throttling."""

from __future__ import annotations

from libs.config import Settings, positive_float, positive_int, setting

__all__ = ["AuthSettings"]

DAY_S = 86_400.0


class AuthSettings(Settings):
    """The auth service's settings.

    The argon2id defaults are RFC 9106's second recommendation (its low-memory profile, also
    argon2-cffi's own): 3 passes over 64 MiB with 4 lanes. ``password_threads`` bounds how many
    hashes run at once, and so the memory they take (threads x memory); 0 means one per core.
    """

    service = "auth"

    argon2_time_cost: int = setting(default=3, parse=positive_int)
    argon2_memory_kib: int = setting(default=65_536, parse=positive_int)
    argon2_parallelism: int = setting(default=4, parse=positive_int)
    password_threads: int = setting(default=0, parse=int)

    session_idle_s: float = setting(default=12 * 3600.0, parse=positive_float)
    session_absolute_s: float = setting(default=7 * DAY_S, parse=positive_float)
    # A verified session's last-seen time is written at most this often: bounds Redis writes.
    session_touch_s: float = setting(default=60.0, parse=positive_float)

    # How long a stream token opens live connections (what it opened lives on with its
    # credential): long enough for a page to use it, short enough that a URL in a log is stale.
    stream_token_valid_s: float = setting(default=60.0, parse=positive_float)

    invite_valid_s: float = setting(default=7 * DAY_S, parse=positive_float)
    invite_max_valid_s: float = setting(default=30 * DAY_S, parse=positive_float)

    # Failures counted per account and per client address over a window; past the threshold each
    # attempt waits a delay that doubles from 1 s up to the cap.
    login_window_s: float = setting(default=900.0, parse=positive_float)
    login_account_failures: int = setting(default=5, parse=positive_int)
    login_address_failures: int = setting(default=50, parse=positive_int)
    login_max_delay_s: float = setting(default=900.0, parse=positive_float)

    # A key's last use is written at most this often.
    key_touch_s: float = setting(default=60.0, parse=positive_float)
