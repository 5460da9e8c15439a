"""Execute, worked out: node keys, what is reused, and the jobs a graph becomes."""

from __future__ import annotations

import copy
from typing import Any

from services.canvas.compile import node_keys, node_output, plan
from services.canvas.graph import Graph
from services.canvas.validation import validate

REFERENCE = "a" * 64
BACKDROP = "b" * 64


def graph_of(data: dict[str, Any]) -> Graph:
    graph, problems = validate(data)
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


def test_a_nodes_result_is_assembled_from_its_jobs() -> None:
    outputs = {
        "ada/thumbnail/1": {"thumbnail": "2" * 64},
        "ada/thumbnail/0": {"thumbnail": "1" * 64},
        "adam/thumbnail/0": {"thumbnail": "9" * 64},  # another node's job
    }
    assert node_output("ada", outputs) == {"thumbnails": ["1" * 64, "2" * 64], "image": "1" * 64}
    render = {"png": "3" * 64, "glb": "4" * 64}
    assert node_output("yard", {"yard/render": render}) == {"render": render, "image": "3" * 64}
    assert node_output("s010", {"s010/frame": {"frame": "5" * 64}}) == {
        "frame": "5" * 64,
        "image": "5" * 64,
    }
