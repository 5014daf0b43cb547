"""`erfnet convert SRC DST`: the direction follows the file types."""
from convert.conversion import convert_file
from convert.realign import OUTPUT_SHIFT


def add_arguments(parser):
    parser.add_argument("source", metavar="SRC", help="weights to read: .pth/.pth.tar/.pt (PyTorch: state_dict, "
                        "training checkpoint, DataParallel or ImageNet-encoder file) or .ckpt (MindSpore: this "
                        "project's, or the MindSpore model zoo's research/cv/erfnet checkpoints, recognised by "
                        "their names)")
    parser.add_argument("target", metavar="DST", help="file to write: .ckpt for MindSpore, .pth/.pt for PyTorch "
                        "(written atomically; nothing is written if SRC has any problem; an existing file is "
                        "replaced only with --force, the source never)")
    parser.add_argument("--force", action="store_true", help="replace DST if it exists")
    parser.add_argument("--plain-keys", action="store_true",
                        help="PyTorch output without erfnet_pytorch's DataParallel 'module.' key prefix")
    parser.add_argument("--format", choices=("erfnet", "zoo"), default="erfnet",
                        help="names in a .ckpt DST: this project's (records the upsampler alignment) or the "
                        "MindSpore model zoo's (loads into its ERFNet / Encoder_pred cells)")
    parser.add_argument("--realign", action="store_true",
                        help="allow weights made for one upsampler alignment to be written for the other (PyTorch "
                        "files and --realign'ed .ckpt: torch alignment; --format zoo: zoo alignment). There is "
                        f"no exact transform: the same weights predict {OUTPUT_SHIFT} pixels off; the measured "
                        "change is printed")


def run(args):
    weights = convert_file(args.source, args.target, torch_prefix="" if args.plain_keys else "module.",
                           realign=args.realign, zoo_names=args.format == "zoo", force=args.force)
    classes = f"{weights.num_classes} classes" if weights.num_classes else "no output layer"
    print(f"{args.source} -> {args.target}: {len(weights.arrays)} tensors, {classes}, "
          f"parts: {', '.join(weights.parts)}, {weights.upsample_align} upsampler alignment")
    for note in weights.notes:
        print(f"  note: {note}")
    return 0
