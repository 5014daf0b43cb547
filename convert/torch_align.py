"""The PyTorch reference computing with either upsampler alignment, torch_ref itself left as erfnet_pytorch wrote it.

A 3x3 stride-2 transposed conv on H rows computes 2H+1 rows unpadded (call them F). erfnet_pytorch's padding 1
and output padding 1 keep rows 1..2H (the `torch` alignment); the MindSpore model zoo's pad_mode "same" keeps
rows 0..2H-1 (the `zoo` alignment), and likewise for columns. Same weights, outputs one pixel apart.
"""
import torch.nn.functional as F
from torch import nn

from facts.spec import UPSAMPLE_ALIGNMENTS
from torch_ref import UpsamplerBlock


class ZooAlignedConvTranspose2d(nn.ConvTranspose2d):
    """A transposed conv that keeps the first stride*H rows and stride*W columns of its unpadded output."""

    def forward(self, input):
        full = F.conv_transpose2d(input, self.weight, self.bias, stride=self.stride)
        return full[:, :, :self.stride[0] * input.shape[2], :self.stride[1] * input.shape[3]]


def _zoo_aligned(conv):
    aligned = ZooAlignedConvTranspose2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                                        bias=conv.bias is not None)
    aligned.weight = conv.weight
    aligned.bias = conv.bias
    return aligned


def align_reference(net, upsample_align):
    """`net` (a torch_ref.Net) made to compute with `upsample_align`, in place: "torch" leaves it as it is, "zoo"
    gives each upsampler a transposed conv sharing its parameters that keeps the zoo's rows and columns. The
    state_dict keys do not change, so checkpoints load as before."""
    if upsample_align not in UPSAMPLE_ALIGNMENTS:
        raise ValueError(f"upsample_align must be one of {UPSAMPLE_ALIGNMENTS}, not {upsample_align!r}")
    if upsample_align == "zoo":
        for module in net.modules():
            if isinstance(module, UpsamplerBlock) and not isinstance(module.conv, ZooAlignedConvTranspose2d):
                module.conv = _zoo_aligned(module.conv)
    return net
