"""`make_dataset`: the one Cityscapes pipeline for training and evaluation, built on mindspore.dataset.

Stages: a sampler over sample indices (MindSpore's, with shuffling and `num_shards`/`shard_id` sharding,
seeded through `mindspore.dataset.config.set_seed(seed)`; or, with `exact_shards`, the shard's own indices in
order, from ms_erfnet.devices.shard) -> a single-worker map that draws each row's
random recipe parameters from a generator seeded by (seed, shard_id), in row order, so the same seed gives
the same batches however many workers run -> a parallel map that reads and augments -> MindSpore's C++
ToTensor (uint8 HWC to float32 CHW in [0, 1]) and TypeCast -> batch.

Either layout (data/layout.py): Cityscapes' or the plain folders of one's own data.

Rows: image float32 [B, 3, H, W] in [0, 1], label int32 [B, H, W] with 0..K-1 and K = void (Cityscapes: 0..18,
19 = void; data/layout.py) (at 1/8 size
with `encoder_labels`). With `with_meta` also index int32 [B] (position in `find_samples` order), stem and
relative_path strings [B] and native_label int32 [B, h, w] at the file's own resolution (same-size images
in a batch, as in Cityscapes; use batch_size 1 otherwise).

Images differ from torchvision's ToTensor by at most one float32 step (MindSpore multiplies by 1/255 where
torchvision divides by 255). A shuffled cache visits samples in another order than the PNGs for the same
seed (MindDataset and GeneratorDataset shuffle differently); unshuffled they give identical rows.
"""
import math
import os
import re

import numpy as np

from facts.errors import UserError
from data import cache as cache_module
from data.cityscapes import report_bad
from data.layout import find_samples, label_space, read_label, read_sample
from data.recipes import PytorchRecipe, ValRecipe, encoder_label, make_recipe, pad_pair_to_stride
from data.workers import end_children_with_this_process
from ms_erfnet.devices import shard

META_COLUMNS = ["index", "stem", "relative_path", "native_label"]
BAD_SAMPLE = re.compile(r"BadSample: (.+)")  # facts.errors.BadSample as MindSpore's map error quotes it


def steps_per_epoch(num_samples, batch_size, num_shards=1, drop_remainder=True):
    """Batches each shard yields per epoch: shards get ceil(N / num_shards) rows (MindSpore pads short
    shards by wrapping around), then batching drops or keeps the last partial batch."""
    rows = math.ceil(num_samples / num_shards)
    return rows // batch_size if drop_remainder else math.ceil(rows / batch_size)


class _DrawParams:
    """Map (key) -> (key, params): draws recipe parameters in row order from one seeded generator."""

    def __init__(self, recipe, seed, shard_id):
        self.recipe = recipe
        self.rng = np.random.default_rng([seed, shard_id])

    def __call__(self, key):
        return key, self.recipe.draw(self.rng).to_vector()


class _Augment:
    """Map (key, params[, cached columns]) -> (image uint8 HWC, label uint8 HW[, meta columns]).

    The key is the sample's index in `samples`, or its stem for cache rows."""

    def __init__(self, samples, recipe, encoder_height, with_meta, cached, pad, void):
        self.samples, self.recipe, self.void = samples, recipe, void
        self.positions = {sample.stem: index for index, sample in enumerate(samples)}
        self.encoder_height, self.with_meta, self.cached, self.pad = encoder_height, with_meta, cached, pad

    def __call__(self, key, params, *cached_columns):
        index = self.positions[str(key)] if self.cached else int(key)
        sample = self.samples[index]
        params = self.recipe.params_type.from_vector(params)
        if self.cached:
            height, width, image_bytes, label_bytes = cached_columns
            height, width = int(height), int(width)
            image = image_bytes.view(np.uint8).reshape(height, width, 3)
            label = label_bytes.view(np.uint8).reshape(height, width)
            image, label = self.recipe.augment(image, label, params)
        else:
            image, label = self.recipe.apply(*read_sample(sample), params)
        if self.pad:
            image, label = pad_pair_to_stride(image, label, self.void)
        if self.encoder_height:
            label = encoder_label(label, self.encoder_height)
        row = (np.ascontiguousarray(image), np.ascontiguousarray(label))
        if self.with_meta:
            row += (np.array(index, np.int32), np.array(sample.stem), np.array(sample.relative_path),
                    read_label(sample).astype(np.int32))
        return row


class _Indices:
    """Random-access source of sample indices for GeneratorDataset."""

    def __init__(self, count):
        self.count = count

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        return (np.array(index, np.int32),)


def _recipe(recipe, height, crop_ratio, options, void):
    if recipe == "zoo":
        options = dict(options, crop_ratio=1.2 if crop_ratio is None else crop_ratio)
    elif crop_ratio is not None:
        raise UserError(f"crop_ratio is a parameter of the zoo recipe, not of {recipe!r}")
    try:
        return make_recipe(recipe, height=height, void=void, **options)
    except (TypeError, ValueError) as error:
        raise UserError(f"recipe {recipe!r}: {error}") from None


def make_dataset(root, split, *, recipe, height=512, batch_size=1, shuffle=False, seed=0, num_shards=1,
                 shard_id=0, exact_shards=False, num_workers=2, drop_remainder=False, encoder_labels=False,
                 crop_ratio=None, cache=None, skip_bad=False, with_meta=False, python_multiprocessing=False,
                 samples=None, pad_to_stride=False, **recipe_options):
    """A batched mindspore.dataset over a Cityscapes split (see the module docstring for the rows).

    recipe: "pytorch", "zoo" or "val"; height: output height H (width follows the aspect ratio);
    crop_ratio (zoo): float r or (low, high); recipe_options: flip_p, max_shift (pytorch), crop_p, flip_p,
    max_blur (zoo). cache: a folder written by `erfnet prepare` at the same height (pytorch and val only),
    or True for its default place; its rows pair with samples by stem, and a cache that does not match the
    split (samples added or removed since `erfnet prepare`) is a UserError.
    num_shards, shard_id: this pipeline's shard. MindSpore's sharding gives every shard ceil(N / num_shards)
    rows, wrapping around (equal steps per rank in training); `exact_shards` puts every sample in exactly one
    shard, unshuffled (evaluation); an empty shard gives None (MindSpore 2.10 crashes on an empty sampler).
    num_workers: more than the host's CPUs run as many as it has (the same batches: see above).
    python_multiprocessing: worker processes instead of threads (data.workers.uses_processes chooses). Each
    process worker returns its rows through one shared-memory segment the size of a row (MindSpore allocates
    it to the row; 2.1 MB for a 1024x512 training row), so shared memory stays at workers x row size.
    skip_bad: without it only PNG headers are checked up front and a bad file stops the pipeline when it is
    read, with a message naming it; with it every file is checked first (reads all PNGs and decodes the
    labels once) and unusable samples are left out.
    samples: the split's samples as `find_samples` gives them, when the caller has them already (a training
    stage builds one dataset per epoch); found here when None.
    pad_to_stride (training): images and labels padded to multiples of 8 (data.recipes.pad_pair_to_stride), so
    any image size trains; evaluation pads inside eval.predict instead, where the scores are cropped back.
    """
    import mindspore.dataset as ds
    import mindspore.dataset.transforms as transforms
    import mindspore.dataset.vision as vision
    from mindspore import dtype as mstype

    void = label_space(root).void
    recipe_object = _recipe(recipe, height, crop_ratio, recipe_options, void)
    num_workers = min(num_workers, os.cpu_count())  # MindSpore refuses more workers than the host has CPUs
    if not 0 <= shard_id < num_shards:
        raise UserError(f"shard_id {shard_id} is not in 0..{num_shards - 1}")
    if exact_shards and shuffle:
        raise ValueError("exact shards are unshuffled")
    if cache is not None and not isinstance(recipe_object, (PytorchRecipe, ValRecipe)):
        raise UserError(f"the {recipe} recipe crops before resizing, so it cannot use a resized cache")
    if samples is None:
        check_files = skip_bad and cache is None
        samples = find_samples(root, split, skip_bad=skip_bad, verify=check_files, decode_labels=check_files)
    ds.config.set_seed(seed)
    if python_multiprocessing:
        end_children_with_this_process()
    if cache is not None:
        folder = cache_module.cache_dir(root, split, height) if cache is True else cache
        file = cache_module.open_cache(folder, samples, height)
        rows = ds.MindDataset(str(file), columns_list=[cache_module.COLUMNS[0]]).get_dataset_size()
    else:
        rows = len(samples)
    if exact_shards:
        indices = list(shard(range(rows), num_shards, shard_id))
        if not indices:
            return None
        sharding = {"sampler": ds.SubsetSampler(indices)}
    else:
        sharding = {"shuffle": shuffle, "num_shards": num_shards, "shard_id": shard_id}
    if cache is not None:
        data = ds.MindDataset(str(file), columns_list=cache_module.COLUMNS, **sharding)
        key, extra = cache_module.COLUMNS[0], cache_module.COLUMNS[1:]
    else:
        data = ds.GeneratorDataset(_Indices(rows), ["index"], **sharding)
        key, extra = "index", []
    data = data.map(_DrawParams(recipe_object, seed, shard_id), input_columns=[key],
                    output_columns=[key, "params"], num_parallel_workers=1, python_multiprocessing=False)
    out_columns = ["image", "label"] + (META_COLUMNS if with_meta else [])
    data = data.map(_Augment(samples, recipe_object, height if encoder_labels else None, with_meta,
                             cached=cache is not None, pad=pad_to_stride, void=void),
                    input_columns=[key, "params"] + extra, output_columns=out_columns,
                    num_parallel_workers=num_workers, python_multiprocessing=python_multiprocessing)
    data = data.project(out_columns)
    data = data.map(vision.ToTensor(), input_columns=["image"], num_parallel_workers=num_workers)
    data = data.map(transforms.TypeCast(mstype.int32), input_columns=["label"], num_parallel_workers=num_workers)
    return data.batch(batch_size, drop_remainder=drop_remainder)


def dataset_rows(dataset):
    """One epoch of `dataset`'s rows as dicts of numpy arrays. A sample found unreadable only while it is read
    (without skip_bad only PNG headers are checked up front) stops with UserError naming its file, not with
    MindSpore's RuntimeError wrapped around the reading function's traceback."""
    rows = dataset.create_dict_iterator(num_epochs=1, output_numpy=True)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except RuntimeError as error:
            bad = BAD_SAMPLE.findall(str(error))
            if not bad:
                raise
            report_bad(bad[-1].strip(), skip_bad=False)
        yield row
