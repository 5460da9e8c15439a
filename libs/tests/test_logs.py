"""Log lines stay whole when the worker processes of a service write to one stdout at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINES = 3000
WRITER = f"""
from libs.logs import configure_logging, get_logger
configure_logging("logs-test")
log = get_logger("test")
for n in range({LINES}):
    log.info("test.line", n=n, padding="x" * 40)
"""


def test_processes_sharing_stdout_never_split_a_line(tmp_path: Path) -> None:
    out = tmp_path / "shared.log"
    # Unbuffered, as containers often run Python: every write reaches the file at once.
    environ = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with out.open("ab") as shared:
        writers = [
            subprocess.Popen([sys.executable, "-c", WRITER], cwd=REPO, env=environ, stdout=shared)
            for _ in range(3)
        ]
        for writer in writers:
            assert writer.wait(timeout=60) == 0
    lines = out.read_text().splitlines()
    parsed = [json.loads(line) for line in lines]  # a split line fails here
    assert len(parsed) == 3 * LINES
    assert {entry["event"] for entry in parsed} == {"test.line"}
