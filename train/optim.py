"""The recipe's optimizer: torch.optim.Adam's arithmetic (betas 0.9/0.999, eps 1e-8, weight decay as L2
added to the gradient, not AdamW) on every trained parameter, BatchNorm's gamma and beta included.

Written here because MindSpore 2.7.1 and 2.10 lack it on the CPU (measured): `nn.Adam` and
`mindspore.experimental.optim.Adam` run the fused Adam kernel, which adds eps before dividing by
sqrt(1 - beta2^t), so the effective eps is eps / sqrt(1 - beta2^t) (at step 1 a gradient of 1e-7 moves a
weight by 0.24 lr instead of torch's 0.91 lr), and `nn.Adam` given a flat list skips weight decay for names
containing beta or gamma; `mint.optim.Adam` (torch's formula) leaves parameters unchanged on the CPU. Whether
the fused kernel adds eps that way is probed (fused_adam_adds_eps_early), and eps is corrected only then.

Which parameters train follows erfnet_pytorch: a parameter the forward pass does not use gets no gradient
there, so Adam never touches it (not even by weight decay). Encoder stages train `encoder.*` (with its 1x1
head); full-network stages train everything except the encoder's head.

State names (`exp_avg.<name>`, `exp_avg_sq.<name>`, `global_step`, `learning_rate`) are the ones
`convert.read_weights` recognises as optimizer entries in a checkpoint.
"""
import functools

import mindspore as ms
import mindspore.nn as nn
import mindspore.ops as ops
import numpy as np
from mindspore import Parameter, ParameterTuple, Tensor

from facts.spec import NETWORKS

BETAS = (0.9, 0.999)
EPS = 1e-8


@functools.cache
def fused_adam_adds_eps_early():
    """Whether MindSpore's fused Adam kernel adds eps before dividing by sqrt(1 - beta2^t): one step of ops.Adam
    from zero moments, lr 1, on a gradient of 1e-7 moves the weight by 0.24 then (torch's formula: 0.91)."""
    weight, exp_avg, exp_avg_sq = (Parameter(Tensor(np.zeros(1, np.float32)), name=name)
                                   for name in ("probe", "probe_exp_avg", "probe_exp_avg_sq"))
    value = functools.partial(Tensor, dtype=ms.float32)
    ops.Adam()(weight, exp_avg, exp_avg_sq, value(BETAS[0]), value(BETAS[1]), value(1.0), value(BETAS[0]),
               value(BETAS[1]), value(EPS), Tensor(np.array([1e-7], np.float32)))
    return float(-weight.asnumpy()[0]) < 0.5


class TorchAdam(nn.Cell):
    """`optimizer(gradients)` applies one Adam step, with torch.optim.Adam's formulas, to `parameters`.

    It drives MindSpore's fused Adam kernel, p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps_k),
    with eps_k = eps * sqrt(1 - b2^t): algebraically torch's p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t)
    + eps). The L2 term is added to each gradient first. It runs inside the compiled train step (train/step.py).
    `correct_eps`: whether the kernel needs eps_k (default: what fused_adam_adds_eps_early finds).
    """

    def __init__(self, parameters, lr, weight_decay, betas=BETAS, eps=EPS, correct_eps=None):
        super().__init__()
        self.correct_eps = fused_adam_adds_eps_early() if correct_eps is None else correct_eps
        self.parameters = ParameterTuple(parameters)
        self.exp_avg = self.parameters.clone(prefix="exp_avg", init="zeros")
        self.exp_avg_sq = self.parameters.clone(prefix="exp_avg_sq", init="zeros")
        self.global_step = Parameter(Tensor(0.0, ms.float32), name="global_step", requires_grad=False)
        self.learning_rate = Parameter(Tensor(float(lr), ms.float32), name="learning_rate", requires_grad=False)
        self.beta1, self.beta2 = Tensor(betas[0], ms.float32), Tensor(betas[1], ms.float32)
        self.eps, self.weight_decay = Tensor(eps, ms.float32), float(weight_decay)
        self.adam = ops.Adam()

    def construct(self, gradients):
        step = self.global_step + 1
        ops.assign(self.global_step, step)
        beta1_power, beta2_power = ops.pow(self.beta1, step), ops.pow(self.beta2, step)
        eps = self.eps * ops.sqrt(1 - beta2_power) if self.correct_eps else self.eps
        for param, grad, exp_avg, exp_avg_sq in zip(self.parameters, gradients, self.exp_avg, self.exp_avg_sq):
            if self.weight_decay:
                grad = ops.add(grad, param * self.weight_decay)
            self.adam(param, exp_avg, exp_avg_sq, beta1_power, beta2_power, self.learning_rate, self.beta1,
                      self.beta2, eps, grad)
        return True

    def state_parameters(self):
        """Every Parameter of the optimizer's state, for checkpoints."""
        return list(self.exp_avg) + list(self.exp_avg_sq) + [self.global_step, self.learning_rate]


def trained_parameters(net, network):
    """The parameters the forward pass of `network` ("encoder" or "full") uses and training updates."""
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, not {network!r}")
    if network == "encoder":
        return [p for p in net.trainable_params() if p.name.startswith("encoder.")]
    return [p for p in net.trainable_params() if not p.name.startswith("encoder.output_conv.")]


def make_adam(parameters, lr, weight_decay):
    return TorchAdam(list(parameters), lr, weight_decay)


def set_learning_rate(optimizer, lr):
    optimizer.learning_rate.set_data(Tensor(float(lr), ms.float32))

