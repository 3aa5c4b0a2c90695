"""
Packed sequences: resets give each segment its own run
======================================================

``resets`` marks where a new segment starts inside a row, as an episode that ends in the middle
of a reinforcement-learning rollout, or several short sequences packed into one row. There the
state entering the step is replaced by the initial state, so the packed row's outputs equal
those of its segments run apart. ``seq_lengths`` ends each row at its own length.
"""

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxlstm

params = jaxlstm.init(jax.random.key(1), input_size=3, hidden_size=6, num_layers=2, bidirectional=True)
first, second = 12, 18
xs = jax.random.normal(jax.random.key(2), (first + second, 1, 3))
resets = jnp.zeros((first + second, 1), bool).at[first].set(True)

packed, _ = jaxlstm.lstm(params, xs, resets=resets)
apart = jnp.concatenate([jaxlstm.lstm(params, xs[:first])[0], jaxlstm.lstm(params, xs[first:])[0]])
error = float(jnp.max(jnp.abs(packed - apart)))
print(f"packed row against its two segments run apart: max difference {error:.1e}")
assert error < 1e-5

# %%
# Without the reset the second segment starts from the first one's state, and differs.
unreset, _ = jaxlstm.lstm(params, xs)
print(f"without resets, step {first}: max difference {float(jnp.max(jnp.abs(unreset - apart)[first])):.2f}")

# %%
# Variable lengths: outputs past each row's end are zero and the final state is the one after
# the row's own last step.
lengths = jnp.array([30, 17, 5, 0])
batch = jax.random.normal(jax.random.key(3), (30, 4, 3))
ys, state = jaxlstm.lstm(params, batch, seq_lengths=lengths)
print("rows' last nonzero output step:", [int(jnp.max(jnp.nonzero(jnp.abs(ys[:, b]).sum(-1), size=30, fill_value=-1)[0])) for b in range(4)])

fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
axes[0].plot(np.asarray(packed[:, 0, :3]))
axes[0].axvline(first, color="k", ls=":")
axes[0].set_title("packed row, reset at step 12")
axes[1].plot(np.asarray(unreset[:, 0, :3]))
axes[1].axvline(first, color="k", ls=":")
axes[1].set_title("the same row without the reset")
for ax in axes:
    ax.set_xlabel("step")
fig.tight_layout()
