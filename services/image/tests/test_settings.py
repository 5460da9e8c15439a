"""The image service's settings: image limits, upload size and generation backends, each read
from its SHOTGRAPH_* variable with an error naming the variable and the part that is wrong."""

from __future__ import annotations

import pytest

from libs.config import ConfigError
from services.image.app import image_limits
from services.image.settings import GenerationBackend, ImageSettings, parse_backends


def test_parse_backends_reads_names_and_urls() -> None:
    backends = parse_backends(" comfy=http://127.0.0.1:8188/ , sdxl=https://gpu-2:8188,")

    assert [backend.name for backend in backends] == ["comfy", "sdxl"]
    assert backends[0].url == "http://127.0.0.1:8188"
    assert backends[1] == GenerationBackend(name="sdxl", url="https://gpu-2:8188")
    assert parse_backends("") == ()


@pytest.mark.parametrize(
    ("raw", "bad_part"),
    [
        ("comfy", "comfy"),
        ("comfy=", "comfy="),
        ("=http://gpu:8188", "=http://gpu:8188"),
        ("comfy=gpu:8188", "comfy=gpu:8188"),
        ("comfy=ftp://gpu", "comfy=ftp://gpu"),
        ("ok=http://a:1,Bad Name=http://b:2", "Bad Name=http://b:2"),
        ("a=http://a:1,a=http://b:2", "'a' is listed twice"),
    ],
)
def test_parse_backends_names_the_malformed_part(raw: str, bad_part: str) -> None:
    with pytest.raises(ValueError, match=bad_part):
        parse_backends(raw)


def test_generation_backends_are_read_from_the_environment() -> None:
    settings = ImageSettings.from_env({"SHOTGRAPH_GENERATION_BACKENDS": "comfy=http://gpu-1:8188"})
    assert settings.generation_backends == (
        GenerationBackend(name="comfy", url="http://gpu-1:8188"),
    )
    assert ImageSettings.from_env({}).generation_backends == ()


def test_a_malformed_backend_names_the_variable_and_the_part() -> None:
    with pytest.raises(ConfigError) as caught:
        ImageSettings.from_env({"SHOTGRAPH_GENERATION_BACKENDS": "comfy=gpu:8188"})
    assert str(caught.value) == (
        "Config 'SHOTGRAPH_GENERATION_BACKENDS' has an invalid value 'comfy=gpu:8188':"
        " generation backend 'comfy=gpu:8188' is not name=http(s)://host[:port]."
    )


def test_configured_limits_are_the_limits_images_pass() -> None:
    settings = ImageSettings.from_env(
        {
            "SHOTGRAPH_MAX_UPLOAD_BYTES": "1000",
            "SHOTGRAPH_IMAGE_MAX_PIXELS": "2000",
            "SHOTGRAPH_IMAGE_MAX_FRAMES": "3",
            "SHOTGRAPH_IMAGE_MAX_ANIMATION_FRAMES": "4",
            "SHOTGRAPH_IMAGE_MAX_PROGRESSIVE_PIXELS": "500",
        }
    )
    limits = image_limits(settings)
    assert (limits.max_bytes, limits.max_pixels, limits.max_frames) == (1000, 2000, 3)
    assert (limits.max_animation_frames, limits.max_progressive_pixels) == (4, 500)


def test_default_limits_are_imgproxys_careful_ones() -> None:
    limits = image_limits(ImageSettings.from_env({}))
    assert (limits.max_bytes, limits.max_pixels, limits.max_frames) == (50 << 20, 50_000_000, 1)
    assert (limits.max_animation_frames, limits.max_progressive_pixels) == (100, 20_000_000)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SHOTGRAPH_WORKER_CONCURRENCY", "-3"),
        ("SHOTGRAPH_MAX_UPLOAD_BYTES", "50MB"),
        ("SHOTGRAPH_IMAGE_MAX_PIXELS", "0"),
        ("SHOTGRAPH_IMAGE_MAX_FRAMES", "-1"),
    ],
)
def test_a_bad_limit_names_its_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=f"Config '{name}' has an invalid value '{raw}'"):
        ImageSettings.from_env({name: raw})
