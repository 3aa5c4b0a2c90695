"""``jaxlstm bench`` runs end to end on a tiny case; remat's memory saving is real (XLA's count)."""

import json

import pytest

from jaxlstm import bench
from jaxlstm.cli import main

TINY = bench.Case(batch=2, steps=5, input_size=3, hidden_size=4)


def test_run_times_every_contender():
    seconds = bench.run(TINY, backward=True, rounds=1, min_seconds=0.0, impls=("auto", "reference"), bf16=True)
    expected = {"jaxlstm auto", "jaxlstm reference", "jaxlstm auto bf16", "jaxlstm auto resets", "floor",
                "flax linen", "flax nnx"}
    assert expected <= set(seconds) and all(len(t) == 1 and t[0] > 0 for t in seconds.values())
    results = [{"case": TINY.name, "batch": 2, "steps": 5, "mode": "forward+backward", "seconds": seconds}]
    table = bench.speed_table(results)
    assert "auto / flax linen" in table and "auto / floor" in table and TINY.name in table
    assert "auto resets / jaxlstm auto" in table


def test_stream_times_the_t1_call_and_the_step_loop():
    seconds = bench.stream(bench.Case(2, 3, 3, 4, num_layers=2), proj_size=2, rounds=1, min_seconds=0.0)
    assert set(seconds) == {"T=1 lstm", "T=1 lstm resets", "lstm_step loop"} and all(t > 0 for t in seconds.values())


def test_stacks_run_without_flax_anchors():
    case = bench.Case(2, 4, 3, 4, num_layers=2, bidirectional=True)
    seconds = bench.run(case, backward=False, rounds=1, min_seconds=0.0)
    assert "jaxlstm auto" in seconds and "flax linen" not in seconds


def test_remat_saves_activation_memory():
    mib = bench.memory(bench.Case(8, 256, 16, 64), remats=(False, "step", "sqrt"))
    saved = {remat: m["activations"] for remat, m in mib.items()}
    assert saved["sqrt"] < saved["step"] < saved["False"]
    assert saved["False"] / saved["sqrt"] > 4
    assert mib["sqrt"]["xla_temp"] < mib["False"]["xla_temp"]


def test_compile_times_are_reported_per_length():
    seconds = bench.compile_times(steps=(10, 100), case=bench.Case(2, 0, 3, 4))
    assert set(seconds) == {10, 100} and all(t > 0 for t in seconds.values())


def test_cli_bench_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "CASES", (TINY,))
    monkeypatch.setattr(bench, "compile_times", lambda: {10: 0.1})
    monkeypatch.setattr(bench, "memory", lambda: {"False": {"activations": 1.0, "xla_temp": 2.0}})
    monkeypatch.setattr(bench, "stream", lambda **_: {"T=1 lstm": 1e-5, "T=1 lstm resets": 1e-5, "lstm_step loop": 1e-5})
    # bench.run itself is timed in test_run_times_every_contender; here, the command around it.
    monkeypatch.setattr(bench, "run", lambda case, backward, **_: {"jaxlstm auto": [1e-3, 2e-3], "torch": [2e-3, 3e-3]})
    monkeypatch.setattr(bench, "ensemble", lambda networks, **_: {"jaxlstm vmap": 1e-3, "torch loop": 1e-2})
    path = tmp_path / "bench.json"
    assert main(["bench", "--cases", "0", "--rounds", "1", "--min-seconds", "0", "--ensemble", "4",
                 "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert report["ensemble"]["networks"] == 4 and "torch loop" in report["ensemble"]["seconds"]
    assert {r["mode"] for r in report["speed"]} == {"forward", "forward+backward"}
    out = capsys.readouterr().out
    assert "forward+backward" in out and "| 1.75 (1.50–2.00) |" in out  # the median ratio and its range


def test_cli_bench_rejects_unknown_case(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--cases", "99"])
    assert "case indices must lie in 0.." in capsys.readouterr().err


def test_ensemble_times_the_vmapped_networks():
    seconds = bench.ensemble(bench.Case(2, 3, 3, 4), networks=3, rounds=1, min_seconds=0.0)
    assert {"jaxlstm vmap", "jaxlstm lax.map"} <= set(seconds) and all(t > 0 for t in seconds.values())
