"""``vit-tiny``: a small Vision Transformer on scikit-learn's 8x8 digits (ships offline).

1,797 images of 10 digits, split once with a fixed permutation into 1,438 for training and
359 for validation. Images are cut into 2x2 patches (16 tokens), embedded to width 32, and
go through 2 pre-LN transformer blocks; the class comes from the mean token.
"""

from __future__ import annotations

from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from symopt.tasks.base import Task, cross_entropy
from symopt.tasks.layers import INIT


class _EncoderBlock(nn.Module):
    width: int
    heads: int

    @nn.compact
    def __call__(self, x):
        h = nn.LayerNorm()(x)
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, kernel_init=INIT)(h, h)
        h = nn.LayerNorm()(x)
        h = nn.gelu(nn.Dense(2 * self.width, kernel_init=INIT)(h))
        return x + nn.Dense(self.width, kernel_init=INIT)(h)


class ViT(nn.Module):
    """Patch embedding + learned positions + encoder blocks + mean-pool classifier."""

    patch: int
    width: int
    layers: int
    heads: int
    classes: int

    @nn.compact
    def __call__(self, images):  # (B, H, W) in [0, 1]
        b, hh, ww = images.shape
        p = self.patch
        x = images.reshape(b, hh // p, p, ww // p, p).transpose(0, 1, 3, 2, 4)
        x = x.reshape(b, (hh // p) * (ww // p), p * p)
        x = nn.Dense(self.width, kernel_init=INIT)(x)
        x = x + self.param("pos", INIT, (x.shape[1], self.width))
        for _ in range(self.layers):
            x = _EncoderBlock(self.width, self.heads)(x)
        x = nn.LayerNorm()(x).mean(axis=1)
        return nn.Dense(self.classes, kernel_init=INIT)(x)


@dataclass(eq=False, kw_only=True)
class DigitsViT(Task):
    """Classify 8x8 digits; validation loss = cross-entropy on the 359 held-out images.

    >>> t = DigitsViT()
    >>> t.data["x_train"].shape, t.data["x_val"].shape
    ((1438, 8, 8), (359, 8, 8))
    """

    name: str = "vit-tiny"
    patch: int = 2
    width: int = 32
    layers: int = 2
    heads: int = 4
    batch_size: int = 64
    val_fraction: float = 0.2
    base_lr: float = 3e-3
    steps: int = 300
    warmup_steps: int = 20

    def _model(self) -> ViT:
        return ViT(self.patch, self.width, self.layers, self.heads, 10)

    def load_data(self):
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = (digits.images / 16.0).astype(np.float32)
        y = digits.target.astype(np.int32)
        perm = np.random.default_rng(0).permutation(len(y))
        n_val = int(round(len(y) * self.val_fraction))
        val, train = perm[:n_val], perm[n_val:]
        return {"x_train": jnp.asarray(x[train]), "y_train": jnp.asarray(y[train]),
                "x_val": jnp.asarray(x[val]), "y_val": jnp.asarray(y[val])}

    def init_params(self, key):
        return self._model().init(key, jnp.zeros((1, 8, 8), jnp.float32))

    def train_batch(self, data, key):
        idx = jax.random.randint(key, (self.batch_size,), 0, data["x_train"].shape[0])
        return data["x_train"][idx], data["y_train"][idx]

    def loss(self, params, batch):
        x, y = batch
        return cross_entropy(self._model().apply(params, x), y)

    def val_loss(self, params, data):
        return self.loss(params, (data["x_val"], data["y_val"]))


