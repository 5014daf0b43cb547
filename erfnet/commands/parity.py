"""`erfnet parity`: ms_erfnet against torch_ref, layer by layer.

`--weights FILE` alone builds both networks from that one file, each through the converter: it proves that the
two networks compute the same function given these weights. `--reference REF --weights FILE` checks a
MindSpore checkpoint against a PyTorch file, each read the way its own framework reads it (parity/pair.py):
first every tensor by name, then the same layer-by-layer tables, each network holding its own file's weights.
Exit 0 when every row passes, 1 when any differs beyond its bar, 2 for a file that cannot be read or compared.
"""
import time
from pathlib import Path

from erfnet.launch import add_device_arguments
from ms_erfnet.devices import select_device
from facts.atomic import check_folder_writable
from parity.report import check_input

NOT_APPLICABLE = ("n/a: some ReLU input lies within float32 rounding of 0, where either framework may round it to "
                  "the other side; that one decision moves the whole gradient, so no bar applies (see docs/parity.md).")


def add_arguments(parser):
    parser.add_argument("--weights", required=True, metavar="FILE",
                        help="ERFNet weights in any format `erfnet convert` reads (.pth, .pth.tar, .pt, .ckpt); with "
                             "--reference, the MindSpore checkpoint (.ckpt) to check, in this project's names or the "
                             "model zoo's")
    parser.add_argument("--reference", metavar="REF",
                        help="a PyTorch file that FILE must be faithful to (erfnet_pytorch's formats: a state_dict, "
                             "module. prefixes, {'state_dict': ...} training checkpoints, encoder-only files); REF is "
                             "loaded into torch_ref and FILE into ms_erfnet the way each framework loads its files, "
                             "not through the converter")
    parser.add_argument("--height", type=int, default=64,
                        help="input height (a multiple of 8). Forward rows compare at any size; gradient rows "
                             "need every ReLU input clear of float32 rounding around 0, which larger inputs "
                             "rarely allow (such rows show n/a)")
    parser.add_argument("--width", type=int, default=128, help="input width (a multiple of 8)")
    parser.add_argument("--batch", type=int, default=2, help="batch size (train mode uses batch statistics)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random input, labels and gradients")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="also write DIR/parity.json (every row, the verdict, the first divergence; schema in "
                             "docs/parity-report.md) and DIR/parity.png (each table's error against its bar, per "
                             "block)")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the verdict, the first divergence and the files written, not the tables")
    add_device_arguments(parser)


def run(args):
    check_input(args.height, args.width, args.batch, prefix="--")
    if args.report is not None:
        check_folder_writable(args.report)
    select_device(args.device)
    started = time.perf_counter()
    text, passed, report = two_files(args) if args.reference else one_file(args)
    if args.quiet:
        if report.divergence is not None:
            print(report.divergence)
    else:
        print(text)
        if "n/a" in text:
            print(f"\n{NOT_APPLICABLE}")
    if args.report is not None:
        from parity.report_files import write_report
        json_path, png_path = write_report(report, args.report)
        print(f"\nwrote {json_path} and {png_path}")
    failed = "FAIL: some rows exceed their bar" if args.quiet else "FAIL: rows above exceed their bar"
    print(f"\n{'PASS: every row within its bar' if passed else failed} ({time.perf_counter() - started:.1f} s)")
    return 0 if passed else 1


def one_file(args):
    """(text, passed, parity.report_files.ParityReport) of one file's two networks."""
    from convert.api import read_weights
    from parity.report import parity_report
    from parity.report_files import one_file_report
    weights = read_weights(args.weights)
    text, passed, tables = parity_report(weights, args.height, args.width, args.batch, args.seed)
    header = (f"{args.weights}: {weights.num_classes} classes, parts: {', '.join(weights.parts)}; input "
              f"{args.batch}x3x{args.height}x{args.width}; ours float32 against torch_ref in float64\n"
              f"One file, both networks built from it through the converter: this shows that ms_erfnet and "
              f"torch_ref compute the same function given these weights. To check this file against another "
              f"(a .ckpt against the .pth it should be faithful to), give that one as --reference.\n")
    report = one_file_report(args.weights, (args.batch, 3, args.height, args.width), tables)
    return f"{header}\n{text}", passed, report


def two_files(args):
    """(text, passed, parity.report_files.ParityReport) of REF against FILE."""
    from parity.pair import compare_files
    from parity.report_files import two_file_report
    result = compare_files(args.reference, args.weights, args.height, args.width, args.batch, args.seed)
    return result.text(), result.passed, two_file_report(result)
