"""The storyboard's kinds of node, a module each: character, scene and shot."""

from __future__ import annotations

from services.canvas.kinds.character import CHARACTER
from services.canvas.kinds.scene import SCENE
from services.canvas.kinds.shot import SHOT
from services.canvas.nodetypes import NodeTypeRegistry

__all__ = ["CHARACTER", "DEFAULT_TYPES", "SCENE", "SHOT"]

DEFAULT_TYPES = NodeTypeRegistry([CHARACTER, SCENE, SHOT])
