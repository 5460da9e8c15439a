"""The platform as the studio's benchmarks run it: the gateway on HTTPS (a local CA's
certificate, so the browser applies the real cookie rules) serving the built studio, with rate
limits generous enough for a benchmark's bursts."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from libs.launcher import Platform
from libs.ratelimit import generous_policies
from loadtests.common import stopped_at_exit
from tests.e2e.browser import LocalCertificate

__all__ = ["studio_platform"]


@contextmanager
def studio_platform(
    prefix: str, studio_dist: Path
) -> Iterator[tuple[Path, Platform, LocalCertificate]]:
    """A scratch folder, the started platform and its certificate; stopped and removed after
    (at exit too, should the benchmark be interrupted)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        root = Path(folder)
        certificate = LocalCertificate.issue(root)
        system = Platform(
            root=root / "platform",
            gateway_tls=certificate.files,
            env={
                "SHOTGRAPH_RATE_LIMITS": generous_policies(),
                "SHOTGRAPH_STUDIO_DIR": str(studio_dist),
            },
        )
        with stopped_at_exit(system):
            print("starting the platform...", flush=True)
            system.start()
            yield root, system, certificate
