"""bench/compat.py's pieces that judge: the pairs it runs come from facts/versions.yaml, the cross-release check
sees a planted difference in forward outputs or trained weights, and the table names a failing row's first
failing step."""
import numpy as np

from bench.compat import FORWARD_BAR, cross_release, default_pairs, table
from facts.versions import supported


def test_every_release_on_3_11_and_the_ends_on_3_10_and_3_12():
    versions = supported()
    pairs = default_pairs(versions)
    assert [m for p, m in pairs if p == "3.11"] == list(versions.releases["3.11"])
    assert [pair for pair in pairs if pair[0] != "3.11"] == [("3.10", "2.7.1"), ("3.10", "2.10.0"), ("3.12", "2.7.2"),
                                                             ("3.12", "2.10.0")]


def rows(*names):
    return {"rows": [{"name": name, "python": "3.11", "mindspore": name, "failed": None, "seconds": 60.0,
                      "steps": [], "timing": None} for name in names]}


def test_the_cross_release_check_sees_a_planted_difference(tmp_path):
    forward = np.random.default_rng(0).normal(size=(2, 20, 8, 16)).astype(np.float32)
    trained = {"w": np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)}
    for name, scale in (("a", 1.0), ("b", 1.0), ("c", 1 + 10 * FORWARD_BAR)):
        np.save(tmp_path / f"{name}.forward.npy", forward * np.float32(scale))
        np.savez(tmp_path / f"{name}.trained.npz", w=trained["w"] * np.float32(scale ** 200))
    results = rows("a", "b", "c")
    cross_release(results, tmp_path)
    a, b, c = (row["cross_release"] for row in results["rows"])
    assert a["forward_ok"] and b["forward_ok"] and b["trained_bit_identical"] and b["trained_relative"] == 0
    assert not c["forward_ok"] and c["forward_relative"] > 5 * FORWARD_BAR
    assert not c["trained_ok"] and not c["trained_bit_identical"]


def test_the_table_names_the_first_failing_step_and_its_reason():
    results = rows("2.7.1", "2.8.0")
    results["rows"][1]["failed"] = {"step": "export onnx", "reason": "RuntimeError: out of range"}
    results["rows"][0]["timing"] = {"forward": {"ratio_to_torch": 1.4}, "train": {"ratio_to_torch": 2.1}}
    results["rows"][1]["skipped"] = ["fast", "timing"]
    lines = table(results).splitlines()
    assert lines[2].startswith("| 3.11 | 2.7.1 | pass | - | 1.0 min | 1.4 | 2.1 |")
    assert lines[3].startswith("| 3.11 | 2.8.0 | FAIL (without fast tier and timing) | export onnx: RuntimeError: out "
                               "of range |")
