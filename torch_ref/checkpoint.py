"""erfnet_pytorch's checkpoint keys: it trains under DataParallel, so every saved key starts with `module.`."""
import os

import torch

DATA_PARALLEL_PREFIX = "module."


def with_prefix(state_dict):
    """`state_dict` keyed as erfnet_pytorch saves it."""
    return {DATA_PARALLEL_PREFIX + key: value for key, value in state_dict.items()}


def without_prefix(state_dict):
    """`state_dict` with `module.` removed when every key has it, as `Net.load_state_dict` needs it."""
    if all(key.startswith(DATA_PARALLEL_PREFIX) for key in state_dict):
        return {key[len(DATA_PARALLEL_PREFIX):]: value for key, value in state_dict.items()}
    return dict(state_dict)


def save_checkpoint(model, path):
    """`model`'s state_dict with `module.` keys at `path` (a pathlib.Path), written to a side file and
    renamed, so a reader never sees half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(with_prefix(model.state_dict()), partial)
    os.replace(partial, path)
