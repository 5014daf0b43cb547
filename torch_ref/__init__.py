"""The PyTorch reference: erfnet_pytorch's ERFNet, module for module, so its checkpoints load as they are."""
from torch_ref.erfnet import Decoder, DownsamplerBlock, Encoder, Net, UpsamplerBlock, non_bottleneck_1d

__all__ = ["Net", "Encoder", "Decoder", "DownsamplerBlock", "UpsamplerBlock", "non_bottleneck_1d"]
