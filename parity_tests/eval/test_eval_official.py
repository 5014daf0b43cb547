"""`erfnet infer --what labelids` pictures scored by cityscapesscripts' own pixel-level evaluator give the
mIoU and per-class IoU of `erfnet eval --protocol full` on the same weights and data."""
import json
import math

import pytest
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official

from erfnet.cli import main
from facts.labels import CLASS_NAMES

HEIGHT = 64


def official_scores(data_root, predictions):
    """The official evaluator's class scores and average, its predictions found by its own file matching."""
    args = official.args
    saved = dict(vars(args))
    args.predictionPath, args.predictionWalk = str(predictions), None
    args.quiet, args.JSONOutput = True, False
    try:
        truths = sorted(str(path) for path in (data_root / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))
        found = [official.getPrediction(args, truth) for truth in truths]
        return official.evaluateImgLists(found, truths, args)
    finally:
        vars(args).update(saved)


def test_official_evaluator_agrees_with_eval_full(weight_files, data_root, tmp_path):
    weights = tmp_path / "erfnet.pth"
    weights.write_bytes(weight_files["torch"].read_bytes())
    assert main(["infer", "--weights", str(weights), "--input", str(data_root / "leftImg8bit" / "val"),
                 "--out", str(tmp_path / "out"), "--height", str(HEIGHT), "--what", "labelids",
                 "--batch-size", "3"]) == 0
    assert main(["eval", "--weights", str(weights), "--data", str(data_root), "--height", str(HEIGHT),
                 "--protocol", "full", "--batch-size", "2"]) == 0
    ours = json.loads((tmp_path / "erfnet.pth.metrics.json").read_text())
    theirs = official_scores(data_root, tmp_path / "out" / "labelids")
    assert ours["images"] == 4 and ours["protocol"] == "full"
    assert ours["mean_iou"] == pytest.approx(theirs["averageScoreClasses"], abs=1e-6)
    for name in CLASS_NAMES:
        if ours["iou_class"][name] is None:
            assert math.isnan(theirs["classScores"][name]), name
        else:
            assert ours["iou_class"][name] == pytest.approx(theirs["classScores"][name], abs=1e-6), name
    defined = [value for value in ours["iou_class"].values() if value is not None]
    assert 0 < ours["mean_iou"] < 1 and len(defined) < 19, "the scene should leave some class undefined"
