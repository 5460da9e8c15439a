"""A Locust scenario for the canvas API: users that create, page through and read canvases.

``locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 30s --host http://127.0.0.1:8080``
with ``SHOTGRAPH_API_KEY`` set to a key (``make run`` prints one). Reads outnumber writes, as they
do for a client that opens canvases far more often than it makes them.
"""

from __future__ import annotations

import os
import random
from typing import Any

from locust import HttpUser, between, events, task
from locust.runners import MasterRunner

API_KEY = os.environ.get("SHOTGRAPH_API_KEY", "")
PAGE_SIZE = 10
MAX_PAGES = 5  # per listing: enough to exercise cursors without walking a huge history


@events.init.add_listener
def _require_key(environment: Any, **_: Any) -> None:
    """Stop at once rather than report a test full of 401s (a master sends no requests)."""
    if not API_KEY and not isinstance(environment.runner, MasterRunner):
        raise SystemExit("set SHOTGRAPH_API_KEY to a Shotgraph API key")


class CanvasUser(HttpUser):
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {API_KEY}"
        self.canvas_ids: list[str] = []
        self.create_canvas()  # so that get_canvas always has something to read

    @task(1)
    def create_canvas(self) -> None:
        name = f"locust-{random.randrange(1 << 30):x}"
        with self.client.post("/v1/canvases", json={"name": name}, catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"expected 201, got {response.status_code}")
                return
            self.canvas_ids.append(response.json()["id"])

    @task(2)
    def list_canvases(self) -> None:
        """Follow ``next_page_token`` like a client scrolling; pages after the first share a
        name in the statistics because their cursors differ every time."""
        cursor = ""
        for page in range(MAX_PAGES):
            params = {"limit": str(PAGE_SIZE)} | ({"cursor": cursor} if cursor else {})
            name = "/v1/canvases?limit" if page == 0 else "/v1/canvases?limit&cursor"
            with self.client.get(
                "/v1/canvases", params=params, name=name, catch_response=True
            ) as response:
                if response.status_code != 200:
                    response.failure(f"expected 200, got {response.status_code}")
                    return
                cursor = response.json().get("next_page_token", "")
            if not cursor:
                return

    @task(5)
    def get_canvas(self) -> None:
        if not self.canvas_ids:
            return
        self.client.get(f"/v1/canvases/{random.choice(self.canvas_ids)}", name="/v1/canvases/{id}")
