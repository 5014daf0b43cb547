"""torch_ref is erfnet_pytorch's network: its size, key set and forward shapes are the upstream ones."""
import torch

from torch_ref import Net


def test_net20_has_upstream_parameter_count_and_state_dict_size():
    net = Net(20)
    assert sum(p.numel() for p in net.parameters()) == 2_066_836
    assert len(net.state_dict()) == 345


def test_state_dict_keys_follow_upstream_module_tree():
    keys = list(Net(20).state_dict())
    assert keys[:7] == ["encoder.initial_block.conv.weight", "encoder.initial_block.conv.bias",
                        "encoder.initial_block.bn.weight", "encoder.initial_block.bn.bias",
                        "encoder.initial_block.bn.running_mean", "encoder.initial_block.bn.running_var",
                        "encoder.initial_block.bn.num_batches_tracked"]
    assert "encoder.layers.14.conv1x3_2.weight" in keys and "encoder.layers.15.conv1x3_2.weight" not in keys
    assert keys[-2:] == ["decoder.output_conv.weight", "decoder.output_conv.bias"]
    net = Net(20)
    assert net.encoder.layers[7].conv3x1_2.dilation == (2, 1) and net.encoder.layers[10].conv1x3_2.dilation == (1, 16)
    assert net.encoder.layers[1].dropout.p == 0.03 and net.encoder.layers[7].dropout.p == 0.3
    assert net.decoder.layers[1].dropout.p == 0


def test_forward_shapes_full_and_encoder_only():
    x = torch.rand(2, 3, 64, 128)
    net = Net(20).eval()
    assert net(x).shape == (2, 20, 64, 128)
    assert net(x, only_encode=True).shape == (2, 20, 8, 16)


def test_encoder_argument_replaces_the_encoder():
    encoder = Net(20).encoder
    assert Net(20, encoder=encoder).encoder is encoder
