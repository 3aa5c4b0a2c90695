"""The ``jaxlstm`` console command: argument parsing only; the work lives in the library."""

from __future__ import annotations

import argparse
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
    bench.add_argument("--json", default=None, metavar="PATH", help="also write the results here")
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
                   impls=tuple(args.impls.split(",")), json_path=args.json)
    return 0
