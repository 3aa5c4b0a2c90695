"""Side-by-side speed and memory of jaxlstm, Flax and PyTorch (``jaxlstm bench``).

Every contender runs in this one process, in interleaved rounds (contender A, B, C, then A, B, C
again, ...), and each reports the median of its rounds, so that drift on a shared machine hits
all of them alike. Results are ratios: a contender's time divided into an anchor's time (> 1
means faster than the anchor). Flax (linen and nnx ``OptimizedLSTMCell`` under ``RNN``) and
PyTorch (``torch.nn.LSTM``, where it is installed) are the anchors. ``jaxlstm auto resets`` is
the same call with ``resets`` (every row restarting every 25 steps, rows staggered), timed
against the call without them; :func:`stream` times acting one observation at a time.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm.cell import lstm_step
from jaxlstm.params import LSTMState, init, initial_state
from jaxlstm.sequence import lstm
from jaxlstm.train import provenance
from jaxlstm.variant import Variant

__all__ = ["Case", "CASES", "compile_times", "ensemble", "interleaved", "memory", "run", "scaling", "scaling_table", "speed_table", "stream"]


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark configuration: batch, steps, input and hidden size, layers, directions."""

    batch: int
    steps: int
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False

    @property
    def name(self) -> str:
        stack = f" L{self.num_layers}" if self.num_layers > 1 else ""
        stack += " bi" if self.bidirectional else ""
        return f"{self.batch}/{self.steps}/{self.input_size}/{self.hidden_size}{stack}"

    @property
    def single_layer(self) -> bool:
        return self.num_layers == 1 and not self.bidirectional


CASES = (
    Case(32, 100, 64, 128),
    Case(32, 100, 256, 256),
    Case(64, 200, 512, 512),
    Case(16, 500, 128, 1024),
    Case(1, 1000, 32, 64),
    Case(256, 50, 128, 256),
    Case(32, 100, 128, 256, num_layers=2),
    Case(32, 100, 128, 256, bidirectional=True),
    Case(32, 100, 128, 256, num_layers=2, bidirectional=True),
    Case(8, 500, 64, 128),
    Case(64, 200, 128, 128),
)

Timed = Callable[[], object]


def _inputs(case: Case, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(case.steps, case.batch, case.input_size)).astype(np.float32)


_RESET_EVERY = 25


def _resets(case: Case) -> np.ndarray:
    """Every row restarts every ``_RESET_EVERY`` steps, row ``b`` first at step ``b``."""
    steps, rows = np.arange(case.steps)[:, None], np.arange(case.batch)[None, :]
    return (steps - rows) % _RESET_EVERY == 0


def _jaxlstm(case: Case, backward: bool, impl: str, with_resets: bool = False, matmul_dtype=None) -> Timed:
    params = init(jax.random.key(0), case.input_size, case.hidden_size,
                  num_layers=case.num_layers, bidirectional=case.bidirectional)
    xs = jnp.asarray(_inputs(case))
    resets = jnp.asarray(_resets(case)) if with_resets else None
    apply = lambda p, x: lstm(p, x, resets=resets, impl=impl, matmul_dtype=matmul_dtype)[0]
    if backward:
        f = jax.jit(jax.grad(lambda p, x: jnp.sum(apply(p, x)), argnums=(0, 1)))
    else:
        f = jax.jit(apply)
    return lambda: jax.block_until_ready(f(params, xs))


def _floor(case: Case, backward: bool) -> Timed:
    """The least any LSTM must do per step: a scan of the recurrent matmul ``h @ U`` alone."""
    H = case.hidden_size
    U = init(jax.random.key(0), case.input_size, H).layers[0][0].V[:H]
    h0 = jnp.zeros((case.batch, H))
    apply = lambda U: jax.lax.scan(lambda h, _: (jnp.tanh(h @ U)[:, :H],) * 2, h0, length=case.steps)[1]
    f = jax.jit(jax.grad(lambda U: jnp.sum(apply(U))) if backward else apply)
    return lambda: jax.block_until_ready(f(U))


def _flax_linen(case: Case, backward: bool) -> Timed:
    import flax.linen as nn

    rnn = nn.RNN(nn.OptimizedLSTMCell(features=case.hidden_size), time_major=True)
    xs = jnp.asarray(_inputs(case))
    variables = rnn.init(jax.random.key(0), xs)
    if backward:
        f = jax.jit(jax.grad(lambda v, x: jnp.sum(rnn.apply(v, x)), argnums=(0, 1)))
    else:
        f = jax.jit(rnn.apply)
    return lambda: jax.block_until_ready(f(variables, xs))


def _flax_nnx(case: Case, backward: bool) -> Timed:
    from flax import nnx

    cell = nnx.OptimizedLSTMCell(case.input_size, case.hidden_size, rngs=nnx.Rngs(0))
    graphdef, params, rest = nnx.split(nnx.RNN(cell, time_major=True), nnx.Param, ...)
    xs = jnp.asarray(_inputs(case))
    zeros = jnp.zeros((case.batch, case.hidden_size))
    apply = lambda p, x: nnx.merge(graphdef, p, rest)(x, initial_carry=(zeros, zeros))
    if backward:
        f = jax.jit(jax.grad(lambda p, x: jnp.sum(apply(p, x)), argnums=(0, 1)))
    else:
        f = jax.jit(apply)
    return lambda: jax.block_until_ready(f(params, xs))


def _torch(case: Case, backward: bool) -> Timed:
    import torch

    device = "cuda" if torch.cuda.is_available() and jax.default_backend() == "gpu" else "cpu"
    sync = torch.cuda.synchronize if device == "cuda" else lambda: None
    module = torch.nn.LSTM(case.input_size, case.hidden_size, num_layers=case.num_layers,
                           bidirectional=case.bidirectional).to(device)
    xs = torch.from_numpy(_inputs(case)).to(device)
    if not backward:
        def forward():
            with torch.no_grad():
                module(xs)
            sync()

        return forward
    xs.requires_grad_(True)

    def forward_backward():
        module.zero_grad(set_to_none=True)
        xs.grad = None
        module(xs)[0].sum().backward()
        sync()

    return forward_backward


def _cudnn(case: Case, backward: bool) -> Timed:
    """``jax.experimental.rnn.lstm``: cuDNN's fused LSTM, batch-major, GPU only."""
    from jax.experimental import rnn

    shape = dict(input_size=case.input_size, hidden_size=case.hidden_size,
                 num_layers=case.num_layers, bidirectional=case.bidirectional)
    weights = rnn.init_lstm_weight(jax.random.key(0), **shape)
    xs = jnp.asarray(_inputs(case)).swapaxes(0, 1)
    state = jnp.zeros((case.num_layers * (2 if case.bidirectional else 1), case.batch, case.hidden_size))
    lengths = jnp.full((case.batch,), case.steps, jnp.int32)
    apply = lambda w, x: rnn.lstm(x, state, state, w, lengths, dropout=0.0, **shape)[0]
    if backward:
        f = jax.jit(jax.grad(lambda w, x: jnp.sum(apply(w, x)), argnums=(0, 1)))
    else:
        f = jax.jit(apply)
    return lambda: jax.block_until_ready(f(weights, xs))


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def contenders(case: Case, backward: bool, impls: tuple[str, ...] = ("auto",), bf16: bool = False) -> dict[str, Timed]:
    """Name -> a function running one forward (and backward) pass, compiled and warmed up;
    ``bf16`` adds ``jaxlstm auto`` with ``matmul_dtype=jnp.bfloat16``. An impl that refuses
    the case (``pallas`` beyond its hidden sizes, ``cudnn`` off a GPU) is left out of it."""
    made = {}
    for impl in impls:
        timed = _jaxlstm(case, backward, impl)
        try:
            timed()  # compiles, and refuses at trace time
            made[f"jaxlstm {impl}"] = timed
        except ValueError as refused:
            if not str(refused).startswith(f"impl='{impl}' "):
                raise
    if bf16:
        made["jaxlstm auto bf16"] = _jaxlstm(case, backward, "auto", matmul_dtype=jnp.bfloat16)
    made["jaxlstm auto resets"] = _jaxlstm(case, backward, "auto", with_resets=True)
    if case.single_layer:
        made["floor"] = _floor(case, backward)
        made["flax linen"] = _flax_linen(case, backward)
        made["flax nnx"] = _flax_nnx(case, backward)
    if jax.default_backend() == "gpu":
        made["cudnn"] = _cudnn(case, backward)
    if _torch_available():
        made["torch"] = _torch(case, backward)
    for f in made.values():  # compile, and run once so that lazy set-up is out of the timing
        f()
        f()
    return made


def _time(f: Timed, min_seconds: float) -> float:
    """Seconds per call: at least two calls, and at least ``min_seconds`` in all."""
    calls, start = 0, time.perf_counter()
    while True:
        f()
        calls += 1
        elapsed = time.perf_counter() - start
        if calls >= 2 and elapsed >= min_seconds:
            return elapsed / calls


def run(case: Case, backward: bool, *, rounds: int = 5, min_seconds: float = 0.2,
        impls: tuple[str, ...] = ("auto",), bf16: bool = False) -> dict[str, list[float]]:
    """Seconds per call of every contender in each of the interleaved rounds."""
    return interleaved(contenders(case, backward, impls, bf16), rounds, min_seconds)


def interleaved(made: dict, rounds: int, min_seconds: float, per: int = 1) -> dict[object, list[float]]:
    """Seconds per call (divided by ``per``) of each function of ``made`` in each of ``rounds``
    interleaved rounds (every function once a round, in turn), under the same keys."""
    times: dict[object, list[float]] = {name: [] for name in made}
    for _ in range(rounds):
        for name, f in made.items():
            time.sleep(0.05)  # let the previous contender's spinning worker threads go idle
            times[name].append(_time(f, min_seconds) / per)
    return times


def _medians(times: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(t) for name, t in times.items()}


ENSEMBLE_CASE = Case(32, 100, 16, 64)


def ensemble(case: Case = ENSEMBLE_CASE, networks: int = 32, *, rounds: int = 5,
             min_seconds: float = 0.2) -> dict[str, float]:
    """Seconds per forward+backward pass of ``networks`` independent small LSTMs, each with its
    own weights and batch (an ensemble, or one experiment's seeds trained at once):
    ``jaxlstm vmap`` maps ``lstm`` over the stacked params in one program; ``jaxlstm lax.map``
    runs the networks one after another inside one program; ``jaxlstm cudnn map`` (on a GPU)
    does the same with cuDNN (its kernel does not batch over weights); ``torch loop`` runs one
    ``torch.nn.LSTM`` per network."""
    keys = jax.random.split(jax.random.key(0), networks)
    params = jax.vmap(lambda k: init(k, case.input_size, case.hidden_size))(keys)
    xs = jnp.asarray(np.stack([_inputs(case, seed) for seed in range(networks)]))
    grad = jax.grad(lambda p, x, impl: jnp.sum(lstm(p, x, impl=impl)[0]), argnums=(0, 1))
    vmapped = jax.jit(jax.vmap(lambda p, x: grad(p, x, "auto")))
    made = {"jaxlstm vmap": lambda: jax.block_until_ready(vmapped(params, xs))}
    impls = ("auto", "cudnn") if jax.default_backend() == "gpu" else ("auto",)
    for impl in impls:
        mapped = jax.jit(lambda p, x, impl=impl: jax.lax.map(lambda px: grad(*px, impl), (p, x)))
        name = "jaxlstm lax.map" if impl == "auto" else "jaxlstm cudnn map"
        made[name] = lambda mapped=mapped: jax.block_until_ready(mapped(params, xs))
    if _torch_available():
        passes = [_torch(case, backward=True) for _ in range(networks)]
        made["torch loop"] = lambda: [f() for f in passes]
    for f in made.values():
        f()
        f()
    return _medians(interleaved(made, rounds, min_seconds))


def speed_table(results: list[dict]) -> str:
    """Markdown tables, forward and forward+backward: each contender's speed relative to torch,
    and jaxlstm auto's relative to each other anchor (> 1: faster than the anchor), as the
    median of the rounds' ratios (each round times both in turn) and, with several rounds,
    their range."""
    lines = []
    for mode in ("forward", "forward+backward"):
        rows = [r for r in results if r["mode"] == mode]
        if not rows:
            continue
        names = list(dict.fromkeys(name for r in rows for name in r["seconds"]))
        columns = [(n, "torch") for n in names if n not in ("torch", "jaxlstm auto resets")]
        columns += [("jaxlstm auto", a) for a in ("floor", "flax linen", "flax nnx", "cudnn") if a in names]
        columns += [("jaxlstm auto resets", "jaxlstm auto")]
        columns = [(n, a) for n, a in columns if any(n in r["seconds"] and a in r["seconds"] for r in rows)]
        header = ["B/T/I/H", "auto tokens/s"] + [f"{n.removeprefix('jaxlstm ')} / {a}" for n, a in columns]
        lines += [f"**{mode}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in rows:
            s = r["seconds"]
            auto = s.get("jaxlstm auto")
            cells = [r["case"], f"{r['batch'] * r['steps'] / statistics.median(auto):,.0f}" if auto else "–"]
            cells += [_ratio(s[a], s[n]) if n in s and a in s else "–" for n, a in columns]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _ratio(anchor: list[float], contender: list[float]) -> str:
    """The median of the per-round ratios ``anchor / contender``, and their range."""
    ratios = [a / c for a, c in zip(anchor, contender)]
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}"
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"


STREAM_CASE = Case(8, 500, 16, 64, num_layers=2)


def stream(case: Case = STREAM_CASE, proj_size: int | None = 32, *, rounds: int = 5,
           min_seconds: float = 0.2) -> dict[str, float]:
    """Seconds per step of acting one observation at a time with a stack (projected, by
    default), inside one jitted ``jax.lax.scan`` over ``case.steps`` observations, as an agent's
    rollout: ``lstm(params, x[None], state)`` (a ``T = 1`` call), the same with ``resets``, and
    the loop over layers of :func:`jaxlstm.lstm_step` written by hand."""
    params = init(jax.random.key(0), case.input_size, case.hidden_size, num_layers=case.num_layers,
                  variant=Variant(proj_size=proj_size))
    xs = jnp.asarray(_inputs(case))
    starts = jnp.asarray(_resets(case))
    state = initial_state(params, (case.batch,))

    def call(state, inputs):
        x, reset = inputs
        ys, state = lstm(params, x[None], state, resets=reset[None])
        return state, ys[0]

    def call_without_resets(state, inputs):
        ys, state = lstm(params, inputs[0][None], state)
        return state, ys[0]

    def step_loop(state, inputs):
        hs, cs, y = [], [], inputs[0]
        for l, layer in enumerate(params.layers):
            (h, c), y = lstm_step(layer[0], LSTMState(state.h[l], state.c[l]), y)
            hs.append(h)
            cs.append(c)
        return LSTMState(jnp.stack(hs), jnp.stack(cs)), y

    made = {}
    for name, body in (("T=1 lstm", call_without_resets), ("T=1 lstm resets", call), ("lstm_step loop", step_loop)):
        f = jax.jit(lambda s, x, r, body=body: jax.lax.scan(body, s, (x, r)))
        made[name] = lambda f=f: jax.block_until_ready(f(state, xs, starts))
        made[name]()
    return _medians(interleaved(made, rounds, min_seconds, per=case.steps))


def compile_times(steps=(10, 100, 1000, 10000), case: Case = Case(32, 0, 64, 128)) -> dict[int, float]:
    """Seconds to trace and compile forward+backward of ``lstm`` at each sequence length."""
    params = init(jax.random.key(0), case.input_size, case.hidden_size)
    out = {}
    for T in steps:
        xs = jax.ShapeDtypeStruct((T, case.batch, case.input_size), jnp.float32)
        grad = jax.jit(jax.grad(lambda p, x: jnp.sum(lstm(p, x)[0]), argnums=(0, 1)))
        start = time.perf_counter()
        grad.lower(params, xs).compile()
        out[T] = time.perf_counter() - start
    return out


def memory(case: Case = Case(32, 1000, 512, 512), remats=(False, "step", "sqrt"), impl: str = "auto"):
    """Memory of forward+backward with each ``remat`` scheme, in MiB, without running it.

    ``activations``: what the forward pass saves for the backward pass (the residuals of
    ``jax.vjp``), less the params and inputs that the caller holds anyway. ``xla_temp``: XLA's
    temporary buffers for the whole compiled forward+backward.
    """
    params = init(jax.random.key(0), case.input_size, case.hidden_size)
    xs = jax.ShapeDtypeStruct((case.steps, case.batch, case.input_size), jnp.float32)
    nbytes = lambda tree: sum(math.prod(a.shape) * a.dtype.itemsize for a in jax.tree.leaves(tree))
    out = {}
    for remat in remats:
        f = lambda p, x: lstm(p, x, remat=remat, impl=impl)[0]
        residuals = jax.eval_shape(lambda p, x: jax.vjp(f, p, x)[1], params, xs)
        loss = lambda p, x: jnp.sum(f(p, x))
        compiled = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(params, xs).compile()
        out[str(remat)] = {
            "activations": (nbytes(residuals) - nbytes((params, xs))) / 2**20,
            "xla_temp": compiled.memory_analysis().temp_size_in_bytes / 2**20,
        }
    return out


SCALING_CASE = Case(0, 100, 64, 256)
"""The scaling table's case; its batch is each column's."""


def scaling(case: Case = SCALING_CASE, batches=(64, 256), *, rounds: int = 3,
            min_seconds: float = 0.2) -> dict:
    """Data parallelism: seconds per forward+backward of ``case`` (``jaxlstm.lstm``, ``auto``)
    at each global batch, on 1, 2, 4, ... of the visible devices, with the params replicated
    and the batch split across the devices (as ``parallel.axis = "batch"`` trains), timed in
    interleaved rounds; and each one's loss, which must not depend on the devices.

    Returns ``{"case", "devices": [...], "batches": [...], "seconds": {batch: [per device count]},
    "loss": {batch: [...]}, "simulated": bool}``. Simulated CPU devices
    (``--xla_force_host_platform_device_count``) share the same cores: there the table is a
    correctness run, not a measure of scaling."""
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    counts = [2**k for k in range(int(math.log2(jax.device_count())) + 1)]
    params = init(jax.random.key(0), case.input_size, case.hidden_size)
    loss = lambda p, x: jnp.mean(jnp.square(lstm(p, x)[0]))
    made, losses = {}, {}
    for batch in batches:
        xs = _inputs(dataclasses.replace(case, batch=batch))
        for count in counts:
            if batch % count:
                continue
            mesh = Mesh(np.array(jax.devices()[:count]), ("devices",))
            x = jax.device_put(xs, NamedSharding(mesh, P(None, "devices")))
            p = jax.device_put(params, NamedSharding(mesh, P()))
            f = jax.jit(jax.value_and_grad(loss))
            losses[batch, count] = float(f(p, x)[0])
            made[batch, count] = lambda f=f, p=p, x=x: jax.block_until_ready(f(p, x))
    times = interleaved(made, rounds, min_seconds)
    simulated = jax.default_backend() == "cpu" and jax.device_count() > 1
    return {"case": {"steps": case.steps, "input_size": case.input_size, "hidden_size": case.hidden_size},
            "devices": counts, "batches": list(batches), "simulated": simulated,
            "seconds": {b: [statistics.median(times[b, c]) if (b, c) in times else None for c in counts]
                        for b in batches},
            "loss": {b: [losses.get((b, c)) for c in counts] for b in batches}}


def scaling_table(result: dict) -> str:
    """The scaling result as Markdown: ms per step, and the speed-up over one device."""
    case = result["case"]
    lines = [f"data parallel, {case['steps']} steps, I {case['input_size']}, H {case['hidden_size']}"
             + (" (simulated CPU devices share the same cores: a correctness run, not a measure of scaling)"
                if result["simulated"] else ""),
             "| devices | " + " | ".join(f"batch {b}: ms (speed-up)" for b in result["batches"]) + " |",
             "|---|" + "---|" * len(result["batches"])]
    for i, count in enumerate(result["devices"]):
        cells = []
        for b in result["batches"]:
            t, base = result["seconds"][b][i], result["seconds"][b][0]
            cells.append("-" if t is None else f"{t * 1e3:.2f} ({base / t:.2f}x)")
        lines.append(f"| {count} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(cases=CASES, *, rounds: int = 5, min_seconds: float = 0.2, impls=("auto",), bf16: bool = False,
         networks: int = 0, json_path: str | None = None, progress=print) -> dict:
    """Run every benchmark (the ensemble of ``networks`` LSTMs too, if not 0); print the tables,
    and write JSON if asked. Returns the results."""
    results = []
    for case in cases:
        for backward in (False, True):
            seconds = run(case, backward, rounds=rounds, min_seconds=min_seconds, impls=impls, bf16=bf16)
            mode = "forward+backward" if backward else "forward"
            results.append({"case": case.name, **dataclasses.asdict(case), "mode": mode, "seconds": seconds})
            progress(f"{case.name} {mode}: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in _medians(seconds).items()))
    report = {
        "cpu": provenance.cpu_model(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "jax": jax.__version__,
        "speed": results,
        "compile_seconds": compile_times(),
        "memory_mib": memory(),
        "stream_seconds_per_step": stream(rounds=rounds, min_seconds=min_seconds),
    }
    progress(f"CPU: {report['cpu']}; backend {report['backend']}; {rounds} rounds, ratios as median (range)")
    progress(speed_table(results))
    progress("compile seconds by T: " + json.dumps({k: round(v, 2) for k, v in report["compile_seconds"].items()}))
    progress("forward+backward MiB by remat: " + json.dumps(report["memory_mib"]))
    per_step = report["stream_seconds_per_step"]
    progress(f"acting step by step ({STREAM_CASE.name}, proj 32), us per step: "
             + ", ".join(f"{k} {v * 1e6:.1f}" for k, v in per_step.items())
             + f"; lstm_step loop / T=1 lstm: {per_step['lstm_step loop'] / per_step['T=1 lstm']:.2f}")
    if networks:
        report["ensemble"] = {"case": ENSEMBLE_CASE.name, "networks": networks,
                              "seconds": ensemble(networks=networks, rounds=rounds, min_seconds=min_seconds)}
        progress(f"ensemble of {networks} LSTMs {ENSEMBLE_CASE.name}, forward+backward ms: "
                 + ", ".join(f"{k} {v * 1e3:.2f}" for k, v in report["ensemble"]["seconds"].items()))
    if jax.device_count() > 1:
        report["scaling"] = scaling(rounds=rounds, min_seconds=min_seconds)
        progress(scaling_table(report["scaling"]))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(report, f, indent=1)
    return report
