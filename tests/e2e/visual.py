"""Screenshots compared with committed baselines, pixel by pixel, with pyvips.

A screen matches its baseline when at most ``Tolerance.max_share`` of its pixels differ, a
pixel differing when any of its channels is more than ``Tolerance.pixel_threshold`` (of 255)
away. The studio draws its text in a bundled font and the tests freeze what changes from run
to run (data, timestamps, the caret, animations), so a screen is drawn the same every time:
the tolerance only absorbs rounding, and is tight enough that a one-pixel-wide line along a
screen's height fails it (the control test).

A missing baseline fails, saying how to make one; a screen that differs fails with the
figures and writes ``test-results/visual/<name>-actual.png`` and ``<name>-diff.png`` (the
screen faded, the differing pixels in magenta). With ``SHOTGRAPH_UPDATE_BASELINES=1`` every
screen taken is written as its new baseline instead (and the test passes): one command after
a deliberate change of the studio's look.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyvips

BASELINES: Final = Path(__file__).resolve().parent / "baselines"
RESULTS: Final = Path(__file__).resolve().parents[2] / "test-results" / "visual"
UPDATE_VARIABLE: Final = "SHOTGRAPH_UPDATE_BASELINES"
UPDATE_COMMAND: Final = (
    f"{UPDATE_VARIABLE}=1 .venv/bin/pytest -p no:cacheprovider tests/e2e/test_visual.py"
)
# What a differing pixel is drawn in on the diff image.
MAGENTA: Final = [255, 0, 255]


@dataclass(frozen=True)
class Tolerance:
    """How far a screen may be from its baseline and still match it."""

    pixel_threshold: int = 32  # a channel this far off (of 255) makes its pixel differ
    max_share: float = 0.0001  # this share of a screen's pixels may differ (0.01 %)

    def __str__(self) -> str:
        return (
            f"a pixel differs when a channel is more than {self.pixel_threshold}/255 off;"
            f" at most {self.max_share:.2%} of the pixels may differ"
        )


TOLERANCE: Final = Tolerance()


@dataclass(frozen=True)
class Comparison:
    """How a screenshot compares with its baseline."""

    name: str
    size: tuple[int, int]
    baseline_size: tuple[int, int]
    differing: int  # pixels beyond the threshold
    largest: int  # the largest difference of any channel, of 255
    tolerance: Tolerance

    @property
    def total(self) -> int:
        return self.size[0] * self.size[1]

    @property
    def share(self) -> float:
        return self.differing / self.total

    @property
    def matches(self) -> bool:
        return self.size == self.baseline_size and self.share <= self.tolerance.max_share

    def __str__(self) -> str:
        if self.size != self.baseline_size:
            return (
                f"{self.name}: the screen is {self.size[0]}x{self.size[1]}, its baseline"
                f" {self.baseline_size[0]}x{self.baseline_size[1]}"
            )
        return (
            f"{self.name}: {self.differing} of {self.total} pixels differ ({self.share:.3%};"
            f" the largest channel difference {self.largest}/255) — {self.tolerance}"
        )


def baseline_path(name: str) -> Path:
    return BASELINES / f"{name}.png"


def updating() -> bool:
    """Whether this run writes baselines (``SHOTGRAPH_UPDATE_BASELINES=1``)."""
    return os.environ.get(UPDATE_VARIABLE, "") not in ("", "0")


def _rgb(png: bytes | Path) -> pyvips.Image:
    """An image's first three bands, 8-bit (a screenshot's alpha, if any, is dropped)."""
    if isinstance(png, Path):
        image = pyvips.Image.new_from_file(str(png))
    else:
        image = pyvips.Image.new_from_buffer(png, "")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    return image.extract_band(0, n=3).cast("uchar")


def compare(name: str, actual: bytes, baseline: Path, tolerance: Tolerance) -> Comparison:
    """``actual`` against the PNG at ``baseline``; when they do not match, the screenshot and
    a diff image are written to ``RESULTS``."""
    now, then = _rgb(actual), _rgb(baseline)
    size, baseline_size = (now.width, now.height), (then.width, then.height)
    if size != baseline_size:
        comparison = Comparison(name, size, baseline_size, now.width * now.height, 255, tolerance)
    else:
        delta = (now.cast("short") - then.cast("short")).abs()
        beyond = (delta > tolerance.pixel_threshold).bandor()  # 255 where a pixel differs
        differing = round(beyond.avg() / 255 * now.width * now.height)
        comparison = Comparison(name, size, baseline_size, differing, int(delta.max()), tolerance)
        if not comparison.matches:
            faded = now.colourspace("b-w").linear(0.35, 255 * 0.65).cast("uchar")
            grey = faded.bandjoin([faded, faded]).copy(interpretation="srgb")
            diff = beyond.ifthenelse(MAGENTA, grey)
            RESULTS.mkdir(parents=True, exist_ok=True)
            diff.write_to_file(str(RESULTS / f"{name}-diff.png"))
    if not comparison.matches:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{name}-actual.png").write_bytes(actual)
    return comparison


def check_screen(name: str, actual: bytes, tolerance: Tolerance = TOLERANCE) -> str:
    """AssertionError unless ``actual`` matches the baseline called ``name`` (or, when
    updating, the baseline is written); what happened, in a line."""
    baseline = baseline_path(name)
    if updating():
        BASELINES.mkdir(parents=True, exist_ok=True)
        baseline.write_bytes(actual)
        return f"{name}: baseline written to {baseline}"
    if not baseline.is_file():
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{name}-actual.png").write_bytes(actual)
        raise AssertionError(
            f"{name}: no baseline at {baseline}. Look at the screen taken"
            f" ({RESULTS / f'{name}-actual.png'}); if it is right, make the baselines with"
            f" `{UPDATE_COMMAND}` and commit them."
        )
    comparison = compare(name, actual, baseline, tolerance)
    if not comparison.matches:
        written = [RESULTS / f"{name}-actual.png"]
        if comparison.size == comparison.baseline_size:
            written.append(RESULTS / f"{name}-diff.png")
        raise AssertionError(
            f"{comparison}. Written: {', '.join(map(str, written))}. If the change is meant,"
            f" make the baselines again with `{UPDATE_COMMAND}`."
        )
    return str(comparison)
