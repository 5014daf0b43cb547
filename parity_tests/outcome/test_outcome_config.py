"""One YAML config drives both trainers of `erfnet compare-training`: the reference run holds the config's
numbers (checked against the YAML written here, not against train.config), and what erfnet_pytorch's loop
cannot train is refused in one line naming the field, with exit code 2, before anything trains. On one's own
data of any class count both frameworks get the class weights MindSpore's training computes."""
import pytest
import yaml

import outcome.comparison
from data.class_weights import loss_weights
from data.make_folders import make_folders_data
from erfnet.cli import main
from facts.errors import UserError
from outcome.comparison import plan_comparison, run_mindspore
from outcome.reference_config import reference_run
from torch_ref.loss import CLASS_WEIGHTS
from train.config import read_config

TWO_STAGES = {
    "seed": 5, "lr0": 3.0e-3, "weight_decay": 2.0e-4, "poly": {"epochs": 30, "power": 0.8}, "batch_size": 3,
    "height": 32, "workers": 2, "model": {"num_classes": 20, "dropout_mode": "channel", "upsample_align": "torch"},
    "validation": {"every": 5, "height": 32, "batch_size": 2}, "checkpoints": {"keep_last": 1},
    "stages": {
        1: {"network": "encoder", "epochs": [1, 30], "augmentation": {"recipe": "pytorch"}, "init": "scratch",
            "dropout": {"enc64": 0.05, "enc128": 0.2}},
        2: {"network": "full", "epochs": [1, 20], "augmentation": {"recipe": "pytorch"}, "init": "previous_encoder"},
        3: {"network": "full", "epochs": [21, 30], "augmentation": {"recipe": "pytorch"}, "init": "previous",
            "dropout": {"decoder": 0.1}},
    },
}


def write_config(folder, raw, name="config.yaml"):
    path = folder / name
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_reference_run_holds_the_configs_numbers(tmp_path):
    run = reference_run(read_config(write_config(tmp_path, TWO_STAGES)), CLASS_WEIGHTS, "cityscapes")
    assert (run.seed, run.lr0, run.weight_decay, run.power, run.batch_size, run.height, run.workers) == \
        (5, 3.0e-3, 2.0e-4, 0.8, 3, 32, 2)
    assert [(s.network, s.first_epoch, s.last_epoch, s.poly_epochs, s.init) for s in run.stages] == \
        [("encoder", 1, 30, 30, "scratch"), ("full", 1, 20, 30, "previous_encoder"), ("full", 21, 30, 30, "previous")]
    assert [(s.enc64_dropout, s.enc128_dropout, s.decoder_dropout) for s in run.stages] == \
        [(0.05, 0.2, 0.0), (0.03, 0.3, 0.0), (0.03, 0.3, 0.1)], "groups not given keep erfnet_pytorch's rates"


def test_an_override_reaches_the_reference_run_too(tmp_path):
    config = read_config(write_config(tmp_path, TWO_STAGES), ["lr0=0.01", "stages.2.epochs=[1,15]", "seed=9"])
    run = reference_run(config, CLASS_WEIGHTS, "cityscapes")
    assert (run.lr0, run.seed, run.stages[1].last_epoch) == (0.01, 9, 15)


def changed(path, value):
    """TWO_STAGES with the dotted `path` set to `value`."""
    raw = yaml.safe_load(yaml.safe_dump(TWO_STAGES))
    *parents, leaf = [int(part) if part.isdigit() else part for part in path.split(".")]
    node = raw
    for part in parents:
        node = node[part]
    node[leaf] = value
    return raw


REFUSED = [
    ("stages.2.augmentation", {"recipe": "zoo"}, "config field stages.2.augmentation.recipe: zoo: the PyTorch "
                                                 "reference has erfnet_pytorch's pytorch recipe only"),
    ("model.dropout_mode", "element", "config field model.dropout_mode: element:"),
    ("model.upsample_align", "zoo", "config field model.upsample_align: zoo:"),
    ("amp", {"level": "O2"}, "config field amp.level: O2:"),
    ("stages.1.init", {"file": "start.pth"}, "config field stages.1.init: a weight file (start.pth)"),
]


@pytest.mark.parametrize("path, value, message", REFUSED, ids=[case[0] for case in REFUSED])
def test_what_the_reference_cannot_train_is_refused_naming_the_field(tmp_path, path, value, message):
    config = write_config(tmp_path, changed(path, value))
    with pytest.raises(UserError) as error:
        plan_comparison(config, tmp_path, tmp_path / "out", 1)
    assert str(error.value).startswith(message)


def test_the_command_refuses_in_one_line_with_exit_code_2(tmp_path, capsys):
    config = write_config(tmp_path, changed("stages.2.augmentation", {"recipe": "zoo"}))
    code = main(["compare-training", "--config", str(config), "--data", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("erfnet compare-training: error: config field stages.2.augmentation.recipe: zoo")


def test_a_class_count_the_data_does_not_have_is_one_line_naming_both_with_exit_code_2(data_root, tmp_path, capsys):
    config = write_config(tmp_path, changed("model.num_classes", 5))
    code = main(["compare-training", "--config", str(config), "--data", str(data_root), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err == f"erfnet compare-training: error: the config's model.num_classes has 5 classes; Cityscapes " \
                  f"({data_root}) has 19 (a network for it has 19, or 20 with a void channel)\n"
    assert not (tmp_path / "o").exists()


def test_a_folder_of_an_earlier_comparison_and_bad_counts_are_refused(data_root, tmp_path):
    config = write_config(tmp_path, TWO_STAGES)
    (tmp_path / "out" / "pytorch").mkdir(parents=True)
    with pytest.raises(UserError, match="already holds pytorch of an earlier comparison"):
        plan_comparison(config, data_root, tmp_path / "out", 1)
    with pytest.raises(UserError, match="--seeds 0: must be at least 1"):
        plan_comparison(config, data_root, tmp_path / "new", 0)
    with pytest.raises(UserError, match="no such data folder"):
        plan_comparison(config, tmp_path / "nowhere", tmp_path / "new", 1)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(UserError, match="a_file: is a file; --out names a folder"):
        plan_comparison(config, data_root, tmp_path / "a_file", 1)


def test_seeds_count_up_from_the_configs_own(data_root, tmp_path):
    comparison = plan_comparison(write_config(tmp_path, TWO_STAGES), data_root, tmp_path / "out", 3, "same")
    assert comparison.seeds == (5, 6, 7) and comparison.start == "same"
    assert comparison.config(6).seed == 6


def test_labels_the_reference_cannot_read_are_refused(copy_root, tmp_path):
    """erfnet_pytorch reads *_gtFine_labelTrainIds.png; the project's pipeline would map labelIds instead."""
    for path in (copy_root / "gtFine" / "train").rglob("*_labelTrainIds.png"):
        path.unlink()
    with pytest.raises(UserError, match="the PyTorch reference reads it as erfnet_pytorch does and cannot"):
        plan_comparison(write_config(tmp_path, TWO_STAGES), copy_root, tmp_path / "out", 1)


def test_a_short_last_batch_is_announced_as_the_one_difference_of_the_epochs(data_root, tmp_path, caplog):
    """12 training scenes: batches of 5 leave 2 that MindSpore skips and erfnet_pytorch trains."""
    config = write_config(tmp_path, TWO_STAGES)
    with caplog.at_level("WARNING"):
        plan_comparison(config, data_root, tmp_path / "even", 1)
        assert caplog.records == []
        plan_comparison(config, data_root, tmp_path / "odd", 1, overrides=["batch_size=5"])
    assert [record.getMessage()[:86] for record in caplog.records] == \
        ["12 training images in batches of 5: MindSpore leaves out the last 2 of each epoch (who"]


def test_a_truncated_picture_is_named_before_anything_trains(copy_root, tmp_path, capsys):
    """In one line, without pointing to a --skip-bad that compare-training does not have (the reference reads
    every file)."""
    image = sorted((copy_root / "leftImg8bit" / "val").glob("*/*.png"))[1]
    image.write_bytes(image.read_bytes()[:300])
    with pytest.raises(UserError, match=image.name):
        plan_comparison(write_config(tmp_path, TWO_STAGES), copy_root, tmp_path / "out", 1)
    code = main(["compare-training", "--config", str(write_config(tmp_path, TWO_STAGES)), "--data", str(copy_root),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and image.name in err and "--skip-bad" not in err, err


@pytest.fixture(scope="module")
def five_classes(tmp_path_factory):
    """A generated folders dataset of 5 classes: 4 train and 2 val scenes of 64x32."""
    root = tmp_path_factory.mktemp("five")
    make_folders_data(root, {"train": 4, "val": 2}, 64, seed=0, num_classes=5)
    return root


@pytest.mark.parametrize("num_classes", ["data", 6])
def test_own_data_of_five_classes_is_planned_with_mindspores_class_weights_for_both(five_classes, tmp_path,
                                                                                    monkeypatch, num_classes):
    """Both networks' weights from the train labels (class_weights auto on one's own data), computed once and
    handed to the reference and to MindSpore's training alike; the reference reads the folders layout."""
    config = write_config(tmp_path, changed("model.num_classes", num_classes))
    comparison = plan_comparison(config, five_classes, tmp_path / "out", 1)
    want = {network: loss_weights(five_classes, network, "labels") for network in ("encoder", "full")}
    assert comparison.layout == "folders" and comparison.class_weights == want
    assert len(want["full"]) == 6 and want["full"][-1] == 0 and want["encoder"] != want["full"]
    run = comparison.reference_run(5)
    assert (run.num_classes, run.class_weights, run.layout) == (5 if num_classes == "data" else 6, want, "folders")
    handed = []

    def train(config_path, data_root, out, overrides, quiet, loss_weights):
        handed.append(loss_weights)
        raise KeyboardInterrupt
    monkeypatch.setattr(outcome.comparison, "train_from_config", train)
    with pytest.raises(KeyboardInterrupt):
        run_mindspore(comparison, 5, quiet=True)
    assert handed == [want]


def test_class_weights_given_in_the_config_reach_both_frameworks(five_classes, tmp_path):
    given = [1.0, 2.0, 3.0, 4.0, 5.0]
    config = write_config(tmp_path, changed("loss", {"class_weights": given}))
    comparison = plan_comparison(config, five_classes, tmp_path / "out", 1, overrides=["model.num_classes=5"])
    assert comparison.reference_run(5).class_weights == {network: (*given, 0.0) for network in ("encoder", "full")}

