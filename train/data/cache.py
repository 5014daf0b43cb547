"""The prepared cache: a split resized to height H once, stored in MindSpore's MindRecord format, so an
epoch of a recipe whose first step is that resize (`pytorch`, `val`) does not decode full-size PNGs.

Rows hold the sample index (position in `find_samples` order), the stem, and the resized image and label as
raw uint8 bytes (image [H, W, 3], label [H, W] trainIds 0..19). Raw bytes cost disk (about 2 MB per sample
at H=512) and save a PNG decode per sample and epoch.
"""
import math
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from erfnet.errors import UserError
from train.data.cityscapes import BadSample, find_samples, read_sample
from train.data.recipes import ValRecipe, output_size

FILE_NAME = "data.mindrecord"
SCHEMA = {"index": {"type": "int32"}, "stem": {"type": "string"}, "height": {"type": "int32"},
          "width": {"type": "int32"}, "image": {"type": "bytes"}, "label": {"type": "bytes"}}
COLUMNS = ["index", "height", "width", "image", "label"]


def cache_dir(root, split, height):
    """Where `erfnet prepare` puts a split's cache by default: ROOT/mindrecord/<split>_h<H>/."""
    return Path(root) / "mindrecord" / f"{split}_h{height}"


def cache_file(path):
    """The MindRecord file inside a cache folder; UserError if it is missing."""
    path = Path(path)
    file = path / FILE_NAME if path.is_dir() else path
    if not file.is_file() or not Path(f"{file}.db").is_file():
        raise UserError(f"{path}: no prepared cache here (run `erfnet prepare`)")
    return file


def _resized_row(job):
    index, sample, height = job
    try:
        image, label = ValRecipe(height).resize(*read_sample(sample))
    except BadSample as error:
        return index, str(error)
    return index, {"index": index, "stem": sample.stem, "height": label.shape[0], "width": label.shape[1],
                   "image": image.tobytes(), "label": label.tobytes()}


def prepare(root, split, height, out=None, workers=2, skip_bad=False, progress=None):
    """Resize every sample of `split` to `height` and write the cache folder atomically; returns its path.

    Every file is decoded here, so this also finds truncated files and labels outside the table:
    UserError naming the file, or with `skip_bad` a line on stderr and the sample left out.
    """
    from mindspore.mindrecord import FileWriter
    samples = find_samples(root, split, skip_bad=skip_bad)
    target = Path(out) if out else cache_dir(root, split, height)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        writer = FileWriter(str(building / FILE_NAME), shard_num=1, overwrite=True)
        writer.set_page_size(_page_size(samples[0], height))
        writer.add_schema(SCHEMA, "erfnet resized Cityscapes split")
        start, written = time.perf_counter(), 0
        with ProcessPoolExecutor(max_workers=workers) as pool:
            jobs = ((index, sample, height) for index, sample in enumerate(samples))
            for done, (index, row) in enumerate(pool.map(_resized_row, jobs, chunksize=4), 1):
                if isinstance(row, str):
                    if not skip_bad:
                        raise UserError(row + " (use --skip-bad to skip such files)")
                    print(f"skipping: {row}", file=sys.stderr)
                else:
                    writer.write_raw_data([row])
                    written += 1
                if progress:
                    progress(done, len(samples), time.perf_counter() - start)
        if not written:
            raise UserError(f"{root}: split {split!r} has no usable samples")
        writer.commit()
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
