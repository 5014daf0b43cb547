"""Class weights from a dataset's labels, the weighting erfnet_pytorch's published values come from (ENet's):
w_k = 1 / ln(c + p_k), p_k the share of class k among the labelled pixels of the training split, c = 1.02 unless
set. Rare classes weigh up to 1/ln(c), frequent ones down to 1/ln(1 + c); ignored pixels weigh 0.

Two histograms, as training has two kinds of stages: "full" counts the label files' pixels, "encoder" the same
labels nearest-downsampled to 1/8 (data.recipes.encoder_label, the encoder stages' targets). Counting decodes every
label, so the histograms are cached in ROOT/class_histogram_<split>.json with the sha256 of the label files' bytes
and names: a label added, removed or changed since makes the next run count again. A root that cannot be written
is counted each time (said once in the log).
"""
import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from data.layout import CITYSCAPES, find_samples, has_split, label_space, read_label
from data.recipes import encoder_label
from facts.atomic import atomic_output
from facts.errors import UserError
from facts.spec import NETWORKS, class_weights

log = logging.getLogger(__name__)

ENET_C = 1.02
CACHE_NAME = "class_histogram_{split}.json"


def enet_weights(counts, c=ENET_C):
    """float64 [K]: 1 / ln(c + p_k) for pixel counts [K] (p = counts / their sum)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() <= 0:
        raise UserError("class weights: the labels hold no labelled pixel")
    if c <= 1:
        raise UserError(f"class weights: c {c} must be > 1 (ln(c + p) must stay positive)")
    return 1.0 / np.log(c + counts / counts.sum())


def labels_digest(samples):
    """sha256 over the label files' names and bytes, in sample order."""
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(sample.stem.encode() + b"\0")
        digest.update(Path(sample.label_path).read_bytes())
    return digest.hexdigest()


def count_classes(samples, num_classes):
    """{"full": int64 [K], "encoder": int64 [K]}: labelled pixels per class, at the files' resolution and at 1/8.
    A label id outside the classes is a UserError naming its file (data.layout.read_label)."""
    counts = {network: np.zeros(num_classes, dtype=np.int64) for network in NETWORKS}
    for sample in samples:
        label = read_label(sample)
        small = encoder_label(label, label.shape[0])
        for network, array in (("full", label), ("encoder", small)):
            counts[network] += np.bincount(array.ravel(), minlength=num_classes + 1)[:num_classes]
    return counts


def class_histograms(root, split="train"):
    """The split's class histograms (count_classes), from the cache when the labels' digest matches it."""
    root = Path(root)
    space = label_space(root)
    samples = find_samples(root, split, verify=False)
    digest = labels_digest(samples)
    cache = root / CACHE_NAME.format(split=split)
    if cache.is_file():
        try:
            stored = json.loads(cache.read_text())
            if stored.get("digest") == digest and stored.get("classes") == list(space.names):
                return {network: np.array(stored[network], dtype=np.int64) for network in NETWORKS}
        except (ValueError, KeyError, TypeError):
            pass
        log.info(f"{cache}: the labels changed since it was written; counting the classes again")
    log.info(f"counting the classes of {len(samples)} {split} labels in {root}")
    counts = count_classes(samples, space.void)
    record = {"digest": digest, "classes": list(space.names), **{n: counts[n].tolist() for n in NETWORKS}}
    try:
        with atomic_output(cache) as temporary:
            temporary.write_text(json.dumps(record, indent=1) + "\n")
    except UserError as error:
        log.warning(f"class histogram not cached ({error}); it is counted again next time")
    return counts


AUTO, PUBLISHED, FROM_LABELS, UNIFORM = "auto", "published", "labels", "uniform"
SETTINGS = (AUTO, PUBLISHED, FROM_LABELS, UNIFORM)


def checked_setting(root, setting, name="class weights"):
    """`setting` (see loss_weights) with "auto" resolved for the dataset at `root`, after the checks that need no
    counting: a list's length against the class count, "published" on Cityscapes only. UserError starts with
    `name` (a config field, when the config gave the setting)."""
    space = label_space(root)
    if not isinstance(setting, str):
        if len(setting) != space.void:
            raise UserError(f"{name}: {len(setting)} weights given; {space.source} has {space.void} classes")
        return tuple(float(w) for w in setting)
    if setting not in SETTINGS:
        raise UserError(f"{name} {setting!r}: choose one of {', '.join(SETTINGS)} or give one number per class")
    if setting == AUTO:
        return PUBLISHED if space.layout == CITYSCAPES else FROM_LABELS if has_split(root, "train") else UNIFORM
    if setting == PUBLISHED and space.layout != CITYSCAPES:
        raise UserError(f"{name} {PUBLISHED!r} are erfnet_pytorch's, for Cityscapes; {space.source} has its own "
                        f"classes: use {FROM_LABELS!r}, {UNIFORM!r} or one number per class")
    return setting


def loss_weights(root, network, setting=AUTO, c=ENET_C):
    """The loss's weights for `network` ("encoder" or "full") training or scored on the dataset at `root`: K + 1
    floats, one per class and 0 for the ignored label K (data/layout.py). `setting`: "published" (erfnet_pytorch's,
    Cityscapes only), "labels" (ENet's from the train split, class_histograms), "uniform", "auto" (published on
    Cityscapes, from the train labels on one's own data, uniform for a dataset without a train split), or K
    numbers."""
    setting = checked_setting(root, setting)
    if not isinstance(setting, str):
        return setting + (0.0,)
    if setting == PUBLISHED:
        return class_weights(network)
    if setting == UNIFORM:
        return (1.0,) * label_space(root).void + (0.0,)
    return tuple(float(w) for w in enet_weights(class_histograms(root)[network], c)) + (0.0,)
