"""Pure processing core of storyboard frames: a backdrop, characters placed by the shot's
framing and camera angle, a lighting and mood grade, and a caption band, composed with libvips.

A storyboard frame is a sketch of a shot, not a render: it must be cheap, explainable and
stable. So every choice is a named entry in a small, documented table (``FRAMINGS``,
``ANGLES``, ``LIGHTING``, ``MOODS``) whose parameters say exactly what it does to the pixels,
and ``describe_options`` publishes the names and descriptions for the API.

Untrusted images pass ``thumbnails.probe`` (byte count, format allow-list, header-only bounds)
before a single pixel is decoded, all of them before any is decoded, and are then loaded with
``thumbnail_buffer`` straight at the size they will be drawn, shrinking on load where the
format allows it.

Output is byte-identical for identical inputs: the pipeline has no randomness, no clock and no
mutable state, libvips' operations are deterministic, text rendering happens under libvips'
own lock, and the PNG carries no metadata. Glyph shapes come from the installed fonts, so
"identical" holds for one machine image, which is what a cache key needs.
"""

from __future__ import annotations

import html
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeVar

import pyvips

from libs.storyboard import MAX_CHARACTERS, MAX_DURATION_S, MAX_TITLE_CHARS, MIN_DURATION_S
from services.image.thumbnails import (
    ImageInfo,
    ImageLimits,
    ImageRejected,
    probe,
    root_cause,
    shrunk,
)

__all__ = [
    "ANGLES",
    "FRAMINGS",
    "LIGHTING",
    "MAX_CHARACTERS",
    "MAX_DURATION_S",
    "MAX_SIDE",
    "MAX_TITLE_CHARS",
    "MIN_DURATION_S",
    "MIN_SIDE",
    "MOODS",
    "Angle",
    "Frame",
    "FrameSpec",
    "Framing",
    "Grade",
    "compose_frame",
    "describe_options",
]

MIN_SIDE: Final = 64
MAX_SIDE: Final = 3840

_RGB = tuple[float, float, float]
_Option = TypeVar("_Option")


@dataclass(frozen=True)
class FrameSpec:
    """Everything a frame is made of. Images are encoded bytes (PNG, JPEG, WebP, ...)."""

    backdrop: bytes
    characters: tuple[bytes, ...]
    framing: str
    angle: str
    lighting: str
    mood: str
    title: str
    duration_s: float
    size: tuple[int, int] = (1280, 720)


@dataclass(frozen=True)
class Frame:
    data: bytes  # PNG, metadata stripped
    width: int
    height: int


@dataclass(frozen=True)
class Framing:
    """How much of the frame the characters take. Shares are of the frame's height/width."""

    description: str
    height: float  # character height
    baseline: float  # where characters' lower edge sits, from the top; > 1 cuts them off
    spread: float  # width the characters are spread across, left to right
    max_characters: int  # the rest are left out of the shot


@dataclass(frozen=True)
class Angle:
    """How the camera's position changes the framing's composition."""

    description: str
    scale: float  # multiplies the framing's character height
    drop: float  # moves the baseline down (+) or up (-), share of frame height
    spread: float  # multiplies the framing's spread
    stagger: float  # every other character moves up, the others down, by half this share
    tilt: float  # degrees the whole picture is rotated clockwise


@dataclass(frozen=True)
class Grade:
    """A colour grade, applied in this order: per-channel gain and lift (0..255 scale),
    saturation (0 is greyscale), contrast around mid-grey, then a vignette (the share of
    brightness lost in the corners)."""

    description: str
    gain: _RGB = (1.0, 1.0, 1.0)
    lift: _RGB = (0.0, 0.0, 0.0)
    saturation: float = 1.0
    contrast: float = 1.0
    vignette: float = 0.0


FRAMINGS: Final[Mapping[str, Framing]] = MappingProxyType(
    {
        "wide": Framing(
            "Whole figures, small in the setting: the location tells the story.",
            height=0.38,
            baseline=0.80,
            spread=0.80,
            max_characters=MAX_CHARACTERS,
        ),
        "medium": Framing(
            "Characters from the waist up; the frame's lower edge cuts them off.",
            height=0.72,
            baseline=1.05,
            spread=0.85,
            max_characters=MAX_CHARACTERS,
        ),
        "close-up": Framing(
            "Head and shoulders: the first character fills most of the height; at most two.",
            height=1.00,
            baseline=1.12,
            spread=0.70,
            max_characters=2,
        ),
    }
)

ANGLES: Final[Mapping[str, Angle]] = MappingProxyType(
    {
        "eye-level": Angle(
            "Camera at eye height: the framing as it is.",
            scale=1.0,
            drop=0.0,
            spread=1.0,
            stagger=0.0,
            tilt=0.0,
        ),
        "low": Angle(
            "Camera below, looking up: characters loom larger and stand lower in the frame.",
            scale=1.15,
            drop=0.06,
            spread=1.0,
            stagger=0.0,
            tilt=0.0,
        ),
        "high": Angle(
            "Camera above, looking down: characters smaller and higher in the frame.",
            scale=0.85,
            drop=-0.08,
            spread=1.0,
            stagger=0.0,
            tilt=0.0,
        ),
        "overhead": Angle(
            "Bird's-eye view: characters small, spread wide and staggered like a floor plan.",
            scale=0.6,
            drop=-0.12,
            spread=1.15,
            stagger=0.2,
            tilt=0.0,
        ),
        "dutch": Angle(
            "Canted camera for unease: the picture is tilted 6 degrees; corners show black.",
            scale=1.0,
            drop=0.0,
            spread=1.0,
            stagger=0.0,
            tilt=6.0,
        ),
    }
)

LIGHTING: Final[Mapping[str, Grade]] = MappingProxyType(
    {
        "day": Grade("Daylight: the backdrop as it is."),
        "night": Grade(
            "Night: much darker, blue moonlight, less colour, dark edges.",
            gain=(0.42, 0.48, 0.68),
            lift=(0.0, 2.0, 8.0),
            saturation=0.7,
            contrast=1.1,
            vignette=0.35,
        ),
        "golden-hour": Grade(
            "Low sun: warm orange light, a little more colour.",
            gain=(1.12, 1.0, 0.78),
            lift=(8.0, 3.0, 0.0),
            saturation=1.1,
            contrast=1.05,
            vignette=0.15,
        ),
        "overcast": Grade(
            "Cloud cover: flat, slightly cool, muted colour.",
            gain=(0.92, 0.95, 1.0),
            lift=(6.0, 6.0, 8.0),
            saturation=0.75,
            contrast=0.88,
        ),
        "interior": Grade(
            "Tungsten practicals indoors: warm and a little dim, darker at the edges.",
            gain=(1.0, 0.9, 0.74),
            saturation=0.95,
            contrast=1.05,
            vignette=0.3,
        ),
    }
)

MOODS: Final[Mapping[str, Grade]] = MappingProxyType(
    {
        "neutral": Grade("No mood grade."),
        "warm": Grade(
            "Warm and inviting: reds up, blues down.",
            gain=(1.10, 1.0, 0.85),
            lift=(6.0, 2.0, 0.0),
            saturation=1.05,
        ),
        "cool": Grade(
            "Cool and distant: blues up, reds down.",
            gain=(0.86, 0.98, 1.10),
            lift=(0.0, 2.0, 8.0),
            saturation=0.95,
        ),
        "noir": Grade(
            "Film noir: black and white, hard contrast, heavy vignette.",
            saturation=0.0,
            contrast=1.35,
            vignette=0.5,
        ),
        "dreamy": Grade(
            "Dreamlike: lifted, lilac-tinted blacks, soft contrast, gentle colour.",
            gain=(0.95, 0.92, 0.97),
            lift=(18.0, 14.0, 24.0),
            saturation=0.85,
            contrast=0.85,
            vignette=0.1,
        ),
        "tense": Grade(
            "Tense: sickly green cast, drained colour, hard contrast, closing-in edges.",
            gain=(0.94, 1.02, 0.9),
            saturation=0.75,
            contrast=1.25,
            vignette=0.35,
        ),
    }
)

# Colours on the 0..255 scale.
_FILL: Final = [0, 0, 0]  # what a tilted picture leaves uncovered, and behind transparent pixels
_CARD_BORDER: Final = [240, 240, 240]
_CAPTION_TEXT: Final = [240, 240, 240]

_CARD_BORDER_SHARE: Final = 0.02  # of the card's height
_SHADOW_SHARE: Final = 0.02  # offset and blur of the drop shadow, of the card's height
_SHADOW_OPACITY: Final = 0.5
_SLOT_FILL: Final = 0.92  # a character's widest share of its slot, so neighbours never touch

_BAND_SHARE: Final = 0.1  # caption band height, of the frame's height
_BAND_DARKEN: Final = 0.3  # the band keeps this share of the picture's brightness
_TEXT_SHARE: Final = 0.45  # caption font size, of the band's height
_MIN_TEXT_SCALE: Final = 0.6  # a long title shrinks this far before it is cut short
# Pango picks the first family it has, then any sans-serif: the text always renders.
# DejaVu is what the service image ships; Liberation/Noto are common elsewhere.
_FONT_FAMILIES: Final = "DejaVu Sans, Liberation Sans, Noto Sans, sans-serif"

# Rec. 709 luma weights: how bright each channel looks; desaturation keeps this constant.
_LUMA: Final = (0.2126, 0.7152, 0.0722)


def describe_options() -> dict[str, dict[str, str]]:
    """Every documented choice, as ``{"framing": {name: description}, "angle": ..., ...}``."""
    tables: dict[str, Mapping[str, Framing | Angle | Grade]] = {
        "framing": FRAMINGS,
        "angle": ANGLES,
        "lighting": LIGHTING,
        "mood": MOODS,
    }
    return {
        kind: {name: entry.description for name, entry in t.items()} for kind, t in tables.items()
    }


def compose_frame(spec: FrameSpec, limits: ImageLimits) -> Frame:
    """Compose ``spec`` into a PNG storyboard frame; raise ImageRejected on bad input.

    Bad options, size, title or duration give reason "bad_frame"; bad images give the reason
    ``probe`` gives ("too_large", "not_an_image", ...), with the image named in the detail.
    """
    framing = _choose("framing", spec.framing, FRAMINGS)
    angle = _choose("angle", spec.angle, ANGLES)
    lighting = _choose("lighting", spec.lighting, LIGHTING)
    mood = _choose("mood", spec.mood, MOODS)
    width, height = _check_size(spec.size)
    title = _clean_title(spec.title)
    duration = _format_duration(spec.duration_s)
    # Every header, before any pixel of any image is decoded.
    backdrop, *characters = _check_images(spec, limits)

    picture = _load_backdrop(backdrop, width, height)
    picture = _place_characters(picture, characters, framing, angle)
    picture = _grade(_grade(picture.cast("float"), lighting), mood).rint().cast("uchar")
    # After grading, so the uncovered corners stay a true black, like a matte.
    picture = _tilt(picture, angle.tilt)
    picture = _add_caption(picture, title, duration)
    data = picture.pngsave_buffer(keep="none")
    return Frame(data=data, width=width, height=height)


# --- validation --------------------------------------------------------------------------------


def _choose(kind: str, name: object, table: Mapping[str, _Option]) -> _Option:
    entry = table.get(name) if isinstance(name, str) else None
    if entry is None:
        raise ImageRejected("bad_frame", f"{kind} {name!r} is not one of {list(table)}")
    return entry


def _check_size(size: object) -> tuple[int, int]:
    if (
        not isinstance(size, tuple)
        or len(size) != 2
        or any(isinstance(side, bool) or not isinstance(side, int) for side in size)
    ):
        raise ImageRejected("bad_frame", f"size must be (width, height) integers, got {size!r}")
    width, height = size
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ImageRejected(
            "bad_frame", f"size {width}x{height}: each side must be in {MIN_SIDE}..{MAX_SIDE}"
        )
    return width, height


def _clean_title(title: object) -> str:
    """The title as shown: control characters, line breaks and lone surrogates become spaces,
    runs of whitespace one space."""
    if not isinstance(title, str):
        raise ImageRejected("bad_frame", f"title must be a string, got {type(title).__name__}")
    shown = "".join(
        " " if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") else char for char in title
    )
    shown = " ".join(shown.split())
    if not shown:
        raise ImageRejected("bad_frame", "title is empty")
    # Letters, numbers, punctuation or symbols: a title of only invisible characters (e.g.
    # zero-width spaces) would be a blank caption, and libvips refuses to render no ink.
    if not any(unicodedata.category(char)[0] in "LNPS" for char in shown):
        raise ImageRejected("bad_frame", "title has no visible characters")
    if len(shown) > MAX_TITLE_CHARS:
        raise ImageRejected(
            "bad_frame", f"title is {len(shown)} characters, limit is {MAX_TITLE_CHARS}"
        )
    return shown


def _format_duration(seconds: object) -> str:
    """The duration as shown: "3.5 s" under a minute, "1:03.5" from a minute on."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ImageRejected("bad_frame", f"duration_s must be a number, got {seconds!r}")
    if not (math.isfinite(seconds) and MIN_DURATION_S <= seconds <= MAX_DURATION_S):
        raise ImageRejected(
            "bad_frame",
            f"duration_s {seconds!r} is not in {MIN_DURATION_S}..{MAX_DURATION_S:g} seconds",
        )
    tenths = round(seconds * 10)  # round first, so 59.96 reads "1:00.0" and not "60.0 s"
    if tenths < 600:
        return f"{tenths // 10}.{tenths % 10} s"
    minutes, tenths = divmod(tenths, 600)
    return f"{minutes}:{tenths // 10:02d}.{tenths % 10}"


_Picture = tuple[bytes, ImageInfo]  # an input image and what its header says


def _check_images(spec: FrameSpec, limits: ImageLimits) -> list[_Picture]:
    """The backdrop, then each character, with their probed headers."""
    if not isinstance(spec.characters, tuple):
        raise ImageRejected("bad_frame", "characters must be a tuple of images")
    if len(spec.characters) > MAX_CHARACTERS:
        raise ImageRejected(
            "bad_frame", f"{len(spec.characters)} characters, limit is {MAX_CHARACTERS}"
        )
    pictures: list[_Picture] = []
    for name, data in [("backdrop", spec.backdrop)] + [
        (f"character {number}", data) for number, data in enumerate(spec.characters, start=1)
    ]:
        if not isinstance(data, bytes):
            raise ImageRejected("bad_frame", f"{name} must be bytes, got {type(data).__name__}")
        try:
            pictures.append((data, probe(data, limits)))
        except ImageRejected as exc:
            raise ImageRejected(exc.reason, f"{name}: {exc.detail}") from None
    return pictures


# --- composition -------------------------------------------------------------------------------


def _load(picture: _Picture, width: int, height: int, *, crop: bool) -> pyvips.Image:
    """Decode ``picture`` straight at the size it is drawn: fitted inside ``width`` x ``height``,
    or, with ``crop``, covering it exactly (centre kept). 8-bit sRGB, alpha kept."""
    data, info = picture
    try:
        # size="both": small references are enlarged, the shot decides the size.
        source = pyvips.Source.new_from_memory(data)
        image = shrunk(source, info, width, height, crop="centre" if crop else None)
        return image.cast("uchar").copy_memory()  # decode now, so errors surface here
    except pyvips.Error as exc:  # corrupt pixel data behind a valid header
        raise ImageRejected("not_an_image", f"cannot decode: {root_cause(exc)}") from None


def _load_backdrop(picture: _Picture, width: int, height: int) -> pyvips.Image:
    try:
        backdrop = _load(picture, width, height, crop=True)
    except ImageRejected as exc:
        raise ImageRejected(exc.reason, f"backdrop: {exc.detail}") from None
    return backdrop.flatten(background=_FILL) if backdrop.hasalpha() else backdrop


def _place_characters(
    picture: pyvips.Image, characters: list[_Picture], framing: Framing, angle: Angle
) -> pyvips.Image:
    """Draw the characters left to right, evenly spread, feet on the shot's baseline."""
    shown = characters[: framing.max_characters]
    if not shown:
        return picture
    width, height = picture.width, picture.height
    span = width * min(0.95, framing.spread * angle.spread)
    slot = span / len(shown)
    target_height = round(height * framing.height * angle.scale)
    baseline = height * (framing.baseline + angle.drop)

    layers: list[pyvips.Image] = []
    xs: list[int] = []
    ys: list[int] = []
    for index, character in enumerate(shown):
        try:
            card = _character_card(character, max(1, round(slot * _SLOT_FILL)), target_height)
        except ImageRejected as exc:
            raise ImageRejected(exc.reason, f"character {index + 1}: {exc.detail}") from None
        centre_x = (width - span) / 2 + slot * (index + 0.5)
        stagger = (-0.5 if index % 2 == 0 else 0.5) * angle.stagger * height
        left = round(centre_x - card.width / 2)
        top = round(baseline + stagger - card.height)
        shadow, margin = _drop_shadow(card)
        shift = _shadow_shift(card) - margin
        layers += [shadow, card]
        xs += [left + shift, left]
        ys += [top + shift, top]
    composed = picture.composite(layers, "over", x=xs, y=ys)
    return composed.extract_band(0, n=3)  # the backdrop was opaque, so is the result


def _character_card(character: _Picture, max_width: int, max_height: int) -> pyvips.Image:
    """The character as an RGBA layer at most ``max_width`` x ``max_height``: a cut-out if the
    reference has alpha, otherwise a rectangular card with a light border."""
    border = max(1, round(max_height * _CARD_BORDER_SHARE))
    inner_width, inner_height = max(1, max_width - 2 * border), max(1, max_height - 2 * border)
    image = _load(character, inner_width, inner_height, crop=False)
    if image.hasalpha():
        return image
    framed = image.embed(
        border,
        border,
        image.width + 2 * border,
        image.height + 2 * border,
        extend="background",
        background=_CARD_BORDER,
    )
    return framed.bandjoin(255)


def _shadow_shift(card: pyvips.Image) -> int:
    """How far the shadow falls down and right of its character: light comes from top left."""
    return max(1, round(card.height * _SHADOW_SHARE))


def _drop_shadow(card: pyvips.Image) -> tuple[pyvips.Image, int]:
    """A soft black shadow in the card's shape, and the margin its blur adds on each side."""
    sigma = max(1.0, card.height * _SHADOW_SHARE)
    margin = math.ceil(3 * sigma)
    alpha = card.extract_band(3).embed(
        margin, margin, card.width + 2 * margin, card.height + 2 * margin, extend="black"
    )
    # precision="integer" keeps the blur in fixed point: exact and the same on every run.
    soft = (alpha.gaussblur(sigma, precision="integer") * _SHADOW_OPACITY).cast("uchar")
    black = pyvips.Image.black(soft.width, soft.height, bands=3).copy(interpretation="srgb")
    return black.bandjoin(soft), margin


# --- grading -----------------------------------------------------------------------------------


def _grade(picture: pyvips.Image, grade: Grade) -> pyvips.Image:
    """Apply ``grade`` to a float sRGB picture; no-op steps are skipped so "neutral" is exact."""
    if grade.gain != (1.0, 1.0, 1.0) or grade.lift != (0.0, 0.0, 0.0):
        picture = picture.linear(list(grade.gain), list(grade.lift))
    if grade.saturation != 1.0:
        picture = picture.recomb(_saturation_matrix(grade.saturation))
    if grade.contrast != 1.0:
        picture = picture.linear(grade.contrast, 127.5 * (1 - grade.contrast))
    if grade.vignette:
        picture = picture * _vignette(picture.width, picture.height, grade.vignette)
    return picture


def _saturation_matrix(saturation: float) -> pyvips.Image:
    """Mix each channel with the luma: 0 gives grey, 1 leaves the colour, >1 strengthens it."""
    rows = [
        [
            (1 - saturation) * weight + (saturation if row == col else 0.0)
            for col, weight in enumerate(_LUMA)
        ]
        for row in range(3)
    ]
    return pyvips.Image.new_from_array(rows)


def _vignette(width: int, height: int, strength: float) -> pyvips.Image:
    """1 in the centre, falling smoothly to ``1 - strength`` in the corners (elliptical)."""
    xyz = pyvips.Image.xyz(width, height)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    dx, dy = (xyz[0] - cx) / cx, (xyz[1] - cy) / cy
    return 1 - strength * (dx * dx + dy * dy) / 2


def _tilt(picture: pyvips.Image, degrees: float) -> pyvips.Image:
    """Rotate about the centre, keeping the frame's size; the uncovered corners show fill."""
    if not degrees:
        return picture
    turned = picture.rotate(degrees, background=_FILL)
    left, top = (turned.width - picture.width) // 2, (turned.height - picture.height) // 2
    return turned.crop(left, top, picture.width, picture.height)


# --- caption -----------------------------------------------------------------------------------


def _add_caption(picture: pyvips.Image, title: str, duration: str) -> pyvips.Image:
    """Darken a band along the bottom and write the title on its left, the duration on its
    right, both centred on the band's height."""
    width, height = picture.width, picture.height
    band_height = max(12, round(height * _BAND_SHARE))
    font_px = max(6, round(band_height * _TEXT_SHARE))
    padding = round(band_height * 0.4)

    duration_mask = _render_text(duration, font_px, bold=False)
    room = width - 3 * padding - duration_mask.width
    title_mask, title_px = _fit_text(title, font_px, room)
    mask = pyvips.Image.black(width, band_height)
    mask = _insert_text(mask, title_mask, padding, title_px)
    mask = _insert_text(mask, duration_mask, width - padding - duration_mask.width, font_px)

    band = picture.crop(0, height - band_height, width, band_height).linear(_BAND_DARKEN, 0)
    band = mask.ifthenelse(_CAPTION_TEXT, band, blend=True).rint().cast("uchar")
    return picture.insert(band, 0, height - band_height)


def _insert_text(mask: pyvips.Image, text: pyvips.Image, left: int, font_px: int) -> pyvips.Image:
    """Put ``text`` at ``left``, its line (not its ink) centred on the band's height.

    libvips crops a text mask to its ink and records where the ink starts in the line in
    xoffset/yoffset; centring the line, about 1.2 em tall, keeps a title with descenders
    ("Jumping") on the same baseline as one without ("SHOT 1")."""
    line_top = (mask.height - round(font_px * 1.2)) // 2
    return mask.insert(text, left, line_top + _ink_offset(text, "yoffset"))


def _fit_text(text: str, font_px: int, room: int) -> tuple[pyvips.Image, int]:
    """``text`` rendered at most ``room`` wide: shrunk a little if needed, then cut with "…".
    Returns the mask and the font size used."""
    mask = _render_text(text, font_px, bold=True)
    if mask.width <= room:
        return mask, font_px
    font_px = max(6, math.floor(font_px * max(_MIN_TEXT_SCALE, room / mask.width)))
    mask = _render_text(text, font_px, bold=True)
    while mask.width > room and len(text) > 1:
        # Cut in proportion to the overshoot; each pass shortens, so this ends.
        keep = min(len(text) - 1, max(1, math.floor(len(text) * room / mask.width) - 1))
        text = text[:keep].rstrip()
        mask = _render_text(text + "…", font_px, bold=True)
    return mask.crop(0, 0, min(mask.width, max(1, room)), mask.height), font_px


def _render_text(text: str, font_px: int, *, bold: bool) -> pyvips.Image:
    """A one-band antialiased mask of ``text``; libvips reads Pango markup, so it is escaped."""
    weight = " Bold" if bold else ""
    return pyvips.Image.text(
        html.escape(text, quote=False),
        font=f"{_FONT_FAMILIES}{weight} {font_px}px",
        dpi=72,
        wrap="none",
    )


def _ink_offset(mask: pyvips.Image, field: str) -> int:
    """Where the ink of a text mask starts inside its line of text."""
    return int(mask.get(field)) if mask.get_typeof(field) else 0
