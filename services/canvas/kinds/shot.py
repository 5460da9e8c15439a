"""The shot: one storyboard frame of a scene with the characters in it. Executing one composes
the frame once its scene's backdrop and its characters' cards are made."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from libs.jobs import IMAGE_FIELD
from libs.storyboard import (
    ANGLES,
    FRAMINGS,
    MAX_CHARACTERS,
    MAX_DURATION_S,
    MAX_TITLE_CHARS,
    MIN_DURATION_S,
)
from services.canvas.graph import Node
from services.canvas.kinds.schema import choice, object_of, text
from services.canvas.nodetypes import Made, NodeJob, NodeType, Port, declared_image

__all__ = ["FRAME_SIZE", "SHOT"]

FRAME_SIZE: Final = (1280, 720)


def _compile(node: Node, inputs: Mapping[str, list[Made]]) -> list[NodeJob]:
    """The storyboard frame: the scene's backdrop (its image, else its set piece's render),
    each character's card, graded by the scene's lighting and mood."""
    scenes = inputs.get("scene", [])
    if not scenes:
        return []
    scene = scenes[0]
    backdrop = scene.node.properties.get("backdrop") or scene.image()
    if backdrop is None:
        return []
    characters = [c.image() for c in inputs.get("characters", [])]
    refs = [image for image in characters if image is not None]
    job_input = {
        "backdrop": backdrop,
        "characters": refs,
        "framing": node.properties["framing"],
        "angle": node.properties.get("camera_angle", "eye-level"),
        "lighting": scene.node.properties.get("lighting", "day"),
        "mood": scene.node.properties.get("mood", "neutral"),
        "title": node.properties["name"],
        "duration_s": node.properties["duration_s"],
        "size": list(FRAME_SIZE),
    }
    depends_on = tuple(ref["from"] for ref in (backdrop, *refs) if isinstance(ref, dict))
    return [NodeJob(f"{node.id}/frame", "image.frame", job_input, depends_on)]


def _result(steps: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The frame, which is also the shot's image."""
    frame = declared_image(steps["frame"], "frame")
    return {"frame": frame, IMAGE_FIELD: frame}


SHOT = NodeType(
    name="shot",
    title="Shot",
    description="One storyboard frame: a scene, the characters in it and the camera.",
    properties=object_of(
        "How the shot is framed and how long it lasts.",
        {
            "name": text("The shot's caption.", MAX_TITLE_CHARS, min_length=1),
            "camera_angle": choice("Where the camera looks from.", ANGLES, "eye-level"),
            "framing": choice("How much of the scene the frame holds.", FRAMINGS),
            "duration_s": {
                "type": "number",
                "description": "How long the shot lasts, in seconds.",
                "minimum": MIN_DURATION_S,
                "maximum": MAX_DURATION_S,
            },
            "notes": text("Directions for whoever draws or films it.", 4000),
        },
        required=["name", "framing", "duration_s"],
    ),
    inputs=(
        Port("characters", "character", min=0, max=MAX_CHARACTERS),
        Port("scene", "scene", min=1, max=1),
    ),
    outputs=(Port("frame", "image"),),
    compile=_compile,
    result=_result,
)
