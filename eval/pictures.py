"""Pictures a person looks at: photo, ground truth and prediction side by side, and per-class IoU as bars.

`write_demo_pictures` makes both for a few images of a split (`make demo` calls it). Charts are drawn by
matplotlib's Agg canvas (no display, no pyplot state).
"""
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from facts.atomic import atomic_output
from eval.colours import class_palette, colorize
from eval.evaluate import evaluate
from convert.network import load_full_network
from eval.predict import image_tensor, logits, native_class_map
from data.cityscapes import find_samples, read_sample

CAPTIONS = ("photo", "ground truth", "prediction")
GAP = 4


def _caption_font(height):
    try:
        return ImageFont.load_default(size=max(10, height // 14))
    except (TypeError, OSError):
        return ImageFont.load_default()


def side_by_side(photo, ground_truth, prediction):
    """One RGB picture: the photo, the ground truth and the prediction (trainIds, Cityscapes colours, void
    black) side by side under captions. All three must have the photo's height and width."""
    photo = np.asarray(photo, dtype=np.uint8)
    height, width = photo.shape[:2]
    for name, array in (("ground truth", ground_truth), ("prediction", prediction)):
        if np.shape(array) != (height, width):
            raise ValueError(f"{name} shape {np.shape(array)} differs from the photo's {(height, width)}")
    font = _caption_font(height)
    caption_height = font.getbbox("Ag")[3] + 2 * GAP
    canvas = Image.new("RGB", (3 * width + 2 * GAP, height + caption_height), "white")
    draw = ImageDraw.Draw(canvas)
    panels = (photo, colorize(ground_truth), colorize(prediction))
    for index, (caption, panel) in enumerate(zip(CAPTIONS, panels)):
        left = index * (width + GAP)
        draw.text((left + GAP, GAP), caption, fill="black", font=font)
        canvas.paste(Image.fromarray(panel), (left, caption_height))
    return canvas


def iou_bar_chart(class_names, iou, path, title="IoU per class"):
    """Write a PNG bar chart of per-class IoU (0..1, NaN shown as n/a) in the classes' Cityscapes colours,
    with the mean of the defined values as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    iou = np.asarray(iou, dtype=np.float64)
    defined = np.isfinite(iou)
    mean = float(iou[defined].mean()) if defined.any() else math.nan
    figure = Figure(figsize=(8, 0.32 * len(class_names) + 1.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    rows = np.arange(len(class_names))
    colours = class_palette(len(class_names))[:len(class_names)] / 255.0
    axes.barh(rows, np.where(defined, 100 * iou, 0), color=colours, edgecolor="black", linewidth=0.5)
    for row, value in zip(rows, iou):
        axes.text((100 * value if math.isfinite(value) else 0) + 1, row,
                  f"{100 * value:.1f}" if math.isfinite(value) else "n/a", va="center", fontsize=8)
    if math.isfinite(mean):
        axes.axvline(100 * mean, color="black", linestyle="--", linewidth=1)
    axes.set_yticks(rows, labels=list(class_names), fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 110)
    axes.set_xlabel("IoU (%)")
    axes.set_title(f"{title}: mIoU {100 * mean:.1f}%" if math.isfinite(mean) else title)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png")
    return Path(path)


def _save(picture, path):
    with atomic_output(path) as temporary:
        picture.save(temporary, format="PNG")
    return Path(path)


def write_demo_pictures(weights_path, data_root, out_dir, count=3, height=None, split="val"):
    """For the first `count` images of `split`: `<stem>_side_by_side.png`; for the whole split (scored with
    the full protocol): `iou_per_class.png`. height: inference height (default: the images' own height).
    Returns the written paths."""
    net, _ = load_full_network(weights_path)
    samples = find_samples(data_root, split)
    out_dir = Path(out_dir)
    written = []
    for sample in samples[:count]:
        photo, truth = read_sample(sample)
        size = height or photo.shape[0]
        prediction = native_class_map(logits(net, image_tensor(photo, size)[None]), truth.shape)[0]
        written.append(_save(side_by_side(photo, truth, prediction), out_dir / f"{sample.stem}_side_by_side.png"))
    size = height or read_sample(samples[0])[0].shape[0]
    result = evaluate(net, data_root, split, size, "full", quiet=True)
    title = f"{Path(weights_path).name} on {split} ({result.images} images, height {size})"
    written.append(iou_bar_chart(result.class_names, result.iou_class, out_dir / "iou_per_class.png", title))
    return written
