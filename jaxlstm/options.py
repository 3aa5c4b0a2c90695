"""The names of the core's options, defined once: the types that :func:`jaxlstm.lstm`, the Flax
wrappers and the experiment configs annotate with, and the choices their checks list.

Example:
    >>> from jaxlstm import options
    >>> options.IMPLS, options.REMATS
    (('auto', 'reference', 'fused', 'hoisted', 'cudnn', 'pallas'), (False, True, 'step', 'sqrt'))
"""

from __future__ import annotations

import typing
from typing import Literal

__all__ = ["IMPLS", "INITS", "Impl", "Init", "REMATS", "Remat", "RematName"]

Impl = Literal["auto", "reference", "fused", "hoisted", "cudnn", "pallas"]
"""How :func:`jaxlstm.lstm` computes its loop (see its ``impl``); every choice gives the same values."""

RematName = Literal["step", "sqrt"]
Remat = bool | RematName
"""What the backward pass recomputes: False (nothing), True or ``"step"``, or ``"sqrt"``."""

Init = Literal["pytorch", "keras", "flax"]
"""The weight-initialisation schemes of :func:`jaxlstm.init`."""

IMPLS: tuple[str, ...] = typing.get_args(Impl)
REMATS: tuple[bool | str, ...] = (False, True, *typing.get_args(RematName))
INITS: tuple[str, ...] = typing.get_args(Init)
