"""A run says how fast it trains (steps per second in its metrics lines and progress bar, the
train step's compile time apart in summary.json), and keeps its compiled programs in JAX's
persistent compilation cache (``train.compilation_cache``), so that a second run of a config
compiles nothing."""

import json
import re
from pathlib import Path

import jax
import pytest
from jax.experimental.compilation_cache import compilation_cache

from jaxlstm.train import RESUMABLE, ConfigError, load, run
from jaxlstm.train.config import from_dict
from jaxlstm.train.loop import _CACHE_FLAGS, _compilation_cache, user_cache_dir

TINY = ["train.steps=4", "train.seeds=1", "train.batch_size=4", "train.log_every=2", "train.checkpoint_every=4",
        "eval.every=4", "eval.batch_size=4", "model.hidden_size=4"]

COMPILE, HIT = "/jax/core/compile/backend_compile_duration", "/jax/compilation_cache/cache_hits"


pytestmark = pytest.mark.usefixtures("standard_promotion")


def quiet(_):
    pass


def settings():
    return {name: getattr(jax.config, name) for name in _CACHE_FLAGS}


def compiled(events):
    """Programs compiled: JAX times every request for a program as a compilation, whether XLA
    compiles it or it is read back from the persistent cache (a hit)."""
    return events.count(COMPILE) - events.count(HIT)


@pytest.fixture
def no_jax_cache(monkeypatch, tmp_path):
    """JAX as a user has it: no cache directory configured (the suite configures one), and the
    user's cache directory in ``tmp_path``."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    suite = settings()
    jax.config.update("jax_compilation_cache_dir", None)
    compilation_cache.reset_cache()
    try:
        yield
    finally:
        for name, value in suite.items():
            jax.config.update(name, value)
        compilation_cache.reset_cache()


def test_metrics_lines_and_summary_time_the_steps_apart_from_compiling(tmp_path, capsys):
    result = run(load(None, TINY), tmp_path / "run", progress=True, echo=print)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in lines if r["kind"] == "train"]
    assert [r["step"] for r in train] == [2, 4] and all(r["steps_per_second"] > 0 for r in train)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["compile_seconds"] > 0 and summary["train_seconds"] > 0
    # The windows' times make up the training time; compiling and training fit in the wall time.
    windows = sum(2 / r["steps_per_second"] for r in train)
    assert windows == pytest.approx(summary["train_seconds"], abs=2e-3)
    assert summary["steps_per_second"] == pytest.approx(4 / summary["train_seconds"], rel=0.1)  # rounded to ms
    assert summary["compile_seconds"] + summary["train_seconds"] <= summary["wall_seconds"] + 0.05
    assert summary["step"] == 4 and result.final["solved"] == summary["solved"]
    out, err = capsys.readouterr()
    assert "compiling the train step" in err and "steps/s=" in err  # the progress bar
    said = re.search(r"then 4 steps in ([0-9.]+) s, [0-9.]+ steps/s", out)
    assert said and abs(float(said[1]) - summary["train_seconds"]) <= 0.006  # printed to 10 ms, saved to 1 ms


def test_a_second_run_of_a_config_compiles_nothing(tmp_path, compilations, no_jax_cache):
    """The first run, with ``"auto"`` and no cache of JAX's, fills the user's cache directory;
    the second, which names that directory, reads every program back from it."""
    cache = user_cache_dir()
    assert cache.parent == tmp_path / "xdg" / "jaxlstm" / "xla"  # and one directory per CPU model
    run(load(None, TINY), tmp_path / "first", progress=False, echo=quiet)
    assert compiled(compilations) > 0 and any(cache.iterdir())
    assert settings()["jax_compilation_cache_dir"] is None  # put back
    del compilations[:]
    run(load(None, [*TINY, f"train.compilation_cache={cache}"]), tmp_path / "second", progress=False, echo=quiet)
    assert compiled(compilations) == 0 and compilations.count(HIT) > 0
    summary = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert summary["compile_seconds"] > 0 and summary["steps_per_second"] > 0


def test_with_the_cache_off_a_run_compiles_everything_and_its_first_window_leaves_it_out(tmp_path, compilations):
    before = settings()
    run(load(None, [*TINY, "train.compilation_cache="]), tmp_path / "run", progress=False, echo=quiet)
    assert compiled(compilations) > 0 and compilations.count(HIT) == 0
    assert settings() == before and before["jax_enable_compilation_cache"]  # the suite's cache, put back
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert 2 / lines[0]["steps_per_second"] < summary["compile_seconds"]  # not in the first window's time


def test_auto_keeps_the_cache_jax_has_and_a_directory_replaces_it_for_the_run(tmp_path, monkeypatch):
    suite = settings()
    assert suite["jax_compilation_cache_dir"]  # tests/conftest.py's
    with _compilation_cache("auto", quiet):
        assert settings() == suite
    with _compilation_cache(str(tmp_path / "mine"), quiet):
        assert settings() == {"jax_enable_compilation_cache": True, "jax_compilation_cache_dir": str(tmp_path / "mine"),
                              "jax_persistent_cache_min_compile_time_secs": 0.0,
                              "jax_persistent_cache_min_entry_size_bytes": -1}
    assert settings() == suite
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # ignored, as the XDG specification says
    assert user_cache_dir().parent == Path.home() / ".cache" / "jaxlstm" / "xla"


def test_auto_runs_without_a_cache_where_it_cannot_make_one(tmp_path, monkeypatch, no_jax_cache):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    notes = []
    with _compilation_cache("auto", notes.append):
        assert settings()["jax_compilation_cache_dir"] is None
    assert len(notes) == 1 and notes[0].startswith(f"note: no compilation cache for this run: cannot make {tmp_path}")


def test_a_cache_directory_that_cannot_be_made_is_refused_before_the_run_starts(tmp_path):
    (tmp_path / "file").write_text("")
    cfg = load(None, [*TINY, f"train.compilation_cache={tmp_path / 'file' / 'cache'}"])
    with pytest.raises(ConfigError, match=r"^train\.compilation_cache: cannot make the directory .*file/cache for the "
                                          r"compilation cache \(Not a directory\); expected a directory this user can "
                                          r"write\. Hint: name another one"):
        run(cfg, tmp_path / "run", progress=False, echo=quiet)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("value", "hint"), [
    ("off", 'Hint: compilation_cache = "" (--set train.compilation_cache=) turns the cache off.'),
    ("None", 'Hint: compilation_cache = "" (--set train.compilation_cache=) turns the cache off.'),
    ("Auto", 'Hint: write "auto" in lower case.'),
    (" ~/cache", "Hint: write the directory without the spaces around it: '~/cache'."),
])
def test_a_cache_setting_that_is_surely_a_slip_is_refused(value, hint):
    expected = (f'exp.toml: train.compilation_cache must be "auto", a directory, or "" for no persistent compilation '
                f"cache; got {value!r}. {hint}")
    with pytest.raises(ConfigError, match=f"^{re.escape(expected)}$"):
        from_dict({"train": {"compilation_cache": value}}, "exp.toml")


def test_the_cache_settings_parse_and_a_resume_may_change_them():
    assert load(None).train.compilation_cache == "auto"
    assert load(None, ["train.compilation_cache="]).train.compilation_cache == ""
    assert load(None, ["train.compilation_cache=~/jax cache"]).train.compilation_cache == "~/jax cache"
    assert "train.compilation_cache" in RESUMABLE
