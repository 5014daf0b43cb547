"""torch_ref is erfnet_pytorch's network: its size, key set and forward shapes are the upstream ones; it
depends on nothing of this project, and its random weights come keyed as erfnet_pytorch saves them."""
import ast
import sys
from pathlib import Path

import torch

import torch_ref
from torch_ref import Net
from torch_ref.random_weights import random_reference_net, upstream_state_dict


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


ALLOWED_IMPORTS = {"torch", "numpy", "PIL", "torch_ref"} | set(sys.stdlib_module_names)


def outside_imports(source):
    """The absolute imports in `source` from anything but the stdlib, torch, numpy, Pillow and torch_ref."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module)
    return sorted({name for name in names if name.split(".")[0] not in ALLOWED_IMPORTS})


def test_the_import_check_catches_project_and_third_party_imports():
    source = "import os\nfrom erfnet.spec import layer_table\nimport yaml, torch.nn\nfrom . import loss\n"
    assert outside_imports(source) == ["erfnet.spec", "yaml"]


def test_torch_ref_imports_only_stdlib_torch_numpy_and_pillow():
    modules = sorted(Path(torch_ref.__file__).parent.rglob("*.py"))
    assert {"erfnet.py", "trainer.py", "loss.py"} <= {module.name for module in modules}
    assert {module.name: outside_imports(module.read_text()) for module in modules} == \
        {module.name: [] for module in modules}


def test_upstream_state_dict_is_the_random_net_under_module_prefix_and_loads_strictly():
    upstream = upstream_state_dict(20, seed=4)
    assert all(key.startswith("module.") for key in upstream) and len(upstream) == 345
    net = Net(20)
    net.load_state_dict({key.removeprefix("module."): value for key, value in upstream.items()}, strict=True)
    reference = random_reference_net(20, seed=4).state_dict()
    assert all(torch.equal(value, reference[key]) for key, value in net.state_dict().items())
    other = upstream_state_dict(20, seed=5)
    assert not torch.equal(other["module.encoder.initial_block.bn.running_var"],
                           upstream["module.encoder.initial_block.bn.running_var"])
