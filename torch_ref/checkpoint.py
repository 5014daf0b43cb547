"""erfnet_pytorch's checkpoint keys: it trains under DataParallel, so every saved key starts with `module.`; its
ImageNet-pretrained model holds the encoder as `features.encoder`."""
import os

import torch

DATA_PARALLEL_PREFIX = "module."
IMAGENET_ENCODER_PREFIX = "features.encoder."
IMAGENET_CLASSIFIER_PREFIX = "classifier."


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


def imagenet_encoder(state_dict):
    """(state_dict, classifier keys) for erfnet_pytorch's ImageNet-pretrained model (without `module.`): its
    `features.encoder.*` keyed as Net's encoder (`encoder.*`) and its `classifier.*` left out, as its main.py
    keeps only `.features.encoder`; None when `state_dict` is not that model."""
    if not any(key.startswith(IMAGENET_ENCODER_PREFIX) for key in state_dict):
        return None
    encoder = {"encoder." + key[len(IMAGENET_ENCODER_PREFIX):]: value for key, value in state_dict.items()
               if key.startswith(IMAGENET_ENCODER_PREFIX)}
    others = {key: value for key, value in state_dict.items()
              if not key.startswith((IMAGENET_ENCODER_PREFIX, IMAGENET_CLASSIFIER_PREFIX))}
    return {**encoder, **others}, sorted(key for key in state_dict if key.startswith(IMAGENET_CLASSIFIER_PREFIX))
