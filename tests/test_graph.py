"""The dataflow graph and dead code, checked against each other and by hand."""

from __future__ import annotations

import networkx as nx
import pytest
from paths import PROGRAM_FILES, local_program

from symopt.analysis import dataflow_graph, live_mask, redundant_fraction, remove_dead
from symopt.analysis.graph import live_statements
from symopt.lang import parse, parse_file

FILES = PROGRAM_FILES + [local_program("lion_raw.prog")]


@pytest.mark.parametrize("path", FILES)
def test_graph_reachability_agrees_with_live_mask(path):
    p = parse_file(path)
    G = dataflow_graph(p)
    assert nx.is_directed_acyclic_graph(G)
    assert live_statements(G) == [i for i, live in enumerate(live_mask(p)) if live]
    assert sum(1 for _, d in G.nodes(data=True) if d["kind"] == "stmt") == len(p.body)


def test_graph_edges_follow_the_latest_assignment():
    p = parse("def train(w, g, lr):\n    x = g * 2.0\n    x = x * x\n    u = x * lr\n"
              "    return u")
    G = dataflow_graph(p)
    assert G.edges[("param", "g"), ("stmt", 0)]["pos"] == (0,)
    assert G.edges[("stmt", 0), ("stmt", 1)]["pos"] == (0, 1)  # `x * x` reads one value twice
    assert G.edges[("param", "lr"), ("stmt", 2)]["pos"] == (1,)
    assert G.nodes[("stmt", 0)]["consts"] == {1: 2.0}
    assert list(G.predecessors(("out", 0))) == [("stmt", 2)]


def test_lion_raw_dead_code_by_hand():
    p = parse_file(local_program("lion_raw.prog"))
    dead = [s.target for s, live in zip(p.body, live_mask(p), strict=True) if not live]
    # noise (twice), z (twice), v (twice) never reach an output.
    assert sorted(dead) == ["noise", "noise", "v", "v", "z", "z"]
    assert redundant_fraction(p) == pytest.approx(6 / 25)
    q = remove_dead(p)
    assert len(q.body) == 19 and all(live_mask(q))


def test_overwritten_before_use_is_dead():
    p = parse("def train(w, g, lr):\n    u = exp(g)\n    u = g * lr\n    return u")
    assert live_mask(p) == (False, True)
    assert not dataflow_graph(p).nodes[("stmt", 0)]["live"]
