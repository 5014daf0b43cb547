"""erfnet_pytorch's training loop (train/main.py) as the reference trainer, stage by stage.

Per stage: Adam(lr0, betas (0.9, 0.999), eps 1e-8, L2 weight decay) made afresh; erfnet_pytorch's
poly schedule, the lr of epoch e (1-based) being lr0 * (1 - (e - 1) / poly_epochs) ** power; the
shuffled, augmented train split in batches that keep the last short one; the class-weighted
log-softmax NLL of the stage's network ("encoder": Net with only_encode=True against labels at 1/8,
"full": the whole Net). Nothing is improved over erfnet_pytorch; its validation pass and best-model
bookkeeping are left to the caller, which gets the model in eval mode after every epoch.

The data and its classes are the run's: a Cityscapes root with erfnet_pytorch's 20 classes and published class
weights by default, or a folders dataset of K classes (torch_ref/folders.py) with a network of K classes (or
K + 1 with a void channel) and the class weights the caller hands over, per network.

Reproducible per seed: stage k (1-based) starts by seeding python's `random`, numpy and torch with
seed + k - 1, and its DataLoader shuffles with a generator of that seed, from which torch also seeds
`random`, numpy and torch in each worker process; the same run and seed give the same batches.
"""
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from torch_ref.checkpoint import save_checkpoint, without_prefix
from torch_ref.cityscapes import cityscapes_pairs
from torch_ref.erfnet import Net, non_bottleneck_1d
from torch_ref.folders import folders_pairs
from torch_ref.joint_transform import VOID_TRAIN_ID, JointTransform
from torch_ref.loss import CLASS_WEIGHTS, reference_loss
from torch_ref.pictures import PairDataset

logger = logging.getLogger(__name__)

NUM_CLASSES = 20
NETWORKS = ("encoder", "full")
INITS = ("scratch", "previous", "previous_encoder")
READERS = {"cityscapes": cityscapes_pairs, "folders": folders_pairs}


@dataclass(frozen=True)
class ReferenceStage:
    """One erfnet_pytorch training call: `network` "encoder" or "full", epochs `first_epoch` to
    `last_epoch` of a poly schedule over `poly_epochs`, starting from `init`:
    "scratch" (PyTorch's default init under the stage's seed), "previous" (the previous stage's model
    itself), "previous_encoder" (a new Net around the previous model's encoder, BN statistics included,
    with a fresh decoder: erfnet_pytorch's step from encoder to full training) or a state_dict
    (keys with or without `module.`). Dropout2d rates per group default to the model's own."""
    network: str
    first_epoch: int
    last_epoch: int
    poly_epochs: int
    init: object
    enc64_dropout: float = 0.03
    enc128_dropout: float = 0.3
    decoder_dropout: float = 0.0

    def __post_init__(self):
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}, not {self.network!r}")
        if not 1 <= self.first_epoch <= self.last_epoch <= self.poly_epochs:
            raise ValueError(f"epochs need 1 <= first_epoch <= last_epoch <= poly_epochs, not "
                             f"{self.first_epoch}, {self.last_epoch}, {self.poly_epochs}")
        if not isinstance(self.init, Mapping) and self.init not in INITS:
            raise ValueError(f"init must be one of {INITS} or a state_dict, not {self.init!r}")
        for rate in (self.enc64_dropout, self.enc128_dropout, self.decoder_dropout):
            if not 0 <= rate <= 1:
                raise ValueError(f"dropout rates must lie in [0, 1], not {rate}")


@dataclass(frozen=True)
class ReferenceRun:
    """A whole reference training; the defaults are erfnet_pytorch's. `class_weights`: {network: K + 1 floats},
    one per label of the data (0..K-1 its classes, K its ignored pixels, weighing 0), for each network a stage
    trains; `num_classes`: the network's channels, K or K + 1 (a void channel); `layout`: which reader of READERS
    reads the data."""
    stages: tuple
    lr0: float = 5e-4
    weight_decay: float = 1e-4
    power: float = 0.9
    batch_size: int = 6
    height: int = 512
    workers: int = 4
    seed: int = 0
    num_classes: int = NUM_CLASSES
    class_weights: Mapping = field(default_factory=lambda: dict(CLASS_WEIGHTS))
    layout: str = "cityscapes"

    def __post_init__(self):
        if not self.stages:
            raise ValueError("a run needs at least one stage")
        if self.stages[0].init in ("previous", "previous_encoder"):
            raise ValueError(f"the first stage has no previous stage to start from (init {self.stages[0].init!r})")
        if self.layout not in READERS:
            raise ValueError(f"layout must be one of {sorted(READERS)}, not {self.layout!r}")
        missing = sorted({stage.network for stage in self.stages} - set(self.class_weights))
        if missing:
            raise ValueError(f"class_weights holds none for the {missing[0]} network a stage trains")
        lengths = {len(weights) for weights in self.class_weights.values()}
        if len(lengths) != 1 or any(weights[-1] != 0 for weights in self.class_weights.values()):
            raise ValueError("class_weights: K + 1 floats per network, the last (ignored pixels) 0")
        if self.num_classes not in (self.void_id, self.void_id + 1):
            raise ValueError(f"num_classes {self.num_classes}: the class weights are for {self.void_id} classes (a "
                             f"network of {self.void_id}, or {self.void_id + 1} with a void channel)")

    @property
    def void_id(self):
        """The label of ignored pixels: the data's class count K."""
        return len(next(iter(self.class_weights.values()))) - 1


@dataclass(frozen=True)
class EpochRecord:
    """One epoch: mean of the batch losses, the lr used, images per second and seconds (data loading
    included)."""
    loss: float
    lr: float
    images_per_s: float
    seconds: float


def poly_lr(lr0, epoch, poly_epochs, power):
    """The lr of 1-based `epoch`: what erfnet_pytorch's LambdaLR gives after `scheduler.step(epoch)`."""
    return lr0 * (1 - (epoch - 1) / poly_epochs) ** power


def set_lr(optimizer, lr):
    """Sets every group's lr, as `LambdaLR.step(epoch)` does (lr = base lr * lambda(epoch)); written out
    because torch deprecates passing the epoch to step() and warns on every call."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def set_dropout(model, stage):
    """Sets the Dropout2d rate of every residual block: 64-channel encoder blocks `enc64_dropout`,
    128-channel ones `enc128_dropout`, decoder blocks `decoder_dropout`."""
    for layer in model.encoder.layers:
        if isinstance(layer, non_bottleneck_1d):
            wide = layer.conv3x1_1.in_channels == 128
            layer.dropout.p = stage.enc128_dropout if wide else stage.enc64_dropout
    for layer in model.decoder.layers:
        if isinstance(layer, non_bottleneck_1d):
            layer.dropout.p = stage.decoder_dropout


def stage_model(stage, previous, num_classes=NUM_CLASSES):
    """The Net of `num_classes` a stage trains, built from its `init` and the previous stage's model (None for the
    first)."""
    if stage.init == "previous":
        return previous
    if stage.init == "previous_encoder":
        return Net(num_classes, encoder=previous.encoder)
    model = Net(num_classes)
    if isinstance(stage.init, Mapping):
        model.load_state_dict(without_prefix(stage.init), strict=True)
    return model


def stage_seed(run, number):
    """The seed of the run's 1-based stage `number`: its init, shuffling, augmentation and dropout draws."""
    return run.seed + number - 1


def seed_everything(seed):
    """Seeds python's `random`, numpy and torch: the augmentation, shuffling, init and dropout draws."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def reference_optimizer(model, run):
    """erfnet_pytorch's optimizer: torch's Adam, betas (0.9, 0.999), eps 1e-8, weight decay added to the
    gradient (L2, not AdamW's decoupled decay)."""
    return torch.optim.Adam(model.parameters(), run.lr0, (0.9, 0.999), eps=1e-08, weight_decay=run.weight_decay)


def split_pairs(data_root, split, layout):
    """(image path, label path) of every image of `split`, read by the `layout`'s reader (READERS)."""
    if layout not in READERS:
        raise ValueError(f"layout must be one of {sorted(READERS)}, not {layout!r}")
    return READERS[layout](data_root, split)


def training_loader(run, network, data_root, seed):
    """The train split, augmented, shuffled by a generator seeded with `seed`, the last short batch kept."""
    transform = JointTransform(network == "encoder", augment=True, height=run.height, void_id=run.void_id)
    return DataLoader(PairDataset(split_pairs(data_root, "train", run.layout), transform), batch_size=run.batch_size,
                      shuffle=True, num_workers=run.workers, generator=torch.Generator().manual_seed(seed))


def train_epoch(model, loader, criterion, optimizer, only_encode):
    """One pass over `loader` in train mode; returns (mean batch loss, images seen)."""
    model.train()
    losses = []
    images_seen = 0
    for images, labels in loader:
        outputs = model(images, only_encode=only_encode)
        optimizer.zero_grad()
        loss = criterion(outputs, labels[:, 0])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        images_seen += images.shape[0]
    return sum(losses) / len(losses), images_seen


def train_stage(run, stage, number, model, data_root, out_dir, on_epoch):
    """Trains `model` through the stage's epochs; checkpoints and reports after each one."""
    only_encode = stage.network == "encoder"
    set_dropout(model, stage)
    criterion = reference_loss(run.class_weights[stage.network], run.num_classes)
    optimizer = reference_optimizer(model, run)
    loader = training_loader(run, stage.network, data_root, stage_seed(run, number))
    for epoch in range(stage.first_epoch, stage.last_epoch + 1):
        lr = poly_lr(run.lr0, epoch, stage.poly_epochs, run.power)
        set_lr(optimizer, lr)
        start = time.perf_counter()
        loss, images_seen = train_epoch(model, loader, criterion, optimizer, only_encode)
        seconds = time.perf_counter() - start
        model.eval()
        record = EpochRecord(loss=loss, lr=lr, images_per_s=images_seen / seconds, seconds=seconds)
        save_checkpoint(model, Path(out_dir) / f"stage{number}" / f"epoch_{epoch:03d}.pth")
        logger.info("stage %d (%s) epoch %d: loss %.4f, lr %.4g, %.2f images/s, %.1f s", number, stage.network,
                    epoch, record.loss, record.lr, record.images_per_s, record.seconds)
        if on_epoch is not None:
            on_epoch(number, epoch, model, record)


def train_reference(run, data_root, out_dir, on_epoch=None):
    """Trains `run` on `<data_root>`'s train split stage by stage, writing
    `<out_dir>/stage<N>/epoch_<EEE>.pth` after every epoch and calling `on_epoch(stage_number, epoch,
    model, record)` with the model in eval mode. Returns {stage number: a copy of its final state_dict}
    (plain keys, loadable into torch_ref.Net)."""
    finals = {}
    model = None
    for number, stage in enumerate(run.stages, start=1):
        seed_everything(stage_seed(run, number))
        model = stage_model(stage, model, run.num_classes)
        train_stage(run, stage, number, model, data_root, out_dir, on_epoch)
        finals[number] = {key: value.detach().clone() for key, value in model.state_dict().items()}
    return finals


def evaluation_batches(data_root, split="val", height=512, network="full", batch_size=1, workers=0,
                       layout="cityscapes", void_id=VOID_TRAIN_ID):
    """A DataLoader over `split` of the `layout` as erfnet_pytorch validates: resize only, not shuffled, batches
    of images (B, 3, H, W) in [0, 1] and labels (B, 1, H, W) long with void as `void_id` (Cityscapes' 19; the
    class count K of a folders dataset), at 1/8 of `height` for the "encoder" network."""
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {NETWORKS}, not {network!r}")
    transform = JointTransform(network == "encoder", augment=False, height=height, void_id=void_id)
    return DataLoader(PairDataset(split_pairs(data_root, split, layout), transform), batch_size=batch_size,
                      shuffle=False, num_workers=workers)
