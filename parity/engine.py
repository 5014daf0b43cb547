"""Layer-by-layer comparison of ms_erfnet (float32) against torch_ref evaluated in float64.

network_pair gives both networks one set of weights through the converter (the one-file mode); parity/pair.py
builds a pair from two files, each read its own framework's way. The reference runs in float64 so that it is the
exact answer: in train mode, PyTorch's own float32 result can be far from it (seen: 14% in a decoder block's
input gradient, where MindSpore was within 3e-7), and a float32 ruler would blame the port for PyTorch's
rounding. Each block is fed the reference's input for that block (and, backwards, a random output
gradient), so an error shows where it arises instead of accumulating through 22 blocks; the network is
compared end to end as well. Error = max |ours - reference| / max |reference|, per tensor.

Gradients through a ReLU whose input lies within float32 rounding of 0 are not comparable: either framework
may round it to the other side, and that one flipped decision moves the whole gradient (seen: a ReLU input
of 5e-8 gave a 1.5% input-gradient difference). The reference records its smallest ReLU input; where a
block's is below 1e-6 of the tensor's largest, its input is nudged with small noise and compared again.
"""
from dataclasses import dataclass

import mindspore as ms
import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from convert.names import DECODER, ENCODER_HEAD, PARTS, torch_name
from convert.network import build_network
from convert.torch_align import align_reference
from convert.torch_io import torch_state_dict
from facts.loss_weights import CITYSCAPES_CHANNELS, default_loss_weights
from facts.spec import layer_table
from ms_erfnet import ERFNet
from parity.divergence import HEAD, block_of
from ms_erfnet.loss import WeightedCrossEntropy
from torch_ref import Net
from torch_ref.loss import CLASS_WEIGHTS, CrossEntropyLoss2d

FORWARD_TOLERANCE = 1e-5
GRADIENT_TOLERANCE = 1e-4
NO_DROPOUT = {group: 0.0 for group in layer_table().dropout_defaults}
PARITY_SEED = 0  # of the dropout masks the parity network never draws (they stay ones)
BIASES_BEFORE_BATCHNORM = (".conv.bias", ".conv1x3_1.bias", ".conv1x3_2.bias")  # down/upsampler conv, 1x3 convs
AMBIGUOUS_RELU_MARGIN = 1e-6
NUDGES = 8


@dataclass
class Row:
    name: str
    shape: tuple
    max_abs: float
    relative: float
    tolerance: float
    comparable: bool = True

    @property
    def passed(self):
        return self.relative <= self.tolerance or not self.comparable

    @property
    def result(self):
        return "n/a" if not self.comparable else "pass" if self.passed else "FAIL"


def row(name, ours, reference, tolerance, scale=None, comparable=True):
    """Compare two arrays; `scale` replaces max |reference| as the denominator where given."""
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    if ours.shape != reference.shape:
        return Row(name, reference.shape, float("inf"), float("inf"), tolerance)
    max_abs = float(np.max(np.abs(ours - reference))) if ours.size else 0.0
    if scale is None:
        scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    return Row(name, reference.shape, max_abs, max_abs / scale if scale > 0 else max_abs, tolerance, comparable)


@dataclass
class NetworkPair:
    reference: Net
    ours: ERFNet
    parts: tuple

    def train(self, mode):
        self.reference.train(mode)
        self.ours.set_train(mode)

    def dropout_off(self):
        """Dropout off on both sides (train-mode comparisons need identical computations): the reference's rates
        set to 0, ours's masks to ones (ms_erfnet.seeded_dropout.DropoutRandomness.keep_all)."""
        without_dropout(self.reference)
        self.ours.dropout_randomness.keep_all()


def network_pair(weights):
    """torch_ref.Net and ms_erfnet.ERFNet holding `weights`, dropout off on both sides (train-mode
    comparisons need identical computations; dropout masks are compared separately in the tests). Ours is the
    network training runs (convert.network.build_network with a dropout seed), with erfnet_pytorch's rates."""
    num_classes = weights.num_classes or 20
    reference = align_reference(Net(num_classes), weights.upsample_align)
    reference.load_state_dict(torch_state_dict(weights, prefix=""), strict=False)
    missing = tuple(part for part in PARTS if part not in weights.parts)
    ours, _ = build_network(num_classes, weights, dropout_seed=PARITY_SEED, fresh_parts=missing)
    pair = NetworkPair(reference.double(), ours, weights.parts)
    pair.dropout_off()
    return pair


def without_dropout(reference):
    """`reference` (a torch_ref.Net) with every dropout rate set to 0, in place."""
    for module in reference.modules():
        if isinstance(module, torch.nn.Dropout2d):
            module.p = 0.0
    return reference


class ReluMargin(TorchFunctionMode):
    """Records the smallest |input| / max |input| over every ReLU the reference evaluates."""

    def __init__(self):
        super().__init__()
        self.smallest = float("inf")

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is F.relu or func is torch.relu:
            magnitude = args[0].detach().abs()
            if magnitude.numel() and float(magnitude.max()) > 0:
                self.smallest = min(self.smallest, float(magnitude.min() / magnitude.max()))
        return func(*args, **(kwargs or {}))

    @property
    def ambiguous(self):
        return self.smallest < AMBIGUOUS_RELU_MARGIN


def nudged(array, attempt, generator):
    """The array itself on the first attempt, then with noise of 1% of its spread."""
    if attempt == 0:
        return array
    return array + 1e-2 * array.std() * generator.standard_normal(array.shape).astype(array.dtype)


def as_reference(array):
    return torch.from_numpy(np.asarray(array, np.float64))


def as_ours(array):
    return ms.Tensor(np.asarray(array, np.float32))


def blocks(pair):
    """(name, reference module, our cell) in network order; the encoder head reads the encoder's output
    and its output feeds nothing further."""
    ref, ours = pair.reference, pair.ours
    listed = [("encoder.initial_block", ref.encoder.initial_block, ours.encoder.initial_block)]
    listed += [(f"encoder.layers.{i}", r, o) for i, (r, o) in enumerate(zip(ref.encoder.layers, ours.encoder.layers))]
    if ENCODER_HEAD in pair.parts:
        listed.append((HEAD, ref.encoder.output_conv, ours.encoder.output_conv))
    if DECODER in pair.parts:
        listed += [(f"decoder.layers.{i}", r, o) for i, (r, o) in enumerate(zip(ref.decoder.layers, ours.decoder.layers))]
        listed.append(("decoder.output_conv", ref.decoder.output_conv, ours.decoder.output_conv))
    return listed


def compare_forward(pair, image, train=False):
    """Rows for every block, fed the reference's input, then, in eval mode, the network end to end. (End to
    end in train mode, batch statistics amplify float32 rounding through 22 blocks: compared there are the
    loss and its gradient, in compare_end_to_end_training.)"""
    pair.train(train)
    rows = []
    current = image
    with torch.no_grad():
        for name, reference_block, our_block in blocks(pair):
            expected = reference_block(as_reference(current)).numpy()
            rows.append(row(name, our_block(as_ours(current)).asnumpy(), expected, FORWARD_TOLERANCE))
            if name != HEAD:
                current = expected
        if train:
            return rows
        if ENCODER_HEAD in pair.parts:
            expected = pair.reference(as_reference(image), only_encode=True).numpy()
            rows.append(row("network, only_encode", pair.ours(as_ours(image), True).asnumpy(), expected,
                            FORWARD_TOLERANCE))
        if DECODER in pair.parts:
            expected = pair.reference(as_reference(image)).numpy()
            rows.append(row("network", pair.ours(as_ours(image)).asnumpy(), expected, FORWARD_TOLERANCE))
    return rows


def is_bias_before_batchnorm(name):
    """Conv biases that feed a batch-statistics BatchNorm: their exact gradient is 0 (BN removes the mean)."""
    return name.endswith(BIASES_BEFORE_BATCHNORM)


def compare_backward(pair, image, seed=0):
    """Per block, in train mode: the gradient with respect to the block's input and to each of its parameters
    for the reference's input and a random output gradient, and the BatchNorm running statistics after that
    one train-mode forward. Biases before BatchNorm, whose exact gradient is 0, are measured against the
    largest gradient of their block. Inputs that put a ReLU at 0 are nudged (see the module's note)."""
    pair.train(True)
    generator = np.random.default_rng(seed)
    rows, statistics = [], []
    current = image
    for name, reference_block, our_block in blocks(pair):
        saved_statistics = {key: value.clone() for key, value in reference_block.named_buffers()}
        for attempt in range(NUDGES):
            block_input = nudged(current, attempt, generator)
            for key, value in reference_block.named_buffers():
                value.copy_(saved_statistics[key])
            x = as_reference(block_input).requires_grad_(True)
            margin = ReluMargin()
            with margin:
                y = reference_block(x)
            if not margin.ambiguous:
                break
        reference_block.zero_grad()
        upstream = generator.standard_normal(tuple(y.shape))
        y.backward(as_reference(upstream))
        parameters = our_block.trainable_params()

        def weighted_output(inputs, cell=our_block, weight=as_ours(upstream)):
            return (cell(inputs) * weight).sum()

        input_gradient, gradients = ms.grad(weighted_output, grad_position=0, weights=parameters)(
            as_ours(block_input))
        comparable = not margin.ambiguous
        rows.append(row(f"{name} input", input_gradient.asnumpy(), x.grad.numpy(), GRADIENT_TOLERANCE,
                        comparable=comparable))
        reference_parameters = dict(reference_block.named_parameters())
        block_scale = max(float(p.grad.abs().max()) for p in reference_parameters.values())
        for parameter, gradient in zip(parameters, gradients):
            expected = reference_parameters[torch_name(parameter.name[len(name) + 1:])].grad.numpy()
            scale = block_scale if is_bias_before_batchnorm(parameter.name) else None
            rows.append(row(parameter.name, gradient.asnumpy(), expected, GRADIENT_TOLERANCE, scale, comparable))
        buffers = dict(reference_block.named_buffers())
        statistics += [row(p.name, p.asnumpy(), buffers[torch_name(p.name[len(name) + 1:])].numpy(),
                           FORWARD_TOLERANCE)
                       for p in our_block.get_parameters() if p.name.endswith(("moving_mean", "moving_variance"))]
        if name != HEAD:
            current = next_input(reference_block, current, y, block_input)
    return rows, statistics


def next_input(reference_block, current, output, block_input):
    """The next block's input: this block's reference output for the un-nudged input."""
    if block_input is current:
        return output.detach().numpy()
    saved_statistics = {key: value.clone() for key, value in reference_block.named_buffers()}
    with torch.no_grad():
        result = reference_block(as_reference(current)).numpy()
    for key, value in reference_block.named_buffers():
        value.copy_(saved_statistics[key])
    return result


def weighted_loss_reference(output, labels, kind):
    """erfnet_pytorch's loss in the output's precision: torch_ref's copy of its class weights for its 20 channels,
    uniform weights for another class count (facts/loss_weights.py)."""
    channels = output.shape[1]
    weight = torch.tensor(CLASS_WEIGHTS[kind] if channels == CITYSCAPES_CHANNELS else (1.0,) * channels,
                          dtype=output.dtype)
    return CrossEntropyLoss2d(weight)(output, torch.from_numpy(labels).long())


def compare_end_to_end(pair, image, labels, only_encode=False, train=False):
    """The recipe's weighted loss through the whole network and, in eval mode, its gradient with respect to the
    input and to every parameter. (In train mode the gradient through 22 batch-statistics BatchNorms is
    ill-conditioned: float32 rounding is amplified, at 16x16 by 4x beyond the bar, in both frameworks alike,
    so train-mode gradients are compared per block, in compare_backward.) An input that puts a ReLU at 0 is
    nudged (see above)."""
    kind = "encoder" if only_encode else "full"
    pair.train(train)
    loss_fn = WeightedCrossEntropy(default_loss_weights(kind, pair.ours.num_classes)[0])
    if train:
        with torch.no_grad():
            reference_loss = weighted_loss_reference(pair.reference(as_reference(image), only_encode=only_encode),
                                                     labels, kind)
        loss = loss_fn(pair.ours(as_ours(image), only_encode), ms.Tensor(labels.astype(np.int32)))
        return [row("loss", loss.asnumpy(), reference_loss.numpy(), FORWARD_TOLERANCE)]
    generator = np.random.default_rng(0)
    for attempt in range(NUDGES):
        attempt_image = nudged(image, attempt, generator)
        pair.reference.zero_grad()
        x = as_reference(attempt_image).requires_grad_(True)
        margin = ReluMargin()
        with margin:
            output = pair.reference(x, only_encode=only_encode)
        if not margin.ambiguous:
            break
    image = attempt_image
    reference_loss = weighted_loss_reference(output, labels, kind)
    reference_loss.backward()
    parameters = pair.ours.trainable_params()
    step = ms.value_and_grad(lambda inputs, targets: loss_fn(pair.ours(inputs, only_encode), targets),
                             grad_position=0, weights=parameters)
    loss, (input_gradient, gradients) = step(as_ours(image), ms.Tensor(labels.astype(np.int32)))
    rows = [row("loss", loss.asnumpy(), reference_loss.detach().numpy(), FORWARD_TOLERANCE)]
    comparable = not margin.ambiguous
    rows.append(row("input gradient", input_gradient.asnumpy(), x.grad.numpy(), GRADIENT_TOLERANCE,
                    comparable=comparable))
    reference_parameters = dict(pair.reference.named_parameters())
    for parameter, gradient in zip(parameters, gradients):
        reference = reference_parameters[torch_name(parameter.name)].grad
        expected = np.zeros(parameter.shape) if reference is None else reference.numpy()
        rows.append(row(parameter.name, gradient.asnumpy(), expected, GRADIENT_TOLERANCE, comparable=comparable))
    return rows


def per_block(rows):
    """The worst row of each block (rows named block.parameter or "block input")."""
    worst = {}
    for r in rows:
        block = block_of(r.name)
        if block not in worst or r.relative > worst[block].relative:
            worst[block] = Row(block, r.shape, r.max_abs, r.relative, r.tolerance, r.comparable)
    return list(worst.values())


def format_table(rows, title):
    lines = [title, f"{'block':<26} {'shape':<16} {'max abs error':>13} {'relative':>9} {'bar':>8}  result"]
    for r in rows:
        lines.append(f"{r.name:<26} {'x'.join(map(str, r.shape)):<16} {r.max_abs:>13.3e} {r.relative:>9.2e} "
                     f"{r.tolerance:>8.1e}  {r.result}")
    return "\n".join(lines)
