"""Execute, worked out: node keys, what is reused, and the jobs a graph becomes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from services.canvas.compile import node_keys, node_output, plan
from services.canvas.graph import Graph, Node
from services.canvas.kinds import CHARACTER, DEFAULT_TYPES, SCENE, SHOT
from services.canvas.nodetypes import (
    Made,
    MissingOutput,
    NodeJob,
    NodeType,
    NodeTypeRegistry,
    Port,
)
from services.canvas.validation import validate

REFERENCE = "a" * 64
BACKDROP = "b" * 64


def graph_of(data: dict[str, Any], registry: NodeTypeRegistry = DEFAULT_TYPES) -> Graph:
    graph, problems = validate(data, registry)
    assert graph is not None and not problems, problems
    return graph


def storyboard(**shot: Any) -> dict[str, Any]:
    def node(node_id: str, kind: str, properties: dict[str, Any]) -> dict[str, Any]:
        return {"id": node_id, "type": kind, "position": {"x": 0, "y": 0}, "properties": properties}

    def edge(source: str, port: str, target: str, target_port: str) -> dict[str, str]:
        return {"source": source, "source_port": port, "target": target, "target_port": target_port}

    return {
        "nodes": [
            node("ada", "character", {"name": "Ada", "reference_images": [REFERENCE]}),
            node("bo", "character", {"name": "Bo"}),  # no references: nothing to thumbnail
            node(
                "yard",
                "scene",
                {"location": "Yard", "mood": "noir", "set_piece": {"source": "cube(1);"}},
            ),
            node("s010", "shot", {"name": "Enter", "framing": "wide", "duration_s": 2, **shot}),
        ],
        "edges": [
            edge("ada", "character", "s010", "characters"),
            edge("bo", "character", "s010", "characters"),
            edge("yard", "scene", "s010", "scene"),
        ],
    }


def test_a_node_key_changes_with_its_properties_and_everything_upstream() -> None:
    base = node_keys(graph_of(storyboard()))
    assert base == node_keys(graph_of(storyboard())), "deterministic"
    assert len(set(base.values())) == 4

    longer = node_keys(graph_of(storyboard(duration_s=5)))
    assert [n for n in base if base[n] != longer[n]] == ["s010"]

    moved = storyboard()
    moved["nodes"][2]["position"] = {"x": 300, "y": 40}  # layout is not content
    assert node_keys(graph_of(moved)) == base

    recoloured = storyboard()
    recoloured["nodes"][2]["properties"]["set_piece"]["values"] = {"wall": "red"}
    changed = node_keys(graph_of(recoloured))
    assert {n for n in base if base[n] != changed[n]} == {"yard", "s010"}, "and downstream"


def test_a_first_run_makes_every_node_with_the_frame_waiting_for_its_inputs() -> None:
    made = plan(graph_of(storyboard()), {})
    assert made.cached == {} and made.idle == ("bo",)
    jobs = {job.key: job for job in made.batch}
    assert set(jobs) == {"ada/thumbnail/0", "yard/render", "s010/frame"}
    assert jobs["ada/thumbnail/0"].input == {"blob": REFERENCE, "size": 512, "format": "png"}
    assert jobs["yard/render"].function == "render.scad"
    frame = jobs["s010/frame"]
    assert frame.function == "image.frame"
    assert frame.input["backdrop"] == {"from": "yard/render"}
    assert frame.input["characters"] == [{"from": "ada/thumbnail/0"}], "Bo has no card"
    assert (frame.input["mood"], frame.input["title"]) == ("noir", "Enter")
    assert set(frame.depends_on) == {"yard/render", "ada/thumbnail/0"}


def test_kept_results_make_nodes_cached_and_feed_what_runs_again() -> None:
    graph = graph_of(storyboard())
    keys = node_keys(graph)
    results: dict[str, dict[str, Any]] = {
        keys["ada"]: {"thumbnails": ["c" * 64], "image": "c" * 64},
        keys["yard"]: {"render": {"png": "d" * 64}, "image": "d" * 64},
        keys["s010"]: {"frame": "e" * 64, "image": "e" * 64},
    }
    assert plan(graph, results).batch == [], "nothing changed: nothing to run"

    longer = graph_of(storyboard(duration_s=6))
    again = plan(longer, results)
    assert set(again.cached) == {"ada", "yard"}
    (frame,) = again.batch
    assert frame.input["backdrop"] == "d" * 64 and frame.input["characters"] == ["c" * 64]
    assert frame.depends_on == (), "its inputs are made already"


def test_a_scene_backdrop_needs_no_render() -> None:
    data = copy.deepcopy(storyboard())
    data["nodes"][2]["properties"] = {"location": "Yard", "backdrop": BACKDROP}
    made = plan(graph_of(data), {})
    assert "yard" in made.idle
    frame = next(job for job in made.batch if job.key == "s010/frame")
    assert frame.input["backdrop"] == BACKDROP


def test_a_nodes_result_is_assembled_from_its_jobs_by_its_type() -> None:
    outputs = {
        "ada/thumbnail/1": {"thumbnail": "2" * 64, "image": "2" * 64},
        "ada/thumbnail/0": {"thumbnail": "1" * 64, "image": "1" * 64},
        "adam/thumbnail/0": {"thumbnail": "9" * 64, "image": "9" * 64},  # another node's job
    }
    assert node_output(CHARACTER, "ada", outputs) == {
        "thumbnails": ["1" * 64, "2" * 64],
        "image": "1" * 64,
    }
    render = {"png": "3" * 64, "glb": "4" * 64, "colours": ["#ff0000ff"], "cached": []}
    assert node_output(SCENE, "yard", {"yard/render": {**render, "image": "3" * 64}}) == {
        "render": render,  # as the API has always shown it: the image is the scene's own
        "image": "3" * 64,
    }
    frame = {"frame": "5" * 64, "image": "5" * 64, "width": 1280, "height": 720}
    assert node_output(SHOT, "s010", {"s010/frame": frame}) == {
        "frame": "5" * 64,
        "image": "5" * 64,
    }


@pytest.mark.parametrize(
    ("node_type", "node_id", "outputs"),
    [
        (CHARACTER, "ada", {"ada/thumbnail/0": {"thumbnail": "1" * 64}}),
        (SCENE, "yard", {"yard/render": {"png": "3" * 64, "glb": "4" * 64}}),
        (SHOT, "s010", {"s010/frame": {"frame": "5" * 64}}),
    ],
    ids=["thumbnail-declaring-no-image", "render-declaring-no-image", "frame-declaring-no-image"],
)
def test_a_result_is_never_guessed_from_an_output_that_declares_no_image(
    node_type: NodeType, node_id: str, outputs: dict[str, dict[str, Any]]
) -> None:
    with pytest.raises(MissingOutput, match="declared no 'image'"):
        node_output(node_type, node_id, outputs)


# --- a new kind of node: one entry, and the engine as it is ------------------------------------


def _mix(node: Node, inputs: Mapping[str, list[Made]]) -> list[NodeJob]:
    """The track laid under the frames wired into the node."""
    frames = [made.image() for made in inputs.get("frames", [])]
    depends_on = tuple(frame["from"] for frame in frames if isinstance(frame, dict))
    job_input = {"track": node.properties["track"], "frames": frames}
    return [NodeJob(f"{node.id}/mix", "audio.mix", job_input, depends_on)]


AUDIO = NodeType(
    "audio",
    "Audio",
    "Sound laid under frames.",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["track"],
        "properties": {"track": {"type": "string", "maxLength": 64}},
    },
    inputs=(Port("frames", "image", min=1),),
    compile=_mix,
    result=lambda steps: {"mix": steps["mix"]["audio"], "image": steps["mix"]["waveform"]},
)
WITH_AUDIO = NodeTypeRegistry([*DEFAULT_TYPES, AUDIO])


def scored(**shot: Any) -> dict[str, Any]:
    """The storyboard with its shot's frame scored."""
    data = storyboard(**shot)
    score = {"track": "theme"}
    data["nodes"].append(
        {"id": "score", "type": "audio", "position": {"x": 600, "y": 0}, "properties": score}
    )
    data["edges"].append(
        {"source": "s010", "source_port": "frame", "target": "score", "target_port": "frames"}
    )
    return data


def test_a_new_kind_compiles_and_assembles_its_result_from_its_own_entry() -> None:
    graph = graph_of(scored(), WITH_AUDIO)

    first = plan(graph, {}, WITH_AUDIO)
    (mix,) = first.jobs["score"]
    assert (mix.key, mix.function) == ("score/mix", "audio.mix")
    assert mix.input == {"track": "theme", "frames": [{"from": "s010/frame"}]}
    assert mix.depends_on == ("s010/frame",), "it waits for the frame it is laid under"

    keys = node_keys(graph)
    made = {keys["s010"]: {"frame": "e" * 64, "image": "e" * 64}}
    assert plan(graph, made, WITH_AUDIO).jobs["score"][0].input["frames"] == ["e" * 64]

    outputs = {"score/mix": {"audio": "f" * 64, "waveform": "0" * 64}}
    assert node_output(AUDIO, "score", outputs) == {"mix": "f" * 64, "image": "0" * 64}


def test_a_kind_without_a_compiler_makes_nothing() -> None:
    silent = NodeType("audio", "Audio", "", AUDIO.properties, inputs=AUDIO.inputs)
    graph = graph_of(scored(), NodeTypeRegistry([*DEFAULT_TYPES, silent]))

    made = plan(graph, {}, NodeTypeRegistry([*DEFAULT_TYPES, silent]))

    assert "score" in made.idle and "score" not in made.jobs
    assert node_output(silent, "score", {}) == {}


def test_a_compiler_making_another_nodes_jobs_is_a_bug_caught_at_once() -> None:
    def stray(node: Node, inputs: Mapping[str, list[Made]]) -> list[NodeJob]:
        return [NodeJob("s010/mix", "audio.mix", {})]

    wrong = NodeType(
        "audio",
        "Audio",
        "",
        AUDIO.properties,
        inputs=AUDIO.inputs,
        compile=stray,
        result=lambda steps: {},
    )
    registry = NodeTypeRegistry([*DEFAULT_TYPES, wrong])

    with pytest.raises(ValueError, match="compiled jobs of another node"):
        plan(graph_of(scored(), registry), {}, registry)
