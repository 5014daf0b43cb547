"""A network built the MindSpore model zoo's way (research/cv/erfnet), written here from the published facts
about it and independently of ms_erfnet: its block names, its upsamplers' pad_mode "same" transposed convs, its
element-wise dropout and its encoder-only cell with a top-level `pred` head. The zoo tests save its checkpoints;
models/test_zoo_style_net.py pins the facts it is built from."""
import mindspore as ms
import mindspore.nn as nn
import mindspore.ops as ops
import numpy as np

EPS = 1e-3
ENCODER_DILATIONS = (2, 4, 8, 16, 2, 4, 8, 16)


class ZooDownsampler(nn.Cell):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout - cin, 3, stride=2, pad_mode="pad", padding=1, has_bias=True)
        self.pool = nn.MaxPool2d(2, 2)
        self.bn = nn.BatchNorm2d(cout, eps=EPS)

    def construct(self, x):
        return ops.relu(self.bn(ops.concat((self.conv(x), self.pool(x)), 1)))


class ZooBottleneck(nn.Cell):
    def __init__(self, channels, rate, dilation):
        super().__init__()
        d = dilation
        self.conv3x1_1 = nn.Conv2d(channels, channels, (3, 1), pad_mode="pad", padding=(1, 1, 0, 0), has_bias=True)
        self.conv1x3_1 = nn.Conv2d(channels, channels, (1, 3), pad_mode="pad", padding=(0, 0, 1, 1), has_bias=True)
        self.conv3x1_2 = nn.Conv2d(channels, channels, (3, 1), pad_mode="pad", padding=(d, d, 0, 0),
                                   dilation=(d, 1), has_bias=True)
        self.conv1x3_2 = nn.Conv2d(channels, channels, (1, 3), pad_mode="pad", padding=(0, 0, d, d),
                                   dilation=(1, d), has_bias=True)
        self.bn1 = nn.BatchNorm2d(channels, eps=EPS)
        self.bn2 = nn.BatchNorm2d(channels, eps=EPS)
        self.rate = rate
        self.dropout = nn.Dropout(p=rate) if rate else None

    def construct(self, x):
        y = ops.relu(self.bn1(self.conv1x3_1(ops.relu(self.conv3x1_1(x)))))
        y = self.bn2(self.conv1x3_2(ops.relu(self.conv3x1_2(y))))
        if self.rate:
            y = self.dropout(y)
        return ops.relu(y + x)


class ZooUpsampler(nn.Cell):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2dTranspose(cin, cout, 3, stride=2, pad_mode="same", has_bias=True)
        self.bn = nn.BatchNorm2d(cout, eps=EPS)

    def construct(self, x):
        return ops.relu(self.bn(self.conv(x)))


class ZooEncoder(nn.Cell):
    def __init__(self, rates=(0.0, 0.0)):
        super().__init__()
        self.down1 = ZooDownsampler(3, 16)
        self.down2 = ZooDownsampler(16, 64)
        for i in range(1, 6):
            setattr(self, f"bottleneck{i}", ZooBottleneck(64, rates[0], 1))
        self.down3 = ZooDownsampler(64, 128)
        for i, dilation in enumerate(ENCODER_DILATIONS, start=6):
            setattr(self, f"bottleneck{i}", ZooBottleneck(128, rates[1], dilation))
        self.order = ["down1", "down2"] + [f"bottleneck{i}" for i in range(1, 6)] + ["down3"] + \
                     [f"bottleneck{i}" for i in range(6, 14)]

    def construct(self, x):
        for name in self.order:
            x = getattr(self, name)(x)
        return x


class ZooDecoder(nn.Cell):
    def __init__(self, num_classes):
        super().__init__()
        self.up1 = ZooUpsampler(128, 64)
        self.bottleneck1 = ZooBottleneck(64, 0.0, 1)
        self.bottleneck2 = ZooBottleneck(64, 0.0, 1)
        self.up2 = ZooUpsampler(64, 16)
        self.bottleneck3 = ZooBottleneck(16, 0.0, 1)
        self.bottleneck4 = ZooBottleneck(16, 0.0, 1)
        self.pred = nn.Conv2dTranspose(16, num_classes, 2, stride=2, has_bias=True)

    def construct(self, x):
        for cell in (self.up1, self.bottleneck1, self.bottleneck2, self.up2, self.bottleneck3, self.bottleneck4):
            x = cell(x)
        return self.pred(x)


class ZooERFNet(nn.Cell):
    def __init__(self, num_classes, rates=(0.0, 0.0)):
        super().__init__()
        self.encoder = ZooEncoder(rates)
        self.decoder = ZooDecoder(num_classes)

    def construct(self, x):
        return self.decoder(self.encoder(x))


class ZooEncoderPred(nn.Cell):
    def __init__(self, num_classes, rates=(0.0, 0.0)):
        super().__init__()
        self.encoder = ZooEncoder(rates)
        self.pred = nn.Conv2d(128, num_classes, 1, pad_mode="valid", has_bias=True)

    def construct(self, x):
        return self.pred(self.encoder(x))


def randomized(net, seed):
    """`net` with seeded random weights scaled by fan-in and random BatchNorm state, in eval mode."""
    rng = np.random.default_rng(seed)
    for parameter in net.get_parameters():
        shape = parameter.shape
        leaf = parameter.name.rpartition(".")[2]
        if leaf in ("gamma", "moving_variance"):
            value = 0.5 + rng.random(shape)
        elif leaf in ("beta", "moving_mean"):
            value = 0.1 * rng.standard_normal(shape)
        elif leaf == "bias":
            value = 0.1 * rng.standard_normal(shape)
        else:
            value = rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))
        parameter.set_data(ms.Tensor(value.astype(np.float32)))
    net.set_train(False)
    return net


def zoo_output(net, image):
    return net(ms.Tensor(np.asarray(image, np.float32))).asnumpy()
