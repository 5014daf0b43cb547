"""ERFNet as erfnet_pytorch defines it: the same module tree, attribute names, forward signatures and
behaviour, so `Net(num_classes).load_state_dict(upstream_state_dict, strict=True)` works after the
`module.` prefix of DataParallel is stripped. This is the ruler the MindSpore port is measured against:
it is not to be improved. The layers come from the shared layer table (erfnet/data/layers.yaml).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from facts.spec import layer_table


class DownsamplerBlock(nn.Module):
    def __init__(self, ninput, noutput):
        super().__init__()
        eps = layer_table().batchnorm_eps
        self.conv = nn.Conv2d(ninput, noutput - ninput, (3, 3), stride=2, padding=1, bias=True)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.bn = nn.BatchNorm2d(noutput, eps=eps)

    def forward(self, input):
        output = torch.cat([self.conv(input), self.pool(input)], 1)
        output = self.bn(output)
        return F.relu(output)


class non_bottleneck_1d(nn.Module):
    def __init__(self, chann, dropprob, dilated):
        super().__init__()
        eps = layer_table().batchnorm_eps
        self.conv3x1_1 = nn.Conv2d(chann, chann, (3, 1), stride=1, padding=(1, 0), bias=True)
        self.conv1x3_1 = nn.Conv2d(chann, chann, (1, 3), stride=1, padding=(0, 1), bias=True)
        self.bn1 = nn.BatchNorm2d(chann, eps=eps)
        self.conv3x1_2 = nn.Conv2d(chann, chann, (3, 1), stride=1, padding=(1 * dilated, 0), bias=True,
                                   dilation=(dilated, 1))
        self.conv1x3_2 = nn.Conv2d(chann, chann, (1, 3), stride=1, padding=(0, 1 * dilated), bias=True,
                                   dilation=(1, dilated))
        self.bn2 = nn.BatchNorm2d(chann, eps=eps)
        self.dropout = nn.Dropout2d(dropprob)

    def forward(self, input):
        output = self.conv3x1_1(input)
        output = F.relu(output)
        output = self.conv1x3_1(output)
        output = self.bn1(output)
        output = F.relu(output)
        output = self.conv3x1_2(output)
        output = F.relu(output)
        output = self.conv1x3_2(output)
        output = self.bn2(output)
        if self.dropout.p != 0:
            output = self.dropout(output)
        return F.relu(output + input)


class UpsamplerBlock(nn.Module):
    def __init__(self, ninput, noutput):
        super().__init__()
        eps = layer_table().batchnorm_eps
        self.conv = nn.ConvTranspose2d(ninput, noutput, 3, stride=2, padding=1, output_padding=1, bias=True)
        self.bn = nn.BatchNorm2d(noutput, eps=eps)

    def forward(self, input):
        output = self.conv(input)
        output = self.bn(output)
        return F.relu(output)


def _module(block):
    rates = layer_table().dropout_defaults
    if block.kind == "downsampler":
        return DownsamplerBlock(block.in_channels, block.out_channels)
    if block.kind == "upsampler":
        return UpsamplerBlock(block.in_channels, block.out_channels)
    return non_bottleneck_1d(block.in_channels, rates[block.dropout_group], block.dilation)


class Encoder(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        table = layer_table()
        self.initial_block = _module(table.initial_block)
        self.layers = nn.ModuleList(_module(block) for block in table.encoder_layers)
        self.output_conv = nn.Conv2d(table.encoder_head_in, num_classes, 1, stride=1, padding=0, bias=True)

    def forward(self, input, predict=False):
        output = self.initial_block(input)
        for layer in self.layers:
            output = layer(output)
        if predict:
            output = self.output_conv(output)
        return output


class Decoder(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        table = layer_table()
        self.layers = nn.ModuleList(_module(block) for block in table.decoder_layers)
        self.output_conv = nn.ConvTranspose2d(table.decoder_head_in, num_classes, 2, stride=2, padding=0,
                                              output_padding=0, bias=True)

    def forward(self, input):
        output = input
        for layer in self.layers:
            output = layer(output)
        output = self.output_conv(output)
        return output


class Net(nn.Module):
    def __init__(self, num_classes, encoder=None):
        super().__init__()
        if encoder is None:
            self.encoder = Encoder(num_classes)
        else:
            self.encoder = encoder
        self.decoder = Decoder(num_classes)

    def forward(self, input, only_encode=False):
        if only_encode:
            return self.encoder.forward(input, predict=True)
        output = self.encoder(input)
        return self.decoder.forward(output)
