"""The converter: every accepted format, bit-exact round trips, and one clear error (exit 2, no output file)
for every bad file."""
import pickle
import warnings

import mindspore as ms
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from convert import convert_file, read_weights
from erfnet.cli import main
from helpers.file_faults import read_only
from helpers.upstream_weights import save_upstream
from torch_ref import Net
from torch_ref.random_weights import upstream_state_dict


def float_items(state):
    return {key: value for key, value in state.items() if not key.endswith("num_batches_tracked")}


@given(num_classes=st.integers(2, 40), seed=st.integers(0, 2**16))
def test_torch_to_ms_to_torch_is_bit_exact(tmp_path_factory, num_classes, seed):
    folder = tmp_path_factory.mktemp("round")
    original = save_upstream(folder / "net.pth", num_classes, seed)
    convert_file(folder / "net.pth", folder / "net.ckpt")
    convert_file(folder / "net.ckpt", folder / "back.pth")
    back = torch.load(folder / "back.pth", weights_only=True)
    assert list(back) == list(original)
    for key, value in float_items(original).items():
        assert torch.equal(back[key], value), key
    assert all(int(back[key]) == 0 for key in back if key.endswith("num_batches_tracked"))


def test_ms_checkpoint_holds_mindspore_names_and_exact_values(tmp_path):
    original = save_upstream(tmp_path / "net.pth", seed=3)
    convert_file(tmp_path / "net.pth", tmp_path / "net.ckpt")
    params = ms.load_checkpoint(str(tmp_path / "net.ckpt"))
    pairs = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
    bn = "encoder.layers.7.bn2"
    for ms_leaf, torch_leaf in pairs.items():
        np.testing.assert_array_equal(params[f"{bn}.{ms_leaf}"].asnumpy(),
                                      original[f"module.{bn}.{torch_leaf}"].numpy())
    assert params["upsample_align"] == "torch"
    assert len([key for key in params if key != "upsample_align"]) == 345 - 39


def test_converted_file_loads_strictly_into_the_reference_net_both_ways(tmp_path):
    save_upstream(tmp_path / "net.pth", seed=5)
    convert_file(tmp_path / "net.pth", tmp_path / "net.ckpt")
    convert_file(tmp_path / "net.ckpt", tmp_path / "plain.pth", torch_prefix="")
    Net(20).load_state_dict(torch.load(tmp_path / "plain.pth", weights_only=True), strict=True)
    wrapped = torch.nn.DataParallel(Net(20))
    convert_file(tmp_path / "net.ckpt", tmp_path / "prefixed.pth")
    wrapped.load_state_dict(torch.load(tmp_path / "prefixed.pth", weights_only=True), strict=True)


def test_training_checkpoint_wrapper_is_unwrapped_with_a_note(tmp_path):
    save_upstream(tmp_path / "checkpoint.pth.tar", wrap=lambda state: {
        "epoch": 12, "arch": "erfnet", "state_dict": state, "best_acc": 0.5,
        "optimizer": {"state": {}, "param_groups": [{"lr": 5e-4}]}})
    weights = convert_file(tmp_path / "checkpoint.pth.tar", tmp_path / "net.ckpt")
    assert weights.parts == ("encoder", "encoder head", "decoder")
    assert any("training checkpoint" in note and "optimizer" in note for note in weights.notes)


def test_keys_without_module_prefix_and_class_count_from_the_weights(tmp_path):
    torch.save(Net(7).state_dict(), tmp_path / "seven.pth")
    weights = read_weights(tmp_path / "seven.pth")
    assert weights.num_classes == 7 and not any("module." in note for note in weights.notes)


def test_encoder_only_checkpoint_becomes_an_encoder_only_ckpt(tmp_path, capsys):
    state = {key: value for key, value in upstream_state_dict().items() if key.startswith("module.encoder.")}
    torch.save(state, tmp_path / "encoder.pth")
    assert main(["convert", str(tmp_path / "encoder.pth"), str(tmp_path / "encoder.ckpt")]) == 0
    assert "encoder only" in capsys.readouterr().out
    names = set(ms.load_checkpoint(str(tmp_path / "encoder.ckpt")))
    assert "encoder.output_conv.weight" in names and not any(name.startswith("decoder.") for name in names)


def test_imagenet_pretrained_encoder_drops_its_classifier(tmp_path, capsys):
    backbone = {key.replace("module.encoder.", "module.features.encoder."): value
                for key, value in upstream_state_dict().items()
                if key.startswith("module.encoder.") and ".output_conv." not in key}
    backbone["module.classifier.linear.weight"] = torch.zeros(1000, 128)
    backbone["module.classifier.linear.bias"] = torch.zeros(1000)
    torch.save({"epoch": 90, "state_dict": backbone}, tmp_path / "erfnet_encoder_pretrained.pth.tar")
    assert main(["convert", str(tmp_path / "erfnet_encoder_pretrained.pth.tar"), str(tmp_path / "enc.ckpt")]) == 0
    out = capsys.readouterr().out
    assert "ImageNet" in out and "classifier" in out and "no encoder head" in out
    names = set(ms.load_checkpoint(str(tmp_path / "enc.ckpt"))) - {"upsample_align"}
    assert names == {name for name in names if name.startswith(("encoder.initial_block", "encoder.layers"))}
    backbone_keys = [key for key in Net(20).state_dict() if key.startswith(("encoder.initial_block", "encoder.layers"))
                     and not key.endswith("num_batches_tracked")]
    assert len(names) == len(backbone_keys) == 226


def test_ms_checkpoint_with_optimizer_state_is_read_ignoring_it(tmp_path):
    save_upstream(tmp_path / "net.pth")
    convert_file(tmp_path / "net.pth", tmp_path / "net.ckpt")
    entries = [{"name": name, "data": value} for name, value in ms.load_checkpoint(str(tmp_path / "net.ckpt")).items()
               if name != "upsample_align"]
    entries += [{"name": "moment1." + entry["name"], "data": entry["data"]} for entry in entries[:5]]
    entries += [{"name": "beta1_power", "data": ms.Tensor(0.9, ms.float32)},
                {"name": "learning_rate", "data": ms.Tensor(5e-4, ms.float32)},
                {"name": "global_step", "data": ms.Tensor([7], ms.int32)}]
    ms.save_checkpoint(entries, str(tmp_path / "train.ckpt"))
    weights = convert_file(tmp_path / "train.ckpt", tmp_path / "back.pth")
    assert any("ignored 8 optimizer entries" in note for note in weights.notes)


def bad_file_cases(tmp_path):
    state = upstream_state_dict()
    cases = {}
    partial = {k: v for k, v in state.items() if k != "module.decoder.layers.2.bn2.running_var"}
    cases["incomplete.pth"] = (partial, "decoder is incomplete; missing decoder.layers.2.bn2.running_var")
    extra = dict(state, **{"module.encoder.layers.15.conv.weight": torch.zeros(1)})
    cases["unknown.pth"] = (extra, "not ERFNet parameters: encoder.layers.15.conv.weight")
    wrong = dict(state, **{"module.encoder.layers.3.conv3x1_1.weight": torch.zeros(64, 64, 1, 3)})
    cases["shape.pth"] = (wrong, "encoder.layers.3.conv3x1_1.weight (64, 64, 1, 3) (expected (64, 64, 3, 1))")
    heads = dict(state, **{"module.encoder.output_conv.weight": torch.zeros(19, 128, 1, 1),
                           "module.encoder.output_conv.bias": torch.zeros(19)})
    cases["heads.pth"] = (heads, "encoder.output_conv.weight (19, 128, 1, 1) (expected (20, 128, 1, 1))")
    cases["list.pth"] = ([1, 2, 3], "expected a state_dict")
    cases["strings.pth"] = ({"a": "b"}, "not tensors: a")
    cases["decoder_only.pth"] = ({k: v for k, v in state.items() if ".decoder." in k}, "encoder's weights are missing")
    cases["other_net.pth"] = ({"fc.weight": torch.zeros(3)}, "holds no ERFNet weights")
    cases["empty_dict.pth"] = ({}, "holds an empty dict: no weights")
    cases["int_key.pth"] = ({**state, 7: torch.zeros(1)}, "keys that are not parameter names: 7")
    nan = dict(state, **{"module.encoder.layers.3.bn1.weight": state["module.encoder.layers.3.bn1.weight"].clone()})
    nan["module.encoder.layers.3.bn1.weight"][5] = float("nan")
    cases["nan.pth"] = (nan, "non-finite values (NaN or inf) in encoder.layers.3.bn1.weight")
    inf = dict(state, **{"module.decoder.output_conv.bias": state["module.decoder.output_conv.bias"] / 0})
    cases["inf.pth"] = (inf, "non-finite values (NaN or inf) in decoder.output_conv.bias")
    complex_ = dict(state, **{"module.encoder.layers.1.conv3x1_1.bias": torch.complex(torch.ones(64), torch.ones(64))})
    cases["complex.pth"] = (complex_, "encoder.layers.1.conv3x1_1.bias holds complex64 values")
    integer = dict(state, **{"module.encoder.layers.1.bn1.running_mean": torch.zeros(64, dtype=torch.int64)})
    cases["integer.pth"] = (integer, "encoder.layers.1.bn1.running_mean holds int64 values")
    for name, (content, _) in cases.items():
        torch.save(content, tmp_path / name)
    return {name: message for name, (_, message) in cases.items()}


def test_each_bad_torch_file_gets_one_line_exit_2_and_no_output(tmp_path, capsys):
    for name, message in bad_file_cases(tmp_path).items():
        target = tmp_path / (name + ".ckpt")
        assert main(["convert", str(tmp_path / name), str(target)]) == 2, name
        error = capsys.readouterr().err
        assert message in error and str(tmp_path / name) in error, (name, error)
        assert error.count("\n") == 1 and "Traceback" not in error
        assert not target.exists() and not list(tmp_path.glob(f".{target.name}*"))


class RunsCode:
    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['ERFNET_PWNED'], 'w').write('ran')",))


def test_a_pickle_carrying_code_is_refused_and_nothing_runs(tmp_path, capsys, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("ERFNET_PWNED", str(marker))
    torch.save({"module.encoder.initial_block.conv.weight": RunsCode()}, tmp_path / "evil.pth")
    assert main(["convert", str(tmp_path / "evil.pth"), str(tmp_path / "evil.ckpt")]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "evil.ckpt").exists()


def test_truncated_and_foreign_files_are_named(tmp_path, capsys):
    save_upstream(tmp_path / "net.pth")
    data = (tmp_path / "net.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    (tmp_path / "raw.pt").write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "empty.pth").write_bytes(b"")
    for source, target in (("cut.pth", "x.ckpt"), ("text.ckpt", "x.pth"), ("raw.pt", "y.ckpt"),
                           ("missing.pth", "z.ckpt"), ("net.pth", "net.onnx"), ("empty.pth", "e.ckpt")):
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            assert main(["convert", str(tmp_path / source), str(tmp_path / target)]) == 2, source
        error = capsys.readouterr().err
        assert error.startswith("erfnet convert: error: ") and "Traceback" not in error, error
        assert [str(warning.message) for warning in warned] == [], "the error line is all the user sees"
        assert not (tmp_path / target).exists()


def test_files_that_are_not_weights_are_named_for_what_they_are(tmp_path, capsys):
    import gzip
    (tmp_path / "notes.pth").write_text("these are my notes, not weights\n")
    (tmp_path / "packed.pth").write_bytes(gzip.compress(b"\x80\x02}q\x00."))
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    expected = {"notes.pth": "a text file, not a PyTorch weight file", "packed.pth": "gzip-compressed",
                "empty.pth": "the file is empty", "empty.ckpt": "the file is empty"}
    for name, message in expected.items():
        target = tmp_path / (name + (".pth" if name.endswith(".ckpt") else ".ckpt"))
        assert main(["convert", str(tmp_path / name), str(target)]) == 2, name
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1, (name, error)


def test_float16_converts_with_a_note_and_bfloat16_exactly(tmp_path):
    state = upstream_state_dict()
    half = {key: value.half() if value.is_floating_point() else value for key, value in state.items()}
    torch.save(half, tmp_path / "half.pth")
    weights = convert_file(tmp_path / "half.pth", tmp_path / "half.ckpt")
    assert any("converted float16 tensors to float32" in note for note in weights.notes)
    key = "module.encoder.layers.3.bn1.weight"
    np.testing.assert_array_equal(read_weights(tmp_path / "half.ckpt").arrays["encoder.layers.3.bn1.gamma"],
                                  half[key].float().numpy())
    torch.save({key: value.bfloat16() if value.is_floating_point() else value for key, value in state.items()},
               tmp_path / "bf16.pth")
    assert any("bfloat16" in note for note in read_weights(tmp_path / "bf16.pth").notes)


def test_the_destination_is_never_the_source_and_replaced_only_with_force(tmp_path, capsys):
    torch.save({"epoch": 3, "state_dict": upstream_state_dict(), "best_acc": 0.5}, tmp_path / "train.pth")
    original = (tmp_path / "train.pth").read_bytes()
    (tmp_path / "link.pth").symlink_to(tmp_path / "train.pth")
    (tmp_path / "hard.pth").hardlink_to(tmp_path / "train.pth")
    for target in ("train.pth", "link.pth", "hard.pth"):
        assert main(["convert", str(tmp_path / "train.pth"), str(tmp_path / target), "--force"]) == 2, target
        assert "is the source file" in capsys.readouterr().err
    assert (tmp_path / "train.pth").read_bytes() == original
    convert_file(tmp_path / "train.pth", tmp_path / "net.ckpt")
    assert main(["convert", str(tmp_path / "net.ckpt"), str(tmp_path / "net.ckpt")]) == 2
    (tmp_path / "mine.ckpt").write_bytes(b"my own file")
    assert main(["convert", str(tmp_path / "train.pth"), str(tmp_path / "mine.ckpt")]) == 2
    assert "exists; pass --force to replace it" in capsys.readouterr().err
    assert (tmp_path / "mine.ckpt").read_bytes() == b"my own file"
    assert main(["convert", str(tmp_path / "train.pth"), str(tmp_path / "mine.ckpt"), "--force"]) == 0
    assert read_weights(tmp_path / "mine.ckpt").arrays.keys() == read_weights(tmp_path / "net.ckpt").arrays.keys()


def test_destinations_that_cannot_be_written_are_one_line(tmp_path, capsys):
    save_upstream(tmp_path / "net.pth")
    (tmp_path / "locked").mkdir()
    (tmp_path / "folder.ckpt").mkdir()
    (tmp_path / "afile").write_text("x")
    with read_only(tmp_path / "locked"):
        for target, message in ((tmp_path / "locked" / "net.ckpt", "cannot write here"),
                                (tmp_path / "folder.ckpt", "is a folder"),
                                (tmp_path / "afile" / "net.ckpt", "cannot write here")):
            assert main(["convert", str(tmp_path / "net.pth"), str(target)]) == 2, target
            error = capsys.readouterr().err
            assert message in error and error.count("\n") == 1 and "Traceback" not in error, error
        assert not list((tmp_path / "locked").iterdir())


def test_a_failed_conversion_leaves_an_existing_target_untouched(tmp_path):
    (tmp_path / "target.ckpt").write_bytes(b"previous")
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "bad.pth")
    assert main(["convert", str(tmp_path / "bad.pth"), str(tmp_path / "target.ckpt"), "--force"]) == 2
    assert (tmp_path / "target.ckpt").read_bytes() == b"previous"


def test_an_encoder_stage_checkpoint_is_not_evaluated_as_a_full_network(tmp_path):
    from convert.network import load_full_network
    from facts.errors import UserError
    save_upstream(tmp_path / "net.pth")
    convert_file(tmp_path / "net.pth", tmp_path / "net.ckpt")
    entries = ms.load_checkpoint(str(tmp_path / "net.ckpt"))
    records = [{"name": name, "data": value} for name, value in entries.items() if not isinstance(value, str)]
    ms.save_checkpoint(records, str(tmp_path / "stage2.ckpt"), append_dict={"network": "encoder"}, crc_check=True)
    weights = read_weights(tmp_path / "stage2.ckpt")
    assert not weights.decoder_trained and any("decoder was never trained" in note for note in weights.notes)
    with pytest.raises(UserError, match="an encoder stage's checkpoint"):
        load_full_network(tmp_path / "stage2.ckpt")
    assert load_full_network(tmp_path / "net.ckpt")[1].decoder_trained
