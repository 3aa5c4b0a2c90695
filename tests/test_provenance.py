"""Provenance: the record names the commit, versions, platform and wall time; a clean and a dirty
tree are told apart in a real git repository; jaxlstm's version names the commit of the checkout
it was imported from, installed or not; experiments/collect.py refuses what no commit backs.

These tests pass with jaxlstm installed and from a checkout on PYTHONPATH alike: none asks
importlib.metadata for jaxlstm."""

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import jax
import pytest
from packaging.version import Version

import jaxlstm
from jaxlstm import _version
from jaxlstm.train import provenance
from jaxlstm.train.provenance import Source

ROOT = Path(__file__).resolve().parent.parent
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(directory, *args):
    return subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
                          cwd=directory, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    """A git repository holding a committed package ``pkg``; returns (root, package dir, commit)."""
    package = tmp_path / "repo" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("x = 1\n")
    (tmp_path / "repo" / ".gitignore").write_text("runs/\n.venv/\n")
    git(tmp_path / "repo", "init", "-q")
    git(tmp_path / "repo", "add", ".")
    git(tmp_path / "repo", "commit", "-q", "-m", "first")
    return tmp_path / "repo", package, git(tmp_path / "repo", "rev-parse", "HEAD")


def test_record_names_commit_versions_platform_and_wall_time():
    entry = provenance.record(Source("a" * 40, False), 61.27)
    assert set(entry) == {"commit", "clean", "python", "jax", "jaxlib", "optax", "flax", "jaxlstm",
                          "platform", "cpu", "backend", "device_count", "wall_seconds"}
    assert entry["commit"] == "a" * 40 and entry["clean"] is False and entry["wall_seconds"] == 61.3
    assert entry["python"] == platform.python_version() and entry["platform"] == platform.platform()
    assert all(entry[name] == version(name) for name in ("jax", "jaxlib", "optax", "flax"))
    assert entry["jaxlstm"] == f"{jaxlstm.__version__}+g{'a' * 12}.dirty"  # the version of the tree it names
    assert entry["backend"] == jax.default_backend() and entry["device_count"] == jax.device_count()
    assert json.loads(json.dumps(entry)) == entry


@needs_git
def test_clean_and_dirty_trees_are_told_apart(checkout):
    root, package, commit = checkout
    assert provenance.source(package) == Source(commit, True)
    (root / "runs").mkdir()
    (root / "runs" / "summary.json").write_text("{}")  # ignored run outputs
    (root / "notes.txt").write_text("untracked")  # untracked files do not count either
    assert provenance.source(package) == Source(commit, True)
    (package / "__init__.py").write_text("x = 2\n")
    assert provenance.source(package) == Source(commit, False)
    git(root, "commit", "-q", "-am", "second")
    assert provenance.source(package) == Source(git(root, "rev-parse", "HEAD"), True)
    assert provenance.source(package).commit != commit


@needs_git
def test_an_untracked_copy_inside_a_checkout_has_no_commit(checkout):
    root, package, _ = checkout
    installed = root / ".venv" / "site-packages" / "pkg"  # pip install . into a venv in the repo
    shutil.copytree(package, installed)
    assert provenance.source(installed) == Source(None, None)
    assert provenance.source(root.parent) == Source(None, None)  # no checkout at all


def test_jaxlstm_records_its_own_checkout():
    state = provenance.source()
    source_root = Path(provenance.__file__).resolve().parent.parent.parent  # above jaxlstm/
    if (source_root / ".git").exists() and shutil.which("git"):
        assert state.commit == git(source_root, "rev-parse", "HEAD")
        assert isinstance(state.clean, bool)
    else:
        assert state == Source(None, None)


def test_the_version_is_defined_once():
    assert jaxlstm.__version__ is _version.__version__
    assert Version(jaxlstm.__version__).local is None  # the local part is provenance's, for checkouts
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "jaxlstm._version.__version__"}


@pytest.mark.parametrize("state, local", [
    (Source("3c15f72a9b01" + "7" * 28, True), "g3c15f72a9b01"),
    (Source("3c15f72a9b01" + "7" * 28, False), "g3c15f72a9b01.dirty"),
    (Source(None, None), None),  # an installed copy: the plain version
])
def test_jaxlstm_version_marks_a_checkout_with_its_commit(state, local):
    made = Version(provenance.jaxlstm_version(state))  # PEP 440, or InvalidVersion
    assert made.public == jaxlstm.__version__ and made.local == local


def test_the_environment_names_the_jaxlstm_that_runs_now():
    assert provenance.environment()["jaxlstm"] == provenance.jaxlstm_version(provenance.source())


@needs_git
def test_a_checkout_on_pythonpath_records_its_commit(tmp_path):
    """jaxlstm copied into a fresh git repository and imported from it through PYTHONPATH alone,
    as on a cluster without pip install: its record names the copy's commit."""
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    shutil.copytree(Path(jaxlstm.__file__).parent, repo / "jaxlstm", ignore=shutil.ignore_patterns("__pycache__"))
    elsewhere.mkdir()
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "copy")
    commit = git(repo, "rev-parse", "HEAD")
    code = ("import json, jaxlstm\n"
            "from jaxlstm.train import provenance\n"
            "print(json.dumps({'file': jaxlstm.__file__, 'record': provenance.record(provenance.source(), 1.0)}))")
    env = {**os.environ, "PYTHONPATH": str(repo), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                          check=True)
    ran = json.loads(done.stdout)
    assert Path(ran["file"]).resolve().is_relative_to(repo.resolve())
    record = ran["record"]
    assert record["commit"] == commit and record["clean"] is True
    assert record["jaxlstm"] == f"{jaxlstm.__version__}+g{commit[:12]}"


def test_cpu_model_reads_the_first_model_name(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\n\nprocessor\t: 1\n"
                       "model name\t: Other\n")
    assert provenance.cpu_model(cpuinfo) == "Example CPU @ 2.0GHz"
    cpuinfo.write_text("processor\t: 0\nCPU implementer\t: 0x41\n")  # e.g. some ARM kernels
    assert provenance.cpu_model(cpuinfo) is None
    assert provenance.cpu_model(tmp_path / "absent") is None


@pytest.fixture
def collect():
    spec = importlib.util.spec_from_file_location("collect", ROOT / "experiments" / "collect.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(runs, name, made):
    run = runs / name
    run.mkdir(parents=True)
    summary = {"seeds": [0, 1], "solved": [True, False], "solved_at": [500, None], "hidden_size": 6,
               "param_count": 301, "provenance": made}
    if made is None:
        del summary["provenance"]
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "config.json").write_text("{}")
    (run / "curves.png").write_bytes(b"png")
    (run / "metrics.jsonl").write_text('{"kind": "train", "step": 25}\n{"kind": "eval", "step": 500}\n')
    return run


def made(commit="0123456789abcdef" * 2 + "01234567", clean=True):
    return provenance.record(Source(commit, clean), 12.0)


@pytest.mark.parametrize("bad, message", [
    (made(clean=False), "run 'b': it was run from a dirty tree .* commit 0123456789ab"),
    (None, "run 'b': summary.json has no provenance"),
    (made(commit=None, clean=None), "run 'b': summary.json records no commit"),
])
def test_collect_refuses_a_run_no_clean_commit_backs(tmp_path, collect, capsys, bad, message):
    write_run(tmp_path / "runs", "a", made())
    write_run(tmp_path / "runs", "b", bad)
    status = collect.main(["--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "results")])
    assert status == 1
    with pytest.raises(collect.Refused, match=message):
        collect.check("b", json.loads((tmp_path / "runs" / "b" / "summary.json").read_text()))
    assert "collect.py: refused: run 'b'" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()  # nothing copied, not even the good run


def test_collect_copies_a_clean_run_and_prints_its_provenance(tmp_path, collect, capsys):
    run = write_run(tmp_path / "runs", "erg", made())
    (run / "sample.txt").write_text("The ")
    assert collect.main(["--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| erg | 1 of 2 solved;") and "| 0123456, clean, 12 s, jax " in out
    copied = tmp_path / "results" / "erg"
    assert sorted(p.name for p in copied.iterdir()) == ["config.json", "curves.png", "evals.jsonl",
                                                         "sample.txt", "summary.json"]
    assert (copied / "evals.jsonl").read_text() == '{"kind": "eval", "step": 500}\n'
    assert json.loads((copied / "summary.json").read_text())["provenance"]["clean"] is True
