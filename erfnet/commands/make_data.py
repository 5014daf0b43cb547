"""`erfnet make-data`: write generated street scenes in the real Cityscapes layout and file names, or as a
folders dataset of N classes (docs/own-data.md)."""
from pathlib import Path

from data.make_data import make_data
from data.make_folders import make_folders_data
from facts.errors import UserError

LAYOUTS = ("cityscapes", "folders")


def add_arguments(parser):
    parser.add_argument("out", type=Path, help="output folder: becomes a Cityscapes root "
                        "(leftImg8bit/<split>/<city>/..., gtFine/<split>/<city>/...) or a folders dataset "
                        "(images/<split>/, labels/<split>/, classes.yaml)")
    parser.add_argument("--layout", choices=LAYOUTS, default="cityscapes", help="the dataset layout to write")
    parser.add_argument("--classes", type=int, default=5,
                        help="class count of a folders dataset (2..255; Cityscapes' 19 classes grouped into N)")
    parser.add_argument("--train", type=int, default=32, help="number of training scenes")
    parser.add_argument("--val", type=int, default=8, help="number of validation scenes")
    parser.add_argument("--width", type=int, default=256, help="image width in pixels; height is width/2")
    parser.add_argument("--seed", type=int, default=0, help="random seed: the same seed writes the same files")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args):
    if args.train < 0 or args.val < 0 or args.train + args.val == 0:
        raise UserError("--train and --val must be >= 0 and not both 0")
    if args.width < 16 or args.width % 2:
        raise UserError(f"--width {args.width}: must be an even number >= 16")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"{args.out}: exists and is not a folder")
    counts = {"train": args.train, "val": args.val}
    if args.layout == "folders":
        if not 2 <= args.classes <= 255:
            raise UserError(f"--classes {args.classes}: must be in 2..255 (255 marks ignored pixels)")
        make_folders_data(args.out, counts, args.width, args.seed, args.classes, quiet=args.quiet)
        what = f" of {args.classes} classes"
    else:
        make_data(args.out, counts, args.width, args.seed, quiet=args.quiet)
        what = ""
    print(f"wrote {args.train} train and {args.val} val scenes{what} of {args.width}x{args.width // 2} to {args.out}")
    return 0
