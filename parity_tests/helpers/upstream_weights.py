"""Weight files in the formats users bring, written the way erfnet_pytorch and MindSpore write them."""
import torch

from torch_ref.random_weights import upstream_state_dict


def save_upstream(path, num_classes=20, seed=0, wrap=None):
    state = upstream_state_dict(num_classes, seed)
    torch.save(wrap(state) if wrap else state, path)
    return state
