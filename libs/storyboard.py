"""The storyboard vocabulary the canvas offers and the image service draws: named choices and
bounds. What each name does to the picture lives with the drawing, in services/image/frames.py.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ANGLES",
    "FRAMINGS",
    "LIGHTING",
    "MAX_CHARACTERS",
    "MAX_DURATION_S",
    "MAX_TITLE_CHARS",
    "MIN_DURATION_S",
    "MOODS",
]

FRAMINGS: Final = ("wide", "medium", "close-up")
ANGLES: Final = ("eye-level", "low", "high", "overhead", "dutch")
LIGHTING: Final = ("day", "night", "golden-hour", "overcast", "interior")
MOODS: Final = ("neutral", "warm", "cool", "noir", "dreamy", "tense")

MAX_CHARACTERS: Final = 6  # drawn in one frame
MAX_TITLE_CHARS: Final = 120
MIN_DURATION_S: Final = 0.1  # shown with one decimal; anything shorter would read "0.0 s"
MAX_DURATION_S: Final = 3600.0  # an hour-long "shot" is a typo, not a storyboard
