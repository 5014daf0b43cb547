"""Weight files in the formats users bring, written the way erfnet_pytorch and MindSpore write them."""
import torch

from torch_ref.random_weights import random_reference_net


def upstream_state_dict(num_classes=20, seed=0):
    """A state_dict as erfnet_pytorch saved it: DataParallel's `module.` prefix on every key."""
    return {"module." + key: value for key, value in random_reference_net(num_classes, seed).state_dict().items()}


def save_upstream(path, num_classes=20, seed=0, wrap=None):
    state = upstream_state_dict(num_classes, seed)
    torch.save(wrap(state) if wrap else state, path)
    return state
