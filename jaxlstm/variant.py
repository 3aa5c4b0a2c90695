"""The static description of an LSTM cell variant: which gates, activations and extras it has.

A :class:`Variant` is hashable and lives in a static field of :class:`jaxlstm.CellParams`, so
``jit`` specialises on it and every function reads the cell's equations from its params. The
names of Greff et al. (2017, "LSTM: A Search Space Odyssey") and Gers et al. are presets in
:data:`VARIANTS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["ACTIVATIONS", "VARIANTS", "Variant", "as_variant"]


def linear(x):
    """The identity, Keras's ``"linear"`` activation."""
    return x


#: The activations a Variant may name, each as Keras 3 and Flax define it under that name (Keras's
#: "hard_sigmoid" is relu6(x + 3) / 6, jax.nn.hard_sigmoid; tf.keras 2 used 0.2 x + 0.5).
ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": jax.nn.sigmoid,
    "hard_sigmoid": jax.nn.hard_sigmoid,
    "tanh": jnp.tanh,
    "hard_tanh": jax.nn.hard_tanh,
    "relu": jax.nn.relu,
    "relu6": jax.nn.relu6,
    "elu": jax.nn.elu,
    "selu": jax.nn.selu,
    "silu": jax.nn.silu,
    "softplus": jax.nn.softplus,
    "softsign": jax.nn.soft_sign,
    "exponential": jnp.exp,
    "linear": linear,
}
_NAMES = {fn: name for name, fn in ACTIVATIONS.items()} | {jax.nn.tanh: "tanh", jax.nn.swish: "silu"}


def _activation(field: str, value: object) -> str | Callable:
    """``value`` as an activation name, or the callable itself when it has no name here."""
    if isinstance(value, str):
        if value not in ACTIVATIONS:
            raise ValueError(
                f"{field} must be a callable or one of {sorted(ACTIVATIONS)}; got {value!r}. "
                "Hint: pass the function itself, e.g. jax.nn.gelu."
            )
        return value
    if not callable(value):
        raise TypeError(f"{field} must be a callable or an activation name; got {value!r}.")
    try:
        return _NAMES.get(value, value)
    except TypeError:  # unhashable callables cannot be static
        raise TypeError(
            f"{field} must be hashable (it is static under jit); got {value!r}. Hint: a named "
            "function, or functools.partial of one."
        ) from None


@dataclasses.dataclass(frozen=True)
class Variant:
    """Which parts an LSTM cell has. The default is the cell of ``torch.nn.LSTM`` and Flax.

    Attributes:
        input_gate: ``False`` is NIG: ``i = 1``, and the input gate has no weights.
        forget_gate: ``False`` is NFG, the 1997 LSTM of Hochreiter & Schmidhuber: ``f = 1``.
        output_gate: ``False`` is NOG: ``o = 1``.
        coupled: CIFG: ``f = 1 - i``; the forget gate has no weights of its own.
        input_activation: ``False`` is NIAF: the block input is ``g = z_g``, not ``tanh(z_g)``.
        output_activation: ``False`` is NOAF: ``h = o * c``, not ``o * tanh(c)``.
        peepholes: Gers & Schmidhuber (2000): per-cell weight vectors through which the input
            and forget gates see ``c(t-1)`` and the output gate sees ``c(t)``.
        layer_norm: Ba et al. (2016): each gate's pre-activation, and ``c`` before the output
            activation, normalised over the hidden units, with a learned gain and bias.
        cell_clip: clip ``c`` to ``[-cell_clip, cell_clip]`` after each update (TensorFlow's
            ``cell_clip``), or None.
        proj_size: LSTMP (Sak et al. 2014), as ``torch.nn.LSTM(proj_size=...)``: the output is
            projected, ``h = (o * tanh(c)) @ P`` with ``P`` of shape ``(H, proj_size)``, and
            that smaller ``h`` is what the next step and layer read. None for no projection.
        proj_clip: clip the projected ``h`` to ``[-proj_clip, proj_clip]`` (TensorFlow's
            ``proj_clip``); needs ``proj_size``.
        gate_recurrence: FGR, full gate recurrence (Greff et al. 2017): each of the gates i, f,
            o also sees the previous step's activations of all three, ``i(t-1), f(t-1),
            o(t-1)``, through its own recurrent matrices (nine ``(H, H)`` blocks). Those
            activations are part of the recurrent state: ``c`` then carries them after the
            cell state proper (see :attr:`jaxlstm.CellParams.state_size`).
        gate_activation: the gates' activation (Flax's ``gate_fn``, Keras's
            ``recurrent_activation``): a name in :data:`ACTIVATIONS` or a callable, stored by
            name when it has one. Default ``"sigmoid"``.
        cell_activation: the block input's and the cell output's activation (Flax's
            ``activation_fn``, Keras's ``activation``); ``input_activation=False`` and
            ``output_activation=False`` remove it from one of the two. Default ``"tanh"``.
            A callable is part of the static variant: jit compiles once per function object,
            so pass a named function, not a fresh lambda per call.
    """

    input_gate: bool = True
    forget_gate: bool = True
    output_gate: bool = True
    coupled: bool = False
    input_activation: bool = True
    output_activation: bool = True
    peepholes: bool = False
    layer_norm: bool = False
    cell_clip: float | None = None
    proj_size: int | None = None
    proj_clip: float | None = None
    gate_recurrence: bool = False
    gate_activation: str | Callable = "sigmoid"
    cell_activation: str | Callable = "tanh"

    def __post_init__(self):
        for field in ("gate_activation", "cell_activation"):
            object.__setattr__(self, field, _activation(field, getattr(self, field)))
        if self.coupled and not (self.input_gate and self.forget_gate):
            raise ValueError(
                "Variant(coupled=True) ties the forget gate to the input gate (f = 1 - i); it "
                f"needs input_gate=True and forget_gate=True, got input_gate={self.input_gate}, "
                f"forget_gate={self.forget_gate}."
            )
        if self.gate_recurrence and not self.sigmoid_gates:
            raise ValueError(
                "Variant(gate_recurrence=True) feeds the gates i, f, o back into themselves; it "
                "needs at least one of input_gate, forget_gate, output_gate, got none."
            )
        if self.cell_clip is not None and not self.cell_clip > 0:
            raise ValueError(f"cell_clip must be None or positive; got {self.cell_clip!r}.")
        if self.proj_size is not None and (
            isinstance(self.proj_size, bool) or not isinstance(self.proj_size, int) or self.proj_size < 1
        ):
            raise ValueError(f"proj_size must be None or a positive integer; got {self.proj_size!r}.")
        if self.proj_clip is not None and (self.proj_size is None or not self.proj_clip > 0):
            raise ValueError(
                f"proj_clip must be None, or positive with a proj_size; got proj_clip="
                f"{self.proj_clip!r}, proj_size={self.proj_size!r}."
            )

    @property
    def gate_fn(self) -> Callable:
        """The gates' activation as a function."""
        return ACTIVATIONS.get(self.gate_activation, self.gate_activation)

    @property
    def cell_fn(self) -> Callable:
        """The block input's and cell output's activation as a function."""
        return ACTIVATIONS.get(self.cell_activation, self.cell_activation)

    @property
    def gates(self) -> tuple[str, ...]:
        """The gates that have weights, in the order of ``V``'s column blocks (of i, f, g, o)."""
        present = {
            "i": self.input_gate,
            "f": self.forget_gate and not self.coupled,
            "g": True,
            "o": self.output_gate,
        }
        return tuple(gate for gate, has in present.items() if has)

    @property
    def sigmoid_gates(self) -> tuple[str, ...]:
        """The gates of i, f, o that have weights, in the order of ``V``'s column blocks."""
        return tuple(gate for gate in self.gates if gate != "g")

    @property
    def peephole_gates(self) -> tuple[str, ...]:
        """The gates with a peephole vector: those of i, f, o that have weights."""
        return self.sigmoid_gates if self.peepholes else ()

    @property
    def is_vanilla(self) -> bool:
        return self == Variant()


#: The presets ``init(..., variant=NAME)`` takes: the vanilla cell, Hochreiter & Schmidhuber's
#: (1997) cell without a forget gate, peepholes (Gers & Schmidhuber 2000), Greff et al.'s (2017)
#: eight variants, and layer normalisation.
VARIANTS: dict[str, Variant] = {
    "vanilla": Variant(),
    "lstm1997": Variant(forget_gate=False),
    "peephole": Variant(peepholes=True),
    "layer_norm": Variant(layer_norm=True),
    # Greff et al. 2017: each changes one thing of their baseline, which has peepholes.
    "greff_vanilla": Variant(peepholes=True),
    "NIG": Variant(peepholes=True, input_gate=False),
    "NFG": Variant(peepholes=True, forget_gate=False),
    "NOG": Variant(peepholes=True, output_gate=False),
    "NIAF": Variant(peepholes=True, input_activation=False),
    "NOAF": Variant(peepholes=True, output_activation=False),
    "NP": Variant(),
    "CIFG": Variant(peepholes=True, coupled=True),
    "FGR": Variant(peepholes=True, gate_recurrence=True),
}


def as_variant(variant: Variant | str) -> Variant:
    """A :class:`Variant`, or the preset of that name in :data:`VARIANTS`."""
    if isinstance(variant, Variant):
        return variant
    if isinstance(variant, str) and variant in VARIANTS:
        return VARIANTS[variant]
    raise ValueError(
        f"variant must be a jaxlstm.Variant or one of {sorted(VARIANTS)}; got {variant!r}."
    )
