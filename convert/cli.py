"""`erfnet convert SRC DST`: the direction follows the file types."""
from convert.api import convert_file


def add_arguments(parser):
    parser.add_argument("source", metavar="SRC", help="weights to read: .pth/.pth.tar/.pt (PyTorch: state_dict, "
                        "training checkpoint, DataParallel or ImageNet-encoder file) or .ckpt (MindSpore)")
    parser.add_argument("target", metavar="DST", help="file to write: .ckpt for MindSpore, .pth/.pt for PyTorch "
                        "(written atomically; nothing is written if SRC has any problem)")
    parser.add_argument("--plain-keys", action="store_true",
                        help="PyTorch output without erfnet_pytorch's DataParallel 'module.' key prefix")


def run(args):
    weights = convert_file(args.source, args.target, torch_prefix="" if args.plain_keys else "module.")
    classes = f"{weights.num_classes} classes" if weights.num_classes else "no output layer"
    print(f"{args.source} -> {args.target}: {len(weights.arrays)} tensors, {classes}, "
          f"parts: {', '.join(weights.parts)}")
    for note in weights.notes:
        print(f"  note: {note}")
    return 0
