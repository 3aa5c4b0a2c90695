"""SIGINT and SIGTERM as a flag that a run checks at its own boundaries (issue 26).

A Python signal handler runs in the main thread between any two bytecodes, those of a
garbage-collection callback included (JAX registers one), and an exception raised inside such a
callback is printed ("Exception ignored in ...") and dropped: a handler that raises is now and
then swallowed, and the run goes on. So inside :func:`catching` the handlers only record the
signal, and :func:`check`, called by the run at its boundaries, raises :class:`Interrupted` from
ordinary code. Outside it (a run started from Python) :func:`check` does nothing and the
signals do what they always do: Ctrl-C raises ``KeyboardInterrupt``. Importing this module
installs nothing.

A second signal of the kind already received calls the ``on_repeat`` given to :func:`catching`
from the handler itself, at once: for whoever will not wait for the next boundary (a first step
that compiles for seconds). A checkpoint being written holds both signals until it is complete
(:class:`~jaxlstm.train.checkpoint.Checkpoints`), so not even that cuts one short.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterable, Iterator

__all__ = ["SIGNALS", "Interrupted", "catching", "check"]

SIGNALS = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}
"""The signals :func:`catching` records, and how a message names each."""


class Interrupted(BaseException):
    """A run stopped at a boundary because it received ``signum`` (a ``BaseException``, as
    ``KeyboardInterrupt``, so that an ``except Exception`` on the way does not swallow it).

    Attributes:
        signum: the first signal received.
        what: how a message names it, e.g. ``"SIGTERM"``.
        exit_code: 128 + ``signum`` (130 for SIGINT, 143 for SIGTERM), as a shell reports a
            process that the signal ended.
    """

    def __init__(self, signum: int):
        self.signum, self.what, self.exit_code = signum, SIGNALS[signum], 128 + signum
        super().__init__(f"stopped by {self.what}")


_received: list[int] = []
"""The signals received inside :func:`catching`, in order."""

_on_repeat: Callable[[int], None] | None = None
"""What :func:`catching` calls on a second signal of one kind; None outside it."""


def _record(signum: int, frame) -> None:
    if signum in _received:
        _on_repeat(signum)
    _received.append(signum)


@contextlib.contextmanager
def catching(on_repeat: Callable[[int], None], received: Iterable[int] = ()) -> Iterator[None]:
    """Inside the block, SIGINT and SIGTERM only set the flag that ``check()`` reads; the
    previous handlers come back when it ends. Main thread only, as ``signal.signal``; not
    nested.

    Args:
        on_repeat: called with the signal number, from the handler, when a signal comes that
            was already received; it should end the process (``os._exit``): an exception it
            raises may be dropped as the first signal's would have been.
        received: signals that came before the block (while what installs it was imported),
            recorded as if they came inside it.

    Example:
        >>> import os, signal
        >>> with catching(lambda signum: os._exit(128 + signum)):
        ...     signal.raise_signal(signal.SIGTERM)
        ...     try:
        ...         check()
        ...     except Interrupted as stop:
        ...         print(stop, stop.exit_code)
        stopped by SIGTERM 143
    """
    global _on_repeat
    _on_repeat = on_repeat
    previous = {signum: signal.signal(signum, _record) for signum in SIGNALS}
    _received[:0] = received  # before any that came since the handlers were installed
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _received.clear()
        _on_repeat = None


def check() -> None:
    """Raise :class:`Interrupted` if a signal came inside :func:`catching`; outside it, nothing.

    Raises:
        Interrupted: for the first signal received.
    """
    if _received:
        raise Interrupted(_received[0])
