"""The character: a person or creature who appears in shots. Executing one thumbnails each of
its reference images; the first thumbnail is its card in the frames it appears in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from libs.jobs import IMAGE_FIELD
from services.canvas.graph import Node
from services.canvas.kinds.schema import blob_id, object_of, text
from services.canvas.nodetypes import Made, NodeJob, NodeType, Port, declared_image

__all__ = ["CHARACTER", "THUMBNAIL_SIZE"]

THUMBNAIL_SIZE: Final = 512  # character cards are drawn at most about this big
_STEP: Final = "thumbnail/"  # then the reference image's index


def _compile(node: Node, inputs: Mapping[str, list[Made]]) -> list[NodeJob]:
    """Each reference image thumbnailed, in order."""
    return [
        NodeJob(
            f"{node.id}/{_STEP}{index}",
            "image.thumbnail",
            {"blob": blob, "size": THUMBNAIL_SIZE, "format": "png"},
        )
        for index, blob in enumerate(node.properties.get("reference_images", []))
    ]


def _result(steps: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The thumbnails in the references' order; the first is the character's image."""
    order = sorted(steps, key=lambda step: int(step.removeprefix(_STEP)))
    thumbnails = [declared_image(steps[step], step) for step in order]
    return {"thumbnails": thumbnails, IMAGE_FIELD: thumbnails[0]}


CHARACTER = NodeType(
    name="character",
    title="Character",
    description="A person or creature who appears in shots.",
    properties=object_of(
        "A character's look, in words and reference images.",
        {
            "name": text("What the character is called.", 200, min_length=1),
            "description": text("Appearance and costume, as the image model reads it.", 4000),
            "reference_images": {
                "type": "array",
                "description": "Uploaded images of the character.",
                "maxItems": 20,
                "uniqueItems": True,
                "items": blob_id("An uploaded image's blob id."),
            },
            "lora": object_of(
                "A LoRA adapter trained on this character.",
                {
                    "name": text("The adapter's name.", 200, min_length=1),
                    "weight": {
                        "type": "number",
                        "description": "How strongly the adapter applies.",
                        "minimum": -2,
                        "maximum": 2,
                        "default": 1.0,
                    },
                },
                required=["name"],
            ),
            "attributes": {
                "type": "object",
                "description": "Free-form traits, such as hair colour or height.",
                "maxProperties": 50,
                "propertyNames": {"minLength": 1, "maxLength": 100},
                "additionalProperties": {"type": "string", "maxLength": 500},
            },
        },
        required=["name"],
    ),
    outputs=(Port("character", "character"),),
    compile=_compile,
    result=_result,
)
