"""Write ``tests/fixtures/torch_lstm.npz``: every case of ``torch_cases``, its inputs and torch's answers.

Run from the repository root with torch installed: ``python tools/make_torch_fixtures.py``.
The file holds numeric arrays only (loaded with ``allow_pickle=False``), named ``CASE/KEY``.
"""

import pathlib
import sys

import numpy as np
import torch

TESTS = pathlib.Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))  # the cases live beside the tests that read the fixture
import torch_cases  # noqa: E402

PATH = TESTS / "fixtures" / "torch_lstm.npz"


def main():
    torch.manual_seed(0)
    arrays = {"torch_version": np.array(torch.__version__.split("+")[0])}
    for name in torch_cases.CASES:
        for key, value in {**torch_cases.inputs(name), **torch_cases.torch_reference(name)}.items():
            arrays[f"{name}/{key}"] = value
    PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {len(arrays)} arrays for {len(torch_cases.CASES)} cases to {PATH.name}")


if __name__ == "__main__":
    main()
