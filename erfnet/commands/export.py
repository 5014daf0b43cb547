"""`erfnet export`: write weights as a MINDIR or ONNX model with a fixed input shape, verified by loading the
file back (MindSpore for MINDIR, onnxruntime for ONNX) and comparing outputs on a random input."""
from pathlib import Path

from convert.network import load_full_network
from erfnet.launch import add_device_arguments
from eval.export import ENDINGS, TOLERANCE, export_network
from facts.atomic import check_destination
from ms_erfnet.devices import select_device


def add_arguments(parser):
    parser.add_argument("--weights", type=Path, required=True,
                        help="a MindSpore .ckpt or PyTorch .pth/.pth.tar/.pt file of the full network")
    parser.add_argument("--format", choices=tuple(ENDINGS), required=True,
                        help="mindir (MindSpore Lite, Ascend) or onnx (onnxruntime, TensorRT, OpenVINO, ...)")
    parser.add_argument("--out", type=Path, required=True, help="output file, ending in .mindir or .onnx")
    parser.add_argument("--height", type=int, default=512, help="input height (multiple of 8)")
    parser.add_argument("--width", type=int, default=1024, help="input width (multiple of 8)")
    parser.add_argument("--batch", type=int, default=1, help="input batch size")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE,
                        help="largest accepted relative error max|file - net| / max|net| of the round trip")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_device_arguments(parser)


def run(args):
    check_destination(args.out, [args.weights], args.force)
    select_device(args.device)
    net, weights = load_full_network(args.weights)
    check = export_network(net, args.out, args.format, args.batch, args.height, args.width,
                           tolerance=args.tolerance)
    print(f"wrote {check.path}: input image float32 [{args.batch}, 3, {args.height}, {args.width}] in [0, 1], "
          f"output logits [{args.batch}, {weights.num_classes}, {args.height}, {args.width}], upsampler "
          f"alignment {weights.upsample_align}")
    print(f"round trip on a random input: max abs error {check.max_abs_error:.3g}, relative "
          f"{check.relative_error:.3g} (tolerance {args.tolerance:g})")
    return 0
