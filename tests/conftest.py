import os
from importlib.metadata import version

# The suite compiles some thousand small functions and runs most of them once, so compiling is
# where its time goes: XLA's cheapest code generation for the CPU halves that and computes the
# same operations (only the compiled code's own speed differs, which no test measures). Its
# older fusion code generator (LLVM IR emitted directly, not through MLIR) compiles in 40% less
# time again (tests/test_variants.py, AMD EPYC). Set before jax starts its backend; a user's own
# XLA_FLAGS are kept, and JAXLSTM_TEST_DEFAULT_CODEGEN=1 runs the suite on XLA's defaults. jaxlib
# 0.11 has only the new generator and ends the process on the flag it no longer knows.
if os.environ.get("JAXLSTM_TEST_DEFAULT_CODEGEN") != "1":
    older_codegen = tuple(int(part) for part in version("jaxlib").split(".")[:2]) < (0, 11)
    os.environ["XLA_FLAGS"] = " ".join([
        os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0", "--xla_llvm_disable_expensive_passes=true",
        *(["--xla_cpu_use_fusion_emitters=false"] if older_codegen else []),
    ]).strip()

import tempfile  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Many tests compile the same programs again (every trainer run compiles its step anew, and a
# resume test makes three runs): a compilation cache compiles each once per process. Each
# process has a directory of its own (JAX writes cache entries without locking, so two xdist
# workers sharing one could read a half-written entry), made for this session only (the
# controller makes the parent before it starts the workers, which inherit its name), so no run
# is faster for an earlier run's cache: a new user's first `pytest` is what CI times.
_CACHE = "JAXLSTM_TEST_COMPILATION_CACHE"
if _CACHE not in os.environ:
    os.environ[_CACHE] = tempfile.mkdtemp(prefix="jaxlstm-test-cache-")
jax.config.update("jax_compilation_cache_dir",
                  os.path.join(os.environ[_CACHE], os.environ.get("PYTEST_XDIST_WORKER", "main")))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
# `jaxlstm run` in a subprocess (tests/test_faults.py, tests/test_parallel.py) finds JAX's cache
# turned off, and its train.compilation_cache = "auto" keeps it off: no test writes into the
# user's cache directory, and no subprocess killed mid-write leaves a broken entry for another
# to read. JAX reads the variable when it is imported: this process's cache stays on.
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"
jax.config.update("jax_enable_compilation_cache", True)

# Catch silent broadcasting and dtype promotion in the library and in the tests (as equinox).
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")


@pytest.fixture
def compilations():
    """A list that grows by one for every program XLA compiles or reads back from the
    session's compilation cache: what a test that counts compilations counts."""
    events = []

    def compiled(event, *args, **kwargs):
        if event in ("/jax/core/compile/backend_compile_duration", "/jax/compilation_cache/cache_hits"):
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(compiled)
    jax.monitoring.register_event_listener(compiled)
    yield events
    jax.monitoring.unregister_event_duration_listener(compiled)
    jax.monitoring.unregister_event_listener(compiled)


@pytest.fixture
def standard_promotion():
    """JAX's default dtype promotion instead of the suite's strict one, for the tests that run
    the trainer: optax mixes weak-typed scalars with arrays, and the library's users run with
    JAX's defaults. A module takes it for every test with
    ``pytestmark = pytest.mark.usefixtures("standard_promotion")``."""
    with jax.numpy_dtype_promotion("standard"):
        yield


@pytest.fixture
def x64():
    """Run the test with 64-bit floats (for check_grads and float64 references)."""
    with jax.enable_x64(True):
        yield


def pytest_unconfigure(config):
    """The controller (not an xdist worker) removes the session's compilation cache."""
    if not hasattr(config, "workerinput"):
        import shutil

        shutil.rmtree(os.environ.get(_CACHE, ""), ignore_errors=True)


# Hypothesis (tests/test_fuzz.py): "ci", the default, runs a few reproducible examples per
# property (every new shape compiles); `pytest --hypothesis-profile long` runs many, randomly.
settings.register_profile("ci", max_examples=3, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")
