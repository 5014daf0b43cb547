"""The prepared cache: a split resized to height H once, stored in MindSpore's MindRecord format, so an
epoch of a recipe whose first step is that resize (`pytorch`, `val`) does not decode full-size PNGs.

Rows hold the stem (rows pair with samples by stem, like everything else here) and the resized image and
label as raw uint8 bytes (image [H, W, 3], label [H, W] in the label space of data/layout.py). Raw bytes cost
disk (about 2 MB per sample at H=512) and save a PNG decode per sample and epoch. Beside the MindRecord file,
`stems.json` lists the cached stems and those left out as bad, so a cache that no longer matches its split is
detected.
"""
import json
import math
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from facts.errors import BadSample, UserError
from facts.progress import progress
from data.cityscapes import report_bad
from data.layout import find_samples, read_sample
from data.recipes import ValRecipe, output_size

FILE_NAME = "data.mindrecord"
STEMS_NAME = "stems.json"
SCHEMA = {"stem": {"type": "string"}, "height": {"type": "int32"}, "width": {"type": "int32"},
          "image": {"type": "bytes"}, "label": {"type": "bytes"}}
COLUMNS = ["stem", "height", "width", "image", "label"]


def cache_dir(root, split, height):
    """Where `erfnet prepare` puts a split's cache by default: ROOT/mindrecord/<split>_h<H>/."""
    return Path(root) / "mindrecord" / f"{split}_h{height}"


def open_cache(folder, samples, height):
    """The MindRecord file of a cache folder, after checking it was prepared at `height` from exactly these
    samples (give or take the ones `prepare --skip-bad` left out); UserError otherwise."""
    folder = Path(folder)
    file, stems_file = folder / FILE_NAME, folder / STEMS_NAME
    if not (file.is_file() and Path(f"{file}.db").is_file() and stems_file.is_file()):
        raise UserError(f"{folder}: no prepared cache here (run `erfnet prepare`)")
    listing = json.loads(stems_file.read_text())
    if listing["height"] != height:
        raise UserError(f"{folder}: prepared at height {listing['height']}, not {height}")
    current, known = {sample.stem for sample in samples}, set(listing["stems"]) | set(listing["skipped"])
    for missing, where in ((current - known, "the split but not the cache"), (set(listing["stems"]) - current,
                                                                             "the cache but not the split")):
        if missing:
            raise UserError(f"{folder}: {len(missing)} samples are in {where} (e.g. {min(missing)}); "
                            f"run `erfnet prepare` again")
    return file


def _resized_row(job):
    sample, height = job
    try:
        image, label = ValRecipe(height).resize(*read_sample(sample))
    except BadSample as error:
        return sample.stem, str(error)
    return sample.stem, {"stem": sample.stem, "height": label.shape[0], "width": label.shape[1],
                         "image": image.tobytes(), "label": label.tobytes()}


def prepare(root, split, height, out=None, workers=2, skip_bad=False, quiet=False):
    """Resize every sample of `split` to `height` and write the cache folder atomically; returns its path.

    Every file is decoded here, so this also finds truncated files and labels outside the table:
    UserError naming the file, or with `skip_bad` a logged line and the sample left out. `quiet`: no progress bar.
    """
    from mindspore.mindrecord import FileWriter
    samples = find_samples(root, split, skip_bad=skip_bad, verify=False)
    target = Path(out) if out else cache_dir(root, split, height)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        writer = FileWriter(str(building / FILE_NAME), shard_num=1, overwrite=True)
        writer.set_page_size(_page_size(samples[0], height))
        writer.add_schema(SCHEMA, "erfnet resized Cityscapes split")
        stems, skipped = [], []
        with ProcessPoolExecutor(max_workers=workers) as pool, \
                progress(len(samples), f"prepare {split}", disable=quiet) as bar:
            jobs = ((sample, height) for sample in samples)
            for stem, row in pool.map(_resized_row, jobs, chunksize=4):
                if isinstance(row, str):
                    report_bad(row, skip_bad)
                    skipped.append(stem)
                else:
                    writer.write_raw_data([row])
                    stems.append(stem)
                bar.update()
        if not stems:
            raise UserError(f"{root}: split {split!r} has no usable samples")
        writer.commit()
        listing = {"split": split, "height": height, "stems": stems, "skipped": skipped}
        (building / STEMS_NAME).write_text(json.dumps(listing, indent=1))
        _replace_folder(building, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _page_size(sample, height):
    """A MindRecord page holding about 8 rows, in MindRecord's allowed 32 KB..256 MB (default pages are 32 MB,
    which wastes space for small images)."""
    from PIL import Image
    with Image.open(sample.image_path) as image:
        width = output_size(*image.size, height)[0]
    row_bytes = 4 * width * height
    return int(min(2 ** 28, max(2 ** 15, 2 ** math.ceil(math.log2(8 * row_bytes)))))


def _replace_folder(new, target):
    """Move folder `new` to `target`, replacing an older `target` only once `new` is complete."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old.{os.getpid()}")
        os.replace(target, old)
    os.replace(new, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)
