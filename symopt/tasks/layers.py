"""Model pieces shared by the task models (`nanogpt`, `vit`).

>>> import jax
>>> float(INIT(jax.random.PRNGKey(0), (1000,)).std()) < 0.03
True
"""

from __future__ import annotations

import flax.linen as nn

#: GPT-2's initializer: weights ~ N(0, 0.02**2); used by every dense/embedding layer.
INIT = nn.initializers.normal(0.02)
