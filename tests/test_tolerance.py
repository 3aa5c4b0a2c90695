"""The suite's tolerance rule (tests/tolerance.py) says what it claims: units by what is compared,
an absolute term at the expected values' scale, the dtype's and the backend's precision."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tolerance
from tolerance import assert_close, assert_trees_close


@pytest.fixture(autouse=True)
def cpu_matmuls(monkeypatch):
    """The rule as on a CPU, whose float32 matmuls round nothing, whatever runs the suite (the
    GPU's TF32 term is tested on its own, below)."""
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")


def test_units_by_what_is_compared_and_dtype():
    ones = np.ones(3)
    assert tolerance.tolerance(ones, "reordered", jnp.float32) == (2.0**6 * 2.0**-23,) * 2
    assert tolerance.tolerance(ones, "accumulated", jnp.float64)[0] == 2.0**10 * 2.0**-52
    assert tolerance.tolerance(ones, "framework", jnp.bfloat16)[0] == 2.0**3 * 2.0**-7  # 16 bits: 2**3 units
    with pytest.raises(ValueError, match=r"compared is 'close'; expected one of"):
        tolerance.tolerance(ones, "close", jnp.float32)


def test_the_absolute_term_is_at_the_scale_of_the_expected_values():
    expected = np.array([0.1, -3.47e-3], np.float32)
    assert_close(expected + np.array([0.0, 3.0e-8], np.float32), expected)  # the AMD EPYC's case
    with pytest.raises(AssertionError, match="compared as 'reordered' in float32"):
        assert_close(expected + np.array([0.0, 3.0e-6], np.float32), expected)  # 30 units of 0.1
    with pytest.raises(AssertionError, match="shapes differ"):
        assert_close(np.ones(2), np.ones(3))


def test_a_sum_far_smaller_than_its_terms_is_held_to_their_scale():
    terms = np.array([30.0, -29.98], np.float32)  # the sum, 0.02, carries their rounding
    loss, scale = np.float32(np.sum(terms)), float(np.sum(np.abs(terms)))
    with pytest.raises(AssertionError):
        assert_close(loss + np.float32(1e-5), loss, "accumulated")
    assert_close(loss + np.float32(1e-5), loss, "accumulated", scale=scale)  # 1e-5 < 1.2e-4 * 60
    with pytest.raises(AssertionError):
        assert_close(loss + np.float32(1e-2), loss, "accumulated", scale=scale)


def test_the_precision_is_the_lower_of_the_two_or_the_one_given():
    near = np.float32(1.0 + 2.0**-9)
    assert_close(jnp.asarray(near, jnp.bfloat16), np.float64(1.0))  # bfloat16 against float64
    with pytest.raises(AssertionError):
        assert_close(near, np.float64(1.0))
    assert_close(near, np.float64(1.0), dtype=jnp.bfloat16)  # float32 results of bfloat16 matmuls


def test_trees_leaf_by_leaf():
    assert_trees_close({"a": np.ones(2), "b": np.zeros(1)}, {"a": np.ones(2), "b": np.zeros(1)}, "framework")
    with pytest.raises(AssertionError, match=r"\['b'\]"):
        assert_trees_close({"a": np.ones(2), "b": np.ones(1)}, {"a": np.ones(2), "b": np.zeros(1)})


def test_a_gpu_default_float32_matmul_allows_one_unit_of_tf32(monkeypatch):
    ones = np.ones(3)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert tolerance.tolerance(ones, "reordered", jnp.float32)[0] == 2.0**-10
    assert tolerance.tolerance(ones, "reordered", jnp.float64)[0] == 2.0**6 * 2.0**-52
    with jax.default_matmul_precision("highest"):
        assert tolerance.tolerance(ones, "reordered", jnp.float32)[0] == 2.0**6 * 2.0**-23
