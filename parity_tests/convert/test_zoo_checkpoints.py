"""Model zoo checkpoints through the converter: a zoo-style network's own checkpoint (with the optimizer state
its training saves) converted, loaded with the zoo alignment, gives the zoo network's outputs to 1e-5 in
MindSpore and in the PyTorch reference; the way back loads strictly into the zoo network; alignment changes
only with --realign, and then by the measured amount."""
import mindspore as ms
import mindspore.nn as nn
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from convert import convert_file, read_weights, write_weights
from convert.ms_io import ALIGN_KEY, ms_parameters
from helpers.zoo_style_net import ZooERFNet, ZooEncoderPred, randomized, zoo_output
from parity.engine import NO_DROPOUT, compare_backward, compare_forward, network_pair
from convert.realign import OUTPUT_SHIFT, measure_alignment_change
from convert.torch_align import align_reference
from convert.torch_io import torch_state_dict
from erfnet.cli import main
from facts.errors import UserError
from ms_erfnet import ERFNet
from torch_ref import Net
from torch_ref.random_weights import random_reference_net

TOLERANCE = 1e-5
IMAGE = np.random.default_rng(7).random((2, 3, 64, 128), dtype=np.float32)


def save_as_zoo_training_does(net, path):
    """The network saved with its Adam state, as the zoo's ModelCheckpoint writes it during training."""
    loss = nn.WithLossCell(net, nn.MSELoss())
    ms.save_checkpoint(nn.TrainOneStepCell(loss, nn.Adam(net.trainable_params(), learning_rate=5e-4)), str(path))
    return path


@pytest.fixture(scope="module")
def zoo_full(tmp_path_factory):
    net = randomized(ZooERFNet(20), seed=0)
    return net, save_as_zoo_training_does(net, tmp_path_factory.mktemp("zoo") / "ERFNet_stage4.ckpt")


@pytest.fixture(scope="module")
def zoo_encoder(tmp_path_factory):
    net = randomized(ZooEncoderPred(20), seed=1)
    return net, save_as_zoo_training_does(net, tmp_path_factory.mktemp("zoo") / "Encoder-65_496.ckpt")


def relative(ours, reference):
    return float(np.abs(np.asarray(ours, np.float64) - reference).max() / np.abs(reference).max())


def ms_network(weights, upsample_align=None):
    net = ERFNet(weights.num_classes, dropout=NO_DROPOUT, upsample_align=upsample_align or weights.upsample_align)
    ms.load_param_into_net(net, ms_parameters(weights), strict_load=True)
    net.set_train(False)
    return net


def torch_network(weights, upsample_align):
    net = align_reference(Net(weights.num_classes), upsample_align)
    missing, unexpected = net.load_state_dict(torch_state_dict(weights, prefix=""), strict=False)
    assert not unexpected and all(key.startswith("encoder.output_conv.") for key in missing)
    return net.double().eval()


def torch_output(net, image, only_encode=False):
    with torch.no_grad():
        return net(torch.from_numpy(image.astype(np.float64)), only_encode=only_encode).numpy()


def test_zoo_training_checkpoint_reads_with_zoo_alignment_and_a_note(zoo_full):
    net, path = zoo_full
    weights = read_weights(path)
    assert weights.parts == ("encoder", "decoder") and weights.num_classes == 20
    assert weights.upsample_align == "zoo"
    assert any("model zoo" in note for note in weights.notes)
    scalars = ["global_step", "learning_rate", "beta1_power", "beta2_power"]
    adam_entries = 2 * len(net.trainable_params()) + len(scalars)
    assert any(f"ignored {adam_entries} optimizer entries" in note for note in weights.notes)
    assert any("no checksum in this checkpoint" in note for note in weights.notes)
    np.testing.assert_array_equal(weights.arrays["encoder.layers.6.bn.moving_variance"],
                                  net.encoder.down3.bn.moving_variance.asnumpy())
    np.testing.assert_array_equal(weights.arrays["decoder.output_conv.weight"], net.decoder.pred.weight.asnumpy())


def test_converted_zoo_checkpoint_gives_the_zoo_networks_output_in_mindspore(zoo_full, tmp_path, capsys):
    net, path = zoo_full
    assert main(["convert", str(path), str(tmp_path / "ours.ckpt")]) == 0
    assert "MindSpore model zoo names" in capsys.readouterr().out
    assert ms.load_checkpoint(str(tmp_path / "ours.ckpt"))[ALIGN_KEY] == "zoo"
    weights = read_weights(tmp_path / "ours.ckpt")
    assert weights.upsample_align == "zoo"
    expected = zoo_output(net, IMAGE)
    assert relative(ms_network(weights)(ms.Tensor(IMAGE)).asnumpy(), expected) <= TOLERANCE
    assert relative(ms_network(weights, "torch")(ms.Tensor(IMAGE)).asnumpy(), expected) > 0.1


def test_torch_reference_with_zoo_alignment_gives_the_zoo_networks_output(zoo_full):
    net, path = zoo_full
    weights = read_weights(path)
    expected = zoo_output(net, IMAGE)
    assert relative(torch_output(torch_network(weights, "zoo"), IMAGE), expected) <= TOLERANCE
    assert relative(torch_output(torch_network(weights, "torch"), IMAGE), expected) > 0.1


def test_zoo_checkpoint_passes_the_layer_by_layer_comparison(zoo_full):
    pair = network_pair(read_weights(zoo_full[1]))
    image = IMAGE[:, :, :32, :64]
    rows = compare_forward(pair, image, train=False) + compare_forward(pair, image, train=True)
    gradients, statistics = compare_backward(pair, image)
    rows += gradients + statistics
    upsamplers = [r for r in rows if r.name.startswith(("decoder.layers.0", "decoder.layers.3"))]
    forward, input_gradient, parameter_gradients, running_statistics = 2, 1, 4, 2
    assert len(upsamplers) == 2 * (forward + input_gradient + parameter_gradients + running_statistics)
    assert all(r.passed for r in rows), [(r.name, r.relative) for r in rows if not r.passed]


def test_zoo_encoder_checkpoint_converts_to_torch_exactly_without_realign(zoo_encoder, tmp_path, capsys):
    net, path = zoo_encoder
    assert main(["convert", str(path), str(tmp_path / "encoder.pth")]) == 0
    assert "no upsampler" in capsys.readouterr().out
    weights = read_weights(tmp_path / "encoder.pth")
    assert weights.parts == ("encoder", "encoder head") and weights.upsample_align == "torch"
    reference = Net(20).double().eval()
    reference.load_state_dict(torch_state_dict(weights, prefix=""), strict=False)
    expected = zoo_output(net, IMAGE)
    assert relative(torch_output(reference, IMAGE, only_encode=True), expected) <= TOLERANCE
    ours = ERFNet(20, dropout=NO_DROPOUT)
    ms.load_param_into_net(ours, ms_parameters(read_weights(path)), strict_load=False)
    ours.set_train(False)
    assert relative(ours(ms.Tensor(IMAGE), True).asnumpy(), expected) <= TOLERANCE


@pytest.mark.parametrize("stage", ["full", "encoder"])
def test_zoo_format_output_loads_strictly_into_the_zoo_network(zoo_full, zoo_encoder, tmp_path, stage):
    net, path = zoo_full if stage == "full" else zoo_encoder
    convert_file(path, tmp_path / "ours.ckpt")
    convert_file(tmp_path / "ours.ckpt", tmp_path / "zoo.ckpt", zoo_names=True)
    entries = ms.load_checkpoint(str(tmp_path / "zoo.ckpt"))
    assert not any(isinstance(value, str) for value in entries.values())
    fresh = ZooERFNet(20) if stage == "full" else ZooEncoderPred(20)
    assert ms.load_param_into_net(fresh, entries, strict_load=True) == ([], [])
    for parameter in net.get_parameters():
        np.testing.assert_array_equal(entries[parameter.name].asnumpy(), parameter.asnumpy())


def test_zoo_weights_to_a_torch_file_are_refused_without_realign(zoo_full, tmp_path, capsys):
    assert main(["convert", str(zoo_full[1]), str(tmp_path / "net.pth")]) == 2
    error = capsys.readouterr().err
    assert "zoo alignment" in error and "--realign" in error and f"{OUTPUT_SHIFT} pixels" in error
    assert "Traceback" not in error and not (tmp_path / "net.pth").exists()


def test_realign_writes_the_same_weights_for_torch_and_reports_the_change(zoo_full, tmp_path, capsys):
    assert main(["convert", str(zoo_full[1]), str(tmp_path / "net.pth"), "--realign", "--plain-keys"]) == 0
    out = capsys.readouterr().out
    assert "realigned from zoo to torch" in out and "changed by" in out
    state = torch.load(tmp_path / "net.pth", weights_only=True)
    original = read_weights(zoo_full[1])
    assert read_weights(tmp_path / "net.pth").upsample_align == "torch"
    for key, value in torch_state_dict(original, prefix="").items():
        assert torch.equal(state[key], value), key


def test_torch_weights_into_zoo_names_need_realign(tmp_path, capsys):
    torch.save(random_reference_net(20, seed=2).state_dict(), tmp_path / "net.pth")
    target = tmp_path / "zoo.ckpt"
    assert main(["convert", str(tmp_path / "net.pth"), str(target), "--format", "zoo"]) == 2
    assert "torch alignment" in capsys.readouterr().err and not target.exists()
    assert main(["convert", str(tmp_path / "net.pth"), str(target), "--format", "zoo", "--realign"]) == 0
    assert "realigned from torch to zoo" in capsys.readouterr().out
    assert "encoder.down1.conv.weight" in ms.load_checkpoint(str(target))
    assert read_weights(target).upsample_align == "zoo"


def test_zoo_names_into_a_torch_file_are_a_user_error(zoo_full, tmp_path, capsys):
    assert main(["convert", str(zoo_full[1]), str(tmp_path / "net.pth"), "--format", "zoo", "--realign"]) == 2
    assert "MindSpore checkpoints" in capsys.readouterr().err


@settings(max_examples=3)
@given(seed=st.integers(0, 2**16), target=st.sampled_from(["torch", "zoo"]))
def test_realigned_output_is_the_original_moved_by_the_stated_shift(zoo_full, seed, target):
    weights = read_weights(zoo_full[1])
    source = "zoo" if target == "torch" else "torch"
    weights.upsample_align = source
    change = measure_alignment_change(weights, source, target, shape=(1, 3, 96, 128), seed=seed)
    assert change.shifted_interior <= TOLERANCE
    assert change.relative_max > 0.1 and change.changed_pixels > 0.05


def test_realign_into_this_projects_checkpoint_records_the_torch_alignment(zoo_full, tmp_path, capsys):
    assert main(["convert", str(zoo_full[1]), str(tmp_path / "torch_aligned.ckpt"), "--realign"]) == 0
    assert "realigned from zoo to torch" in capsys.readouterr().out
    assert ms.load_checkpoint(str(tmp_path / "torch_aligned.ckpt"))[ALIGN_KEY] == "torch"


def test_writing_weights_for_the_wrong_alignment_directly_is_refused(zoo_full, tmp_path):
    weights = read_weights(zoo_full[1])
    with pytest.raises(UserError, match="torch-aligned weights only"):
        write_weights(weights, tmp_path / "net.pth")
    weights.upsample_align = "torch"
    with pytest.raises(UserError, match="need zoo-aligned weights"):
        write_weights(weights, tmp_path / "zoo.ckpt", zoo_names=True)
    assert not list(tmp_path.iterdir())
