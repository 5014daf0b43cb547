"""The port's facts checked against the ruler's: facts/layers.yaml (which ms_erfnet builds from) against
torch_ref's literal erfnet_pytorch network, and facts/class_weights.yaml against torch_ref's copy of
erfnet_pytorch's weights. A mistake in the table is caught here, not shared by both sides of a parity row."""
import dataclasses

import pytest
import torch

from facts import spec
from torch_ref import DownsamplerBlock, Net, UpsamplerBlock, non_bottleneck_1d
from torch_ref.loss import CLASS_WEIGHTS


def ruler_rows(modules):
    """(kind, in, out, dilation, dropout rate) of each torch_ref block."""
    rows = []
    for module in modules:
        if isinstance(module, DownsamplerBlock):
            rows.append(("downsampler", module.conv.in_channels, module.bn.num_features, 1, 0.0))
        elif isinstance(module, UpsamplerBlock):
            rows.append(("upsampler", module.conv.in_channels, module.conv.out_channels, 1, 0.0))
        else:
            assert isinstance(module, non_bottleneck_1d)
            dilation = module.conv3x1_2.dilation[0]
            assert module.conv1x3_2.dilation == (1, dilation)
            rows.append(("non_bottleneck_1d", module.bn1.num_features, module.bn2.num_features, dilation,
                         float(module.dropout.p)))
    return rows


def table_rows(blocks, table):
    return [(b.kind, b.in_channels, b.out_channels, b.dilation,
             float(table.dropout_defaults[b.dropout_group]) if b.dropout_group else 0.0) for b in blocks]


def check_table(table):
    ruler = Net(20)
    assert table_rows((table.initial_block,) + table.encoder_layers, table) == ruler_rows(
        [ruler.encoder.initial_block, *ruler.encoder.layers])
    assert table_rows(table.decoder_layers, table) == ruler_rows(ruler.decoder.layers)
    assert table.encoder_head_in == ruler.encoder.output_conv.in_channels
    assert table.decoder_head_in == ruler.decoder.output_conv.in_channels
    assert table.batchnorm_eps == ruler.encoder.initial_block.bn.eps
    assert {module.eps for module in ruler.modules() if isinstance(module, torch.nn.BatchNorm2d)} == {table.batchnorm_eps}


def test_the_layer_table_is_erfnet_pytorchs_network():
    check_table(spec.layer_table())


def test_the_port_has_the_rulers_parameter_count_and_state_dict():
    from convert.weights import expected_shapes
    from convert.names import torch_name
    ruler = {name: tuple(tensor.shape) for name, tensor in Net(20).state_dict().items()}
    assert len(ruler) == 345 and sum(p.numel() for p in Net(20).parameters()) == 2_066_836
    ours = {torch_name(name): shape for name, shape in expected_shapes(20).items()}
    tracked = {name for name in ruler if name.endswith("num_batches_tracked")}
    assert ours == {name: shape for name, shape in ruler.items() if name not in tracked}


@pytest.mark.parametrize("mistake", [
    lambda t: dataclasses.replace(t, encoder_layers=t.encoder_layers[:8] + (
        dataclasses.replace(t.encoder_layers[8], dilation=8),) + t.encoder_layers[9:]),
    lambda t: dataclasses.replace(t, decoder_layers=(dataclasses.replace(t.decoder_layers[0], out_channels=32),)
                                  + t.decoder_layers[1:]),
    lambda t: dataclasses.replace(t, encoder_layers=t.encoder_layers[:7] + (
        dataclasses.replace(t.encoder_layers[7], dropout_group="enc64"),) + t.encoder_layers[8:]),
    lambda t: dataclasses.replace(t, dropout_defaults={**t.dropout_defaults, "enc128": 0.2}),
    lambda t: dataclasses.replace(t, batchnorm_eps=1e-5),
    lambda t: dataclasses.replace(t, encoder_layers=t.encoder_layers[:-1]),
], ids=["dilation", "channels", "dropout group", "dropout rate", "eps", "missing block"])
def test_a_table_mistake_is_caught(mistake):
    with pytest.raises(AssertionError):
        check_table(mistake(spec.layer_table()))


@pytest.mark.parametrize("kind", ["encoder", "full"])
def test_the_class_weights_are_erfnet_pytorchs(kind):
    assert spec.class_weights(kind) == pytest.approx(CLASS_WEIGHTS[kind], abs=0, rel=0)
    assert len(CLASS_WEIGHTS[kind]) == 20 and CLASS_WEIGHTS[kind][19] == 0
