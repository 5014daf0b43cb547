"""Training configs: the shipped files load; a bad field is an error naming it before anything trains;
--set overrides apply; the resolved config reads back to the same configuration."""
import pytest
import yaml

from erfnet.cli import main
from facts.errors import UserError
from train.config import config_file, parse_config, read_config, resolved_yaml, shipped_configs
from train.run import parse_stage_selection

def test_the_four_stage_recipe_is_the_seeds_table():
    config = read_config("cityscapes_4stage")
    table = [(s.network, s.first_epoch, s.last_epoch, s.dropout["enc128"], s.augmentation.crop_ratio, s.init)
             for s in config.stages]
    assert table == [("encoder", 1, 65, 0.3, 1.2, "scratch"), ("encoder", 66, 150, 0.3, (1.0, 1.3), "previous"),
                     ("full", 1, 65, 0.2, (1.0, 1.3), "previous_encoder"), ("full", 66, 150, 0.3, (1.0, 1.3), "previous")]
    assert {s.dropout["enc64"] for s in config.stages} == {0.03} and {s.dropout["decoder"] for s in config.stages} == {0}
    assert {s.augmentation.recipe for s in config.stages} == {"zoo"} and config.poly.epochs == 150


def test_erfnet_pytorch_recipe_and_its_imagenet_variant():
    config = read_config("erfnet_pytorch")
    assert [(s.network, s.first_epoch, s.last_epoch, s.augmentation.recipe) for s in config.stages] == [
        ("encoder", 1, 150, "pytorch"), ("full", 1, 150, "pytorch")]
    assert (config.lr0, config.batch_size) == (5e-4, 6)
    imagenet = read_config("erfnet_pytorch_imagenet").stage(1)
    assert (imagenet.network, imagenet.init.file, imagenet.init.part) == (
        "full", "erfnet_encoder_pretrained.pth.tar", "encoder")


def smoke_raw():
    return yaml.safe_load(config_file("smoke").read_text())


@pytest.mark.parametrize("change, message", [
    (lambda raw: raw.update(learning_rate=1.0), r"config field learning_rate: unknown key"),
    (lambda raw: raw["stages"][2].update(epochs="66-150"), r"stages\.2\.epochs: must be \[first, last\]"),
    (lambda raw: raw.update(batch_size=2.5), r"batch_size: must be an integer"),
    (lambda raw: raw["stages"][2].update(epochs=[2, 4]), r"stages\.2\.epochs: \[2, 4\] overlaps stage 1"),
    (lambda raw: raw["stages"][3].update(init={"part": "encoder"}), r"stages\.3\.init\.file: missing"),
    (lambda raw: raw["stages"][3].update(init="prev"), r"stages\.3\.init: must be one of scratch, previous"),
    (lambda raw: raw["stages"][1]["dropout"].update(enc128=1.0), r"stages\.1\.dropout\.enc128: must be in \[0, 1\)"),
    (lambda raw: raw["stages"][1]["dropout"].update(enc32=0.1), r"stages\.1\.dropout\.enc32: unknown key"),
    (lambda raw: raw["stages"][2].update(epochs=[4, 3]), r"stages\.2\.epochs: \[4, 3\]: the last epoch comes before"),
    (lambda raw: raw["stages"][2].update(epochs=[3, 9]), r"stages\.2\.epochs: the last epoch 9 is beyond the poly "
                                                          r"curve's 4 epochs"),
    (lambda raw: raw["stages"][1].update(epochs=[0, 2]), r"stages\.1\.epochs: the first epoch is 1 or later, not 0"),
    (lambda raw: raw.update(validation={"height": 36}), r"validation\.height: must be a multiple of 8, not 36"),
    (lambda raw: raw.update(amp={"loss_scale": "big"}), r"amp\.loss_scale: must be a number"),
    (lambda raw: raw.update(stages={}), r"stages: must be a non-empty mapping"),
    (lambda raw: raw.pop("seed"), r"config field seed: missing"),
    (lambda raw: raw["stages"][1]["augmentation"].update(recipe="pytorch"),
     r"stages\.1\.augmentation\.crop_ratio: is a parameter of the zoo recipe"),
    (lambda raw: raw.update(height=30), r"height: must be a multiple of 8"),
    (lambda raw: raw["stages"][4].update(init="previous_encoder", network="encoder"),
     r"stages\.4\.epochs: \[3, 4\] overlaps stage 2"),
    (lambda raw: raw["stages"][3].update(init="previous"), r"stages\.3\.init: previous: stage 2 trains the encoder"),
    (lambda raw: raw.update(worker_kind="fibres"), r"config field worker_kind: must be one of auto, threads, processes"),
])
def test_a_bad_field_is_named(change, message):
    raw = smoke_raw()
    change(raw)
    with pytest.raises(UserError, match=message):
        parse_config(raw)


def test_cli_reports_config_errors_in_one_line_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--config", "smoke", "--data", str(tmp_path), "--out", str(out),
                 "--set", "stages.2.epochs=[3,9]"])
    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "stages.2.epochs: the last epoch 9 is beyond the poly curve's 4 epochs" in error
    assert not out.exists()


def test_unreadable_config_files_are_one_line(tmp_path):
    binary, broken = tmp_path / "binary.yaml", tmp_path / "broken.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    broken.write_text("seed: 0\nlr0: [1e-3\nheight: 32\n")
    with pytest.raises(UserError, match="binary.yaml: not a text file"):
        read_config(binary)
    with pytest.raises(UserError, match=r"broken.yaml: not valid YAML: .* at line 3, column 7$") as caught:
        read_config(broken)
    assert "\n" not in str(caught.value)


def test_overrides_and_resolved_config_round_trip():
    config = read_config("smoke", ["stages.2.epochs=[3,3]", "lr0=1e-3", "validation.every=2"])
    assert (config.stage(2).first_epoch, config.stage(2).last_epoch, config.lr0, config.validation.every) == (3, 3, 1e-3, 2)
    again = parse_config(yaml.safe_load(resolved_yaml(config)))
    assert again.stages == config.stages and again.lr0 == config.lr0 and again == config
    with pytest.raises(UserError, match=r"config field stages\.7: --set"):
        read_config("smoke", ["stages.7.epochs=[1,2]"])


def test_stage_selection():
    config = read_config("smoke")
    assert parse_stage_selection("3-4", config) == [3, 4] and parse_stage_selection(None, config) == [1, 2, 3, 4]
    assert parse_stage_selection("2", config) == [2]
    for bad in ("5", "3-1", "x"):
        with pytest.raises(UserError, match="--stages"):
            parse_stage_selection(bad, config)


def test_a_stage_without_its_previous_weights_stops_before_training(data_root, tmp_path):
    from train.run import train_from_config
    with pytest.raises(UserError, match=r"stage 3 starts from stage 2's final weights, but .*stage2/final\.ckpt "
                                        r"does not exist"):
        train_from_config("smoke", data_root, tmp_path / "run", stages="3-4", quiet=True)
    assert not (tmp_path / "run" / "stage3").exists()
    with pytest.raises(UserError, match="--init .*: no such file"):
        train_from_config("smoke", data_root, tmp_path / "run", init=tmp_path / "none.ckpt")
    with pytest.raises(UserError, match=r"config field stages\.1\.init\.file: erfnet_encoder_pretrained\.pth\.tar: "
                                        r"no such file"):
        train_from_config("erfnet_pytorch_imagenet", data_root, tmp_path / "imagenet", quiet=True)
    assert not (tmp_path / "imagenet").exists()


def test_init_file_replaces_the_configs_file_and_keeps_its_part(tmp_path):
    from train.run import check_init_files, initial_weights
    from helpers.upstream_weights import save_upstream
    config = read_config("erfnet_pytorch_imagenet")
    full = tmp_path / "full.pth"
    save_upstream(full)
    check_init_files(config.stages, full)  # the config's own file need not exist when --init replaces it
    start = initial_weights(config, config.stage(1), tmp_path, full, None)
    assert start.parts == ("encoder", "encoder head")
    assert start.arrays and all(name.startswith("encoder.") for name in start.arrays)


@pytest.mark.parametrize("name", shipped_configs())
def test_every_shipped_config_loads_by_name(name):
    assert read_config(name) == read_config(f"{name}.yaml") == read_config(config_file(name))


def test_a_config_is_a_file_first_then_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "learn.yaml").write_text(config_file("smoke").read_text())
    assert read_config("learn.yaml") == read_config("smoke"), "a file in the working folder wins"
    assert read_config("learn") != read_config("smoke"), "a bare name without such a file is the shipped one"
    shipped = ", ".join(shipped_configs())
    with pytest.raises(UserError, match=rf"^configs/smoke\.yaml: no such config file \(the shipped one is --config "
                                        rf"smoke\); shipped configs: {shipped}$"):
        read_config("configs/smoke.yaml")
    with pytest.raises(UserError, match=rf"^fast: no such config file; shipped configs: {shipped}$"):
        read_config("fast")


def test_a_damaged_file_stops_the_run_before_training(copy_root, tmp_path):
    from train.run import train_from_config
    image = next((copy_root / "leftImg8bit" / "val").glob("*/*.png"))
    image.write_bytes(image.read_bytes()[:-40])  # truncated: its header still reads
    with pytest.raises(UserError, match=rf"{image.name}: unreadable image"):
        train_from_config("smoke", copy_root, tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()
