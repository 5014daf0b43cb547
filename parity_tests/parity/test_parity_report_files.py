"""`erfnet parity --report DIR`: parity.json read back for a clean pair and for the issue's swapped BatchNorm (first
divergence encoder.layers.3), its weight rows checked against the files themselves; parity.png written; a folder
that cannot take the files refused before the comparison runs."""
import json

import numpy as np
import mindspore as ms
from PIL import Image

from convert import convert_file
from erfnet.cli import main
from helpers.upstream_weights import save_upstream
from helpers.weight_edits import gamma_beta_swapped, rewritten
from parity.divergence import block_ranks
from parity.report_files import SCHEMA

SMALL = ["--height", "16", "--width", "32", "--device", "CPU"]
ROW_FIELDS = {"table", "block", "name", "shape", "max_abs_error", "relative_error", "bar", "result", "note"}


def report(tmp_path, name, *options):
    folder = tmp_path / name
    status = main(["parity", *options, *SMALL, "--report", str(folder)])
    document = json.loads((folder / "parity.json").read_text())
    with Image.open(folder / "parity.png") as picture:
        assert picture.format == "PNG" and picture.width >= 800 and picture.height >= 600
    assert document["schema"] == SCHEMA and document["input_shape"] == [2, 3, 16, 32]
    assert all(set(row) == ROW_FIELDS for row in document["rows"])
    return status, document


def test_the_report_of_a_clean_pair_and_of_a_swapped_batchnorm(tmp_path, capsys):
    save_upstream(tmp_path / "a.pth")
    convert_file(tmp_path / "a.pth", tmp_path / "b.ckpt")
    status, clean = report(tmp_path, "clean", "--reference", str(tmp_path / "a.pth"), "--weights",
                           str(tmp_path / "b.ckpt"))
    assert status == 0 and clean["verdict"] == "pass" and clean["first_divergence"] is None
    assert {row["result"] for row in clean["rows"]} <= {"pass", "n/a"}
    tables = list(dict.fromkeys(row["table"] for row in clean["rows"]))
    assert len(tables) == 9 and tables[0].startswith("Weights")
    checkpoint = {name: value.asnumpy() for name, value in ms.load_checkpoint(str(tmp_path / "b.ckpt")).items()
                  if isinstance(value, ms.Parameter)}
    assert sum(row["table"] == tables[0] for row in clean["rows"]) == len(checkpoint)

    swapped = rewritten(tmp_path / "b.ckpt", tmp_path / "swapped.ckpt", gamma_beta_swapped)
    status, faulty = report(tmp_path, "swapped", "--reference", str(tmp_path / "a.pth"), "--weights", str(swapped))
    assert status == 1 and faulty["verdict"] == "fail"
    assert faulty["first_divergence"]["block"] == "encoder.layers.3"
    assert "bn1 gamma and beta exchanged" in faulty["first_divergence"]["reason"]
    assert [row["name"] for row in faulty["rows"]] == [row["name"] for row in clean["rows"]]
    gamma, beta = checkpoint["encoder.layers.3.bn1.gamma"], checkpoint["encoder.layers.3.bn1.beta"]
    row = next(row for row in faulty["rows"] if row["name"] == "encoder.layers.3.bn1.gamma")
    assert row["result"] == "fail" and row["block"] == "encoder.layers.3"
    assert np.isclose(row["max_abs_error"], np.abs(gamma - beta).max(), rtol=1e-6)
    assert np.isclose(row["relative_error"], np.abs(gamma - beta).max() / np.abs(gamma).max(), rtol=1e-6)
    failing = {row["block"] for row in faulty["rows"] if row["result"] == "fail"}
    ranks = block_ranks()
    assert min(failing, key=ranks.get) == "encoder.layers.3"
    forward = [row for row in faulty["rows"] if row["table"].startswith("Forward, eval") and
               row["block"] == "encoder.layers.3"]
    assert forward[0]["result"] == "fail" and forward[0]["relative_error"] > forward[0]["bar"]
    assert "wrote" in capsys.readouterr().out


def test_the_one_file_report_has_no_weight_table_and_passes(tmp_path):
    save_upstream(tmp_path / "a.pth")
    status, document = report(tmp_path, "one", "--weights", str(tmp_path / "a.pth"))
    assert status == 0 and document["verdict"] == "pass" and document["reference"] is None
    assert not any(row["table"].startswith("Weights") for row in document["rows"])
    assert {row["block"] for row in document["rows"]} >= {"encoder.initial_block", "decoder.output_conv", "network"}


def test_a_report_folder_that_is_a_file_is_refused_before_comparing(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    status = main(["parity", "--weights", str(tmp_path / "absent.pth"), *SMALL, "--report", str(tmp_path / "taken")])
    assert status == 2 and "is a file; give a folder" in capsys.readouterr().err


def test_quiet_parity_prints_the_verdict_and_the_first_divergence_only(tmp_path, capsys):
    save_upstream(tmp_path / "a.pth")
    convert_file(tmp_path / "a.pth", tmp_path / "b.ckpt")
    swapped = rewritten(tmp_path / "b.ckpt", tmp_path / "swapped.ckpt", gamma_beta_swapped)
    status = main(["parity", "--reference", str(tmp_path / "a.pth"), "--weights", str(swapped), *SMALL, "--quiet"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert status == 1 and len(lines) == 2
    assert lines[0] == "first divergence: encoder.layers.3: bn1 gamma and beta exchanged"
    assert lines[1].startswith("FAIL: some rows exceed their bar (")
