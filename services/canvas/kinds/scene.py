"""The scene: where shots take place, with its light, mood and set. Executing one renders its
set piece (an OpenSCAD program) with its colours: a PNG to stage shots in and a GLB to view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from libs.jobs import IMAGE_FIELD
from libs.setpieces import MAX_SOURCE_BYTES, source_too_large
from libs.storyboard import LIGHTING, MOODS
from services.canvas.graph import Graph, Node, Problem
from services.canvas.kinds.schema import blob_id, choice, object_of, text
from services.canvas.kinds.shot import SHOT
from services.canvas.nodetypes import Made, NodeJob, NodeType, Port, declared_image

__all__ = ["RENDER_VIEW", "SCENE", "TIMES_OF_DAY"]

TIMES_OF_DAY: Final = ("dawn", "morning", "midday", "afternoon", "dusk", "night")
RENDER_VIEW: Final = {"width": 1280, "height": 720}


def _needs_a_set(node: Node, graph: Graph) -> list[Problem]:
    """A scene that feeds a shot must give the shot something to stand in."""
    if "backdrop" in node.properties or "set_piece" in node.properties:
        return []
    targets = (graph.node(edge.target) for edge in graph.edges_from(node.id))
    if not any(target is not None and target.type == SHOT.name for target in targets):
        return []
    return [
        Problem(
            kind="required_property",
            message="a scene that feeds a shot needs a backdrop image or a set piece",
            node=node.id,
            field="backdrop",
        )
    ]


def _set_piece_fits(node: Node, graph: Graph) -> list[Problem]:
    """The set piece's source is within the renderer's limit, counted in bytes as it will be.

    A source of more characters than the limit already breaks the schema's ``maxLength`` (and
    is reported once, there); this catches one whose multi-byte characters take it over.
    """
    set_piece = node.properties.get("set_piece")
    source = set_piece.get("source") if isinstance(set_piece, dict) else None
    if not isinstance(source, str) or len(source) > MAX_SOURCE_BYTES:
        return []
    too_large = source_too_large(source)
    if too_large is None:
        return []
    return [
        Problem(
            "invalid_property", f"set_piece.source: {too_large}", node.id, field="set_piece.source"
        )
    ]


def _compile(node: Node, inputs: Mapping[str, list[Made]]) -> list[NodeJob]:
    """The set piece rendered with its colours; nothing for a scene without one."""
    set_piece = node.properties.get("set_piece")
    if not set_piece:
        return []
    job_input: dict[str, Any] = {
        "source": set_piece["source"],
        "parameters": set_piece.get("values", {}),
        "formats": ["png", "glb"],
        "view": RENDER_VIEW,
    }
    if set_piece.get("parameter_set"):
        job_input["parameter_set"] = set_piece["parameter_set"]
    return [NodeJob(f"{node.id}/render", "render.scad", job_input)]


def _result(steps: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The render's files and colours; its PNG is the scene's image."""
    render = steps["render"]
    # The render's image is told once, as the scene's own.
    files = {name: value for name, value in render.items() if name != IMAGE_FIELD}
    return {"render": files, IMAGE_FIELD: declared_image(render, "render")}


SCENE = NodeType(
    name="scene",
    title="Scene",
    description="Where shots take place: a location with its light, mood and set.",
    properties=object_of(
        "A place, its light and what stands in it.",
        {
            "location": text("Where the scene is, such as 'a lighthouse'.", 200, min_length=1),
            "environment": text("What surrounds the action, in words.", 2000),
            "time_of_day": choice("When the scene happens.", TIMES_OF_DAY),
            "lighting": choice("The light the frames are drawn in.", LIGHTING, "day"),
            "mood": choice("The colour mood of the frames.", MOODS, "neutral"),
            "backdrop": blob_id("An uploaded background image's blob id."),
            "set_piece": object_of(
                "A 3D set, as an OpenSCAD program rendered behind the characters.",
                {
                    # In characters, a bound for forms; the limit is in bytes (_set_piece_fits).
                    "source": text(
                        f"The OpenSCAD program, at most {MAX_SOURCE_BYTES} bytes of UTF-8.",
                        MAX_SOURCE_BYTES,
                        min_length=1,
                    ),
                    "values": {
                        "type": "object",
                        "description": "Customizer values, by parameter name.",
                        "propertyNames": {"minLength": 1, "maxLength": 200},
                        # Each keyword applies only to its own type: strings of up to 1000
                        # characters, vectors of up to 16 numbers.
                        "additionalProperties": {
                            "type": ["number", "string", "boolean", "array"],
                            "maxLength": 1000,
                            "maxItems": 16,
                            "items": {"type": "number"},
                        },
                    },
                    "parameter_set": text("A parameter set of the program to start from.", 200),
                },
                required=["source"],
            ),
        },
        required=["location"],
    ),
    outputs=(Port("scene", "scene"),),
    rules=(_needs_a_set, _set_piece_fits),
    compile=_compile,
    result=_result,
)
