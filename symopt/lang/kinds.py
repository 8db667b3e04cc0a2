"""Value kinds for abstract type checking: `Scalar < LeafScalar < Tensor`.

A `Scalar` is one number for the whole parameter tree (a constant, `lr`,
`global_norm(g)`); a `LeafScalar` is one number per parameter tensor
(`norm(g)`); a `Tensor` is shaped like the parameters. Kinds broadcast upward:
`Scalar * Tensor` is a `Tensor`.
"""

from __future__ import annotations

from enum import IntEnum


class Kind(IntEnum):
    """The kind of a value; ordered so that `max` gives the broadcast kind.

    >>> max(Kind.SCALAR, Kind.TENSOR).name
    'TENSOR'
    """

    SCALAR = 0
    LEAF_SCALAR = 1
    TENSOR = 2

    @property
    def label(self) -> str:
        return {0: "Scalar", 1: "LeafScalar", 2: "Tensor"}[int(self)]
