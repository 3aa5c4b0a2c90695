"""Your own data (``[task] name = "files"``): every format reads to the same sequences, the three
targets make the batches they say, normalisation comes from the training split alone, every bad
file is refused naming the file and the place (and leaves a run untouched), and a trained run
predicts on new sequences (``jaxlstm predict``)."""

import json
import os

import numpy as np
import pytest
from tolerance import assert_close

from jaxlstm.cli import main
from jaxlstm.tasks import FileDataError, Files, make_task
from jaxlstm.tasks.files import read_sequences, resolve
from jaxlstm.train import ConfigError, load

RNG = np.random.default_rng(0)


pytestmark = pytest.mark.usefixtures("standard_promotion")


LENGTHS = np.array([3, 5, 4, 2, 5, 1])
SEQS = [RNG.normal(size=(n, 2)).astype(np.float32) for n in LENGTHS]
LABELS = np.array([0, 1, 1, 0, 2, 1])


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def padded():
    x = np.zeros((len(SEQS), 5, 2), np.float32)
    for i, s in enumerate(SEQS):
        x[i, : len(s)] = s
    return x


def write_csv(path, rows, header="id,label,a,b"):
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def csv_rows(per_step_labels=None):
    rows = []
    for i, s in enumerate(SEQS):
        for t, (a, b) in enumerate(s):
            label = LABELS[i] if per_step_labels is None else per_step_labels[i][t]
            rows.append(f"s{i},{label},{float(a)!r},{float(b)!r}")
    return rows


def write_ts(path, labels=("one", "two", "two", "one", "three", "two")):
    lines = ["# a comment", "@problemName Tiny", "@timeStamps false", "@univariate false", "@dimensions 2",
             "@equalLength false", "@classLabel true one two three", "@data"]
    for s, label in zip(SEQS, labels):
        lines.append(":".join(",".join(repr(float(v)) for v in s[:, d]) for d in range(2)) + f":{label}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def assert_same_sequences(read):
    assert len(read.values) == len(SEQS)
    for got, want in zip(read.values, SEQS):
        np.testing.assert_array_equal(got, want)


def test_every_format_reads_the_same_sequences(tmp_path):
    offsets = np.concatenate([[0], np.cumsum(LENGTHS)])
    files = [write_npz(tmp_path / "padded.npz", x=padded(), lengths=LENGTHS, y=LABELS),
             write_npz(tmp_path / "ragged.npz", values=np.concatenate(SEQS), offsets=offsets, y=LABELS),
             write_csv(tmp_path / "steps.csv", csv_rows()), write_ts(tmp_path / "cases.ts")]
    for path in files:
        read = read_sequences(path)
        assert_same_sequences(read)
        labels = [np.asarray(label).ravel()[0].item() for label in read.labels]
        assert labels == (["one", "two", "two", "one", "three", "two"] if path.endswith(".ts") else LABELS.tolist())
    assert read_sequences(files[2]).columns == ("a", "b")
    one = read_sequences(write_csv(tmp_path / "series.csv", ["1949-01,112", "1949-02,118"], header="Date,Passengers"),
                         id_column="", columns=("Passengers",))
    assert [v.tolist() for v in one.values] == [[[112.0], [118.0]]] and one.labels is None  # one series, no id
    np.save(tmp_path / "full.npy", padded())
    assert [len(v) for v in read_sequences(str(tmp_path / "full.npy")).values] == [5] * len(SEQS)


def test_a_sequence_target_is_its_class_at_its_last_step(tmp_path):
    task = make_task("files", path=write_npz(tmp_path / "d.npz", x=padded(), lengths=LENGTHS, y=LABELS),
                     test_fraction=0.34)
    assert (task.input_size, task.output_size, task.output) == (2, 3, "softmax")
    train = task._data["train"]
    assert len(train) == 4 and len(task._data["test"]) == 2  # a seeded third held out
    steps = np.concatenate([v for v, _ in train])
    np.testing.assert_array_equal(np.float32(task.fitted()["mean"]), steps.mean(0))  # the training split alone
    batch = task.batch([SEQS[1], SEQS[5]], [1, 1])
    assert batch.xs.shape == (5, 2, 2) and batch.seq_lengths.tolist() == [5, 1]
    assert batch.weights[:, 0].tolist() == [0, 0, 0, 0, 1] and batch.weights[:, 1].tolist() == [1, 0, 0, 0, 0]
    assert batch.targets[4, 0].tolist() == [0, 1, 0]
    np.testing.assert_array_equal(batch.xs[:5, 0], (SEQS[1] - steps.mean(0)) / steps.std(0))  # the same float32 ops
    right = np.zeros((5, 2, 3), np.float32)
    right[4, 0, 1] = right[0, 1, 1] = 1.0
    assert task.correct(right, batch).tolist() == [True, True]
    right[4, 0] = [1, 0, 0]
    assert task.correct(right, batch).tolist() == [False, True]
    held = task.held_out().sample(0, 2)
    assert held.xs.shape[1] == 2
    with pytest.raises(ValueError, match=r"held-out split .* has 2 sequences.*eval.batch_size=2"):
        task.held_out().sample(0, 3)


def test_a_step_target_counts_every_step_and_a_given_test_file(tmp_path):
    per_step = [np.arange(n) % 2 for n in LENGTHS]
    path = write_csv(tmp_path / "train.csv", csv_rows(per_step))
    test = write_csv(tmp_path / "test.csv", csv_rows(per_step)[:7])
    task = make_task("files", path=path, test_path=test, target="step")
    assert task.output_size == 2 and len(task._data["train"]) == len(SEQS) and len(task._data["test"]) == 2
    batch = task.batch([SEQS[0]], [per_step[0]])
    assert batch.weights[:, 0].tolist() == [1, 1, 1]
    assert np.argmax(batch.targets[:, 0], -1).tolist() == [0, 1, 0]


def test_a_forecast_target_is_the_next_values_and_holds_out_each_series_tail(tmp_path):
    series = np.arange(20, dtype=np.float32)[None, :, None] * np.array([1.0, -2.0], np.float32)
    np.save(tmp_path / "series.npy", series)
    task = make_task("files", path=str(tmp_path / "series.npy"), target="forecast", horizon=2,
                     forecast_columns=("x1",), test_fraction=0.25, window=6)
    assert (task.output_size, task.output) == (2, "linear")
    fitted = task.fitted()
    np.testing.assert_array_equal(fitted["mean"], [7.0, -14.0])  # steps 0..14, the first 75% alone (exact)
    batch = task.sample(0, 3)
    assert batch.xs.shape == (8, 3, 2) and batch.weights.sum(0).tolist() == [6, 6, 6]
    x1 = lambda t: (-2.0 * t - fitted["mean"][1]) / fitted["std"][1]
    first = batch.xs[0, 0, 1] * fitted["std"][1] + fitted["mean"][1]  # where that window starts
    t0 = round(-first / 2)
    assert_close(batch.targets[0, 0], np.float32([x1(t0 + 1), x1(t0 + 2)]), "reference")
    held = task.held_out().sample(0, 1)
    assert held.xs.shape[0] == 20 and np.nonzero(held.weights[:, 0])[0].tolist() == [14, 15, 16, 17]


def test_a_file_inside_a_package_is_found_without_importing_it(tmp_path):
    assert resolve("json:__init__.py").is_file()
    with pytest.raises(FileDataError, match=r"inside the package 'no_such_package_x', which is not installed"):
        resolve("no_such_package_x:data/file.ts")


BAD_FILES = [
    ("ragged.npz", lambda p: write_npz(p, values=np.zeros((5, 2)), offsets=np.array([0, 2, 4])),
     r"'offsets' \[0, 2, 4\] \(ending at 4\) do not add up; expected 0 first, never decreasing, and 5"),
    ("nan.npz", lambda p: write_npz(p, x=np.where(np.arange(12).reshape(2, 3, 2) == 7, np.nan, 1.0), y=np.array([0, 1])),
     r"sequence 1, step 0, feature 'x1' is nan; expected a finite number"),
    ("long.npz", lambda p: write_npz(p, x=np.ones((2, 3, 1)), lengths=np.array([3, 4]), y=np.array([0, 1])),
     r"lengths\[1\] is 4, longer than the padding of 'x' \(3 steps\)"),
    ("labels.csv", lambda p: write_csv(p, ["s0,0.5,1,2", "s1,1,1,2"]),
     r"line 2, column 'label': '0.5'; expected an integer class label"),
    ("text.csv", lambda p: write_csv(p, ["s0,0,1,x", "s1,1,1,2"]), r"line 2, column 'b': 'x'; expected a number"),
    ("mixed.csv", lambda p: write_csv(p, ["s0,0,1,2", "s0,1,1,2", "s1,1,1,2"]),
     r"the sequence from line 2: the labels \[0, 1\]; expected one label per sequence"),
    ("noid.csv", lambda p: write_csv(p, ["0,1,2"], header="label,a,b"), r"has no column 'id'"),
    ("one.npz", lambda p: write_npz(p, x=np.ones((1, 3, 1)), y=np.array([0])),
     r"the held-out split is empty; expected at least one sequence"),
    ("data.txt", lambda p: p.write_text("1 2 3"), r"has the extension '.txt'; expected one of"),
    ("absent.npz", lambda p: str(p), r"does not exist"),
]


@pytest.mark.parametrize("name, make, message", BAD_FILES, ids=[name for name, _, _ in BAD_FILES])
def test_a_bad_file_is_refused_naming_the_file_and_the_place(tmp_path, name, make, message):
    path = make(tmp_path / name) or str(tmp_path / name)
    with pytest.raises(FileDataError, match=message) as refused:
        Files(path=str(tmp_path / name))
    assert name in str(refused.value)
    with pytest.raises(ConfigError, match="task: data file"):  # as a config: before any run starts
        load(None, ["task.name=files", f"task.path={tmp_path / name}"])


def small_run(tmp_path, path, *extra):
    workdir = tmp_path / "run"
    argv = ["run", "--set", "task.name=files", "--set", f"task.path={path}", "--set", "train.steps=4",
            "--set", "train.seeds=1", "--set", "train.batch_size=4", "--set", "train.max_length=5",
            "--set", "eval.batch_size=2", "--set", "eval.every=4", "--set", "model.hidden_size=4",
            *extra, "--workdir", str(workdir)]
    assert main(argv) == 0
    return workdir, argv


def snapshot(directory):
    return {p: p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_a_run_predicts_and_a_bad_file_leaves_it_untouched(tmp_path, capsys):
    path = write_npz(tmp_path / "d.npz", x=padded(), lengths=LENGTHS, y=LABELS)
    workdir, argv = small_run(tmp_path, path, "--set", "task.test_fraction=0.34")
    fitted = json.loads((workdir / "data.json").read_text())
    assert fitted["classes"] == [0, 1, 2] and fitted["target"] == "sequence"
    new = write_npz(tmp_path / "new.npz", x=padded()[:3], lengths=LENGTHS[:3])
    out = tmp_path / "predictions.npz"
    assert main(["predict", "--workdir", str(workdir), "--input", new, "--output", str(out)]) == 0
    with np.load(out) as got:
        assert got["outputs"].shape == (3, 5, 3) and got["lengths"].tolist() == LENGTHS[:3].tolist()
        assert_close(got["outputs"][0, :3].sum(-1), np.ones(3, np.float32), "reordered")  # probabilities
        assert got["labels"].shape == (3,) and set(got["labels"].tolist()) <= {"0", "1", "2"}
    csv_out = tmp_path / "predictions.csv"
    assert main(["predict", "--workdir", str(workdir), "--input", new, "--output", str(csv_out)]) == 0
    assert csv_out.read_text().splitlines()[0] == "sequence,step,label,p(0),p(1),p(2)"
    os.remove(path)  # predicting needs the run alone, not its training data
    assert main(["predict", "--workdir", str(workdir), "--input", new, "--output", str(out)]) == 0
    write_npz(tmp_path / "d.npz", x=padded(), lengths=LENGTHS + 1, y=LABELS)  # now broken: 6 > 5 steps
    before = snapshot(workdir)
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 2
    assert "lengths[1] is 6, longer than the padding" in capsys.readouterr().err
    assert snapshot(workdir) == before
    write_npz(tmp_path / "d.npz", x=2 * padded(), lengths=LENGTHS, y=LABELS)  # valid, but other data
    assert main([*argv, "--resume"]) == 2
    assert f"the data of workdir {workdir} changed since its run started" in capsys.readouterr().err
    assert snapshot(workdir) == before


def test_a_custom_task_registered_from_python_trains(tmp_path):
    """experiments/custom_task.py, the documented example, shrunk: registered by name, built
    from a config, trained by jaxlstm.train.run."""
    import importlib.util
    from pathlib import Path

    from jaxlstm.tasks import TASKS, register
    from jaxlstm.train import run

    path = Path(__file__).parents[1] / "experiments" / "custom_task.py"
    spec = importlib.util.spec_from_file_location("custom_task", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert TASKS["sign_of_sum"] is example.SignOfSum
    settings = [s for s in example.SETTINGS if not s.startswith(("train.steps", "eval."))]
    result = run(load(None, [*settings, "train.steps=3", "eval.every=3", "eval.batch_size=8"]), tmp_path / "run",
                 progress=False, echo=lambda _: None)
    assert result.final["step"] == 3 and len(result.final["correct"]) == 2
    with pytest.raises(ValueError, match=r"'sign_of_sum' is taken by SignOfSum"):
        register("sign_of_sum", Files)
    with pytest.raises(TypeError, match=r"must be a dataclass"):
        register("not_a_dataclass", object)
