"""``python -m services`` (what ``make run`` runs): the whole platform on this machine."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from libs.config import default_workers
from libs.launcher import Platform


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services")
    parser.add_argument("--port", type=int, default=8080, help="the gateway's HTTP port")
    parser.add_argument(
        "--workers", type=int, default=default_workers(), help="processes per service"
    )
    parser.add_argument(
        "--data", type=Path, default=Path(".devstack"), help="dev stack data folder"
    )
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    platform = Platform(
        root=args.data.resolve(),
        workers=args.workers,
        gateway_port=args.port,
        # The gateway listens on plain HTTP on loopback: let a browser there sign in.
        env={"SHOTGRAPH_DEV_INSECURE_HTTP": "on"},
    )
    try:
        platform.start()
        key = platform.create_api_key("dev")
        print(
            f"\nShotgraph is up at {platform.gateway_url}\n"
            f"  development API key: {key}\n"
            f"  try: curl -H 'Authorization: Bearer {key}' {platform.gateway_url}/v1/canvases\n"
            "  a person who signs in: .venv/bin/python -m services.auth create-user --name NAME\n"
            f"  logs: {platform.root / 'logs'}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        stop.wait()
    finally:
        print("stopping...", flush=True)
        platform.stop()


if __name__ == "__main__":
    main()
