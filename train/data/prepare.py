"""`erfnet prepare`: write the resized MindRecord cache of Cityscapes splits (see train.data.cache)."""
import sys
from pathlib import Path

from erfnet.errors import UserError
from train.data.cache import prepare


def _progress(done, total, seconds):
    end = "\n" if done == total else ""
    print(f"\rprepare: {done}/{total} images, {done / max(seconds, 1e-9):.1f} images/s", end=end,
          file=sys.stderr, flush=True)


def add_arguments(parser):
    parser.add_argument("--data", type=Path, required=True, help="Cityscapes root (leftImg8bit/, gtFine/)")
    parser.add_argument("--height", type=int, default=512, help="resize images and labels to this height")
    parser.add_argument("--split", nargs="+", default=["train", "val"], help="splits to prepare")
    parser.add_argument("--out", type=Path, default=None,
                        help="cache folder (one split only); default DATA/mindrecord/<split>_h<HEIGHT>")
    parser.add_argument("--workers", type=int, default=2, help="processes decoding and resizing in parallel")
    parser.add_argument("--skip-bad", action="store_true",
                        help="report unusable samples on stderr and leave them out instead of stopping")


def run(args):
    if args.height < 8:
        raise UserError(f"--height {args.height}: must be at least 8")
    if args.out and len(args.split) != 1:
        raise UserError("--out needs exactly one --split")
    for split in args.split:
        target = prepare(args.data, split, args.height, out=args.out, workers=max(1, args.workers),
                         skip_bad=args.skip_bad, progress=_progress)
        print(f"{split}: wrote {target}")
    return 0
