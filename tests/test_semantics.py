"""symopt.lang.semantics: one interpreter of the registry's implementations, for NumPy
(the fingerprint) and JAX (the compiler) alike."""

import jax.numpy as jnp
import numpy as np
import pytest

from symopt import programs
from symopt.compile import update_fn
from symopt.lang import typed
from symopt.lang.semantics import statement_ops


@pytest.mark.parametrize("name", programs.names())
def test_numpy_run_matches_the_jax_compiler(name):
    p = programs.load(name)
    rng = np.random.default_rng(0)
    shapes = [(3, 2), (4,)]
    w = [rng.normal(size=s).astype(np.float32) for s in shapes]
    g = [rng.normal(size=s).astype(np.float32) for s in shapes]
    state = tuple([rng.normal(size=s).astype(np.float32) for s in shapes]
                  for _ in range(p.n_state))
    upd, new_state = update_fn(p)([jnp.asarray(x) for x in w], [jnp.asarray(x) for x in g],
                                  tuple([jnp.asarray(x) for x in s] for s in state), 0.01, 3)
    env = {p.params[0]: w, p.params[1]: g, p.lr_name: 0.01}
    env.update(zip(p.state_names, state))
    if p.has_step:
        env["step"] = 3.0
    for op in statement_ops(typed(p), np, lift=np.float32):
        op(env, [np.dtype(np.float32)] * len(shapes))
    for ours, theirs in zip([env[r] for r in p.returns], [upd, *new_state], strict=True):
        for a, b in zip(ours, theirs, strict=True):
            assert np.asarray(a).dtype == np.float32
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
