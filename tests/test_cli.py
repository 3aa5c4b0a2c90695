"""``jaxlstm shapes``: the walk through one step prints the shapes of the classic explanation."""

import os
import re
import signal
import subprocess
import sys

import pytest

from jaxlstm.cli import main


def shapes_table(text):
    """name -> shape for every row of the walk."""
    return {m[1].strip(): m[2] for m in re.finditer(r"^  (\S.{0,13})(\([\d, ]*\))", text, re.M)}


def test_shapes_h3_i2(capsys):
    assert main(["shapes", "--input-size", "2", "--hidden-size", "3"]) == 0
    table = shapes_table(capsys.readouterr().out)
    assert table["x(t)"] == "(2,)" and table["h(t-1)"] == "(3,)"
    assert table["W"] == "(3, 2)" and table["U"] == "(3, 3)" and table["V = [U, W]"] == "(3, 5)"
    assert table["V"] == "(5, 12)" and table["gate"] == "(3,)" and table["i, f, g, o"] == "(3,)"
    assert table["c(t)"] == "(3,)" and table["h(t)"] == "(3,)"


def test_shapes_other_sizes_and_checks(capsys):
    main(["shapes", "--input-size", "7", "--hidden-size", "4"])
    out = capsys.readouterr().out
    table = shapes_table(out)
    assert table["W"] == "(4, 7)" and table["V = [U, W]"] == "(4, 11)" and table["V"] == "(11, 16)"
    errors = [float(e) for e in re.findall(r"^  check: .* ([\d.e+-]+)$", out, re.M)]
    assert len(errors) == 2 and max(errors) < 1e-6


def test_bad_size_exits_with_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["shapes", "--hidden-size", "0"])
    assert exit.value.code == 2
    assert "expected a positive integer; got 0" in capsys.readouterr().err


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "jaxlstm", "shapes"], capture_output=True, text=True, check=True)
    assert "Why h(t) keeps the size of h(t-1)" in out.stdout


def test_readme_shows_the_current_walk():
    """The README's block (which the shapes guide includes) is the output of ``jaxlstm shapes
    --input-size 2 --hidden-size 3``."""
    import pathlib

    from jaxlstm.shapes import walk_shapes

    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    block = readme.split("```text\n", 1)[1].split("```", 1)[0].rstrip("\n")
    without_numbers = lambda text: re.sub(r"(check: .*) [\d.e+-]+$", r"\1", text, flags=re.M)
    assert without_numbers(block) == without_numbers(walk_shapes(2, 3))


TINY = ["--set", "train.steps=6", "--set", "train.log_every=3", "--set", "eval.every=3", "--set",
        "model.hidden_size=4", "--seeds", "2"]


def test_run_trains_and_reports(tmp_path, capsys, standard_promotion):
    assert main(["run", *TINY, "--workdir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "jaxlstm run: the default experiment -> " in out and re.search(r"solved: \d of 2 seeds", out)
    assert (tmp_path / "run" / "curves.png").exists()
    assert main(["run", *TINY, "--workdir", str(tmp_path / "run")]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert main(["run", *TINY, "--workdir", str(tmp_path / "run"), "--resume"]) == 0
    assert "resumed" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--set", "optim.lr=-1"], "jaxlstm run: error: defaults with --set optim.lr=-1: optim.lr must be a positive number"),
    (["run", "--resume"], "jaxlstm run: error: --resume needs --workdir"),
    (["run", "missing.toml"], "jaxlstm run: error: config file missing.toml does not exist"),
])
def test_run_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("during", "name", "code"), [("import", "SIGTERM", 143), ("load", "SIGINT", 130)])
def test_a_signal_before_the_run_starts_stops_it_after_the_import_or_the_config(during, name, code, tmp_path,
                                                                                monkeypatch, capsys):
    """A signal while the library imports (recorded by the command's own handler until the
    flag's module is imported) or while the config loads stops the run right after, with one
    line; the handlers are put back."""
    from jaxlstm import train
    from jaxlstm.train import interrupt

    signum, before = getattr(signal, name), {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    # The last call of each phase: where the flag is installed (the import is over), the config.
    module, attribute = (interrupt, "catching") if during == "import" else (train, "load")
    function = getattr(module, attribute)

    def after_the_signal(*args):
        signal.raise_signal(signum)
        return function(*args)

    def exit_raises(status):  # os._exit would end pytest
        raise SystemExit(status)

    monkeypatch.setattr(module, attribute, after_the_signal)
    monkeypatch.setattr(os, "_exit", exit_raises)
    with pytest.raises(SystemExit) as ended:
        main(["run", *TINY, "--workdir", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    what = {"SIGTERM": "SIGTERM", "SIGINT": "Ctrl-C (SIGINT)"}[name]
    assert ended.value.code == code and out == ""
    assert err == f"jaxlstm run: stopped by {what} before the run started; nothing was saved.\n"
    assert not (tmp_path / "run").exists()
    assert {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} == before


def test_sample_text_from_a_trained_character_model(tmp_path, capsys, standard_promotion):
    workdir = str(tmp_path / "text")
    assert main(["run", *TINY, "--set", "task.name=text", "--set", "task.seq_len=10", "--set",
                 "train.max_length=10", "--set", "eval.batch_size=4", "--workdir", workdir]) == 0
    capsys.readouterr()
    assert main(["sample", "--workdir", workdir, "--length", "30", "--prime", "def ", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("def ") and len(text) == 4 + 30 + 1
    main(["sample", "--workdir", workdir, "--length", "30", "--prime", "def ", "--seed", "1"])
    assert capsys.readouterr().out == text  # the same seed draws the same text
    assert main(["sample", "--workdir", workdir, "--temperature", "0"]) == 2
    assert "temperature must be positive; got 0.0" in capsys.readouterr().err


def test_sample_needs_a_text_run(tmp_path, capsys, standard_promotion):
    assert main(["run", *TINY, "--workdir", str(tmp_path / "erg")]) == 0
    capsys.readouterr()
    assert main(["sample", "--workdir", str(tmp_path / "erg")]) == 2
    assert "sample needs a run of the task 'text'; the run in" in capsys.readouterr().err
    assert main(["sample", "--workdir", str(tmp_path / "nothing")]) == 2
    assert "has no config.json" in capsys.readouterr().err
