"""The zoo alignment block by block, for all sizes: ms_erfnet's zoo-aligned UpsamplerBlock and the PyTorch
reference through convert.torch_align give the zoo-style pad_mode "same" block's output; the torch alignment
gives the same map one pixel further on."""
import mindspore as ms
import numpy as np
import torch
from hypothesis import given, settings, strategies as st

from convert.torch_align import align_reference
from facts.spec import layer_table
from helpers.zoo_style_net import ZooUpsampler, randomized
from ms_erfnet.blocks import UpsamplerBlock
from torch_ref import UpsamplerBlock as TorchUpsamplerBlock

TOLERANCE = 1e-5
TORCH_LEAVES = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def torch_block(zoo, cin, cout, upsample_align):
    block = align_reference(TorchUpsamplerBlock(cin, cout), upsample_align)
    state = {}
    for parameter in zoo.get_parameters():
        module, _, leaf = parameter.name.rpartition(".")
        state[f"{module}.{TORCH_LEAVES.get(leaf, leaf)}"] = torch.from_numpy(parameter.asnumpy().astype(np.float64))
    block.double().load_state_dict(state, strict=False)
    return block.eval()


def ours_block(zoo, cin, cout, upsample_align):
    block = UpsamplerBlock(cin, cout, layer_table().batchnorm_eps, upsample_align)
    ms.load_param_into_net(block, {p.name: ms.Parameter(p.data.copy(), name=p.name) for p in zoo.get_parameters()},
                           strict_load=True)
    block.set_train(False)
    return block


def relative(ours, reference):
    return float(np.abs(np.asarray(ours, np.float64) - reference).max() / (np.abs(reference).max() or 1.0))


@settings(max_examples=12)
@given(height=st.integers(1, 9), width=st.integers(1, 9), cin=st.integers(1, 6), cout=st.integers(1, 6),
       seed=st.integers(0, 2**16))
def test_zoo_aligned_blocks_match_the_zoo_block(height, width, cin, cout, seed):
    zoo = randomized(ZooUpsampler(cin, cout), seed)
    x = np.random.default_rng(seed).standard_normal((2, cin, height, width)).astype(np.float32)
    expected = zoo(ms.Tensor(x)).asnumpy()
    assert relative(ours_block(zoo, cin, cout, "zoo")(ms.Tensor(x)).asnumpy(), expected) <= TOLERANCE
    with torch.no_grad():
        reference = torch_block(zoo, cin, cout, "zoo")(torch.from_numpy(x.astype(np.float64))).numpy()
        torch_aligned = torch_block(zoo, cin, cout, "torch")(torch.from_numpy(x.astype(np.float64))).numpy()
    assert relative(reference, expected) <= TOLERANCE
    assert relative(ours_block(zoo, cin, cout, "torch")(ms.Tensor(x)).asnumpy(), torch_aligned) <= TOLERANCE
    np.testing.assert_allclose(torch_aligned[:, :, :-1, :-1], reference[:, :, 1:, 1:], rtol=1e-12, atol=1e-12)
