"""Cheap synthetic tasks for tests and quick searches (well under a second each).

- ``quadratic``: an ill-conditioned quadratic bowl with noisy gradients.
- ``rosenbrock``: the n-dimensional Rosenbrock valley, started from the classic (-1.2, 1).
- ``logreg``: logistic regression on generated, linearly separable-ish data.
- ``mlp``: a small flax MLP fit to a random teacher network (regression).

All data come from fixed numpy seeds, so every task is the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from symopt.tasks.base import Task, cross_entropy


@dataclass(eq=False, kw_only=True)
class Quadratic(Task):
    """``0.5 Σ h_i (x_i - x*_i)^2`` with curvatures ``h`` log-spaced over ``condition``.

    >>> t = Quadratic(dim=4)
    >>> import jax
    >>> float(t.val_loss(t.data["target"], t.data)) == 0.0
    True
    """

    name: str = "quadratic"
    dim: int = 32
    condition: float = 100.0
    noise: float = 0.1
    base_lr: float = 0.05
    steps: int = 100
    warmup_steps: int = 5

    def load_data(self):
        rng = np.random.default_rng(0)
        curv = np.logspace(0, np.log10(self.condition), self.dim) / self.condition
        return {"curv": jnp.asarray(curv, jnp.float32),
                "target": jnp.asarray(rng.normal(size=self.dim), jnp.float32)}

    def init_params(self, key):
        return jax.random.normal(key, (self.dim,)) * 0.5

    def train_batch(self, data, key):
        return {"x_star": data["target"], "noise": self.noise * jax.random.normal(key, (self.dim,)),
                "curv": data["curv"]}

    def loss(self, params, batch):
        d = params - batch["x_star"]
        return 0.5 * jnp.sum(batch["curv"] * d * d) + jnp.dot(batch["noise"], d)

    def val_loss(self, params, data):
        d = params - data["target"]
        return 0.5 * jnp.sum(data["curv"] * d * d)


@dataclass(eq=False, kw_only=True)
class Rosenbrock(Task):
    """``Σ 100 (x_{i+1} - x_i²)² + (1 - x_i)²``; the minimum 0 is at all ones.

    >>> t = Rosenbrock(dim=3)
    >>> float(t.val_loss(jnp.ones(3), t.data))
    0.0
    """

    name: str = "rosenbrock"
    dim: int = 2
    base_lr: float = 0.02
    steps: int = 200
    warmup_steps: int = 10
    diverge_ratio: float = 1e4

    def init_params(self, key):
        start = jnp.tile(jnp.array([-1.2, 1.0]), (self.dim + 1) // 2)[: self.dim]
        return start + 0.01 * jax.random.normal(key, (self.dim,))

    def train_batch(self, data, key):
        return ()

    def loss(self, params, batch):
        x = params
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def val_loss(self, params, data):
        return self.loss(params, ())


def _gaussian_classes(n, dim, rng, w):
    x = rng.normal(size=(n, dim)).astype(np.float32)
    logits = x @ w
    y = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(np.int32)
    return x, y


@dataclass(eq=False, kw_only=True)
class LogisticRegression(Task):
    """Binary logistic regression on generated data; val loss = held-out cross-entropy.

    >>> t = LogisticRegression()
    >>> t.data["x_train"].shape, t.data["x_val"].shape
    ((1024, 16), (512, 16))
    """

    name: str = "logreg"
    dim: int = 16
    n_train: int = 1024
    n_val: int = 512
    batch_size: int = 64
    base_lr: float = 0.05
    steps: int = 150
    warmup_steps: int = 5

    def load_data(self):
        rng = np.random.default_rng(1)
        w = rng.normal(size=self.dim).astype(np.float32) * 1.5
        xt, yt = _gaussian_classes(self.n_train, self.dim, rng, w)
        xv, yv = _gaussian_classes(self.n_val, self.dim, rng, w)
        return {"x_train": jnp.asarray(xt), "y_train": jnp.asarray(yt),
                "x_val": jnp.asarray(xv), "y_val": jnp.asarray(yv)}

    def init_params(self, key):
        return {"w": jnp.zeros((self.dim, 2)), "b": jnp.zeros((2,))}

    def train_batch(self, data, key):
        idx = jax.random.randint(key, (self.batch_size,), 0, data["x_train"].shape[0])
        return data["x_train"][idx], data["y_train"][idx]

    def loss(self, params, batch):
        x, y = batch
        return cross_entropy(x @ params["w"] + params["b"], y)

    def val_loss(self, params, data):
        return self.loss(params, (data["x_val"], data["y_val"]))


class _MLP(nn.Module):
    width: int
    depth: int
    out: int

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = nn.tanh(nn.Dense(self.width)(x))
        return nn.Dense(self.out)(x)


@dataclass(eq=False, kw_only=True)
class MLPRegression(Task):
    """A 2-hidden-layer MLP fit to a fixed random teacher MLP (mean squared error).

    >>> t = MLPRegression()
    >>> t.data["y_val"].shape
    (512, 1)
    """

    name: str = "mlp"
    dim: int = 8
    width: int = 32
    depth: int = 2
    n_train: int = 2048
    n_val: int = 512
    batch_size: int = 64
    base_lr: float = 3e-3
    steps: int = 200
    warmup_steps: int = 10

    def _model(self):
        return _MLP(self.width, self.depth, 1)

    def load_data(self):
        rng = np.random.default_rng(2)
        teacher = _MLP(16, 2, 1)
        x = rng.normal(size=(self.n_train + self.n_val, self.dim)).astype(np.float32)
        tp = teacher.init(jax.random.PRNGKey(1234), x[:1])
        tp = jax.tree_util.tree_map(lambda p: p * 2.0, tp)
        y = np.asarray(teacher.apply(tp, x))
        y = (y - y.mean()) / (y.std() + 1e-6)
        n = self.n_train
        return {"x_train": jnp.asarray(x[:n]), "y_train": jnp.asarray(y[:n]),
                "x_val": jnp.asarray(x[n:]), "y_val": jnp.asarray(y[n:])}

    def init_params(self, key):
        return self._model().init(key, jnp.zeros((1, self.dim)))

    def train_batch(self, data, key):
        idx = jax.random.randint(key, (self.batch_size,), 0, data["x_train"].shape[0])
        return data["x_train"][idx], data["y_train"][idx]

    def loss(self, params, batch):
        x, y = batch
        return jnp.mean((self._model().apply(params, x) - y) ** 2)

    def val_loss(self, params, data):
        return self.loss(params, (data["x_val"], data["y_val"]))

