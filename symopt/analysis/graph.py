"""The dataflow graph of a program, as a `networkx.DiGraph`, for analysis and reports.

Nodes:

- ``("param", name)`` for every parameter, with ``role`` (``weight``,
  ``gradient``, ``state0``, ..., ``lr``, ``step``);
- ``("stmt", i)`` for the i-th statement, with ``fn``, ``target``, ``consts``
  (its constant arguments by position) and ``live``;
- ``("out", j)`` for the j-th returned value, with ``role`` (``update``,
  ``state0``, ...).

An edge ``u -> v`` with attribute ``pos`` (a tuple) says that v reads the
value u produced as its arguments number ``pos`` (``x * x`` reads one value at
positions ``(0, 1)``; outputs read at ``(0,)``). Dead
statements are in the graph (``live=False``): no path leads from them to an
output. The canonical hash does not use this graph (it is too slow for the
hot path); see `symopt.analysis.hashing`.

>>> from symopt import programs
>>> G = dataflow_graph(programs.load("lion"))
>>> G.nodes[("stmt", 0)]["fn"], G.nodes[("param", "m")]["role"]
('interp', 'state0')
>>> sorted(G.predecessors(("out", 1)))
[('stmt', 6)]
"""

from __future__ import annotations

import networkx as nx

from symopt.lang.dead_code import live_mask
from symopt.lang.model import Program


def output_roles(program: Program) -> list[str]:
    """The role of each returned value: ``update``, then ``state0``, ``state1``, ..."""
    return ["update"] + [f"state{i}" for i in range(len(program.returns) - 1)]


def dataflow_graph(program: Program) -> nx.DiGraph:
    """The dataflow graph of `program` (see the module docstring for its shape)."""
    G = nx.DiGraph()
    producer: dict[str, tuple] = {}
    node: tuple[str, str | int]
    for name, role in program.param_roles().items():
        node = ("param", name)
        G.add_node(node, kind="param", name=name, role=role)
        producer[name] = node
    for i, (s, live) in enumerate(zip(program.body, live_mask(program), strict=True)):
        node = ("stmt", i)
        consts = {pos: a for pos, a in enumerate(s.args) if not isinstance(a, str)}
        G.add_node(node, kind="stmt", fn=s.fn, target=s.target, consts=consts, live=live,
                   line=s.line)
        for pos, a in enumerate(s.args):
            if isinstance(a, str):
                # A statement may read the same value twice (`x * x`): keep every position.
                src = producer[a]
                if G.has_edge(src, node):
                    G.edges[src, node]["pos"] += (pos,)
                else:
                    G.add_edge(src, node, pos=(pos,))
        producer[s.target] = node
    for j, (name, role) in enumerate(zip(program.returns, output_roles(program), strict=True)):
        node = ("out", j)
        G.add_node(node, kind="out", name=name, role=role)
        G.add_edge(producer[name], node, pos=(0,))
    return G


def live_statements(G: nx.DiGraph) -> list[int]:
    """Indices of the statements from which an output can be reached, from the graph.

    An independent check of `live_mask`: reachability in the graph.

    >>> from symopt.lang import parse
    >>> p = parse("def train(w, g, lr):\\n    x = exp(g)\\n    u = g * lr\\n    return u")
    >>> live_statements(dataflow_graph(p))
    [1]
    """
    outs = [n for n, d in G.nodes(data=True) if d["kind"] == "out"]
    reach: set = set()
    for o in outs:
        reach |= nx.ancestors(G, o)
    return sorted(n[1] for n in reach if n[0] == "stmt")
