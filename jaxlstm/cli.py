"""The ``jaxlstm`` console command: argument parsing only; the work lives in the library."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxlstm", description="An exact, fast LSTM for JAX.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shapes = commands.add_parser(
        "shapes", help="walk one LSTM step and print every tensor's shape"
    )
    shapes.add_argument("--input-size", type=_positive_int, default=2, help="I (default 2)")
    shapes.add_argument("--hidden-size", type=_positive_int, default=3, help="H (default 3)")
    bench = commands.add_parser(
        "bench", help="time jaxlstm against Flax and PyTorch side by side, in one process"
    )
    bench.add_argument("--cases", type=_case_indices, default=None,
                       help="comma-separated indices into jaxlstm.bench.CASES (default: all)")
    bench.add_argument("--rounds", type=_positive_int, default=5, help="interleaved rounds (5)")
    bench.add_argument("--min-seconds", type=float, default=0.2,
                       help="least time per contender per round (0.2)")
    bench.add_argument("--impls", default="auto",
                       help="comma-separated jaxlstm impls to time, e.g. auto,reference,fused")
    bench.add_argument("--bf16", action="store_true", help="also time jaxlstm auto with bfloat16 matmuls")
    bench.add_argument("--ensemble", type=int, default=0, metavar="N",
                       help="also time N small LSTMs at once (vmap) against one call per network (default 0: off)")
    bench.add_argument("--json", default=None, metavar="PATH", help="also write the results here")
    run = commands.add_parser(
        "run", help="train an experiment config (no CONFIG: the default, embedded Reber)"
    )
    run.add_argument("config", nargs="?", default=None, help="a TOML file, e.g. experiments/cerg.toml")
    run.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", dest="overrides",
                     help="override one config value, e.g. --set optim.lr=1e-3 (repeatable)")
    run.add_argument("--seeds", type=_positive_int, default=None, help="networks trained at once (train.seeds)")
    run.add_argument("--workdir", default=None, help="where the run writes (default: runs/NAME-DATE-TIME)")
    run.add_argument("--resume", action="store_true", help="continue the run in --workdir from its last checkpoint")
    run.add_argument("--process-id", type=int, default=None,
                     help="this process's index in a multi-host run (parallel.processes); default: from the cluster")
    export = commands.add_parser("export", help="write a trained run's network as an ONNX model")
    export.add_argument("--workdir", required=True, help="the workdir of a run")
    export.add_argument("--output", default=None, help="the .onnx file (default: WORKDIR/model.onnx)")
    export.add_argument("--seed", type=int, default=None, help="which of the run's seeds (default: its first)")
    export.add_argument("--state-inputs", action="store_true",
                        help="also take sequence_lens, initial_h and initial_c as inputs "
                             "(default: X alone, full lengths from a zero state)")
    sample = commands.add_parser("sample", help="generate text from a trained character model")
    sample.add_argument("--workdir", required=True, help="the workdir of a run of the text task")
    sample.add_argument("--length", type=_positive_int, default=400, help="characters to draw (400)")
    sample.add_argument("--prime", default="\n", help="text the model reads first")
    sample.add_argument("--temperature", type=float, default=1.0, help="divides the logits (1.0)")
    sample.add_argument("--seed", type=int, default=0, help="the sampling seed (0)")
    predict = commands.add_parser("predict", help="run a trained model of the files task over new sequences")
    predict.add_argument("--workdir", required=True, help="the workdir of a run of the files task")
    predict.add_argument("--input", required=True, help="a data file (.npz, .npy, .csv or .ts) of new sequences")
    predict.add_argument("--output", required=True, help="where to write the predictions (.npz or .csv)")
    predict.add_argument("--network", type=int, default=0, help="which of the run's seeds to use (0)")
    return parser


def _case_indices(text: str) -> tuple[int, ...]:
    from jaxlstm.bench import CASES

    try:
        indices = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected indices like 0,2,5; got {text!r}") from None
    bad = [i for i in indices if not 0 <= i < len(CASES)]
    if bad:
        raise argparse.ArgumentTypeError(
            f"case indices must lie in 0..{len(CASES) - 1}; got {bad}. The cases: "
            + "; ".join(f"{i}: {case.name}" for i, case in enumerate(CASES))
        )
    return indices


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jaxlstm`` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "shapes":
        from jaxlstm.shapes import walk_shapes

        print(walk_shapes(args.input_size, args.hidden_size))
    elif args.command == "bench":
        from jaxlstm import bench

        cases = bench.CASES if args.cases is None else [bench.CASES[i] for i in args.cases]
        bench.main(cases, rounds=args.rounds, min_seconds=args.min_seconds,
                   impls=tuple(args.impls.split(",")), bf16=args.bf16, networks=args.ensemble,
                   json_path=args.json)
    elif args.command == "run":
        return _run(args)
    elif args.command == "export":
        return _export(args)
    elif args.command == "predict":
        from jaxlstm.train.predict import predict, write_predictions

        try:
            write_predictions(predict(args.workdir, args.input, network=args.network), args.output)
        except (ValueError, FileNotFoundError) as error:
            print(f"jaxlstm predict: error: {error}", file=sys.stderr)
            return 2
        print(f"jaxlstm predict: wrote {args.output}")
    elif args.command == "sample":
        from jaxlstm.train.sample import sample_text

        try:
            print(sample_text(args.workdir, length=args.length, prime=args.prime,
                              temperature=args.temperature, seed=args.seed))
        except (ValueError, FileNotFoundError) as error:
            print(f"jaxlstm sample: error: {error}", file=sys.stderr)
            return 2
    return 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from jaxlstm.train.export import onnx_of_run

    output = Path(args.output or Path(args.workdir) / "model.onnx")
    try:
        model = onnx_of_run(args.workdir, seed=args.seed, state_inputs=args.state_inputs)
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"jaxlstm export: error: {error}", file=sys.stderr)
        return 2
    output.write_bytes(model.SerializeToString())
    inputs = "X, sequence_lens, initial_h, initial_c" if args.state_inputs else "X"
    print(f"jaxlstm export: wrote {output} (inputs {inputs}; outputs Y, Y_h, Y_c, logits)")
    return 0


def _run(args: argparse.Namespace) -> int:
    """``jaxlstm run``. From the import of the library to the end of the report, SIGINT and
    SIGTERM only set a flag (:mod:`jaxlstm.train.interrupt`) that the run checks at its
    boundaries; at the first one after a signal it ends with one line and exit status 130
    (SIGINT) or 143 (SIGTERM). A second signal of that kind ends it at once (a checkpoint being
    written is finished first), with the same status and a line of its own. The handlers found
    are put back when it returns."""
    import signal
    from pathlib import Path

    overrides = list(args.overrides) + ([] if args.seeds is None else [f"train.seeds={args.seeds}"])
    if args.resume and args.workdir is None:
        print("jaxlstm run: error: --resume needs --workdir, the directory of the run to continue.",
              file=sys.stderr)
        return 2
    workdir = None
    early = []  # a signal that comes while the library (and with it the flag) imports, handed on
    previous = {signum: signal.signal(signum, lambda received, frame: early.append(received))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        from jaxlstm import train
        from jaxlstm.train import interrupt

        def at_once(signum: int) -> None:  # inside the handler: raises nothing, writes past the buffers
            stop = interrupt.Interrupted(signum)
            os.write(2, (_interrupted(args, workdir, f"a second {stop.what}") + "\n").encode())
            os._exit(stop.exit_code)

        with interrupt.catching(at_once, early):
            try:
                interrupt.check()
                cfg = train.load(args.config, overrides)
                interrupt.check()
                name = "erg" if args.config is None else Path(args.config).stem
                workdir = args.workdir or train.default_workdir(name)
                print(f"jaxlstm run: {args.config or 'the default experiment'} -> {workdir}", flush=True)
                train.run(cfg, workdir, resume=args.resume, process_id=args.process_id)
                interrupt.check()  # one that came while it reported
            except interrupt.Interrupted as stop:
                print(_interrupted(args, workdir, stop.what), file=sys.stderr)
                # End now: everything is saved (checkpoints are written whole, metrics line by
                # line), and the interpreter's teardown, with XLA's threads cut short
                # mid-compile, can crash.
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(stop.exit_code)
            except (train.ConfigError, train.ConfigTypeError, train.DataError, train.CheckpointError,
                    FileExistsError, FileNotFoundError) as error:
                print(f"jaxlstm run: error: {error}", file=sys.stderr)
                return 2
            except train.NonFiniteError as error:
                print(f"jaxlstm run: error: {error}", file=sys.stderr)
                print("jaxlstm run: to go on from there, skipping such updates: "
                      + _resume_command(args, workdir, ["--set", "train.on_nonfinite=skip"]), file=sys.stderr)
                return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _interrupted(args: argparse.Namespace, workdir, what: str) -> str:
    """The one line a stopped run ends with: what was saved, and the command that resumes it."""
    from pathlib import Path

    if workdir is None or not (Path(workdir) / "config.json").exists():
        return f"jaxlstm run: stopped by {what} before the run started; nothing was saved."
    steps = [int(p.name) for p in (Path(workdir) / "checkpoints").glob("*") if p.name.isdigit()]
    saved = f"its newest checkpoint is step {max(steps)}" if steps else "no checkpoint was written yet"
    return f"jaxlstm run: stopped by {what}; {saved} in {workdir}; resume with: {_resume_command(args, workdir)}"


def _resume_command(args: argparse.Namespace, workdir, extra: Sequence[str] = ()) -> str:
    """The command line that resumes this run, with ``extra`` arguments at its end."""
    import shlex

    command = ["jaxlstm", "run", *([args.config] if args.config else [])]
    command += [part for override in args.overrides for part in ("--set", override)]
    command += ([] if args.seeds is None else ["--seeds", str(args.seeds)]) + ["--workdir", str(workdir), "--resume"]
    return shlex.join([*command, *extra])
