"""A walk through one LSTM step that prints every tensor's shape (``jaxlstm shapes``).

Each shape printed is read off an array that the walk computes with real weights, and the
identity ``W @ x + U @ h == V @ [h; x]`` is checked on those numbers, so the text cannot drift
from the code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm.cell import lstm_step
from jaxlstm.params import LSTMState, init_cell

__all__ = ["walk_shapes"]


def walk_shapes(input_size: int, hidden_size: int, *, seed: int = 0) -> str:
    """Return a text walk through one step of an LSTM with the given sizes.

    Example:
        >>> print(walk_shapes(2, 3).splitlines()[0])
        One LSTM step, input_size I = 2, hidden_size H = 3.
    """
    I, H = input_size, hidden_size
    k_cell, k_x, k_h, k_c = jax.random.split(jax.random.key(seed), 4)
    cell = init_cell(k_cell, I, H)
    x = jax.random.normal(k_x, (I,))
    h = jax.random.normal(k_h, (H,))
    c = jax.random.normal(k_c, (H,))

    # One gate (the input gate, columns [0:H]) in the column convention of the classic
    # explanation: gate = sigmoid(W @ x + U @ h + b).
    W = cell.V[H:, :H].T
    U = cell.V[:H, :H].T
    V_gate = jnp.concatenate([U, W], axis=1)
    hx = jnp.concatenate([h, x])
    separate = W @ x + U @ h
    fused = V_gate @ hx
    identity_error = float(jnp.max(jnp.abs(separate - fused)))
    gate = jax.nn.sigmoid(fused + cell.b[:H])

    z = hx @ cell.V + cell.b
    i, f, g, o = jnp.split(z, 4)
    (h_new, c_new), _ = lstm_step(cell, LSTMState(h, c), x)
    gate_error = float(jnp.max(jnp.abs(gate - jax.nn.sigmoid(i))))

    def row(name: str, array, note: str) -> str:
        return f"  {name:<14}{str(tuple(np.shape(array))):<10}{note}"

    lines = [
        f"One LSTM step, input_size I = {I}, hidden_size H = {H}.",
        "",
        "Inputs:",
        row("x(t)", x, "the input at step t"),
        row("h(t-1)", h, "the previous output"),
        row("c(t-1)", c, "the previous cell state"),
        "",
        "One gate, columns as in the classic explanation: gate = sigmoid(W @ x + U @ h + b)",
        row("W", W, f"input weights, (H, I): maps the {I} inputs to {H} units"),
        row("U", U, f"recurrent weights, (H, H): maps the {H} outputs back to {H} units"),
        row("V = [U, W]", V_gate, "(H, H + I): W @ x + U @ h == V @ [h; x]"),
        row("[h; x]", hx, "(H + I,): the previous output and the input, concatenated"),
        row("V @ [h; x]", fused, f"(H,): {tuple(V_gate.shape)} @ {tuple(hx.shape)} -> ({H},)"),
        row("gate", gate, "(H,): one value per cell, for each of i, f, g, o"),
        f"  check: max |W @ x + U @ h - V @ [h; x]| = {identity_error:.1e}",
        "",
        "The four gates stacked, as jaxlstm stores them (row vectors: z = [h, x] @ V + b):",
        row("V", cell.V, "(H + I, 4H): rows [:H] act on h, rows [H:] on x"),
        row("b", cell.b, "(4H,): the biases, forget-gate slice +1.0"),
        row("z", z, "(4H,): all four gates' pre-activations from one matmul"),
        row("i, f, g, o", i, "(H,) each: z split into four"),
        row("c(t)", c_new, "sigmoid(f) * c(t-1) + sigmoid(i) * tanh(g)"),
        row("h(t)", h_new, "sigmoid(o) * tanh(c(t))"),
        f"  check: gate i from the stacked V equals the gate above: max error {gate_error:.1e}",
        "",
        f"Why h(t) keeps the size of h(t-1): each gate's V has H = {H} rows, so it maps the",
        f"{H + I} numbers of [h(t-1); x(t)] back to {H}. Every gate, c(t) and h(t) therefore",
        f"have {H} entries, at every step, whatever the input size.",
    ]
    return "\n".join(lines)
