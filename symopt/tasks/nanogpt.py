"""Character-level GPT tasks (flax.linen): ``nanogpt-tiny`` and ``nanogpt-small``.

``nanogpt-tiny`` (2 layers, width 64, 4 heads, context 64, batch 32, 200 steps) is the
search proxy; ``nanogpt-small`` (4 layers, width 96, 4 heads, context 64, batch 32, 500
steps, about 10x the compute) is for meta-validation. Both train without dropout; the
``dropout`` field (residual dropout, training only) is for tuning. The corpus is
``python-docs`` by default (offline) or ``shakespeare_char``; validation uses fixed, evenly
spaced windows of the held-out last 10%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from symopt.tasks.base import Task, cross_entropy
from symopt.tasks.data import Corpus, load_corpus
from symopt.tasks.layers import INIT


class _Block(nn.Module):
    width: int
    heads: int
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, train: bool = False):
        b, t, d = x.shape
        hd = d // self.heads
        h = nn.LayerNorm()(x)
        qkv = nn.Dense(3 * d, use_bias=False, kernel_init=INIT)(h)
        q, k, v = jnp.split(qkv.reshape(b, t, 3 * self.heads, hd), 3, axis=2)
        att = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(hd)
        mask = jnp.tril(jnp.ones((t, t), bool))
        att = jax.nn.softmax(jnp.where(mask, att, -1e9), axis=-1)
        y = jnp.einsum("bhqk,bkhd->bqhd", att, v).reshape(b, t, d)
        drop = nn.Dropout(self.dropout, deterministic=not train or self.dropout == 0)
        x = x + drop(nn.Dense(d, kernel_init=INIT)(y))
        h = nn.LayerNorm()(x)
        h = nn.gelu(nn.Dense(4 * d, kernel_init=INIT)(h))
        return x + drop(nn.Dense(d, kernel_init=INIT)(h))


class GPT(nn.Module):
    """A minimal GPT: token + learned position embeddings, pre-LN blocks, linear head.

    ``dropout`` (residual dropout, as nanoGPT's) applies only with ``train=True``.
    """

    vocab: int
    width: int
    layers: int
    heads: int
    context: int
    dropout: float = 0.0

    @nn.compact
    def __call__(self, tokens, train: bool = False):
        t = tokens.shape[1]
        x = nn.Embed(self.vocab, self.width, embedding_init=INIT)(tokens)
        pos = self.param("pos", INIT, (self.context, self.width))
        x = x + pos[:t]
        for _ in range(self.layers):
            x = _Block(self.width, self.heads, self.dropout)(x, train)
        x = nn.LayerNorm()(x)
        return nn.Dense(self.vocab, kernel_init=INIT)(x)


@dataclass(eq=False, kw_only=True)
class NanoGPT(Task):
    """Next-character prediction; loss and validation loss in nats per character.

    >>> t = NanoGPT(steps=1)
    >>> t.unigram_entropy > 2.0 and t.vocab_size > 60
    True
    """

    name: str = "nanogpt"
    corpus: str = "python-docs"
    width: int = 64
    layers: int = 2
    heads: int = 4
    context: int = 64
    batch_size: int = 32
    val_batches: int = 8
    dropout: float = 0.0
    base_lr: float = 3e-3
    steps: int = 200
    warmup_steps: int = 20
    n_evals: int = 4

    @property
    def text(self) -> Corpus:
        """The encoded corpus."""
        return load_corpus(self.corpus)

    @property
    def unigram_entropy(self) -> float:
        """Entropy (nats) of the corpus's character frequencies: the loss to beat."""
        return self.text.unigram_entropy

    @property
    def vocab_size(self) -> int:
        return self.text.vocab_size

    def _model(self) -> GPT:
        return GPT(self.vocab_size, self.width, self.layers, self.heads, self.context,
                   self.dropout)

    def load_data(self):
        train, val = self.text.split(0.1)
        n_val = self.val_batches * self.batch_size
        span = self.context + 1
        starts = np.linspace(0, len(val) - span - 1, n_val).astype(np.int64)
        windows = np.stack([val[s : s + span] for s in starts]).astype(np.int32)
        return {"train": jnp.asarray(train.astype(np.int32)), "val": jnp.asarray(windows)}

    def init_params(self, key):
        return self._model().init(key, jnp.zeros((1, self.context), jnp.int32))

    def train_batch(self, data, key):
        tokens = data["train"]
        span = self.context + 1
        starts = jax.random.randint(key, (self.batch_size,), 0, tokens.shape[0] - span)
        windows = jax.vmap(lambda s: jax.lax.dynamic_slice(tokens, (s,), (span,)))(starts)
        if self.dropout > 0:  # the key of the dropout masks travels with the batch
            return {"tokens": windows, "dropout": jax.random.fold_in(key, 1)}
        return windows

    def loss(self, params, batch):
        """Mean loss of a batch; a dict batch (training with dropout) carries its key."""
        if isinstance(batch, dict):
            tokens = batch["tokens"]
            logits = self._model().apply(params, tokens[:, :-1], train=True,
                                         rngs={"dropout": batch["dropout"]})
        else:
            tokens = batch
            logits = self._model().apply(params, tokens[:, :-1])
        return cross_entropy(logits, tokens[:, 1:])

    def val_loss(self, params, data):
        windows = data["val"].reshape(self.val_batches, self.batch_size, -1)
        return jnp.mean(jax.lax.map(lambda b: self.loss(params, b), windows))

