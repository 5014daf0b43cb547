"""`pytest parity_tests -m parity --weights FILE [--reference REF]` as a user runs it: passes on a clean file,
fails naming the block on a file with a planted fault (a negative BatchNorm variance in one file; gamma and beta
exchanged against the reference), with JUnit XML a CI job reads."""
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import torch

from convert import convert_file
from helpers.upstream_weights import save_upstream
from helpers.weight_edits import gamma_beta_swapped, rewritten

HERE = Path(__file__).resolve().parent


def parity_suite(folder, *options):
    """Run the parity tests on the files in `options`; (exit code, {test id: outcome}, failure messages)."""
    junit = folder / f"parity{len(list(folder.glob('*.xml')))}.xml"
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "parity",
                             str(HERE / "test_parity_on_your_files.py"), f"--junitxml={junit}", *map(str, options)],
                            capture_output=True, text=True, cwd=HERE.parents[1], timeout=1200)
    outcomes, messages = {}, {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        name = case.get("name")
        failure = case.find("failure")
        outcomes[name] = "failed" if failure is not None else "skipped" if case.find("skipped") is not None \
            else "passed"
        if failure is not None:
            messages[name] = failure.get("message")
    return result.returncode, outcomes, messages


@pytest.mark.slow
def test_the_parity_tests_pass_on_a_clean_file_and_name_the_block_of_a_planted_fault(tmp_path):
    state = save_upstream(tmp_path / "clean.pth")
    code, outcomes, _ = parity_suite(tmp_path, "--weights", tmp_path / "clean.pth")
    assert code == 0 and len(outcomes) == 127
    assert sum(outcome == "passed" for outcome in outcomes.values()) >= 100

    variance = "module.encoder.layers.3.bn1.running_var"
    state[variance] = -state[variance].abs()  # a damaged statistic: every output of the block becomes NaN
    torch.save(state, tmp_path / "damaged.pth")
    code, outcomes, messages = parity_suite(tmp_path, "--weights", tmp_path / "damaged.pth")
    failed = sorted(name for name, outcome in outcomes.items() if outcome == "failed")
    assert code == 1 and "test_forward_eval_mode[encoder.layers.3]" in failed
    assert not any(f"[encoder.layers.{i}]" in name for name in failed for i in range(3)), failed
    assert messages["test_forward_eval_mode[encoder.layers.3]"].startswith("AssertionError: encoder.layers.3: ")

    convert_file(tmp_path / "clean.pth", tmp_path / "clean.ckpt")
    swapped = rewritten(tmp_path / "clean.ckpt", tmp_path / "swapped.ckpt", gamma_beta_swapped)
    code, outcomes, messages = parity_suite(tmp_path, "--weights", swapped, "--reference", tmp_path / "clean.pth")
    assert code == 1 and outcomes["test_weights[encoder.layers.3]"] == "failed"
    assert "encoder.layers.3: bn1 gamma and beta exchanged" in messages["test_weights[encoder.layers.3]"]
    assert [name for name, outcome in outcomes.items() if outcome == "failed" and name.startswith("test_weights")] \
        == ["test_weights[encoder.layers.3]"]
