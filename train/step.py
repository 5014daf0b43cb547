"""One optimizer step: forward, weighted loss, gradients of the trained parameters, optional gradient mean
across data-parallel devices, Adam, as one Cell. In graph mode (training's, ms_erfnet/execution.py) it is
compiled into one graph the first time a batch shape is seen; in PyNative mode it runs op by op, slower, with
the same result.

Dropout masks are drawn in Python before each step (ms_erfnet/seeded_dropout.py) and read by the graph from
Parameters, as is the learning rate, so neither recompiles the step.

On the CPU the step's memory is kept down (docs/performance.md): the network training builds there
(convert.network.build_network) gives the non-bottleneck blocks' 3x1/1x3 convolutions hand-written gradients
(ms_erfnet/lean_conv.py) in place of MindSpore's backward kernels, which hold an im2col buffer per graph node,
and in graph mode the step is compiled before its first run and the compiler's freed
heap returned to the system (ms_erfnet/execution.py) before the run adds its own memory.

Mixed precision (Ascend): `amp_level` O1/O2 through `mindspore.amp.auto_mixed_precision`, which keeps
BatchNorm in float32; `loss_scale` is a number (static) or "dynamic". A step whose scaled gradients
overflow is skipped, as MindSpore's loss scalers intend.
"""
import mindspore as ms
from mindspore import amp, nn

from ms_erfnet.execution import release_free_heap
from ms_erfnet.loss import WeightedCrossEntropy
from train.config import DYNAMIC


def loss_scaler(loss_scale):
    if loss_scale == DYNAMIC:
        return amp.DynamicLossScaler(scale_value=2.0 ** 16, scale_factor=2, scale_window=1000)
    if float(loss_scale) != 1.0:
        return amp.StaticLossScaler(float(loss_scale))
    return None


class CompiledStep(nn.Cell):
    """`construct(images, labels) -> loss`: gradients and the Adam update in one graph."""

    def __init__(self, net, optimizer, only_encode, data_parallel, loss_scale, loss_weights):
        super().__init__(auto_prefix=False)
        self.net, self.optimizer, self.only_encode = net, optimizer, only_encode
        self.loss_fn = WeightedCrossEntropy(loss_weights)
        self.scaler = loss_scaler(loss_scale)
        self.reducer = nn.DistributedGradReducer(optimizer.parameters, mean=True) if data_parallel else None
        self.grad_fn = ms.value_and_grad(self.scaled_loss, None, optimizer.parameters)

    def scaled_loss(self, images, labels):
        loss = self.loss_fn(self.net(images, self.only_encode).astype(ms.float32), labels)
        return self.scaler.scale(loss) if self.scaler is not None else loss

    def construct(self, images, labels):
        loss, grads = self.grad_fn(images, labels)
        if self.reducer is not None:
            grads = self.reducer(grads)
        if self.scaler is None:
            self.optimizer(grads)
            return loss
        loss, grads = self.scaler.unscale(loss), self.scaler.unscale(grads)
        finite = amp.all_finite(grads)
        self.scaler.adjust(finite)
        if finite:
            self.optimizer(grads)
        return loss


class TrainStep:
    """`step(images, labels) -> loss` (a float) for one network kind ("encoder" or "full"); `dropout`, the
    network's ms_erfnet.seeded_dropout.DropoutRandomness, draws the step's masks (None: no seeded dropout installed);
    `loss_weights`: the loss's class weights (ms_erfnet.loss; None: erfnet_pytorch's for `network`)."""

    def __init__(self, net, optimizer, network, data_parallel=False, loss_scale=1.0, dropout=None, loss_weights=None):
        self.only_encode = network == "encoder"
        self.dropout = dropout
        self.compiled = CompiledStep(net, optimizer, self.only_encode, data_parallel, loss_scale,
                                     network if loss_weights is None else loss_weights)
        self.compiled_shapes = set()

    def __call__(self, images, labels):
        if self.dropout is not None:
            self.dropout.draw(images.shape, self.only_encode)
        shapes = (images.shape, labels.shape)
        if ms.get_context("mode") == ms.GRAPH_MODE and shapes not in self.compiled_shapes:
            self.compiled.compile(images, labels)
            release_free_heap()
            self.compiled_shapes.add(shapes)
        return float(self.compiled(images, labels).asnumpy())
