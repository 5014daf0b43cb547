"""Which layout a dataset root has, Cityscapes' (data/cityscapes.py) or the plain folders (data/folders.py), and
the calls that read either; and the one statement of how a network's channels meet a dataset's classes.

The label space, the same for training and evaluation: a dataset has K evaluated classes, ids 0..K-1, and the
pipeline gives ignored pixels the id K (Cityscapes: K = 19, its void trainId 19). A network of K channels has no
void channel: ignored pixels weigh 0 in the loss and are left out of the scores. A network of K + 1 channels has
one (channel K, erfnet_pytorch's 20th on Cityscapes): the ignored pixels are its label, weighing 0 in the loss;
pixels it predicts as void count as misses of their true class. Any other channel count does not fit the data.
"""
from dataclasses import dataclass
from pathlib import Path

from data import cityscapes, folders
from facts import labels
from facts.errors import UserError

CITYSCAPES, FOLDERS = "cityscapes", "folders"


@dataclass(frozen=True)
class LabelSpace:
    """A dataset's classes (names in id order, colours or None) and where they were read."""
    layout: str
    names: tuple
    colours: tuple
    source: str

    @property
    def void(self):
        """The id of ignored pixels in the pipeline's labels: the class count K."""
        return len(self.names)

    def channels_fit(self, channels):
        return channels in (self.void, self.void + 1)

    def check_network(self, channels, what):
        """UserError naming both counts unless a network of `channels` classes fits (see the module docstring)."""
        if not self.channels_fit(channels):
            raise UserError(f"{what} has {channels} classes; {self.source} has {self.void} (a network for it has "
                            f"{self.void}, or {self.void + 1} with a void channel)")


def layout_of(root):
    """FOLDERS when `root` holds classes.yaml or images/, else CITYSCAPES."""
    root = Path(root)
    return FOLDERS if (root / folders.CLASSES_FILE).is_file() or (root / folders.IMAGES).is_dir() else CITYSCAPES


def label_space(root):
    if layout_of(root) == FOLDERS:
        classes = folders.read_classes(root)
        return LabelSpace(FOLDERS, classes.names, classes.colours, f"{Path(root) / folders.CLASSES_FILE}")
    colours = tuple(tuple(int(v) for v in colour) for colour in labels.palette()[:labels.VOID])
    return LabelSpace(CITYSCAPES, labels.CLASS_NAMES, colours, f"Cityscapes ({root})")


def has_split(root, split):
    """Whether `root` holds images of `split` (either layout)."""
    root = Path(root)
    return (root / (folders.IMAGES if layout_of(root) == FOLDERS else "leftImg8bit") / split).is_dir()


def find_samples(root, split, skip_bad=False, verify=True, decode_labels=False):
    """The split's checked samples in either layout (see the layouts' find_samples)."""
    reader = folders if layout_of(root) == FOLDERS else cityscapes
    return reader.find_samples(root, split, skip_bad=skip_bad, verify=verify, decode_labels=decode_labels)


def _reader(sample):
    return folders if isinstance(sample, folders.Sample) else cityscapes


def read_label(sample):
    return _reader(sample).read_label(sample)


def read_sample(sample):
    return _reader(sample).read_sample(sample)
