"""
Exporting with jax.export, symbolic batch and time
==================================================

A jitted call of ``jaxlstm.lstm`` exports with a symbolic time and batch size; the serialized
bytes load again and run at sizes never traced. (It needs ``flatbuffers``: ``pip install
'jaxlstm[export]'``; the test extras bring it.)
"""

import jax
import jax.numpy as jnp
from jax import export

import jaxlstm

params = jaxlstm.init(jax.random.key(0), input_size=4, hidden_size=8, num_layers=2, bidirectional=True)
t, b = export.symbolic_shape("t, b")
f = jax.jit(lambda p, xs, n: jaxlstm.lstm(p, xs, seq_lengths=n))
exported = export.export(f, platforms=("cpu",))(
    params, jax.ShapeDtypeStruct((t, b, 4), jnp.float32), jax.ShapeDtypeStruct((b,), jnp.int32))
blob = exported.serialize()
print(f"serialized: {len(blob):,} bytes; inputs {exported.in_avals[1:]}")

# %%
# Load it back and run it at two sizes, against the direct call.
loaded = export.deserialize(blob)
for steps, rows in ((7, 3), (25, 5)):
    xs = jax.random.normal(jax.random.key(steps), (steps, rows, 4))
    lengths = jnp.arange(rows, dtype=jnp.int32) % (steps + 1)
    ys, state = loaded.call(params, xs, lengths)
    ys_direct, _ = f(params, xs, lengths)
    error = float(jnp.max(jnp.abs(ys - ys_direct)))
    print(f"T={steps}, batch={rows}: outputs {ys.shape}, state {type(state).__name__}, max difference {error:.1e}")
    assert error < 1e-5
