"""Regenerate the golden samples of this example repository (what `tritonkit test` replays).

The expected outputs are computed here in numpy, independently of the models, so a model that
changes its answer fails `tritonkit test`. Run: python examples/python_pipeline/make_golden.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tritonkit.repository.golden import GoldenSample, save_golden

REPO = Path(__file__).resolve().parent / "model_repository"


def main() -> None:
    in0 = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.float32)
    in1 = np.array([[0.5, 0.5, 0.5, 0.5], [1, 2, 3, 4]], dtype=np.float32)
    pair = {"INPUT0": in0, "INPUT1": in1}
    samples = {
        "add_sub": GoldenSample(pair, {"OUTPUT0": in0 + in1, "OUTPUT1": in0 - in1}),
        "bls_pipeline": GoldenSample(pair, {"OUTPUT0": 10 * (in0 + in1), "OUTPUT1": in0 - in1}),
        "scale": GoldenSample({"INPUT": in0}, {"OUTPUT": 2 * in0}),
        "add_sub_ensemble": GoldenSample(pair, {"SUM_X2": 2 * (in0 + in1), "DIFF": in0 - in1}),
    }
    for name, sample in samples.items():
        print(save_golden(REPO / name, sample))


if __name__ == "__main__":
    main()
