"""Every committed experiment config loads and trains, shrunk to a few steps and seeds, so none of
them rots; the Greff sweep names only real variants."""

import importlib.util
import json
import re
import tomllib
from pathlib import Path

import jax
import pytest

from jaxlstm import VARIANTS
from jaxlstm.train import Model, load, run

EXPERIMENTS = Path(__file__).parent.parent / "experiments"
CONFIGS = sorted(EXPERIMENTS.glob("*.toml"))
SHRINK = ["train.steps=4", "train.seeds=2", "train.log_every=2", "train.checkpoint_every=4", "eval.every=4",
          "eval.batch_size=4"]


@pytest.fixture(autouse=True)
def from_the_top_of_the_repository(monkeypatch):
    """Where experiments/README.md runs every command: the data files' paths are relative to it."""
    monkeypatch.chdir(EXPERIMENTS.parent)


def test_every_experiment_is_here():
    assert {c.stem for c in CONFIGS} >= {"erg", "cerg_forget", "cerg_lstm1997", "cerg_lstm1997_reset",
                                         "adding100", "adding500", "greff", "text", "tmaze", "sensors", "japanese_vowels", "airline"}


# One config of each code path trains (shrunk); the others differ from one of these only in
# numbers (a length, a gate), so building their model is their check. (tests/test_ppo.py trains
# the T-maze's code path.)
TRAINED = {"cerg_lstm1997_reset", "adding100", "greff", "japanese_vowels", "airline"}  # erg, a stream: tests/test_train.py


def shrunk(path):
    toml = tomllib.loads(path.read_text())
    needs = [p.partition(":")[0] for key in ("path", "test_path") if ":" in (p := toml.get("task", {}).get(key, ""))]
    missing = [package for package in needs if importlib.util.find_spec(package) is None]
    if missing:  # .ci/run installs the data extra and runs these again, none skipped
        pytest.skip(f"{path.name} reads data shipped in {missing[0]}: pip install -e '.[data]'")
    evaluated = min(4, toml.get("eval", {}).get("batch_size", 4))  # the airline's held-out split is 1 series
    return load(path, SHRINK + [f"eval.batch_size={evaluated}"]
                + (["eval.stream_length=50", "train.tbptt=10"] if "cerg" in path.stem else []))


@pytest.mark.parametrize("path", [c for c in CONFIGS if c.stem in TRAINED], ids=lambda c: c.stem)
def test_each_kind_of_config_trains_shrunk(tmp_path, path):
    with jax.numpy_dtype_promotion("standard"):
        result = run(shrunk(path), tmp_path / path.stem, progress=False, echo=lambda _: None)
    summary = json.loads((tmp_path / path.stem / "summary.json").read_text())
    assert summary["step"] == 4 and len(summary["solved"]) == 2 and result.table


@pytest.mark.parametrize("path", CONFIGS, ids=lambda c: c.stem)
def test_each_config_loads_and_builds_its_model(path):
    cfg = shrunk(path)
    network = Model.for_task(cfg.model, cfg.task.make())
    shapes = jax.eval_shape(network.init, jax.random.key(0))
    assert shapes["lstm"].hidden_size == network.hidden_size


def test_the_greff_sweep_runs_real_variants_at_one_budget():
    variants = re.search(r"for variant in ([\w ]+);", (EXPERIMENTS / "greff.sh").read_text())[1].split()
    assert set(variants) <= set(VARIANTS) and {"NFG", "NOAF", "CIFG", "NP", "FGR"} <= set(variants)
    assert load(EXPERIMENTS / "greff.toml").model.param_budget > 0
