"""The suite's one tolerance rule: how close two floating-point results must be to count as equal.

A tolerance is a number of units of rounding (``eps``, the spacing of the dtype's numbers at 1),
set by what is compared, never a bare ``1e-6``. In float32 and float64, results carry the error
their sums accumulate, so the units grow with the length of the computation compared:

=================  ==================================================================  =====
``compared``       the two results                                                     units
=================  ==================================================================  =====
``"reordered"``    the same arithmetic in another order or another program (scan       2**6
                   against a loop of the step, ``fused`` against ``reference``, jit
                   against eager, vmap against a batch axis, a wrapper against the
                   core)
``"reference"``    the tested dtype against an independent float64 implementation      2**8
``"framework"``    another framework's computation (PyTorch, Flax's cells, Keras,      2**8
                   onnxruntime, TensorFlow 1, their fixtures): its own formula and
                   kernels
``"accumulated"``  any of these, for gradients through a recurrence, training steps,   2**10
                   or hundreds of steps of a recurrence: the rounding of every step
                   adds up
=================  ==================================================================  =====

so float32 allows ``rtol`` 7.6e-6, 3.1e-5, 3.1e-5 and 1.2e-4, float64 1.4e-14 to 2.3e-13. A
16-bit result (bfloat16, float16, or a float32 result of 16-bit matmul operands) is dominated by
the rounding of its last few operations, not by accumulation (its sums run in float32): it is
allowed 2**3 units of its own precision whatever is compared (bfloat16: 0.0625, float16: 7.8e-3).
On a backend whose default float32 matmul rounds its operands (TF32 on a GPU, 10 bits; bfloat16
on a TPU), a float32 result is allowed at least one unit of that rounding (TF32: 9.8e-4; the
differences seen on an H200 were up to 1.3e-4), unless ``jax_default_matmul_precision`` asks
for ``highest``. On an H200 the suite passed under it but for 6 tests (docs/guides/impl_precision.md, "Precision").

``atol = rtol * scale``, with ``scale`` the largest magnitude of the expected values: an element
near zero is held to the rounding of the values around it, not to its own, which two correct
programs summing in another order do not meet (a relative 8.6e-6 on an element of -3.5e-3, beside
elements of 0.1, failed ``rtol=1e-6, atol=0`` on an AMD EPYC). A sum far smaller than its terms
(a loss of outputs times random weights) carries the rounding of its terms, not its own: pass
``scale``, the sum of the terms' magnitudes (under TF32 such a loss of 0.02, with terms summing
to about 30 in magnitude, differed by 4e-4 on an H200).

Bit-for-bit claims (a resumed run, the same program twice) use ``np.testing.assert_array_equal``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["UNITS", "assert_close", "assert_trees_close", "tolerance"]

UNITS = {"reordered": 2**6, "reference": 2**8, "framework": 2**8, "accumulated": 2**10}
"""Units of rounding allowed in float32 and float64, by what is compared."""

LOW_PRECISION_UNITS = 2**3
"""Units of rounding allowed a 16-bit result, whatever is compared."""

_MATMUL_BITS = {"gpu": 10, "cuda": 10, "rocm": 10, "tpu": 7}
"""Mantissa bits of a backend's default-precision float32 matmul operands (TF32, bfloat16)."""


def _matmul_eps() -> float | None:
    """The spacing at 1 of the backend's default float32 matmul operands, or None where it
    multiplies in float32."""
    precision = str(jax.config.jax_default_matmul_precision or "default").lower()
    bits = _MATMUL_BITS.get(jax.default_backend())
    return None if bits is None or precision in ("highest", "float32") else 2.0**-bits


def tolerance(expected, compared: str, dtype, scale: float | None = None) -> tuple[float, float]:
    """``(rtol, atol)`` for a result of precision ``dtype`` compared against ``expected``, by
    the rule of this module's docstring; ``scale`` (default: the largest magnitude of
    ``expected``) is the magnitude the absolute term is relative to."""
    if compared not in UNITS:
        raise ValueError(f"compared is {compared!r}; expected one of {sorted(UNITS)}")
    eps = float(jnp.finfo(dtype).eps)
    rtol = (LOW_PRECISION_UNITS if jnp.finfo(dtype).bits <= 16 else UNITS[compared]) * eps
    matmul_eps = _matmul_eps() if jnp.dtype(dtype) == jnp.float32 else None
    if matmul_eps is not None:
        rtol = max(rtol, matmul_eps)
    if scale is None:
        expected = np.asarray(expected, np.float64)
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return rtol, rtol * scale


def _precision(a):
    """The floating dtype of ``a``; float64 for integers and booleans (exact)."""
    dtype = np.asarray(a).dtype
    return dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.dtype(jnp.float64)


def assert_close(actual, expected, compared: str = "reordered", *, dtype=None, scale: float | None = None,
                 err_msg: str = "") -> None:
    """``actual`` equals ``expected`` up to the rounding that ``compared`` allows; shapes must match.

    Args:
        actual, expected: arrays (or what ``np.asarray`` takes).
        compared: what the two are (the module's table).
        dtype: the precision the compared computation ran at; default: the less precise of
            the two arrays' dtypes. Pass it when it is lower than the results' dtype (float32
            results of bfloat16 matmuls).
        scale: for a sum far smaller than its terms, the sum of their magnitudes (see the
            module's docstring); default: the largest magnitude of ``expected``.
        err_msg: said on failure.
    """
    if dtype is None:
        dtype = min((_precision(actual), _precision(expected)), key=lambda d: jnp.finfo(d).bits)
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"shapes differ: {actual.shape} and {expected.shape}. {err_msg}"
    rtol, atol = tolerance(expected, compared, dtype, scale)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol,
                               err_msg=f"compared as {compared!r} in {jnp.dtype(dtype).name}. {err_msg}".strip())


def assert_trees_close(actual, expected, compared: str = "reordered", *, dtype=None, err_msg: str = "") -> None:
    """:func:`assert_close` leaf by leaf, each leaf at its own scale; the structures must match."""
    assert jax.tree.structure(actual) == jax.tree.structure(expected), (
        f"tree structures differ: {jax.tree.structure(actual)} and {jax.tree.structure(expected)}")
    paths = jax.tree_util.tree_flatten_with_path(expected)[0]
    for a, (path, b) in zip(jax.tree.leaves(actual), paths, strict=True):
        assert_close(a, b, compared, dtype=dtype, err_msg=f"{jax.tree_util.keystr(path)} {err_msg}".strip())
