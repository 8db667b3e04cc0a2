"""What generated code calls besides its own statements: the helper functions and the
``_xp`` array namespace for torch.

Generated modules embed the helpers they call (`helper_source`, in a fixed order): the
registry's (`symopt.lang.registry.Function.py_helper`: protected division, cosine
similarity, global norms) and `_unzip`; `helpers_of` finds them in generated lines,
with the helpers those call. The registry's templates are written against ``jnp``, the
array API of `jax.numpy`; a torch module binds ``_xp`` to `TORCH_NAMESPACE`, a shim over
`torch` with the functions the templates and helpers call. Both are fixed source text of
symopt's, never program text.

>>> sorted(helpers_of(["u_ = _clip_by_global_norm(g_, 1.0)"]))
['_clip_by_global_norm', '_div', '_global_norm']
>>> print(helper_source({"_unzip"}).splitlines()[0])
def _unzip(outs, n):
"""

from __future__ import annotations

from symopt.lang.registry import FUNCTIONS

#: Helper functions generated code may call, by name: backend-neutral (over ``_xp``).
#: The registry's entries carry theirs (`Function.py_helper`: protected division, cosine
#: similarity with the registry's `EPS`, global norms); `_unzip` is the code generator's.
HELPERS = {f"_{f.name}": f.py_helper for f in FUNCTIONS.values() if f.py_helper} | {
    "_unzip": '''
def _unzip(outs, n):
    """Per-leaf results [(a, b, ...), ...] as `n` lists of leaves ([a, ...], [b, ...], ...)."""
    if not outs:
        return _builtins.tuple([] for _ in _builtins.range(n))
    return _builtins.tuple(_builtins.list(c) for c in _builtins.zip(*outs))
''',
}
#: The other helpers each helper calls.
_HELPER_DEPS = {h: tuple(d for d in HELPERS if d != h and d + "(" in src)
                for h, src in HELPERS.items()}

#: `_xp` for torch: the `jax.numpy` functions the registry's templates and the helpers call.
#: Python numbers stay Python numbers (computed in float64 through torch, so domain errors
#: give nan/inf as in jax.numpy); a number meeting a tensor takes the tensor's dtype.
TORCH_NAMESPACE = '''
class _xp:
    """The subset of `jax.numpy` that generated code calls, over torch tensors."""

    float32 = torch.float32

    @_builtins.staticmethod
    def _num(x):
        return _builtins.isinstance(x, (_builtins.int, _builtins.float))

    @_builtins.staticmethod
    def _unary(fn, x):
        if _xp._num(x):
            return _builtins.float(fn(torch.tensor(x, dtype=torch.float64)))
        return fn(x)

    @_builtins.staticmethod
    def _binary(fn, x, y):
        if _xp._num(x) and _xp._num(y):
            return _builtins.float(fn(torch.tensor(x, dtype=torch.float64),
                                      torch.tensor(y, dtype=torch.float64)))
        if _xp._num(x):
            x = torch.tensor(x, dtype=y.dtype, device=y.device)
        elif _xp._num(y):
            y = torch.tensor(y, dtype=x.dtype, device=x.device)
        return fn(x, y)

    @_builtins.staticmethod
    def _cbrt(x):
        return torch.sign(x) * torch.abs(x) ** (1.0 / 3.0)

    @_builtins.staticmethod
    def astype(x, dtype):
        return x if _xp._num(x) else x.to(dtype)

    @_builtins.staticmethod
    def asarray(x, dtype=None):
        return torch.as_tensor(x, dtype=dtype)

    @_builtins.staticmethod
    def where(c, x, y):
        return torch.where(c, x, y)

    @_builtins.staticmethod
    def zeros_like(x):
        return torch.zeros_like(x)

    @_builtins.staticmethod
    def ones_like(x):
        return torch.ones_like(x)

    @_builtins.staticmethod
    def sum(x):
        return x if _xp._num(x) else torch.sum(x)

    @_builtins.staticmethod
    def clip(x, lo, hi):
        if _xp._num(x) and _xp._num(lo) and _xp._num(hi):
            return _builtins.min(_builtins.max(x, lo), hi)
        if _xp._num(x):
            x = torch.tensor(x, dtype=torch.float64)
        if _xp._num(lo) and _xp._num(hi):
            return torch.clamp(x, lo, hi)
        lo, hi = (torch.as_tensor(v, dtype=x.dtype, device=x.device) for v in (lo, hi))
        return torch.clamp(x, lo, hi)


for _name, _fn in (("abs", torch.abs), ("cos", torch.cos), ("sin", torch.sin),
                   ("tan", torch.tan), ("arcsin", torch.arcsin), ("arccos", torch.arccos),
                   ("arctan", torch.arctan), ("sinh", torch.sinh), ("cosh", torch.cosh),
                   ("tanh", torch.tanh), ("arcsinh", torch.arcsinh),
                   ("arccosh", torch.arccosh), ("arctanh", torch.arctanh),
                   ("exp", torch.exp), ("exp2", torch.exp2), ("expm1", torch.expm1),
                   ("log", torch.log), ("log10", torch.log10), ("log2", torch.log2),
                   ("log1p", torch.log1p), ("square", torch.square), ("sqrt", torch.sqrt),
                   ("cbrt", _xp._cbrt), ("sign", torch.sign), ("negative", torch.negative)):
    _builtins.setattr(_xp, _name, _builtins.staticmethod(
        lambda x, _fn=_fn: _xp._unary(_fn, x)))
for _name, _fn in (("maximum", torch.maximum), ("minimum", torch.minimum),
                   ("power", torch.pow)):
    _builtins.setattr(_xp, _name, _builtins.staticmethod(
        lambda x, y, _fn=_fn: _xp._binary(_fn, x, y)))
'''


def helpers_of(exprs) -> set[str]:
    """The helpers that the given lines of generated code call, with those they call."""
    helpers = {h for e in exprs for h in HELPERS if h + "(" in e}
    for h in list(helpers):
        helpers.update(_HELPER_DEPS.get(h, ()))
    return helpers


def helper_source(helpers) -> str:
    """The source of the given helpers, in a fixed order."""
    return "\n\n".join(HELPERS[h].strip("\n") for h in HELPERS if h in helpers) + "\n"
