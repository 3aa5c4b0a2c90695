"""
A stack over a sequence, and the step it is made of
===================================================

``jaxlstm.lstm`` runs a whole stack over a time-major sequence; ``jaxlstm.lstm_step`` is one step
of one cell, a single matmul of ``[h, x]`` with the four gates' weights stacked. This example
checks that the stack's first layer is exactly a loop of the step, takes a gradient through
the whole sequence, and plots the hidden state.
"""

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxlstm

T, B, I, H = 40, 3, 2, 8
params = jaxlstm.init(jax.random.key(0), input_size=I, hidden_size=H, num_layers=2)
t = jnp.arange(T, dtype=jnp.float32)[:, None, None]
xs = jnp.concatenate([jnp.sin(t / 4 + jnp.arange(B)[None, :, None]), jnp.cos(t / 7).repeat(B, 1)], axis=-1)

ys, state = jaxlstm.lstm(params, xs)
print("outputs", ys.shape, "final h", state.h.shape, "final c", state.c.shape)

# %%
# Layer 0 is a ``lax.scan`` of ``lstm_step``: the same numbers from a Python loop of steps.
cell = params.layers[0][0]
carry = (jnp.zeros((B, H)), jnp.zeros((B, H)))
outputs = []
for x in xs:
    carry, y = jaxlstm.lstm_step(cell, carry, x)
    outputs.append(y)
layer0 = jnp.stack(outputs)
ys0, _ = jaxlstm.lstm(jaxlstm.LSTMParams(layers=params.layers[:1]), xs)
error = float(jnp.max(jnp.abs(layer0 - ys0)))
print(f"layer 0, loop of lstm_step against lstm: max difference {error:.1e}")
assert error < 1e-5

# %%
# A gradient through all 40 steps of both layers, under ``jit``.
loss = jax.jit(jax.value_and_grad(lambda p: jnp.mean(jaxlstm.lstm(p, xs)[0][-1] ** 2)))
value, grads = loss(params)
print(f"loss {float(value):.4f}; gradient of V in layer 1: {grads.layers[1][0].V.shape}")

# %%
# The hidden state of the top layer for the first sequence, unit by unit.
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(np.asarray(ys[:, 0, :]))
ax.set_xlabel("step t")
ax.set_ylabel("h(t), top layer")
ax.set_title("8 units of the second layer over 40 steps")
fig.tight_layout()
