"""`erfnet prepare`: write the resized MindRecord cache of Cityscapes splits (see data.cache)."""
from pathlib import Path

from data.cache import cache_dir, prepare
from facts.atomic import check_folder_writable
from facts.errors import UserError
from facts.spec import check_size


def add_arguments(parser):
    parser.add_argument("--data", type=Path, required=True,
                        help="dataset root: Cityscapes' (leftImg8bit/, gtFine/) or one's own folders (images/, "
                             "labels/, classes.yaml: docs/own-data.md)")
    parser.add_argument("--height", type=int, default=512, help="resize images and labels to this height "
                        "(a multiple of 8: the training height)")
    parser.add_argument("--split", nargs="+", default=["train", "val"], help="splits to prepare")
    parser.add_argument("--out", type=Path, default=None,
                        help="cache folder (one split only); default DATA/mindrecord/<split>_h<HEIGHT>")
    parser.add_argument("--workers", type=int, default=2, help="processes decoding and resizing in parallel")
    parser.add_argument("--skip-bad", action="store_true",
                        help="report unusable samples and leave them out instead of stopping")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args):
    check_size("--height", args.height)
    if args.out and len(args.split) != 1:
        raise UserError("--out needs exactly one --split")
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: must be at least 1")
    for split in args.split:
        target = args.out or cache_dir(args.data, split, args.height)
        try:
            check_folder_writable(target.parent)
        except UserError as error:
            raise UserError(f"{error}: give --out DIR for the cache, with one --split" if args.out is None
                            else str(error)) from None
        target = prepare(args.data, split, args.height, out=args.out, workers=args.workers, skip_bad=args.skip_bad,
                         quiet=args.quiet)
        print(f"{split}: wrote {target}")
    return 0
