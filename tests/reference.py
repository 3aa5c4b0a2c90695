"""An independent float64 NumPy LSTM, written from PyTorch's documented equations.

It reads weights in ``torch.nn.LSTM``'s layout (separate ``W_ih``, ``W_hh`` and two biases) and
loops over every sequence and step in Python, so it shares no code and no formulation with the
fused ``[h, x] @ V`` of jaxlstm.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def gelu_tanh(z):
    """GELU's tanh approximation (Hendrycks & Gimpel 2016), as jax.nn.gelu's default."""
    return 0.5 * z * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3)))


# Each activation a test variant uses, written from its definition (callables keyed by name).
ACTIVATIONS = {
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "hard_sigmoid": lambda z: np.clip(z / 6.0 + 0.5, 0.0, 1.0),  # Keras 3: relu6(z + 3) / 6
    "softsign": lambda z: z / (1.0 + np.abs(z)),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "gelu": gelu_tanh,
}


def step(weights, h, c, x, w_hr=None):
    """One step with the gates written out one by one; ``w_hr`` (P, H) projects the output."""
    w_ih, w_hh, b_ih, b_hh = weights
    H = c.shape[0]
    gates = [w_ih[k * H : (k + 1) * H] @ x + w_hh[k * H : (k + 1) * H] @ h
             + b_ih[k * H : (k + 1) * H] + b_hh[k * H : (k + 1) * H] for k in range(4)]
    i, f, g, o = gates
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(c)
    return (h if w_hr is None else w_hr @ h), c


def lstm(state_dict, xs, h0=None, c0=None, lengths=None, reverse=False):
    """``xs`` (T, B, I) -> ``ys`` (T, B, D*P), ``h_n`` (L*D, B, P), ``c_n`` (L*D, B, H), with
    PackedSequence rules; ``P`` is ``H`` without a projection (``weight_hr``)."""
    sd = {k: np.asarray(v, np.float64) for k, v in state_dict.items()}
    num_layers = 1 + max(int(k.split("_l")[1].split("_")[0]) for k in sd)
    directions = 2 if any(k.endswith("_reverse") for k in sd) else 1
    H, P = sd["weight_hh_l0"].shape[0] // 4, sd["weight_hh_l0"].shape[1]
    xs = np.asarray(xs, np.float64)
    T, B = xs.shape[:2]
    h0 = np.zeros((num_layers * directions, B, P)) if h0 is None else np.asarray(h0, np.float64)
    c0 = np.zeros((num_layers * directions, B, H)) if c0 is None else np.asarray(c0, np.float64)
    lengths = [T] * B if lengths is None else [int(n) for n in lengths]
    h_n, c_n = np.zeros_like(h0), np.zeros_like(c0)
    layer_input = xs
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            weights = [sd[name + suffix] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            w_hr = sd.get("weight_hr" + suffix)
            index = layer * directions + direction
            ys = np.zeros((T, B, P))
            for b in range(B):
                h, c = h0[index, b], c0[index, b]
                steps = range(lengths[b])
                if direction == 1 or reverse:
                    steps = reversed(steps)
                for t in steps:
                    h, c = step(weights, h, c, layer_input[t, b], w_hr)
                    ys[t, b] = h
                h_n[index, b], c_n[index, b] = h, c
            outputs.append(ys)
        layer_input = np.concatenate(outputs, axis=-1)
    return layer_input, h_n, c_n


def variant_lstm(cell, xs, h0, c0, lengths=None, reverse=False):
    """One layer of any :class:`jaxlstm.Variant`, float64, per sequence and step, written from the
    papers' equations (Gers & Schmidhuber 2000 peepholes, Greff et al. 2017 variants, Ba et al.
    2016 layer norm). ``xs`` (T, B, I) -> ``ys`` (T, B, H), ``h``, ``c`` (B, H)."""
    variant = cell.variant
    name = lambda fn: fn if isinstance(fn, str) else fn.__name__
    gate_fn, act = ACTIVATIONS[name(variant.gate_activation)], ACTIVATIONS[name(variant.cell_activation)]
    V, b = np.asarray(cell.V, np.float64), np.asarray(cell.b, np.float64)
    H, P = cell.hidden_size, cell.output_size
    gates = variant.gates
    blocks = {g: k for k, g in enumerate(gates)}
    W = {g: V[P:, k * H : (k + 1) * H].T for g, k in blocks.items()}   # (H, I)
    R = {g: V[:P, k * H : (k + 1) * H].T for g, k in blocks.items()}   # (H, P)
    bias = {g: b[k * H : (k + 1) * H] for g, k in blocks.items()}
    peep = {g: np.asarray(p, np.float64) for g, p in (cell.peepholes or {}).items()}
    norm = {k: np.asarray(v, np.float64) for k, v in (cell.norm or {}).items()}
    fed_back = variant.sigmoid_gates if variant.gate_recurrence else ()  # FGR: gates seen again
    if fed_back:
        M = np.asarray(cell.gate_recurrence, np.float64)
        pos = {g: k for k, g in enumerate(fed_back)}
        # R_gate[source]: (H, H), the previous activation of `source` into the gate `gate`.
        R_gate = {g: {s: M[pos[s] * H : (pos[s] + 1) * H, pos[g] * H : (pos[g] + 1) * H].T for s in fed_back}
                  for g in fed_back}

    def ln(v, gain, shift):
        return (v - v.mean()) / np.sqrt(v.var() + 1e-5) * gain + shift

    xs = np.asarray(xs, np.float64)
    T, B = xs.shape[:2]
    lengths = [T] * B if lengths is None else [int(n) for n in lengths]
    ys = np.zeros((T, B, P))
    h_n, c_n = np.zeros((B, P)), np.zeros((B, H * (1 + len(fed_back))))
    for n in range(B):
        h, c = np.array(h0[n], np.float64), np.array(c0[n][:H], np.float64)
        prev = {g: np.array(c0[n][H * (1 + k) : H * (2 + k)], np.float64) for k, g in enumerate(fed_back)}
        steps = reversed(range(lengths[n])) if reverse else range(lengths[n])
        for t in steps:
            x = xs[t, n]
            net = {g: W[g] @ x + R[g] @ h + bias[g] for g in gates}
            if variant.layer_norm:
                for g, k in blocks.items():
                    net[g] = ln(net[g], norm["gate_gain"][k * H : (k + 1) * H], norm["gate_bias"][k * H : (k + 1) * H])
            for g in fed_back:
                net[g] = net[g] + sum(R_gate[g][s] @ prev[s] for s in fed_back)
            i = gate_fn(net["i"] + peep.get("i", 0) * c) if variant.input_gate else 1.0
            if variant.coupled:
                f = 1.0 - i
            elif variant.forget_gate:
                f = gate_fn(net["f"] + peep.get("f", 0) * c)
            else:
                f = 1.0
            g = act(net["g"]) if variant.input_activation else net["g"]
            c = f * c + i * g
            if variant.cell_clip is not None:
                c = np.clip(c, -variant.cell_clip, variant.cell_clip)
            o = gate_fn(net["o"] + peep.get("o", 0) * c) if variant.output_gate else 1.0
            s = ln(c, norm["cell_gain"], norm["cell_bias"]) if variant.layer_norm else c
            h = o * (act(s) if variant.output_activation else s)
            if variant.proj_size:  # LSTMP: h = P^T (o * tanh(c)) in the column convention
                h = np.asarray(cell.proj, np.float64).T @ h
                if variant.proj_clip is not None:
                    h = np.clip(h, -variant.proj_clip, variant.proj_clip)
            ys[t, n] = h
            prev = {"i": i, "f": f, "o": o}
            prev = {g: prev[g] for g in fed_back}
        h_n[n], c_n[n] = h, np.concatenate([c, *prev.values()]) if fed_back else c
    return ys, h_n, c_n
