"""Each service's settings class against what operators see: every variable it reads is in the
README's configuration table with the services that read it, and its supervising process
imports nothing of the service but its settings."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from libs.config import Settings, variable
from libs.launcher import SERVICES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# What the platform gives every service; the gateway also needs its keys.
ENVIRONMENT = {
    "SHOTGRAPH_NATS_URL": "nats://127.0.0.1:4222",
    "SHOTGRAPH_DATABASE_URL": "postgresql://u@127.0.0.1/db",
    "SHOTGRAPH_REDIS_URL": "redis://127.0.0.1:6379/0",
    "SHOTGRAPH_IMAGE_URL_KEYS": "ab" * 32,
    "SHOTGRAPH_CSRF_KEYS": "cd" * 32,
}


def settings_class(service: str) -> type[Settings]:
    """The one class in ``services/<service>/settings.py`` that names the service."""
    module = importlib.import_module(f"services.{service}.settings")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Settings)
        and getattr(value, "service", None) == service
    ]
    assert len(found) == 1, f"services/{service}/settings.py: {found}"
    return found[0]


def readers_in_readme() -> dict[str, set[str]]:
    """Each SHOTGRAPH_* variable of the configuration table -> its "read by" services."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    readers: dict[str, set[str]] = {}
    for row in section.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        read_by = set(SERVICES) if cells[2] == "all" else set(cells[2].split(", "))
        for name in re.findall(r"`(SHOTGRAPH_[A-Z0-9_]+)`", cells[0]):
            readers[name] = read_by
    return readers


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_reads_its_settings_from_the_platforms_environment(service: str) -> None:
    settings = settings_class(service).from_env(ENVIRONMENT)
    assert settings.service == service
    assert not settings.uses_devstack


def test_the_readme_says_which_services_read_each_variable() -> None:
    actual: dict[str, set[str]] = {}
    for service in SERVICES:
        for spec in fields(settings_class(service)):
            actual.setdefault(variable(spec.name), set()).add(service)
    assert readers_in_readme() == actual


def test_a_supervising_process_imports_only_the_services_settings() -> None:
    """The parent of the workers must not pay for pyvips or anything else the app imports."""
    code = (
        "import json, sys\n"
        f"for service in {list(SERVICES)!r}:\n"
        "    __import__(f'services.{service}.__main__')\n"
        "roots = ('services', 'pyvips')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in roots)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    allowed = {"services"} | {
        f"services.{s}{part}" for s in SERVICES for part in ("", ".__main__", ".settings")
    }
    assert set(json.loads(loaded.stdout)) - allowed == set()
