import jax
import pytest

# Catch silent broadcasting and dtype promotion in the library and in the tests (as equinox).
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")


@pytest.fixture
def x64():
    """Run the test with 64-bit floats (for check_grads and float64 references)."""
    with jax.enable_x64(True):
        yield
