"""Run by tests/test_parallel.py in a process of its own with 4 simulated CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``, which must be set before JAX starts):
trains the same config on 1 device, data parallel and seed parallel on 4, resumes a 4-device
run on 1, reads the collectives of the compiled train steps, and collects the config errors;
prints what it found as one JSON object."""

import json
import re
import sys
import tempfile
from pathlib import Path


def collectives(hlo: str) -> tuple[int, int]:
    """The collective operations of an HLO module's text: ``(inside a while loop, in all)``,
    counting those in every computation a loop's body calls, however deep."""
    computations, current = {}, None
    for line in hlo.splitlines():
        header = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{\s*$", line)
        if header:
            current = computations.setdefault(header[1], [])
        elif current is not None:
            current.append(line)
    called = {name: set(re.findall(r"(?:to_apply|calls|body|condition|branch_computations)=\{?%?([\w.\-]+)", "\n".join(lines)))
              for name, lines in computations.items()}
    inside, stack = set(), [b for lines in computations.values() for line in lines for b in re.findall(r"body=%?([\w.\-]+)", line)]
    while stack:
        name = stack.pop()
        if name not in inside and name in computations:
            inside.add(name)
            stack += called[name]
    collective = re.compile(r"\b(all-reduce|all-gather|reduce-scatter|all-to-all|collective-permute)(-start)?\(")
    count = lambda names: sum(1 for name in names for line in computations[name] if collective.search(line))
    return count(inside), count(computations)


def main() -> dict:
    import jax

    from jaxlstm.train import ConfigError, load, run
    from jaxlstm.train.loop import _build

    assert len(jax.devices()) == 4, jax.devices()
    base = ["train.steps=200", "train.seeds=4", "train.batch_size=8", "train.log_every=50", "train.checkpoint_every=100",
            "eval.every=100", "eval.batch_size=32", "model.hidden_size=8"]
    out, workdir = {}, Path(tempfile.mkdtemp())
    quiet = lambda _: None
    with jax.numpy_dtype_promotion("standard"):
        for name, extra in [("one", ["parallel.devices=1"]), ("batch", ["parallel.devices=4"]),
                            ("seeds", ["parallel.devices=4", "parallel.axis=seeds"])]:
            result = run(load(None, base + extra), workdir / name, progress=False, echo=quiet)
            records = [json.loads(line) for line in (workdir / name / "metrics.jsonl").read_text().splitlines()]
            params = jax.tree.leaves(result.state.params)[0]
            out[name] = {"train_loss": [r for r in records if r["kind"] == "train"][-1]["loss"],
                         "test_loss": result.final["loss"], "spec": str(getattr(params.sharding, "spec", None))}
        run(load(None, base + ["parallel.devices=4"]), workdir / "moved", progress=False, echo=quiet, stop_after=100)
        moved = run(load(None, base + ["parallel.devices=1"]), workdir / "moved", resume=True, progress=False, echo=quiet)
        out["moved"] = {"test_loss": moved.final["loss"]}
        ppo = ["task.name=tmaze", "task.length=4", "train.steps=6", "train.seeds=4", "train.log_every=3",
               "train.checkpoint_every=3", "eval.every=3", "eval.batch_size=8", "ppo.num_envs=8", "ppo.rollout=16",
               "ppo.minibatches=2", "ppo.epochs=1", "model.hidden_size=8"]
        agents = [run(load(None, ppo + extra), workdir / f"ppo{i}", progress=False, echo=quiet).state.params
                  for i, extra in enumerate([["parallel.devices=1"], ["parallel.devices=4", "parallel.axis=seeds"]])]
        out["ppo_seeds"] = [[leaf.tolist() for leaf in jax.tree.leaves(agent)] for agent in agents]
        for impl in ("auto", "reference"):
            parts = _build(load(None, base + ["parallel.devices=4", f"model.impl={impl}"]))
            state = parts.init(parts.seeds)
            out[f"collectives_{impl}"] = collectives(parts.train_step.lower(state, *parts.inputs(0)).compile().as_text())
        errors = {}
        for name, overrides in [("too_many", ["parallel.devices=8"]), ("batch", ["train.batch_size=6", "parallel.devices=4"]),
                                ("eval_batch", ["eval.batch_size=30", "parallel.devices=4"]),
                                ("seeds", ["train.seeds=3", "parallel.axis=seeds", "parallel.devices=4"]),
                                ("environment", ["task.name=tmaze", "parallel.devices=4"])]:
            try:
                _build(load(None, overrides))
                errors[name] = None
            except ConfigError as error:
                errors[name] = str(error)
        out["errors"] = errors
    from jaxlstm import bench

    scaled = bench.scaling(bench.Case(0, 5, 3, 8), batches=(8, 6), rounds=1, min_seconds=0.0)
    out["scaling"] = {"result": scaled, "table": bench.scaling_table(scaled)}
    return out


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
