"""Procedurally drawn street scenes with Cityscapes label ids: sky above, road below, buildings, vegetation,
vehicles, people, poles and signs in a random layout. Each class is drawn in its official colour with a
per-image tint and mild pixel noise, so a small network can learn the classes in minutes on a CPU.
"""
import numpy as np
from PIL import Image, ImageDraw
from cityscapesscripts.helpers.labels import name2label

ID = {name: label.id for name, label in name2label.items()}
COLOURS = np.zeros((256, 3), dtype=np.int16)
for _label in name2label.values():
    if 0 <= _label.id < 256:
        COLOURS[_label.id] = _label.color


def _vehicle(draw, rng, x, ground, scale, name):
    """A vehicle body as a box standing on `ground`."""
    length, height = {"car": (0.16, 0.07), "truck": (0.22, 0.13), "bus": (0.28, 0.14),
                      "train": (0.45, 0.15)}[name]
    w, h = length * scale * rng.uniform(0.85, 1.15), height * scale * rng.uniform(0.9, 1.1)
    draw.rectangle((x, ground - h, x + w, ground), fill=ID[name])


def _person(draw, rng, x, ground, scale, riding):
    """A person, or a rider on a bicycle or motorcycle: a round head over a box body."""
    h = 0.16 * scale * rng.uniform(0.85, 1.15)
    w = h * 0.3
    if riding:
        vehicle = ("bicycle", "motorcycle")[rng.integers(2)]
        draw.rectangle((x - w, ground - h * 0.35, x + 2 * w, ground), fill=ID[vehicle])
        top = ground - h * 1.2
        draw.ellipse((x, top, x + w, top + w), fill=ID["rider"])
        draw.rectangle((x, top + w, x + w, ground - h * 0.3), fill=ID["rider"])
        return
    top = ground - h
    draw.ellipse((x, top, x + w, top + w), fill=ID["person"])
    draw.rectangle((x, top + w, x + w, ground), fill=ID["person"])


def _pole(draw, rng, x, ground, top, scale):
    width = max(1.0, 0.008 * scale)
    draw.rectangle((x, top, x + width, ground), fill=ID["pole"])
    kind = ("traffic sign", "traffic light")[rng.integers(2)]
    size = 0.03 * scale * rng.uniform(0.8, 1.3)
    if kind == "traffic sign":
        draw.ellipse((x - size / 2, top, x + size / 2, top + size), fill=ID[kind])
    else:
        draw.rectangle((x - size / 3, top, x + size / 3, top + size * 1.4), fill=ID[kind])


def draw_label_ids(rng, width):
    """A [width/2, width] uint8 array of Cityscapes label ids for one random street scene."""
    height = width // 2
    canvas = Image.new("L", (width, height), ID["sky"])
    draw = ImageDraw.Draw(canvas)
    scale = float(width)
    horizon = height * rng.uniform(0.38, 0.5)
    road_top = horizon + height * rng.uniform(0.05, 0.12)

    x = -rng.uniform(0, 0.1) * width
    while x < width:
        w = width * rng.uniform(0.12, 0.3)
        kind = rng.choice(["building", "building", "building", "vegetation", "wall"])
        top = horizon - height * rng.uniform(0.1, 0.4) if kind != "wall" else horizon - height * 0.05
        draw.rectangle((x, top, x + w, road_top), fill=ID[kind])
        if kind == "vegetation":
            draw.ellipse((x - w * 0.1, top - height * 0.1, x + w * 1.1, top + height * 0.15), fill=ID[kind])
        x += w
    draw.rectangle((0, road_top, width, height), fill=ID["road"])
    walk = height * rng.uniform(0.04, 0.09)
    draw.polygon([(0, road_top), (width, road_top), (width, road_top + walk),
                  (width * 0.7, road_top + walk), (0, road_top + walk * 3)], fill=ID["sidewalk"])
    if rng.random() < 0.6:
        tx = width * rng.uniform(0, 0.7)
        draw.rectangle((tx, road_top - height * 0.02, tx + width * rng.uniform(0.1, 0.3), road_top + walk * 0.6),
                       fill=ID["terrain"])
    if rng.random() < 0.5:
        fx = width * rng.uniform(0, 0.6)
        draw.rectangle((fx, road_top - height * 0.08, fx + width * rng.uniform(0.15, 0.35), road_top),
                       fill=ID["fence"])
    for _ in range(rng.integers(1, 4)):
        tree = width * rng.uniform(0, 1)
        crown = height * rng.uniform(0.12, 0.22)
        draw.ellipse((tree - crown, horizon - crown * 2.2, tree + crown, horizon - crown * 0.2),
                     fill=ID["vegetation"])
    for _ in range(rng.integers(1, 3)):
        _pole(draw, rng, width * rng.uniform(0.02, 0.98), road_top + walk * 0.5,
              horizon - height * rng.uniform(0.05, 0.25), scale)

    for _ in range(rng.integers(2, 6)):
        ground = road_top + (height - road_top) * rng.uniform(0.3, 0.9)
        depth = 0.6 + 0.8 * (ground - road_top) / (height - road_top)
        kind = rng.choice(["car", "car", "car", "truck", "bus", "train", "person", "person", "rider"])
        xpos = width * rng.uniform(-0.05, 0.95)
        if kind in ("person", "rider"):
            _person(draw, rng, xpos, ground, scale * depth, riding=kind == "rider")
        else:
            _vehicle(draw, rng, xpos, ground, scale * depth, kind)
    if rng.random() < 0.3:
        draw.rectangle((0, height * 0.94, width, height), fill=ID["ego vehicle"])
    return np.asarray(canvas, dtype=np.uint8).copy()


def render_image(rng, label_ids):
    """An RGB uint8 image for a label-id map: official colours, a random tint per class, noise, shading."""
    tint = rng.integers(-14, 15, size=(256, 3))
    base = COLOURS + tint
    image = base[label_ids].astype(np.float32)
    rows = np.linspace(0.92, 1.06, label_ids.shape[0], dtype=np.float32)[:, None, None]
    image = image * rows + rng.normal(0, 5, size=image.shape).astype(np.float32)
    building = label_ids == ID["building"]
    ys, xs = np.indices(label_ids.shape)
    period = max(4, label_ids.shape[1] // 40)
    windows = building & (ys % period < period // 2) & (xs % period < period // 2)
    image[windows] *= 0.75
    return np.clip(image, 0, 255).astype(np.uint8)


def instance_ids(label_ids):
    """Cityscapes instanceIds: pixels of a countable class (cars, people, ...) become instance id * 1000
    (one instance per class and image); other classes keep their label id. uint16, as the real 16-bit PNGs."""
    instances = label_ids.astype(np.uint16)
    for label in name2label.values():
        if label.hasInstances and 0 <= label.id < 256:
            instances[label_ids == label.id] = label.id * 1000
    return instances
