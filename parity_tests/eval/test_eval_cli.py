"""`erfnet eval` as a user runs it: the table, both metrics files, a folder of checkpoints with the best named,
and one-line errors."""
import json
import shutil

import numpy as np
import pytest

from erfnet.cli import main
from eval.evaluate import evaluate
from convert.network import load_full_network
from facts.labels import CLASS_NAMES

HEIGHT = 64


def run_eval(capsys, *argv):
    code = main(["eval", *map(str, argv), "--height", str(HEIGHT)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_folder_is_evaluated_file_by_file_and_the_best_named(weight_files, data_root, tmp_path, capsys):
    for name in ("torch", "other", "encoder", "zoo"):
        shutil.copy(weight_files[name], tmp_path / weight_files[name].name)
    (tmp_path / "notes.txt").write_text("not weights")
    code, out, err = run_eval(capsys, "--weights", tmp_path, "--data", data_root, "--batch-size", "4")
    assert code == 0
    assert "skipping" in err and "encoder.pth" in err and "encoder-only" in err
    scores = {}
    for name in ("erfnet.pth", "other.pth", "zoo.ckpt"):
        record = json.loads((tmp_path / f"{name}.metrics.json").read_text())
        assert (record["protocol"], record["height"], record["images"], record["split"]) == ("pytorch", HEIGHT, 4,
                                                                                             "val")
        assert list(record["iou_class"]) == list(CLASS_NAMES)
        text = (tmp_path / f"{name}.metrics.txt").read_text().splitlines()
        assert text[0] == f"mean_iou {record['mean_iou']:.6f}" and text[1] == f"mean_loss {record['mean_loss']:.6f}"
        keyword, *values = text[2].split()
        assert keyword == "iou_class"
        by_name = [np.nan if value is None else value for value in record["iou_class"].values()]
        np.testing.assert_allclose(np.array(values, dtype=float), by_name, atol=5e-7, equal_nan=True)
        scores[name] = record["mean_iou"]
        assert f"{tmp_path / name} on" in out
    expected = evaluate(load_full_network(tmp_path / "zoo.ckpt")[0], data_root, "val", HEIGHT, "pytorch", batch_size=4)
    assert scores["zoo.ckpt"] == pytest.approx(expected.mean_iou, rel=1e-12)
    assert json.loads((tmp_path / "zoo.ckpt.metrics.json").read_text())["mean_loss"] == pytest.approx(
        expected.mean_loss, rel=1e-6)
    assert not (tmp_path / "encoder.pth.metrics.json").exists()
    best = max(scores, key=scores.get)
    assert f"best: {tmp_path / best} (mIoU {100 * scores[best]:.2f}%) of 3 evaluated" in out
    assert "mIoU" in out and "weighted loss" in out and "images/s" in out and "traffic light" in out


@pytest.mark.parametrize("case, message", [
    ("encoder", "encoder-only"), ("missing", "no such file or folder"), ("empty folder", "no weight files"),
    ("no data", "no such folder"),
])
def test_user_mistakes_get_one_line_and_exit_code_2(weight_files, data_root, tmp_path, capsys, case, message):
    weights = {"encoder": weight_files["encoder"], "missing": tmp_path / "none.ckpt",
               "empty folder": tmp_path, "no data": weight_files["torch"]}[case]
    data = tmp_path / "nowhere" if case == "no data" else data_root
    code, _, err = run_eval(capsys, "--weights", weights, "--data", data)
    assert code == 2
    assert err.startswith("erfnet eval: error:") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
