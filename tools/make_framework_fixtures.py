"""Write ``tests/fixtures/frameworks.npz``: Equinox's, Haiku's and Keras's own LSTM forward passes.

Run from the repository root with equinox, dm-haiku and keras installed:
``python tools/make_framework_fixtures.py``. Numeric arrays only, named ``FRAMEWORK/KEY``.
"""

import pathlib
import sys

import numpy as np

TESTS = pathlib.Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))  # the cases live beside the tests that read the fixture
import framework_cases  # noqa: E402

PATH = TESTS / "fixtures" / "frameworks.npz"


def main():
    arrays = {}
    for name, run in framework_cases.RECORDED.items():
        for key, value in run().items():
            arrays[f"{name}/{key}"] = value
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {len(arrays)} arrays to {PATH.name}")


if __name__ == "__main__":
    main()
