"""`erfnet infer`: predict images (a file or a folder tree) and write colour, overlay, trainId and labelId
pictures, on one device or on N workers (msrun) that each predict a shard of the images. Exit code 0 when every
image was written, 1 when some could not be read or predicted (the rest are written)."""
import sys
from pathlib import Path

from convert.network import full_network_weights
from data.folders import read_classes
from erfnet.command_line import again
from erfnet.launch import add_device_arguments, exit_code, join_devices, launch, launches
from erfnet.commands.runtime_choice import add_runtime_arguments, open_runtime, runtime_name, runtime_said
from eval.infer import KINDS, check_kinds, find_images, infer_images, kinds_for
from facts.atomic import check_folder_writable
from facts.errors import UserError
from facts.spec import check_size
from ms_erfnet.devices import LAUNCHER_LOGS
from ms_erfnet.execution import use_graph_mode



def add_arguments(parser):
    parser.add_argument("--weights", type=Path, required=True,
                        help="a MindSpore .ckpt or PyTorch .pth/.pth.tar/.pt file of the full network, or an "
                             ".onnx file (run by onnxruntime)")
    parser.add_argument("--input", type=Path, required=True,
                        help="an image, or a folder searched recursively for .png/.jpg/.jpeg/.bmp/.tif images")
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder: <out>/<kind>/<sub-folders>/<name>.png, keeping the input's names")
    parser.add_argument("--height", type=int, default=512,
                        help="inference height (multiple of 8); outputs are at each image's own size")
    parser.add_argument("--what",
                        help=f"comma-separated outputs from {', '.join(KINDS)}: color (class palette: Cityscapes' "
                             f"for 19 or 20 classes, --classes' colours, or generated), overlay (palette over the "
                             f"photo), trainids (raw class map; on Cityscapes 19 = void), labelids (Cityscapes ids "
                             f"for the official evaluator, void -> 0; 19 or 20 classes only). Default: every kind "
                             f"that suits the network")
    parser.add_argument("--classes", type=Path, metavar="CLASSES_YAML",
                        help="a dataset's classes.yaml (docs/own-data.md) whose colours the pictures use")
    parser.add_argument("--batch-size", type=int, default=1, help="images of one size per forward pass")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_runtime_arguments(parser)
    add_device_arguments(parser, workers=f"each predicts its shard of the images (worker logs in "
                                         f"<out>/{LAUNCHER_LOGS}/)")


def run(args):
    kinds = None if args.what is None else tuple(kind.strip() for kind in args.what.split(",") if kind.strip())
    if kinds is not None:
        check_kinds(kinds)
    classes = read_classes(args.classes) if args.classes else None
    check_size("--height", args.height)
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be at least 1")
    images = find_images(args.input, exclude=args.out)
    try:
        check_folder_writable(args.out)
    except UserError as error:
        raise UserError(f"{error}: give another --out") from None
    runtime = runtime_name(args, args.weights)
    if launches(args):
        full_network_weights(args.weights)
        return launch(args, args.out / LAUNCHER_LOGS)
    devices = join_devices(args)
    use_graph_mode()
    net = open_runtime(args.weights, runtime, args.batch_size)
    if classes is not None and net.num_classes not in (len(classes.names), len(classes.names) + 1):
        raise UserError(f"{args.weights}: a network of {net.num_classes} classes; {args.classes} names "
                        f"{len(classes.names)}")
    kinds = kinds_for(net.num_classes, kinds)
    summary = infer_images(net, images, args.out, args.height, kinds, args.batch_size,
                           quiet=args.quiet or not devices.is_writer, devices=devices,
                           colours=classes.colours if classes else None)
    if devices.is_writer:
        print(f"wrote {', '.join(kinds)} for {summary.written} of {len(images)} images under {args.out} "
              f"({runtime_said(args, args.weights)})")
        if summary.failed:
            print(f"erfnet infer: {len(summary.failed)} image(s) could not be read or predicted: "
                  f"{', '.join(str(path) for path in summary.failed[:5])}", file=sys.stderr)
    return exit_code(1 if summary.failed else 0, devices)


def after_interrupt(args):
    """What Ctrl-C leaves: the pictures written before it, each whole (written atomically)."""
    kinds = [kind.strip() for kind in args.what.split(",") if kind.strip()]
    folder = args.out / kinds[0] if kinds else args.out
    written = sum(1 for path in folder.rglob("*.png")) if folder.is_dir() else 0
    return f"{written} image(s) predicted, their pictures whole under {args.out}; predict every image again with: " \
           f"{again(args.argv)}"
