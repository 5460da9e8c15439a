"""The render cache on a real JetStream KV bucket."""

from __future__ import annotations

import asyncio
import hashlib
import json

from nats.js import JetStreamContext

from libs.metrics import RENDER_CACHE
from services.render.cache import REVISIONS, CachedRender, RenderCache, cache_key, engine_version


def test_the_key_changes_with_everything_that_changes_the_output() -> None:
    base = cache_key("cube(1);", {"size": 1}, "glb", "OpenSCAD version 2021.01")
    assert base == cache_key("cube(1);", {"size": 1}, "glb", "OpenSCAD version 2021.01")
    assert (
        len(
            {
                base,
                cache_key("cube(2);", {"size": 1}, "glb", "OpenSCAD version 2021.01"),
                cache_key("cube(1);", {"size": 2}, "glb", "OpenSCAD version 2021.01"),
                cache_key("cube(1);", {"size": 1}, "3mf", "OpenSCAD version 2021.01"),
                cache_key("cube(1);", {"size": 1}, "glb", "OpenSCAD version 2026.01"),
            }
        )
        == 5
    )


def _key_before_revisions(fmt: str, view: dict[str, int] | None) -> str:
    """The key as it was computed before formats had revisions."""
    document = {"engine": "e", "format": fmt, "parameters": {}, "source": "s", "view": view}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_a_preview_cached_under_the_old_colour_rule_is_not_found() -> None:
    # Previews used to be OpenSCAD's own (the outermost colour won); the key must differ.
    view = {"width": 512, "height": 512}
    assert REVISIONS["preview"] >= 1
    assert cache_key("s", {}, "preview", "e", view=view) != _key_before_revisions("preview", view)
    # Formats whose bytes did not change keep their keys, so their entries still serve.
    assert cache_key("s", {}, "png", "e", view=view) == _key_before_revisions("png", view)
    assert cache_key("s", {}, "glb", "e") == _key_before_revisions("glb", None)


def test_parameter_order_does_not_matter() -> None:
    assert cache_key("s", {"a": 1, "b": [1, 2]}, "png", "e") == cache_key(
        "s", {"b": [1, 2], "a": 1}, "png", "e"
    )


def test_engine_version_names_openscad() -> None:
    assert "OpenSCAD" in asyncio.run(engine_version())


async def test_a_stored_render_is_found_again(nats_js: JetStreamContext) -> None:
    cache = RenderCache(nats_js)
    key = cache_key("sphere(3);", {}, "stl", "test-engine")
    hits, misses = (RENDER_CACHE.labels("stl", result)._value.get() for result in ("hit", "miss"))
    assert await cache.get(key, "stl") is None
    stored = CachedRender("ab" * 32, "model/stl", 0.4, ("#ff0000ff",))
    await cache.put(key, stored)
    assert await RenderCache(nats_js).get(key, "stl") == stored  # another worker sees it too
    assert RENDER_CACHE.labels("stl", "hit")._value.get() == hits + 1
    assert RENDER_CACHE.labels("stl", "miss")._value.get() == misses + 1
