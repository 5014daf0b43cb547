"""The network training runs is the network the parity suite proves: built by the same factory
(convert.network.build_network), cell for cell the same class with the same configuration, the same Parameters.
Read from the built networks, so a layer swapped or configured differently on either side shows."""
import mindspore.nn as nn
import pytest

from convert import read_weights
from facts.spec import layer_table
from helpers.upstream_weights import save_upstream
from ms_erfnet import ERFNet
from ms_erfnet.devices import Devices
from ms_erfnet.lean_conv import LeanConv2d
from ms_erfnet.seeded_dropout import SeededDropout
from parity.engine import network_pair
from parity.files import ours_network, read_ours
from train.config import read_config
from train.run import with_alignment
from train.stage import stage_network

CONFIGURATION = (int, float, str, bool, tuple)
CELL_STATE = set(vars(nn.Cell()))  # what every Cell holds (train mode, compile keys): no configuration


def configuration(cell):
    """The cell's own public settings that are plain values (kernel size, padding, rate, mode, eps, ...)."""
    return {key: value for key, value in vars(cell).items()
            if not key.startswith("_") and key not in CELL_STATE and isinstance(value, CONFIGURATION)}


def cell_tree(net):
    """(name, class, configuration) of every cell, and (name, shape, dtype, trained) of every Parameter."""
    cells = [(name, type(cell).__qualname__, configuration(cell)) for name, cell in net.cells_and_names()]
    parameters = [(p.name, tuple(p.shape), str(p.dtype), p.requires_grad) for p in net.get_parameters()]
    return cells, parameters


def differences(first, second):
    """The entries of two cell trees that differ, as (first's, second's) pairs."""
    (cells, parameters), (other_cells, other_parameters) = first, second
    found = [(a, b) for a, b in zip(cells, other_cells) if a != b]
    found += [(a, b) for a, b in zip(parameters, other_parameters) if a != b]
    if len(cells) != len(other_cells) or len(parameters) != len(other_parameters):
        found.append(((len(cells), len(parameters)), (len(other_cells), len(other_parameters))))
    return found


@pytest.fixture(scope="module")
def trained():
    """The network stage 2 (full network, erfnet_pytorch's dropout) of the shipped erfnet_pytorch config trains."""
    config = with_alignment(read_config("erfnet_pytorch"), None)
    return stage_network(config, config.stage(2), Devices())[0]


@pytest.fixture(scope="module")
def upstream_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "net.pth"
    save_upstream(path, 20, seed=3)
    return path


def test_the_parity_network_is_the_trained_network(trained, upstream_file):
    proven = network_pair(read_weights(upstream_file)).ours
    assert differences(cell_tree(trained), cell_tree(proven)) == []


def test_the_two_file_parity_network_is_the_trained_network(trained, tmp_path, upstream_file):
    from convert import convert_file
    convert_file(upstream_file, tmp_path / "net.ckpt")
    proven = ours_network(read_ours(tmp_path / "net.ckpt"), 20, None)
    assert differences(cell_tree(trained), cell_tree(proven)) == []


def test_the_trained_network_has_training_layers_on_the_cpu(trained):
    cells = [cell for _, cell in trained.cells_and_names()]
    blocks = len(layer_table().encoder_layers) + len(layer_table().decoder_layers) + 1
    assert sum(isinstance(cell, LeanConv2d) for cell in cells) == 4 * 17 and blocks > 17
    rates = [cell.rate for cell in cells if isinstance(cell, SeededDropout)]
    assert sorted(set(rates)) == [0.03, 0.3] and len(rates) == 13, "erfnet_pytorch's rates; the decoder's is 0"
    assert len(trained.dropout_randomness.encoder) == 13 and trained.dropout_randomness.decoder == []


@pytest.mark.parametrize("planted", ["MindSpore's dropout and gradients", "another dropout mode",
                                     "another dilation"])
def test_the_comparison_sees_a_different_network(trained, planted):
    if planted == "MindSpore's dropout and gradients":
        other = ERFNet(20)
    elif planted == "another dropout mode":
        other = ERFNet(20, dropout_mode="element", dropout_seed=0, lean_conv_gradients=True)
    else:
        other = ERFNet(20, dropout_seed=0, lean_conv_gradients=True)
        block = other.encoder.layers[7]  # dilation 2
        block.conv3x1_2 = LeanConv2d(nn.Conv2d(128, 128, (3, 1), pad_mode="pad", padding=(4, 4, 0, 0),
                                               dilation=(4, 1), has_bias=True))
    found = differences(cell_tree(trained), cell_tree(other))
    assert found, planted
    if planted == "another dilation":
        names = [name for (name, *_), _ in found]
        assert names[0] == "encoder.layers.7.conv3x1_2" and all(name.startswith(names[0]) for name in names)
