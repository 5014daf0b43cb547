"""`pytest parity_tests -m parity --weights FILE [--reference REF]` as a user runs it: on a file with a planted
fault (a negative BatchNorm variance in one file; gamma and beta exchanged against the reference) it fails naming
the block and none before it, with JUnit XML a CI job reads. (The same tests pass on clean files in
the suite itself, where they run without --weights on a clean pair.)"""
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
def test_the_parity_tests_name_the_block_of_a_planted_fault_and_fail_none_before_it(tmp_path):
    state = save_upstream(tmp_path / "clean.pth")
    variance = "module.encoder.layers.3.bn1.running_var"
    state[variance] = -state[variance].abs()  # a damaged statistic: every output of the block becomes NaN
    torch.save(state, tmp_path / "damaged.pth")
    code, outcomes, messages = parity_suite(tmp_path, "--weights", tmp_path / "damaged.pth")
    failed = sorted(name for name, outcome in outcomes.items() if outcome == "failed")
    assert code == 1 and "test_forward_eval_mode[encoder.layers.3]" in failed and len(outcomes) == 127
    before = [name for name in outcomes if any(f"[encoder.layers.{i}]" in name for i in range(3))]
    assert before and "failed" not in {outcomes[name] for name in before}, failed
    assert sum(outcomes[name] == "passed" for name in before) >= len(before) // 2  # the others skipped: n/a rows
    assert messages["test_forward_eval_mode[encoder.layers.3]"].startswith("AssertionError: encoder.layers.3: ")

    convert_file(tmp_path / "clean.pth", tmp_path / "clean.ckpt")
    swapped = rewritten(tmp_path / "clean.ckpt", tmp_path / "swapped.ckpt", gamma_beta_swapped)
    code, outcomes, messages = parity_suite(tmp_path, "--weights", swapped, "--reference", tmp_path / "clean.pth")
    assert code == 1 and outcomes["test_weights[encoder.layers.3]"] == "failed"
    assert "encoder.layers.3: bn1 gamma and beta exchanged" in messages["test_weights[encoder.layers.3]"]
    assert [name for name, outcome in outcomes.items() if outcome == "failed" and name.startswith("test_weights")] \
        == ["test_weights[encoder.layers.3]"]
