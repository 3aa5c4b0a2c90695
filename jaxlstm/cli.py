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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jaxlstm`` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "shapes":
        from jaxlstm.shapes import walk_shapes

        print(walk_shapes(args.input_size, args.hidden_size))
    return 0
