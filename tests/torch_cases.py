"""The cases on which jaxlstm is compared with ``torch.nn.LSTM``, and torch's answers to them.

``inputs(name)`` builds a case's weights, inputs and cotangents from a seeded NumPy generator, so
they are the same on every machine; ``torch_reference(name)`` runs ``torch.nn.LSTM`` on them (it
imports torch). ``tools/make_torch_fixtures.py`` stores both in ``fixtures/torch_lstm.npz`` so the
comparison also runs where torch is not installed.
"""

import warnings

import numpy as np

T, B, I, H = 7, 4, 5, 6

P = 3  # proj_size of the projection cases

# name: (num_layers, bidirectional, lengths or None, random initial state, proj_size or 0)
CASES = {
    "1layer": (1, False, None, False, 0),
    "1layer_state": (1, False, None, True, 0),
    "2layer": (2, False, None, True, 0),
    "1layer_bidirectional": (1, True, None, False, 0),
    "2layer_bidirectional": (2, True, None, True, 0),
    "1layer_packed": (1, False, [7, 3, 5, 1], True, 0),
    "2layer_bidirectional_packed": (2, True, [4, 7, 1, 6], True, 0),
    "1layer_proj": (1, False, None, True, P),
    "2layer_bidirectional_proj_packed": (2, True, [4, 7, 1, 6], True, P),
}


def inputs(name):
    """The case's float32 inputs: torch-layout weights under ``w/``, then xs, h0, c0, cotangents."""
    num_layers, bidirectional, lengths, random_state, proj_size = CASES[name]
    rng = np.random.default_rng(sorted(CASES).index(name))
    D = 2 if bidirectional else 1
    out = proj_size or H
    bound = 1 / np.sqrt(H)
    case = {}
    for layer in range(num_layers):
        for direction in range(D):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            in_size = I if layer == 0 else out * D
            shapes = {"weight_ih": (4 * H, in_size), "weight_hh": (4 * H, out),
                      "bias_ih": (4 * H,), "bias_hh": (4 * H,)}
            if proj_size:
                shapes["weight_hr"] = (proj_size, H)
            for kind, shape in shapes.items():
                case[f"w/{kind}{suffix}"] = rng.uniform(-bound, bound, shape).astype(np.float32)
    case["xs"] = rng.normal(size=(T, B, I)).astype(np.float32)
    shapes = {"h": (num_layers * D, B, out), "c": (num_layers * D, B, H)}
    for key in ("h", "c"):
        state = rng.normal(size=shapes[key]) if random_state else np.zeros(shapes[key])
        case[key + "0"] = state.astype(np.float32)
    case["lengths"] = np.array(lengths if lengths is not None else [T] * B, np.int64)
    case["gy"] = rng.normal(size=(T, B, out * D)).astype(np.float32)
    case["gh"] = rng.normal(size=shapes["h"]).astype(np.float32)
    case["gc"] = rng.normal(size=shapes["c"]).astype(np.float32)
    return case


def torch_reference(name):
    """Outputs, final state and gradients of ``torch.nn.LSTM`` for the case (imports torch)."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    num_layers, bidirectional, lengths, _, proj_size = CASES[name]
    case = inputs(name)
    module = torch.nn.LSTM(I, H, num_layers=num_layers, bidirectional=bidirectional, proj_size=proj_size)
    module.load_state_dict({k[2:]: torch.from_numpy(v) for k, v in case.items() if k.startswith("w/")})
    xs = torch.from_numpy(case["xs"]).requires_grad_()
    h0 = torch.from_numpy(case["h0"]).requires_grad_()
    c0 = torch.from_numpy(case["c0"]).requires_grad_()
    with warnings.catch_warnings():  # "LSTM with projections is not supported with oneDNN"
        warnings.simplefilter("ignore", UserWarning)
        if lengths is None:
            ys, (h_n, c_n) = module(xs, (h0, c0))
        else:
            packed = pack_padded_sequence(xs, torch.tensor(lengths), enforce_sorted=False)
            packed_ys, (h_n, c_n) = module(packed, (h0, c0))
            ys, _ = pad_packed_sequence(packed_ys, total_length=T)
    loss = ((ys * torch.from_numpy(case["gy"])).sum() + (h_n * torch.from_numpy(case["gh"])).sum()
            + (c_n * torch.from_numpy(case["gc"])).sum())
    loss.backward()
    out = {"ys": ys, "h_n": h_n, "c_n": c_n, "grad/xs": xs.grad, "grad/h0": h0.grad, "grad/c0": c0.grad}
    out.update({f"grad/{k}": p.grad for k, p in module.named_parameters()})
    return {k: v.detach().numpy().copy() for k, v in out.items()}
