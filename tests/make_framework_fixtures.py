"""Write ``fixtures/frameworks.npz``: Equinox's, Haiku's and Keras's own LSTM forward passes.

Run from the repository root with equinox, dm-haiku and keras installed:
``python tests/make_framework_fixtures.py``. Numeric arrays only, named ``FRAMEWORK/KEY``.
"""

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import framework_cases  # noqa: E402

PATH = pathlib.Path(__file__).parent / "fixtures" / "frameworks.npz"


def main():
    arrays = {}
    for name, run in framework_cases.RECORDED.items():
        for key, value in run().items():
            arrays[f"{name}/{key}"] = value
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {len(arrays)} arrays to {PATH.name}")


if __name__ == "__main__":
    main()
