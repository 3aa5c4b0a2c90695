import os

# The suite compiles some thousand small functions and runs most of them once, so compiling is
# where its time goes: XLA's cheapest code generation for the CPU halves that and computes the
# same operations (only the compiled code's own speed differs, which no test measures). Set
# before jax starts its backend; a user's own XLA_FLAGS are kept.
os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0", "--xla_llvm_disable_expensive_passes=true"]
).strip()

import jax  # noqa: E402
import pytest  # noqa: E402

# Catch silent broadcasting and dtype promotion in the library and in the tests (as equinox).
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")


@pytest.fixture
def x64():
    """Run the test with 64-bit floats (for check_grads and float64 references)."""
    with jax.enable_x64(True):
        yield
