"""Reference networks with random weights and non-trivial BatchNorm statistics, for the demo and the tests.

PyTorch's default BatchNorm state (mean 0, variance 1, weight 1, bias 0) would hide a swapped or ignored
statistic, so every BatchNorm tensor here is drawn at random.
"""
import torch

from torch_ref.checkpoint import with_prefix
from torch_ref.erfnet import Net


def randomize_batchnorm(net, generator):
    """Draws every BatchNorm's weight, bias, running statistics and batch count from `generator`, in place."""
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            with torch.no_grad():
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
            module.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))
    return net


def random_reference_net(num_classes=20, seed=0):
    """`torch_ref.Net(num_classes)` with seeded random weights and random BatchNorm statistics, in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    return randomize_batchnorm(Net(num_classes), generator).eval()


def upstream_state_dict(num_classes=20, seed=0):
    """`random_reference_net(num_classes, seed)`'s state_dict keyed as erfnet_pytorch saves its models:
    trained under DataParallel, every key starts with `module.`."""
    return with_prefix(random_reference_net(num_classes, seed).state_dict())
