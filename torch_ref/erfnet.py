"""ERFNet as erfnet_pytorch defines it: the same module tree, attribute names, forward signatures and
behaviour, so `Net(num_classes).load_state_dict(upstream_state_dict, strict=True)` works after the
`module.` prefix of DataParallel is stripped. This is the ruler the MindSpore port is measured against:
it is not to be improved, and it is written out literally (channels, dilations, dropout rates, BatchNorm
eps 1e-3) rather than read from the project's layer table, so a mistake in that table cannot be on both sides.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCHNORM_EPS = 1e-3


class DownsamplerBlock(nn.Module):
    """Halves the resolution: a 3x3 stride-2 conv to `noutput - ninput` channels beside a 2x2 max pool of
    the input, concatenated, then BatchNorm and ReLU."""

    def __init__(self, ninput, noutput):
        super().__init__()
        self.conv = nn.Conv2d(ninput, noutput - ninput, (3, 3), stride=2, padding=1, bias=True)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.bn = nn.BatchNorm2d(noutput, eps=BATCHNORM_EPS)

    def forward(self, input):
        output = torch.cat([self.conv(input), self.pool(input)], 1)
        output = self.bn(output)
        return F.relu(output)


class non_bottleneck_1d(nn.Module):
    """The residual block: 3x1, ReLU, 1x3, BN, ReLU, dilated 3x1, ReLU, dilated 1x3, BN, channel dropout
    (skipped when its rate is 0), then ReLU of the sum with the input."""

    def __init__(self, chann, dropprob, dilated):
        super().__init__()
        self.conv3x1_1 = nn.Conv2d(chann, chann, (3, 1), stride=1, padding=(1, 0), bias=True)
        self.conv1x3_1 = nn.Conv2d(chann, chann, (1, 3), stride=1, padding=(0, 1), bias=True)
        self.bn1 = nn.BatchNorm2d(chann, eps=BATCHNORM_EPS)
        self.conv3x1_2 = nn.Conv2d(chann, chann, (3, 1), stride=1, padding=(dilated, 0), bias=True,
                                   dilation=(dilated, 1))
        self.conv1x3_2 = nn.Conv2d(chann, chann, (1, 3), stride=1, padding=(0, dilated), bias=True,
                                   dilation=(1, dilated))
        self.bn2 = nn.BatchNorm2d(chann, eps=BATCHNORM_EPS)
        self.dropout = nn.Dropout2d(dropprob)

    def forward(self, input):
        output = F.relu(self.conv3x1_1(input))
        output = F.relu(self.bn1(self.conv1x3_1(output)))
        output = F.relu(self.conv3x1_2(output))
        output = self.bn2(self.conv1x3_2(output))
        if self.dropout.p != 0:
            output = self.dropout(output)
        return F.relu(output + input)


class UpsamplerBlock(nn.Module):
    """Doubles the resolution: a 3x3 stride-2 transposed conv (padding 1, output padding 1), BN, ReLU."""

    def __init__(self, ninput, noutput):
        super().__init__()
        self.conv = nn.ConvTranspose2d(ninput, noutput, 3, stride=2, padding=1, output_padding=1, bias=True)
        self.bn = nn.BatchNorm2d(noutput, eps=BATCHNORM_EPS)

    def forward(self, input):
        return F.relu(self.bn(self.conv(input)))


class Encoder(nn.Module):
    """Input to 1/8 resolution and 128 channels; `predict=True` adds the 1x1 head to `num_classes`, which
    only the encoder-alone training stage uses."""

    def __init__(self, num_classes):
        super().__init__()
        self.initial_block = DownsamplerBlock(3, 16)
        self.layers = nn.ModuleList()
        self.layers.append(DownsamplerBlock(16, 64))
        for _ in range(5):
            self.layers.append(non_bottleneck_1d(64, 0.03, 1))
        self.layers.append(DownsamplerBlock(64, 128))
        for _ in range(2):
            for dilation in (2, 4, 8, 16):
                self.layers.append(non_bottleneck_1d(128, 0.3, dilation))
        self.output_conv = nn.Conv2d(128, num_classes, 1, stride=1, padding=0, bias=True)

    def forward(self, input, predict=False):
        output = self.initial_block(input)
        for layer in self.layers:
            output = layer(output)
        if predict:
            output = self.output_conv(output)
        return output


class Decoder(nn.Module):
    """1/8 resolution back to the input's: two upsampler stages with two residual blocks each (no dropout),
    then a 2x2 stride-2 transposed conv to `num_classes`."""

    def __init__(self, num_classes):
        super().__init__()
        self.layers = nn.ModuleList()
        self.layers.append(UpsamplerBlock(128, 64))
        self.layers.append(non_bottleneck_1d(64, 0, 1))
        self.layers.append(non_bottleneck_1d(64, 0, 1))
        self.layers.append(UpsamplerBlock(64, 16))
        self.layers.append(non_bottleneck_1d(16, 0, 1))
        self.layers.append(non_bottleneck_1d(16, 0, 1))
        self.output_conv = nn.ConvTranspose2d(16, num_classes, 2, stride=2, padding=0, output_padding=0, bias=True)

    def forward(self, input):
        output = input
        for layer in self.layers:
            output = layer(output)
        return self.output_conv(output)


class Net(nn.Module):
    """ERFNet. `encoder` passes a trained Encoder in (the full-network stage keeps it, BN statistics
    included, under a fresh decoder); `only_encode=True` gives the encoder head's 1/8-resolution scores."""

    def __init__(self, num_classes, encoder=None):
        super().__init__()
        self.encoder = Encoder(num_classes) if encoder is None else encoder
        self.decoder = Decoder(num_classes)

    def forward(self, input, only_encode=False):
        if only_encode:
            return self.encoder.forward(input, predict=True)
        return self.decoder.forward(self.encoder(input))
