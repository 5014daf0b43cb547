"""`erfnet parity --reference REF --weights OURS` and its API: the issue's swapped file fails naming its block,
the clean pair passes, a zoo-aligned conversion is reported with the measured output change, encoder-only pairs
compare the encoder, and every unreadable or incompatible file is one line with exit 2."""
import re

import mindspore as ms
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from convert import convert_file
from erfnet.cli import main
from helpers.upstream_weights import save_upstream
from helpers.weight_edits import gamma_beta_swapped, rewritten
from parity.files import ours_from, reference_from
from parity.pair import UNUSED_HEAD, compare_weights
from torch_ref.random_weights import upstream_state_dict

SMALL = ["--height", "16", "--width", "32", "--device", "CPU"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    save_upstream(folder / "a.pth")
    convert_file(folder / "a.pth", folder / "b.ckpt")
    return folder


def parity(capsys, reference, weights, *options):
    status = main(["parity", "--reference", str(reference), "--weights", str(weights), *SMALL, *options])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_the_issues_swapped_file_fails_at_its_block_and_the_clean_pair_passes(files, capsys):
    swapped = rewritten(files / "b.ckpt", files / "b_swapped.ckpt", gamma_beta_swapped)
    status, out, _ = parity(capsys, files / "a.pth", swapped)
    assert status == 1
    assert "first divergence: encoder.layers.3: bn1 gamma and beta exchanged" in out
    weight_rows = [line for line in out.splitlines() if line.startswith("encoder.layers.3.bn1.")]
    assert [line.split()[-1] for line in weight_rows] == ["encoder.layers.3.bn1.beta", "encoder.layers.3.bn1.gamma",
                                                          "equal", "equal"]
    status, out, _ = parity(capsys, files / "a.pth", files / "b.ckpt")
    assert status == 0 and "PASS: every row within its bar" in out and "first divergence" not in out


def without_head(entries):
    return {name: value for name, value in entries.items() if not name.startswith("pred.")}


def test_a_zoo_aligned_conversion_is_an_alignment_difference_with_the_measured_change(files, capsys):
    """`erfnet convert --format zoo --realign` of a torch-aligned file, saved as the zoo saves its full network
    (zoo names, no encoder head): same weights, other alignment."""
    assert main(["convert", str(files / "a.pth"), str(files / "zoo.ckpt"), "--format", "zoo", "--realign"]) == 0
    measured = re.search(r"changed by (\S+) \(max", capsys.readouterr().out).group(1)
    zoo = rewritten(files / "zoo.ckpt", files / "zoo_full.ckpt", without_head)
    status, out, _ = parity(capsys, files / "a.pth", zoo)
    assert status == 1
    assert "upsampler alignment zoo (implied by its model zoo names)" in out
    divergence = next(line for line in out.splitlines() if line.startswith("first divergence"))
    assert divergence.startswith("first divergence: decoder.layers.0: upsampler alignment differs")
    assert f"changed by {measured} " in divergence and "moved 6 pixels up and left" in divergence
    assert out.count(f"not in OURS: {UNUSED_HEAD}") == 2
    verdicts = [line.split()[-1] for line in out.splitlines() if line.startswith(("encoder.layers", "decoder."))
                and len(line.split()) == 5]
    assert len(verdicts) > 250 and set(verdicts) == {"equal"}


def imagenet_layout():
    """erfnet_pytorch's ImageNet-pretrained model: the encoder under features.encoder, no head, a classifier."""
    state = {key.replace("module.encoder.", "module.features.encoder."): value
             for key, value in upstream_state_dict().items()
             if key.startswith("module.encoder.") and ".output_conv." not in key}
    state["module.classifier.linear.weight"] = torch.zeros(1000, 128)
    state["module.classifier.linear.bias"] = torch.zeros(1000)
    return {"epoch": 90, "arch": "erfnet", "state_dict": state}


def test_an_encoder_only_pair_compares_the_encoder_from_arrays_in_memory(tmp_path):
    checkpoint = imagenet_layout()
    torch.save(checkpoint, tmp_path / "imagenet.pth.tar")
    convert_file(tmp_path / "imagenet.pth.tar", tmp_path / "encoder.ckpt")
    entries = ms.load_checkpoint(str(tmp_path / "encoder.ckpt"))
    result = compare_weights(checkpoint, entries, height=16, width=32)
    assert result.passed, str(result.first_divergence)
    assert result.reference.parts == ("encoder",) and result.reference.num_classes == 0
    assert any("ImageNet" in note and "classifier" in note for note in result.reference.notes)
    assert len(result.weights) == 226 and all(r.verdict == "equal" for r in result.weights)
    blocks = {r.name for t in result.tables for r in t.rows}
    assert "encoder.layers.14" in blocks and not any(name.startswith(("decoder", "network")) for name in blocks)
    kernel = "encoder.layers.5.conv3x1_2.weight"
    entries[kernel] = ms.Tensor(entries[kernel].asnumpy()[:, :, ::-1].copy())
    result = compare_weights(checkpoint, entries, height=16, width=32)
    assert str(result.first_divergence) == "first divergence: encoder.layers.5: conv3x1_2.weight: flipped spatially"


def test_reference_layouts_read_as_erfnet_pytorch_loads_them():
    encoder = {key: value for key, value in upstream_state_dict(19, 3).items() if key.startswith("module.encoder.")}
    reference = reference_from({"epoch": 12, "optimizer": {}, "state_dict": encoder}, "enc.pth")
    assert reference.parts == ("encoder", "encoder head") and reference.num_classes == 19
    assert reference.notes[:2] == ["training checkpoint: took its state_dict; ignored epoch, optimizer",
                                   "stripped the DataParallel prefix 'module.'"]
    np.testing.assert_array_equal(reference.tensors["encoder.layers.3.bn1.gamma"].array,
                                  encoder["module.encoder.layers.3.bn1.weight"].numpy())
    full = reference_from(upstream_state_dict(20, 0), "net.pth")
    assert full.parts == ("encoder", "encoder head", "decoder") and len(full.tensors) == 306


def test_optimizer_entries_of_ours_are_ignored_with_a_note(files):
    entries = ms.load_checkpoint(str(files / "b.ckpt"))
    entries["moment1.encoder.layers.3.bn1.gamma"] = entries["encoder.layers.3.bn1.gamma"]
    entries["global_step"] = ms.Tensor(np.array([40], np.int32))
    ours = ours_from(entries, "b.ckpt")
    assert "ignored 2 optimizer entries" in ours.notes[0] and len(ours.tensors) == 306
    assert ours.upsample_align == "torch" and ours.align_origin == "from the file's metadata"


def write(path, content):
    path.write_bytes(content)
    return path


BAD_PAIRS = {
    "a REF torch cannot read": lambda f: (write(f / "junk.pth", b"not a zip file"), f / "b.ckpt", "junk.pth"),
    "an OURS MindSpore cannot read": lambda f: (f / "a.pth", write(f / "junk.ckpt", b"\x00" * 64), "junk.ckpt"),
    "REF given a MindSpore checkpoint": lambda f: (f / "b.ckpt", f / "b.ckpt", "a MindSpore checkpoint"),
    "OURS given a PyTorch file": lambda f: (f / "a.pth", f / "a.pth", "a PyTorch file"),
    "a REF that does not exist": lambda f: (f / "none.pth", f / "b.ckpt", "none.pth: no such file"),
    "another class count": lambda f: (f / "a.pth", f / "c19.ckpt", "19 classes"),
    "a REF that does not load strictly": lambda f: (f / "extra.pth", f / "b.ckpt", "Unexpected key"),
    "a REF that carries code": lambda f: (f / "code.pth", f / "b.ckpt", "refused"),
    "a REF without ERFNet weights": lambda f: (f / "foreign.pth", f / "b.ckpt", "holds no ERFNet encoder"),
}


class RunsCode:
    def __reduce__(self):
        return (print, ("ran",))


@pytest.fixture(scope="module")
def bad_files(files):
    save_upstream(files / "c19.pth", num_classes=19)
    convert_file(files / "c19.pth", files / "c19.ckpt")
    state = upstream_state_dict()
    state["module.encoder.layers.3.bn1.extra"] = torch.zeros(1)
    torch.save(state, files / "extra.pth")
    torch.save({"module.encoder.initial_block.conv.weight": RunsCode()}, files / "code.pth")
    torch.save({"fc.weight": torch.zeros(2, 2)}, files / "foreign.pth")
    return files


@pytest.mark.parametrize("case", list(BAD_PAIRS))
def test_an_unreadable_or_incompatible_file_is_one_line_and_exit_2(bad_files, capsys, case):
    reference, ours, named = BAD_PAIRS[case](bad_files)
    status, out, err = parity(capsys, reference, ours)
    assert status == 2 and named in err and "ran" not in out
    assert len(err.strip().splitlines()) == 1 and err.startswith("erfnet parity: error: ")


@given(cut=st.floats(0.0, 0.999), side=st.sampled_from(["reference", "ours"]))
def test_a_truncated_file_is_named_with_exit_2(files, capsys, cut, side):
    source = files / ("a.pth" if side == "reference" else "b.ckpt")
    data = source.read_bytes()
    truncated = write(files / f"truncated{source.suffix}", data[:int(cut * len(data))])
    pair = (truncated, files / "b.ckpt") if side == "reference" else (files / "a.pth", truncated)
    status, _, err = parity(capsys, *pair)
    assert status == 2 and f"truncated{source.suffix}" in err and len(err.strip().splitlines()) == 1


def test_the_one_file_mode_says_what_it_proves_and_the_device_is_chosen(files, capsys, monkeypatch):
    import parity.report
    monkeypatch.setattr(parity.report, "parity_report", lambda *args: ("(the tables)", True, []))
    assert main(["parity", "--weights", str(files / "b.ckpt"), *SMALL]) == 0
    out = capsys.readouterr().out
    assert "compute the same function given these weights" in out and "--reference" in out
    assert main(["parity", "--weights", str(files / "b.ckpt"), "--device", "GPU"]) == 2
    assert "finds no GPU device" in capsys.readouterr().err


def test_an_input_too_small_for_batch_statistics_is_one_line_in_both_modes(files, capsys):
    """At 8x8 with batch 1 the encoder's output holds one value per channel, which train-mode BatchNorm refuses
    (a traceback from torch before this check)."""
    tiny = ["--height", "8", "--width", "8", "--batch", "1", "--device", "CPU"]
    assert main(["parity", "--weights", str(files / "b.ckpt"), *tiny]) == 2
    assert main(["parity", "--reference", str(files / "a.pth"), "--weights", str(files / "b.ckpt"), *tiny]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all("train-mode BatchNorm needs more than one value per channel" in e for e in errors)
