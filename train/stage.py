"""One training stage: build the network, start it from its initial weights or resume it, train its epochs
of the poly curve, validate (every rank its shard of the val split), and write checkpoints and metrics (writer
rank only)."""
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import mindspore as ms
import numpy as np

from convert.ms_io import ALIGN_KEY, NETWORK_KEY
from convert.names import PARTS, part_of
from convert.network import build_network
from convert.weights import Weights
from data.layout import find_samples
from data.pipeline import dataset_rows, make_dataset, steps_per_epoch
from data.workers import pipeline_cores, uses_processes
from facts.digest import arrays_digest
from facts.errors import UserError
from facts.progress import progress
from ms_erfnet.collective import broadcast_parameters
from ms_erfnet.seeded_dropout import network_state
from train.checkpoints import (epoch_checkpoints, epoch_path, load_training_checkpoint, prune_epoch_checkpoints,
                               save_training_checkpoint)
from train.optim import make_adam, set_learning_rate, trained_parameters
from train.schedule import poly_learning_rate
from train.step import TrainStep
from train.validate import scored_network, validate, validates_after

log = logging.getLogger(__name__)


@dataclass
class StageResult:
    """final_weights: convert.weights.Weights of the network at the stage's end."""
    stage: int
    final_weights: Weights
    best_miou: float
    last_miou: float
    digest: str


def weights_digest(net):
    """sha256 of the trained parameters: equal on every data-parallel rank when they stay in step."""
    return arrays_digest({parameter.name: parameter.asnumpy() for parameter in net.trainable_params()})


def state_digest(net):
    """sha256 of what checkpoints keep of `net` (ms_erfnet.seeded_dropout.network_state), BatchNorm statistics
    included."""
    return arrays_digest({parameter.name: parameter.asnumpy() for parameter in network_state(net)})


def stage_network(config, stage, devices, start=None):
    """The stage's network, holding `start` (convert.weights.Weights; None: all fresh), built with the layers
    training runs (seeded dropout, ms_erfnet/seeded_dropout.py); returns (net, dropout randomness, names of the
    parameters left fresh)."""
    ms.set_seed(config.seed)
    net, fresh = build_network(config.model.num_classes, start, upsample_align=config.model.upsample_align,
                               dropout=stage.dropout, dropout_mode=config.model.dropout_mode,
                               dropout_seed=dropout_seed(config, stage, devices), fresh_parts=PARTS,
                               source=f"the weights {stage.name} starts from")
    return net, net.dropout_randomness, fresh


def dropout_seed(config, stage, devices):
    """The seed of a stage's dropout masks on one rank."""
    return [config.seed, stage.number, devices.rank]


def describe_fresh(stage, fresh):
    """"stage3: the decoder starts from fresh weights (78 tensors)" for the parameters left at their
    initialisation."""
    parts = list(dict.fromkeys(part_of(name) for name in fresh))
    verb = "starts" if len(parts) == 1 else "start"
    return f"{stage.name}: the {' and the '.join(parts)} {verb} from fresh weights ({len(fresh)} tensors)"


class TimedRows:
    """Iterates `rows`, adding up in `waited` the seconds spent waiting for each next row."""

    def __init__(self, rows):
        self.rows, self.waited = iter(rows), 0.0

    def __iter__(self):
        return self

    def __next__(self):
        asked = time.perf_counter()
        try:
            return next(self.rows)
        finally:
            self.waited += time.perf_counter() - asked


def describe_epoch(stage, epoch, record):
    """"stage1 epoch 3: loss 0.8123, 12.4 images/s, 7% of the time waiting for data": a data-bound run shows in
    the last figure (the loader cannot keep up when it stays well above a few percent)."""
    return (f"{stage.name} epoch {epoch}: loss {record['loss']:.4f}, {record['images_per_s']:.1f} images/s, "
            f"{record['data_wait']:.0%} of the time waiting for data")


def epoch_seed(config, stage, epoch):
    return int(np.random.SeedSequence([config.seed, stage.number, epoch]).generate_state(1)[0] % 2 ** 31)


class StageRunner:
    def __init__(self, config, stage, data_root, run_dir, devices, quiet=False, skip_bad=False, loss_weights=None):
        """`loss_weights`: {network: class weights} (train.run.stage_loss_weights); None: erfnet_pytorch's."""
        self.config, self.stage, self.data_root, self.devices = config, stage, Path(data_root), devices
        self.loss_weights = loss_weights or {"encoder": "encoder", "full": "full"}
        self.dir = Path(run_dir) / stage.name
        self.quiet = quiet or not devices.is_writer
        self.skip_bad = skip_bad
        self.samples = find_samples(data_root, "train", skip_bad=skip_bad, verify=skip_bad,
                                    decode_labels=skip_bad)  # the run checked the files once (train.run.check_data)
        self.steps = steps_per_epoch(len(self.samples), config.batch_size, devices.size, drop_remainder=True)
        if self.steps == 0:
            raise UserError(f"{data_root}: {len(self.samples)} training images give no full batch of "
                            f"{config.batch_size} per device on {devices.size} device(s)")

    def dataset(self, epoch):
        config, stage = self.config, self.stage
        return make_dataset(self.data_root, "train", recipe=stage.augmentation.recipe, height=config.height,
                            batch_size=config.batch_size, shuffle=True, seed=epoch_seed(config, stage, epoch),
                            num_shards=self.devices.size, shard_id=self.devices.rank, num_workers=config.workers,
                            drop_remainder=True, encoder_labels=stage.network == "encoder",
                            crop_ratio=stage.augmentation.crop_ratio,
                            python_multiprocessing=uses_processes(config.worker_kind, config.workers,
                                                                  pipeline_cores(self.devices.size)),
                            samples=self.samples, pad_to_stride=True)

    def run(self, start, resume):
        """Train the stage from `start` (Weights or None), or with `resume` from its newest epoch checkpoint
        that reads back whole."""
        config, stage = self.config, self.stage
        net, randomness, fresh = stage_network(config, stage, self.devices, start)
        if config.amp.level != "O0":
            net = ms.amp.auto_mixed_precision(net, config.amp.level)
        optimizer = make_adam(trained_parameters(net, stage.network), config.lr0, config.weight_decay)
        resumed = self.restore_newest(net, optimizer, randomness) if resume else None
        if resumed is None and start is not None and fresh:
            log.info(describe_fresh(stage, fresh))
        first = stage.first_epoch if resumed is None else resumed + 1
        best = float("-inf")
        if self.devices.is_writer:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.trim_metrics(first - 1)
            best = self.best_so_far()
        step = TrainStep(net, optimizer, stage.network, self.devices.data_parallel, config.amp.loss_scale, randomness,
                         self.loss_weights[stage.network])
        last_miou = float("nan")
        scored = scored_network(net, stage.network)
        for epoch in range(first, stage.last_epoch + 1):
            net.set_train(True)
            lr = poly_learning_rate(config.lr0, epoch, config.poly.epochs, config.poly.power)
            set_learning_rate(optimizer, lr)
            loss, seconds, images, waited = self.train_epoch(epoch, step)
            record = {"stage": stage.number, "epoch": epoch, "loss": loss, "lr": lr, "val_miou": None,
                      "val_loss": None, "images_per_s": images / seconds, "seconds": seconds,
                      "data_wait": waited / seconds}
            if self.devices.is_writer:
                log.info(describe_epoch(stage, epoch, record))
            if validates_after(config, stage, epoch):
                record["val_miou"], record["val_loss"] = self.validate(net, scored, epoch)
                last_miou = record["val_miou"]
                if self.devices.is_writer:
                    log.info(f"{stage.name} epoch {epoch}: val mIoU {last_miou:.4f}")
            if self.devices.is_writer:
                self.record(record)
                if record["val_miou"] is not None and record["val_miou"] > best:
                    best = record["val_miou"]
                    save_training_checkpoint(self.dir / "best.ckpt", net, optimizer,
                                             self.metadata(epoch, randomness, record["val_miou"]))
                save_training_checkpoint(epoch_path(self.dir, epoch), net, optimizer,
                                         self.metadata(epoch, randomness, record["val_miou"]))
                prune_epoch_checkpoints(self.dir, config.checkpoints.keep_last)
        if self.devices.is_writer:
            save_training_checkpoint(self.dir / "final.ckpt", net, optimizer,
                                     self.metadata(stage.last_epoch, randomness, last_miou))
        digest = weights_digest(net)
        log.info(f"{stage.name} rank {self.devices.rank} weights digest {digest}")
        arrays = {p.name: p.asnumpy() for p in network_state(net)}
        final = Weights(arrays, config.model.num_classes, PARTS, [], config.model.upsample_align)
        return StageResult(stage.number, final, best, last_miou, digest)

    def validate(self, net, scored, epoch):
        """(val mIoU, val loss) of `scored` (scored_network of `net`) on every rank. In data-parallel training
        BatchNorm's running statistics stay per rank, so the ranks first take rank 0's network state, the one its
        checkpoints save: the val mIoU is that of `erfnet eval` on the checkpoint."""
        devices = self.devices
        if devices.data_parallel:
            own = state_digest(net)
            broadcast_parameters(network_state(net))
            log.debug(f"{self.stage.name} epoch {epoch} rank {devices.rank} validates with network state "
                      f"{state_digest(net)} (its own: {own})")
        config = self.config
        return validate(scored, self.data_root, config.validation.height,
                        config.validation.batch_size, config.workers, devices, quiet=self.quiet,
                        skip_bad=self.skip_bad, loss_weights=self.loss_weights["full"])

    def restore_newest(self, net, optimizer, randomness):
        """Load the newest epoch checkpoint that reads back whole (MindSpore's CRC32 verified) into the network,
        the optimizer and the dropout randomness; returns its epoch, or None when there is none. A damaged newer
        checkpoint is named and passed over."""
        checkpoints = epoch_checkpoints(self.dir)
        for path in reversed(checkpoints.values()):
            try:
                metadata = load_training_checkpoint(path, net, optimizer)
            except UserError as error:
                log.warning(f"{self.stage.name}: passing over {error}")
                continue
            randomness.restore(metadata["dropout_rng"])
            log.info(f"{self.stage.name}: resuming after epoch {metadata['epoch']} from {path}")
            return int(metadata["epoch"])
        if checkpoints:
            log.warning(f"{self.stage.name}: none of its epoch checkpoints could be read; the stage starts again")
        return None

    def train_epoch(self, epoch, step):
        """One epoch of steps: (mean loss, seconds, images over all devices, seconds spent waiting for batches)."""
        start, losses, images = time.perf_counter(), [], 0
        batches = TimedRows(dataset_rows(self.dataset(epoch)))
        with progress(self.steps, f"{self.stage.name} epoch {epoch}/{self.stage.last_epoch}", unit="step",
                      disable=self.quiet) as bar:
            for batch in batches:
                losses.append(step(ms.Tensor(batch["image"]), ms.Tensor(batch["label"])))
                images += len(batch["image"]) * self.devices.size
                bar.set_postfix(loss=f"{np.mean(losses):.4f}",
                                images_s=f"{images / (time.perf_counter() - start):.1f}", refresh=False)
                bar.update()
        seconds = time.perf_counter() - start
        return float(np.mean(losses)), seconds, images, batches.waited

    def metadata(self, epoch, randomness, val_miou):
        return {"stage": self.stage.number, NETWORK_KEY: self.stage.network, "epoch": epoch,
                "dropout_rng": randomness.state(), "val_miou": val_miou, ALIGN_KEY: self.config.model.upsample_align}

    def record(self, record):
        """Append the epoch's metrics line (before its checkpoint: a resume trims lines past its checkpoint)."""
        with open(self.dir / "metrics.jsonl", "a") as metrics:
            metrics.write(json.dumps(record) + "\n")

    def best_so_far(self):
        scores = [line["val_miou"] for line in self.metrics_lines() if line["val_miou"] is not None]
        return max(scores, default=float("-inf"))

    def metrics_lines(self):
        path = self.dir / "metrics.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []

    def trim_metrics(self, last_epoch):
        """Keep the metrics of epochs up to `last_epoch` (a resumed run rewrites the later ones)."""
        kept = [line for line in self.metrics_lines() if line["epoch"] <= last_epoch]
        (self.dir / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in kept))
