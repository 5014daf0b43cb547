"""Mistakes about where outputs go and what data holds, for eval, infer and train: each is one line with exit code
2 before any work (read-only folders, a file where a folder belongs, --workers 0), the options the messages
offer exist (--skip-bad, --metrics-out) and do what they say, and a weights folder's temporaries are never
scored."""
import json
import shutil

import pytest

from erfnet.cli import main
from data.cityscapes import find_samples
from helpers.file_faults import read_only
from ms_erfnet.devices import Devices
from train.config import read_config
from train.stage import StageRunner

SMOKE = "smoke"
HEIGHT = "32"


def run(capsys, *argv):
    """(exit code, stdout, stderr's lines other than progress bars)."""
    capsys.readouterr()
    code = main([str(item) for item in argv])
    out, err = capsys.readouterr()
    return code, out, [line for line in err.strip().splitlines() if not line.startswith(("eval ", "infer:"))]


def truncate(path):
    path.write_bytes(path.read_bytes()[:200])


def help_text(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


def test_infer_into_a_file_or_a_read_only_folder_is_one_line(weight_files, data_root, tmp_path, capsys):
    image = sorted((data_root / "leftImg8bit" / "val").glob("*/*.png"))[0]
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "locked").mkdir()
    for out, message in ((tmp_path / "notes.txt", "is a file"), (tmp_path / "locked", "cannot write here"),
                         (tmp_path / "locked" / "new", "cannot write here")):
        with read_only(tmp_path / "locked"):
            code, _, err = run(capsys, "infer", "--weights", weight_files["torch"], "--input", image, "--out", out,
                               "--height", HEIGHT)
        assert code == 2 and len(err) == 1 and message in err[0] and str(out) in err[0], err
    assert (tmp_path / "notes.txt").read_text() == "mine" and list((tmp_path / "locked").iterdir()) == []


def test_eval_beside_weights_in_a_read_only_folder_offers_metrics_out(weight_files, data_root, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    shutil.copy(weight_files["torch"], locked / "w.pth")
    with read_only(locked):
        code, _, err = run(capsys, "eval", "--weights", locked / "w.pth", "--data", data_root, "--height", HEIGHT)
        assert code == 2 and len(err) == 1 and "cannot write here" in err[0] and "--metrics-out" in err[0], err
        code, out, _ = run(capsys, "eval", "--weights", locked / "w.pth", "--data", data_root, "--height", HEIGHT,
                           "--metrics-out", tmp_path / "metrics")
    assert code == 0 and sorted(p.name for p in locked.iterdir()) == ["w.pth"]
    record = json.loads((tmp_path / "metrics" / "w.pth.metrics.json").read_text())
    assert record["images"] == 4 and f"{tmp_path / 'metrics' / 'w.pth.metrics.txt'}" in out


def test_eval_with_no_workers_is_one_line(weight_files, data_root, capsys):
    code, _, err = run(capsys, "eval", "--weights", weight_files["torch"], "--data", data_root, "--workers", "0")
    assert code == 2 and len(err) == 1 and "--workers 0: must be at least 1" in err[0]


def test_eval_passes_over_the_temporaries_of_a_write_in_a_weights_folder(weight_files, data_root, tmp_path, capsys):
    shutil.copy(weight_files["torch"], tmp_path / "epoch_001.pth")
    shutil.copy(weight_files["other"], tmp_path / ".epoch_002.pth.k2j4h6g8.tmp.pth")
    code, out, _ = run(capsys, "eval", "--weights", tmp_path, "--data", data_root, "--height", HEIGHT)
    assert code == 0 and ".epoch_002" not in out and out.count(" on ") == 1
    assert sorted(p.name for p in tmp_path.glob("*.metrics.json")) == ["epoch_001.pth.metrics.json"]


def test_a_bad_val_file_offers_skip_bad_and_skip_bad_leaves_it_out(weight_files, copy_root, tmp_path, capsys):
    label = find_samples(copy_root, "val")[1].label_path
    truncate(label)
    code, _, err = run(capsys, "eval", "--weights", weight_files["torch"], "--data", copy_root, "--height", HEIGHT)
    assert code == 2 and len(err) == 1 and label.name in err[0] and "--skip-bad" in err[0], err
    assert "--skip-bad" in help_text("eval", capsys)
    code, out, err = run(capsys, "eval", "--weights", weight_files["torch"], "--data", copy_root, "--height", HEIGHT,
                         "--skip-bad", "--metrics-out", tmp_path)
    assert code == 0 and any(label.name in line for line in err)
    assert json.loads((tmp_path / "erfnet.pth.metrics.json").read_text())["images"] == 3
    code, _, err = run(capsys, "train", "--config", SMOKE, "--data", copy_root, "--out", tmp_path / "run",
                       "--stages", "1", "--quiet")
    assert code == 2 and len(err) == 1 and label.name in err[0] and "--skip-bad" in err[0], err
    assert not (tmp_path / "run").exists(), "a bad val file stops the run before it trains or writes anything"
    assert "--skip-bad" in help_text("train", capsys)


def test_train_with_skip_bad_leaves_a_bad_training_sample_out(copy_root, tmp_path):
    bad = find_samples(copy_root, "train")[0]
    truncate(bad.label_path)
    config = read_config(SMOKE)
    runner = StageRunner(config, config.stage(1), copy_root, tmp_path, Devices(), skip_bad=True)
    assert len(runner.samples) == len(find_samples(copy_root, "train", verify=False)) - 1
    rows = sum(len(batch["label"]) for batch in runner.dataset(1).create_dict_iterator(num_epochs=1,
                                                                                        output_numpy=True))
    assert runner.steps * config.batch_size == rows == 8, "11 usable samples make 2 full batches of 4, not 3"
