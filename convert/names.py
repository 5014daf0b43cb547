"""Parameter names across the two frameworks. Everything is matched by name, never by position:
MindSpore lists BatchNorm parameters as moving_mean, moving_variance, gamma, beta, so a positional
mapping would silently swap them."""

BATCHNORM_TORCH_TO_MS = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
                         "running_var": "moving_variance"}
BATCHNORM_MS_TO_TORCH = {ms: torch for torch, ms in BATCHNORM_TORCH_TO_MS.items()}

ENCODER, ENCODER_HEAD, DECODER = "encoder", "encoder head", "decoder"
PARTS = (ENCODER, ENCODER_HEAD, DECODER)


def torch_name(ms_name):
    """erfnet_pytorch's state_dict key for a MindSpore parameter name."""
    module, dot, leaf = ms_name.rpartition(".")
    return f"{module}{dot}{BATCHNORM_MS_TO_TORCH.get(leaf, leaf)}"


def part_of(name):
    """Which part of ERFNet a parameter (in either naming) belongs to: the encoder's backbone, its 1x1 head,
    or the decoder."""
    if name.startswith("encoder.output_conv."):
        return ENCODER_HEAD
    if name.startswith("decoder."):
        return DECODER
    if name.startswith("encoder."):
        return ENCODER
    return None
