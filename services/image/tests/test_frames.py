"""Tests for storyboard frame composition: real libvips, images generated here.

Characters are solid cards of colours the backdrop never contains (pure magenta, cyan,
yellow), so where a character landed can be measured from the output's pixels.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import pyvips

from libs import storyboard
from services.image.frames import (
    ANGLES,
    FRAMINGS,
    LIGHTING,
    MAX_CHARACTERS,
    MAX_TITLE_CHARS,
    MOODS,
    Frame,
    FrameSpec,
    _format_duration,
    compose_frame,
    describe_options,
)
from services.image.thumbnails import ImageLimits, ImageRejected

from .conftest import solid

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAGENTA, CYAN, YELLOW = [255, 0, 255], [0, 255, 255], [255, 255, 0]
LIMITS = ImageLimits()
SIZE = (320, 180)  # small frames keep the file fast; layout is proportional
BAND = 18  # caption band height at SIZE: 10% of 180


def backdrop(width: int = 480, height: int = 270) -> bytes:
    """A muted green-to-olive gradient: never magenta, cyan or yellow, never black."""
    xyz = pyvips.Image.xyz(width, height)
    red = xyz[0] * (110 / width) + 20
    green = xyz[1] * (90 / height) + 100
    return red.bandjoin([green, 70]).cast("uchar").copy(interpretation="srgb").pngsave_buffer()


def grey_backdrop() -> bytes:
    """Mid-grey with a gentle ramp: red/blue ratio exactly 1, room to go up and down."""
    ramp = pyvips.Image.xyz(480, 270)[0] * (60 / 480) + 100
    return ramp.bandjoin([ramp, ramp]).cast("uchar").copy(interpretation="srgb").pngsave_buffer()


def card(rgb: list[int], width: int = 200, height: int = 300) -> bytes:
    return solid(width, height, rgb).pngsave_buffer()


def spec(**changes: Any) -> FrameSpec:
    base = FrameSpec(
        backdrop=BACKDROP,
        characters=(MAGENTA_CARD,),
        framing="wide",
        angle="eye-level",
        lighting="day",
        mood="neutral",
        title="Shot 1",
        duration_s=3.5,
        size=SIZE,
    )
    return dataclasses.replace(base, **changes)


def pixels(frame: Frame) -> np.ndarray:
    """The frame decoded as a height x width x 3 uint8 array, failing on any decode error."""
    image = pyvips.Image.new_from_buffer(frame.data, "", fail_on="error")
    assert (image.width, image.height, image.bands) == (frame.width, frame.height, 3)
    return image.numpy()


def render(**changes: Any) -> np.ndarray:
    return pixels(compose_frame(spec(**changes), LIMITS))


def picture(array: np.ndarray) -> np.ndarray:
    """The shot above the caption band."""
    return array[: array.shape[0] - BAND].astype(float)


def where(array: np.ndarray, rgb: list[int]) -> np.ndarray:
    """Mask of the pixels close to ``rgb``."""
    return np.all(np.abs(array.astype(int) - rgb) <= 40, axis=2)


@dataclasses.dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return (self.right - self.left) * self.height


def box_of(array: np.ndarray, rgb: list[int]) -> Box:
    """Bounding box of the pixels close to ``rgb``; fails if there are none."""
    rows, cols = np.nonzero(where(array, rgb))
    assert rows.size, f"no {rgb} pixels in the frame"
    return Box(int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)


def red_blue_ratio(array: np.ndarray) -> float:
    shot = picture(array)
    return float(shot[..., 0].mean() / shot[..., 2].mean())


def luma(array: np.ndarray) -> float:
    return float((picture(array) @ [0.2126, 0.7152, 0.0722]).mean())


@contextmanager
def rejected(reason: str, detail: str) -> Iterator[None]:
    """Expect an ImageRejected with exactly this reason and ``detail`` in its detail."""
    with pytest.raises(ImageRejected) as caught:
        yield
    assert caught.value.reason == reason, caught.value
    assert detail in caught.value.detail, caught.value


BACKDROP = backdrop()
MAGENTA_CARD = card(MAGENTA)


# --- output ------------------------------------------------------------------------------------


def test_frame_is_a_png_of_the_requested_size_without_metadata() -> None:
    frame = compose_frame(spec(size=(400, 300)), LIMITS)

    assert frame.data.startswith(PNG_SIGNATURE)
    assert (frame.width, frame.height) == (400, 300)
    image = pyvips.Image.new_from_buffer(frame.data, "")
    assert (image.width, image.height, image.bands) == (400, 300, 3)
    assert not {"exif-data", "xmp-data", "icc-profile-data"} & set(image.get_fields())


def test_backdrop_covers_the_frame_whatever_its_aspect() -> None:
    tall = solid(90, 400, [30, 140, 60]).pngsave_buffer()  # a portrait photo in a 16:9 frame
    array = render(backdrop=tall, characters=())

    assert where(picture(array).astype(np.uint8), [30, 140, 60]).all()  # no bars, no fill


def test_same_inputs_give_the_same_bytes_again_and_across_threads() -> None:
    cutout = solid(120, 200, CYAN).bandjoin(disc_alpha(120, 200)).copy(interpretation="srgb")
    busy = spec(
        characters=(MAGENTA_CARD, cutout.pngsave_buffer(), card(YELLOW)),
        framing="medium",
        angle="dutch",
        lighting="golden-hour",
        mood="noir",
        title="Sc. 12 — “Jumping” <ghost> & co",
        duration_s=73.25,
        size=(480, 270),
    )
    first = compose_frame(busy, LIMITS)
    assert compose_frame(busy, LIMITS) == first

    start = threading.Barrier(4)

    def compose(_: int) -> Frame:
        start.wait()  # all four inside libvips at once
        return compose_frame(busy, LIMITS)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(compose, range(4)))
    assert all(result == first for result in results)


def test_16_bit_greyscale_and_cmyk_inputs_are_drawn_in_srgb() -> None:
    rgb16 = (solid(200, 300, MAGENTA).cast("ushort") * 257).copy(interpretation="rgb16")
    grey = (pyvips.Image.black(160, 90) + 128).cast("uchar").copy(interpretation="b-w")
    cmyk = pyvips.Image.black(100, 100, bands=4).linear(1, [0, 255, 0, 0]).cast("uchar")
    array = render(
        backdrop=grey.pngsave_buffer(),
        characters=(rgb16.pngsave_buffer(), cmyk.copy(interpretation="cmyk").jpegsave_buffer()),
    )

    assert array[5, 5].tolist() == [128, 128, 128]
    assert box_of(array, MAGENTA).height > 40
    assert where(array, [234, 23, 133]).any()  # CMYK magenta through the fallback profile


# --- framing and angle -------------------------------------------------------------------------


def test_closer_framing_gives_the_character_more_of_the_frame() -> None:
    boxes = {framing: box_of(render(framing=framing), MAGENTA) for framing in FRAMINGS}

    assert boxes["close-up"].area > boxes["medium"].area > boxes["wide"].area
    assert boxes["close-up"].height > 0.8 * (SIZE[1] - BAND)  # "fills most of the height"
    assert boxes["wide"].bottom < SIZE[1] - BAND  # whole figure, feet in the shot


def test_characters_are_spread_left_to_right_in_order() -> None:
    array = render(characters=(MAGENTA_CARD, card(CYAN), card(YELLOW)))
    boxes = [box_of(array, colour) for colour in (MAGENTA, CYAN, YELLOW)]

    assert boxes[0].right < boxes[1].left and boxes[1].right < boxes[2].left
    centres = [(box.left + box.right) / 2 for box in boxes]
    assert centres[1] - centres[0] == pytest.approx(centres[2] - centres[1], abs=2)
    assert centres[1] == pytest.approx(SIZE[0] / 2, abs=2)
    assert len({box.top for box in boxes}) == 1  # eye level: one baseline


def test_close_up_shows_at_most_two_characters() -> None:
    array = render(framing="close-up", characters=(MAGENTA_CARD, card(CYAN), card(YELLOW)))

    assert where(array, MAGENTA).any() and where(array, CYAN).any()
    assert not where(array, YELLOW).any()


def test_low_angle_puts_characters_larger_and_lower_than_high_angle() -> None:
    boxes = {angle: box_of(render(angle=angle), MAGENTA) for angle in ("low", "eye-level", "high")}

    assert boxes["low"].height > boxes["eye-level"].height > boxes["high"].height
    assert boxes["low"].bottom > boxes["eye-level"].bottom > boxes["high"].bottom


def test_overhead_makes_characters_small_and_staggers_them() -> None:
    characters = (MAGENTA_CARD, card(CYAN))
    level, overhead = render(characters=characters), render(characters=characters, angle="overhead")

    assert box_of(overhead, MAGENTA).area < 0.5 * box_of(level, MAGENTA).area
    assert box_of(overhead, MAGENTA).top != box_of(overhead, CYAN).top
    assert box_of(level, MAGENTA).top == box_of(level, CYAN).top


def test_dutch_angle_tilts_the_picture_and_shows_fill_in_the_corners() -> None:
    level, dutch = render(angle="eye-level"), render(angle="dutch")

    for row, col in [(0, 0), (0, SIZE[0] - 1)]:
        assert dutch[row, col].tolist() == [0, 0, 0]
        assert level[row, col].tolist() != [0, 0, 0]
    # The card's left edge leans: it starts further right at the top than at the bottom.
    magenta = where(dutch, MAGENTA)
    box = box_of(dutch, MAGENTA)
    top_left = np.nonzero(magenta[box.top + 10])[0].min()
    bottom_left = np.nonzero(magenta[box.bottom - 10])[0].min()
    assert top_left - bottom_left > 3


def test_a_transparent_reference_is_cut_out_not_carded() -> None:
    cutout = solid(200, 300, MAGENTA).bandjoin(disc_alpha(200, 300)).copy(interpretation="srgb")
    array = render(characters=(cutout.pngsave_buffer(),), framing="medium")
    box = box_of(array, MAGENTA)

    # Inside the bounding box of the disc, its corner shows the backdrop: no card, no border.
    corner = array[box.top + 1, box.left + 1].astype(int)
    assert np.abs(corner - MAGENTA).max() > 40  # not the character
    assert corner.max() < 235  # not the light border a card gets


def test_opaque_references_get_a_light_border() -> None:
    array = render(framing="medium")
    box = box_of(array, MAGENTA)
    just_outside = array[(box.top + box.bottom) // 2, box.left - 1]

    assert just_outside.min() > 200


# --- lighting and mood -------------------------------------------------------------------------


def test_warm_raises_and_cool_lowers_the_red_blue_ratio() -> None:
    ratios = {
        mood: red_blue_ratio(render(backdrop=grey_backdrop(), characters=(), mood=mood))
        for mood in ("warm", "neutral", "cool")
    }

    assert ratios["neutral"] == pytest.approx(1.0, abs=0.01)
    assert ratios["warm"] > ratios["neutral"] + 0.1
    assert ratios["cool"] < ratios["neutral"] - 0.1


def test_noir_is_greyscale() -> None:
    array = render(mood="noir", lighting="golden-hour", characters=(MAGENTA_CARD, card(CYAN)))
    channels = array.astype(int)

    assert np.abs(channels[..., 0] - channels[..., 1]).max() <= 1
    assert np.abs(channels[..., 1] - channels[..., 2]).max() <= 1


def test_night_is_darker_than_day() -> None:
    assert luma(render(lighting="night")) < 0.6 * luma(render(lighting="day"))


@pytest.mark.parametrize(
    ("kind", "name"),
    [("lighting", name) for name in LIGHTING] + [("mood", name) for name in MOODS],
)
def test_every_grade_except_the_identities_changes_the_picture(kind: str, name: str) -> None:
    graded, plain = render(**{kind: name}), render()

    if name in ("day", "neutral"):
        assert np.array_equal(graded, plain)
    else:
        assert np.abs(picture(graded) - picture(plain)).mean() > 2


def test_describe_options_lists_every_documented_choice() -> None:
    options = describe_options()

    assert options.keys() == {"framing", "angle", "lighting", "mood"}
    for kind, table in [
        ("framing", FRAMINGS),
        ("angle", ANGLES),
        ("lighting", LIGHTING),
        ("mood", MOODS),
    ]:
        assert list(options[kind]) == list(table)
        assert all(
            isinstance(text, str) and 10 < len(text) < 120 for text in options[kind].values()
        )


# --- caption -----------------------------------------------------------------------------------


def test_caption_band_is_dark_and_has_bright_text() -> None:
    array = render(size=(640, 360), characters=())
    band = array[-36:].astype(float)
    above = array[-72:-36].astype(float)

    assert band.mean() < 0.5 * above.mean()
    assert (band.min(axis=2) > 180).sum() > 50  # light text on a band no brighter than ~80
    assert (above.min(axis=2) > 180).sum() == 0


def test_caption_changes_with_the_title_and_nothing_else_does() -> None:
    one, two = render(title="Shot 1"), render(title="Shot 2 — the harbour")

    assert np.array_equal(one[:-BAND], two[:-BAND])
    assert not np.array_equal(one[-BAND:], two[-BAND:])


def test_duration_is_shown_to_a_tenth_of_a_second() -> None:
    shown = render(duration_s=3.5)[-BAND:]

    assert np.array_equal(shown, render(duration_s=3.54)[-BAND:])  # both "3.5 s"
    assert not np.array_equal(shown, render(duration_s=3.6)[-BAND:])


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (3.5, "3.5 s"),
        (0.1, "0.1 s"),
        (12, "12.0 s"),
        (59.94, "59.9 s"),
        (59.96, "1:00.0"),
        (63.5, "1:03.5"),
        (3600, "60:00.0"),
    ],
)
def test_duration_format(seconds: float, shown: str) -> None:
    assert _format_duration(seconds) == shown


def test_title_markup_and_control_characters_are_shown_as_plain_text() -> None:
    # libvips reads Pango markup: unescaped, "<b>" would bold and "&" would fail to parse.
    assert compose_frame(spec(title="<b>Tom & Jerry</b>"), LIMITS).width == SIZE[0]
    assert np.array_equal(render(title="Shot\x00\n1\u2028"), render(title="Shot 1"))


def test_a_long_title_is_fitted_into_a_narrow_frame() -> None:
    array = render(title="W" * MAX_TITLE_CHARS, size=(64, 64))

    assert array.shape == (64, 64, 3)


# --- rejections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"framing": "extreme-close-up"}, "framing 'extreme-close-up' is not one of"),
        ({"angle": "worm"}, "angle 'worm' is not one of"),
        ({"lighting": "noon"}, "lighting 'noon' is not one of"),
        ({"mood": "happy"}, "mood 'happy' is not one of"),
        ({"mood": None}, "mood None is not one of"),
        ({"size": (63, 100)}, "size 63x100: each side must be in 64..3840"),
        ({"size": (1280, 3841)}, "size 1280x3841"),
        ({"size": (1280,)}, "size must be (width, height) integers"),
        ({"size": (1280.0, 720)}, "size must be (width, height) integers"),
        ({"size": (True, 720)}, "size must be (width, height) integers"),
        ({"characters": (MAGENTA_CARD,) * (MAX_CHARACTERS + 1)}, "7 characters, limit is 6"),
        ({"characters": [MAGENTA_CARD]}, "characters must be a tuple"),
        ({"characters": ("not bytes",)}, "character 1 must be bytes"),
        ({"title": ""}, "title is empty"),
        ({"title": " \n\t\x00 "}, "title is empty"),
        ({"title": "\u200b\u200b"}, "title has no visible characters"),
        ({"title": "x" * (MAX_TITLE_CHARS + 1)}, "title is 121 characters, limit is 120"),
        ({"title": 12}, "title must be a string, got int"),
        ({"duration_s": -1.0}, "duration_s -1.0 is not in 0.1..3600 seconds"),
        ({"duration_s": 0}, "duration_s 0 is not in"),
        ({"duration_s": math.nan}, "duration_s nan is not in"),
        ({"duration_s": math.inf}, "duration_s inf is not in"),
        ({"duration_s": 3601}, "duration_s 3601 is not in"),
        ({"duration_s": "3.5"}, "duration_s must be a number, got '3.5'"),
        ({"duration_s": True}, "duration_s must be a number, got True"),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, dict) else "",
)
def test_bad_options_are_rejected(changes: dict[str, Any], detail: str) -> None:
    with rejected("bad_frame", detail):
        compose_frame(spec(**changes), LIMITS)


@pytest.mark.parametrize(
    ("changes", "reason", "detail"),
    [
        ({"backdrop": b"not an image"}, "not_an_image", "backdrop: not a PNG"),
        ({"backdrop": b""}, "not_an_image", "backdrop: "),
        (
            {"characters": (MAGENTA_CARD, b"<svg xmlns='http://www.w3.org/2000/svg'/>")},
            "not_an_image",
            "character 2: not a PNG",
        ),
        ({"backdrop": BACKDROP[: len(BACKDROP) // 2]}, "not_an_image", "backdrop: cannot decode"),
        ({"characters": (MAGENTA_CARD[:-30],)}, "not_an_image", "character 1: cannot decode"),
    ],
    ids=["garbage", "empty", "svg-character", "truncated-backdrop", "truncated-character"],
)
def test_bad_images_are_rejected_with_the_probe_reason_and_which_image(
    changes: dict[str, Any], reason: str, detail: str
) -> None:
    with rejected(reason, detail):
        compose_frame(spec(**changes), LIMITS)


def test_images_over_the_limits_are_rejected() -> None:
    with rejected("too_large", "backdrop: "):
        compose_frame(spec(), ImageLimits(max_bytes=len(BACKDROP) - 1))
    big = card(MAGENTA, 600, 400)
    with rejected("too_many_pixels", "character 1: 600x400 frame, limit is 129600 pixels"):
        compose_frame(spec(characters=(big,)), ImageLimits(max_pixels=480 * 270))


@pytest.mark.parametrize("where_", ["backdrop", "last character"])
def test_a_decompression_bomb_is_refused_before_anything_is_decoded(
    png_bomb: bytes, where_: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded before every header was checked")

    monkeypatch.setattr(pyvips.Image, "thumbnail_buffer", no_decoding)
    bombed = (
        spec(backdrop=png_bomb)
        if where_ == "backdrop"
        else spec(characters=(MAGENTA_CARD, MAGENTA_CARD, png_bomb))
    )
    name = "backdrop" if where_ == "backdrop" else "character 3"
    with rejected("too_many_pixels", f"{name}: 100000x100000 frame"):
        compose_frame(bombed, LIMITS)


def disc_alpha(width: int, height: int) -> pyvips.Image:
    """An opaque ellipse filling the box, transparent outside it: a cut-out character."""
    xyz = pyvips.Image.xyz(width, height)
    dx = (xyz[0] - width / 2) / (width / 2)
    dy = (xyz[1] - height / 2) / (height / 2)
    return ((dx * dx + dy * dy) < 1).ifthenelse(255, 0).cast("uchar")


def test_the_drawn_choices_are_the_shared_storyboard_vocabulary() -> None:
    """The canvas validates shots against libs.storyboard; every name it accepts is drawn."""
    assert tuple(FRAMINGS) == storyboard.FRAMINGS
    assert tuple(ANGLES) == storyboard.ANGLES
    assert tuple(LIGHTING) == storyboard.LIGHTING
    assert tuple(MOODS) == storyboard.MOODS
