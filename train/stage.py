"""One training stage: build the network, start it from its initial weights or resume it, train its epochs
of the poly curve, validate, and write checkpoints and metrics (writer rank only)."""
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import mindspore as ms
import numpy as np

from erfnet.errors import UserError
from ms_erfnet import ERFNet
from train.checkpoints import (epoch_checkpoints, epoch_path, load_training_checkpoint, prune_epoch_checkpoints,
                               save_training_checkpoint)
from train.data.cityscapes import find_samples
from train.data.pipeline import make_dataset, steps_per_epoch
from train.dropout import install_seeded_dropout, network_state
from train.optim import make_adam, set_learning_rate, trained_parameters
from train.progress import EpochProgress
from train.schedule import poly_learning_rate
from train.step import TrainStep
from train.validate import validate


@dataclass
class StageResult:
    stage: int
    final_arrays: dict
    best_miou: float
    last_miou: float
    digest: str


def weights_digest(net):
    """sha256 of the trained parameters' bytes: equal on every data-parallel rank when they stay in step."""
    digest = hashlib.sha256()
    for parameter in net.trainable_params():
        digest.update(parameter.name.encode())
        digest.update(np.ascontiguousarray(parameter.asnumpy()).tobytes())
    return digest.hexdigest()


def build_network(config, stage, devices):
    ms.set_seed(config.seed)
    net = ERFNet(config.num_classes, dropout=stage.dropout, dropout_mode=config.dropout_mode,
                 upsample_align=config.upsample_align)
    randomness = install_seeded_dropout(net, seed=[config.seed, stage.number, devices.rank])
    return net, randomness


def load_arrays(net, arrays):
    parameters = {name: ms.Parameter(ms.Tensor(np.asarray(value, np.float32)), name=name)
                  for name, value in arrays.items()}
    _, unused = ms.load_param_into_net(net, parameters, strict_load=True)
    if unused:
        raise UserError(f"initial weights hold parameters this network lacks: {', '.join(unused[:3])}")


def epoch_seed(config, stage, epoch):
    return int(np.random.SeedSequence([config.seed, stage.number, epoch]).generate_state(1)[0] % 2 ** 31)


class StageRunner:
    def __init__(self, config, stage, data_root, run_dir, devices, quiet=False):
        self.config, self.stage, self.data_root, self.devices = config, stage, Path(data_root), devices
        self.dir = Path(run_dir) / stage.name
        self.quiet = quiet or not devices.is_writer
        self.samples = len(find_samples(data_root, "train"))
        self.steps = steps_per_epoch(self.samples, config.batch_size, devices.size, drop_remainder=True)
        if self.steps == 0:
            raise UserError(f"{data_root}: {self.samples} training images give no full batch of "
                            f"{config.batch_size} per device on {devices.size} device(s)")

    def dataset(self, epoch):
        config, stage = self.config, self.stage
        return make_dataset(self.data_root, "train", recipe=stage.recipe, height=config.height,
                            batch_size=config.batch_size, shuffle=True, seed=epoch_seed(config, stage, epoch),
                            num_shards=self.devices.size, shard_id=self.devices.rank, num_workers=config.workers,
                            drop_remainder=True, encoder_labels=stage.network == "encoder",
                            crop_ratio=stage.crop_ratio, python_multiprocessing=config.workers > 1)

    def log(self, message):
        if not self.quiet:
            print(message, flush=True)

    def run(self, initial_arrays, resume):
        config, stage = self.config, self.stage
        net, randomness = build_network(config, stage, self.devices)
        if config.amp_level != "O0":
            net = ms.amp.auto_mixed_precision(net, config.amp_level)
        optimizer = make_adam(trained_parameters(net, stage.network), config.lr0, config.weight_decay)
        start, best = stage.first_epoch, float("-inf")
        checkpoints = epoch_checkpoints(self.dir) if resume else {}
        if checkpoints:
            epoch, path = list(checkpoints.items())[-1]
            metadata = load_training_checkpoint(path, net, optimizer)
            randomness.restore(metadata["dropout_rng"])
            start = int(metadata["epoch"]) + 1
            self.log(f"{stage.name}: resuming after epoch {epoch} from {path}")
        elif initial_arrays is not None:
            load_arrays(net, initial_arrays)
        if self.devices.is_writer:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.trim_metrics(start - 1)
            best = self.best_so_far()
        step = TrainStep(net, optimizer, stage.network, self.devices.data_parallel, config.loss_scale, randomness)
        last_miou = float("nan")
        for epoch in range(start, stage.last_epoch + 1):
            net.set_train(True)
            lr = poly_learning_rate(config.lr0, epoch, config.poly_epochs, config.poly_power)
            set_learning_rate(optimizer, lr)
            loss, seconds, images = self.train_epoch(epoch, step)
            record = {"stage": stage.number, "epoch": epoch, "loss": loss, "lr": lr, "val_miou": None,
                      "val_loss": None, "images_per_s": images / seconds, "seconds": seconds}
            if self.devices.is_writer and (epoch % config.validate_every == 0 or epoch == stage.last_epoch):
                record["val_miou"], record["val_loss"] = validate(net, stage.network, self.data_root,
                                                                  config.val_height, config.val_batch_size,
                                                                  config.workers)
                last_miou = record["val_miou"]
            if self.devices.is_writer:
                self.record(record)
                if record["val_miou"] is not None and record["val_miou"] > best:
                    best = record["val_miou"]
                    save_training_checkpoint(self.dir / "best.ckpt", net, optimizer,
                                             self.metadata(epoch, randomness, record["val_miou"]))
                save_training_checkpoint(epoch_path(self.dir, epoch), net, optimizer,
                                         self.metadata(epoch, randomness, record["val_miou"]))
                prune_epoch_checkpoints(self.dir, config.keep_last)
            if record["val_miou"] is not None:
                self.log(f"{stage.name} epoch {epoch}: val mIoU {record['val_miou']:.4f}")
        if self.devices.is_writer:
            save_training_checkpoint(self.dir / "final.ckpt", net, optimizer,
                                     self.metadata(stage.last_epoch, randomness, last_miou))
        digest = weights_digest(net)
        print(f"{stage.name} rank {self.devices.rank} weights digest {digest}", flush=True)
        arrays = {p.name: p.asnumpy() for p in network_state(net)}
        return StageResult(stage.number, arrays, best, last_miou, digest)

    def train_epoch(self, epoch, step):
        progress = EpochProgress(f"{self.stage.name} epoch {epoch}/{self.stage.last_epoch}", self.steps)
        start, losses, images = time.perf_counter(), [], 0
        for batch in self.dataset(epoch).create_dict_iterator(num_epochs=1, output_numpy=True):
            losses.append(step(ms.Tensor(batch["image"]), ms.Tensor(batch["label"])))
            images += len(batch["image"]) * self.devices.size
            if not self.quiet:
                progress.update(len(losses), float(np.mean(losses)), images)
        seconds = time.perf_counter() - start
        if not self.quiet:
            progress.finish(f"loss {np.mean(losses):.4f}, {images / seconds:.1f} images/s, {seconds:.1f} s")
        return float(np.mean(losses)), seconds, images

    def metadata(self, epoch, randomness, val_miou):
        return {"stage": self.stage.number, "epoch": epoch, "dropout_rng": randomness.state(), "val_miou": val_miou,
                "upsample_align": self.config.upsample_align}

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
