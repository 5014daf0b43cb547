"""Running a network over image files and writing its predictions as pictures at each image's own size.

Outputs go to `<out>/<kind>/<sub-folders>/<name>.png`, keeping the input's file name (as PNG) and the
sub-folders below the input folder:
- color: the class palette (eval.colours: Cityscapes' for 19 or 20 classes, a classes.yaml's, or generated);
  overlay: the palette blended with the photo;
- trainids: the raw class map (0..N-1 for a network of N classes; on Cityscapes 19 = void);
- labelids: Cityscapes label ids for the official evaluator and the test server (void -> 0, "unlabeled"), for
  networks of 19 or 20 classes only.
Predictions are made as `erfnet eval --protocol full` makes them (eval.predict), so the labelids pictures
score the same under cityscapesscripts' evaluator. Any image size works (eval.predict pads to ERFNet's multiple
of 8 and crops back). An image that cannot be read or predicted is reported and skipped; the rest are written.
On the workers of a data-parallel job each predicts its shard of the images (ms_erfnet.devices.shard), so every
output is written once.
"""
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from data.cityscapes import read_image
from eval.colours import class_palette, colorize, overlay
from eval.predict import image_tensor, logits, native_class_map
from facts.atomic import atomic_output, check_folder_writable
from facts.errors import BadSample, UserError
from facts.labels import NUM_CLASSES, VOID, train_ids_to_label_ids
from facts.progress import progress
from facts.spec import check_size
from ms_erfnet.collective import sum_int64
from ms_erfnet.devices import Devices

log = logging.getLogger(__name__)

KINDS = ("color", "overlay", "trainids", "labelids")
CITYSCAPES_ONLY = "labelids"
IMAGE_ENDINGS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass
class InferSummary:
    written: int = 0
    failed: list = field(default_factory=list)


def check_kinds(kinds):
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise UserError(f"unknown output kind(s) {', '.join(unknown) or '(none given)'}; choose from "
                        f"{', '.join(KINDS)}")


def find_images(source, exclude=None):
    """[(path, relative output stem)] for an image file or every image below a folder (name order), leaving
    out anything inside `exclude` (the output folder, when it lies within the input)."""
    source = Path(source)
    if source.is_file():
        return [(source, Path(source.stem))]
    if not source.is_dir():
        raise UserError(f"{source}: no such file or folder")
    exclude = Path(exclude).resolve() if exclude else None
    found = []
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in IMAGE_ENDINGS:
            continue
        if exclude and exclude in path.resolve().parents:
            continue
        found.append((path, path.relative_to(source).with_suffix("")))
    if not found:
        raise UserError(f"{source}: no images ({', '.join(IMAGE_ENDINGS)}) in this folder or below")
    return found


def kinds_for(num_classes, kinds=None):
    """The pictures to write for a network of `num_classes`: `kinds`, or every kind that suits it when None.
    Cityscapes label ids need a Cityscapes network (19 or 20 classes): asked for another, UserError."""
    if kinds is None:
        return tuple(kind for kind in KINDS if kind != CITYSCAPES_ONLY or num_classes in (VOID, NUM_CLASSES))
    if CITYSCAPES_ONLY in kinds and num_classes not in (VOID, NUM_CLASSES):
        raise UserError(f"{CITYSCAPES_ONLY} are Cityscapes label ids, for networks of {VOID} or {NUM_CLASSES} "
                        f"classes; this one has {num_classes}: leave {CITYSCAPES_ONLY} out of the outputs")
    return kinds


def _pictures(photo, train_ids, kinds, table):
    makers = {"color": lambda: colorize(train_ids, table), "overlay": lambda: overlay(photo, train_ids, table=table),
              "trainids": lambda: train_ids, "labelids": lambda: train_ids_to_label_ids(train_ids)}
    return {kind: makers[kind]() for kind in kinds}


def _save(array, path):
    with atomic_output(path) as temporary:
        Image.fromarray(array).save(temporary, format="PNG")


def _one_line(error):
    """A decoder's multi-line message reduced to its first line and its `[ERROR]` line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = next((line for line in lines if line.startswith("[ERROR]")), "")
    return f"{lines[0]} {detail}".strip() if lines else repr(error)


def _batches(images, batch_size, summary):
    """Yield lists of (photo, relative stem, path) of one size, at most batch_size long, reading lazily."""
    batch = []
    for path, relative in images:
        try:
            photo = read_image(path)
        except BadSample as error:
            summary.failed.append(path)
            log.warning(f"skipped {path}: {_one_line(error)}")
            continue
        if batch and (len(batch) == batch_size or batch[0][0].shape != photo.shape):
            yield batch
            batch = []
        batch.append((photo, relative, path))
    if batch:
        yield batch


def _predict(net, batch, height, summary):
    """trainIds [B, h, w] of a batch at its images' own size, or None when the network fails on it (MindSpore
    raises RuntimeError or ValueError, e.g. out of memory for a huge picture): its images are named and
    skipped, so one picture never stops a folder."""
    try:
        tensors = np.stack([image_tensor(photo, height) for photo, _, _ in batch])
        return native_class_map(logits(net, tensors), batch[0][0].shape[:2])
    except (RuntimeError, ValueError, MemoryError) as error:
        for _, _, path in batch:
            summary.failed.append(path)
            log.warning(f"skipped {path}: cannot predict it ({_one_line(error)})")
        return None


def infer_images(net, images, out_dir, height=512, kinds=None, batch_size=1, quiet=False, devices=Devices(),
                 colours=None):
    """Predict every (path, relative stem) of `images` with `net` and write the `kinds` pictures under
    `out_dir` (None: every kind that suits the network's class count, kinds_for); `colours`: one RGB triple per
    class (a classes.yaml's), else eval.colours' palette for the class count. Returns an InferSummary; each image
    that cannot be read or predicted is logged and skipped. An `out_dir` that cannot be written is a UserError
    before any work. A progress bar unless `quiet`. With the
    `devices` of a data-parallel job each worker predicts its shard of `images` (the same list on every worker)
    and every worker returns the summary of all."""
    kinds = kinds_for(net.num_classes, kinds)
    check_kinds(kinds)
    check_size("height", height)
    check_folder_writable(out_dir)
    table = class_palette(net.num_classes, colours)
    summary = InferSummary()
    mine = devices.shard(images)
    with progress(len(mine), "infer", disable=quiet) as bar:
        for batch in _batches(mine, batch_size, summary):
            predictions = _predict(net, batch, height, summary)
            for (photo, relative, _), train_ids in zip(batch, () if predictions is None else predictions):
                for kind, picture in _pictures(photo, train_ids, kinds, table).items():
                    _save(picture, Path(out_dir) / kind / relative.parent / f"{relative.name}.png")
                summary.written += 1
            bar.update(summary.written + len(summary.failed) - bar.n)
    if not devices.data_parallel:
        return summary
    log.info(f"rank {devices.rank}: wrote {summary.written} of its {len(mine)} images")
    return _all_workers(summary, images)


def _all_workers(summary, images):
    """The summary of every worker's shard: written images summed, unreadable ones found by position."""
    position = {path: index for index, (path, _) in enumerate(images)}
    unreadable = np.zeros(len(images), np.int64)
    unreadable[[position[path] for path in summary.failed]] = 1
    totals = sum_int64(np.append(unreadable, summary.written))
    return InferSummary(int(totals[-1]), [images[index][0] for index in np.flatnonzero(totals[:-1])])
