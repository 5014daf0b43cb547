"""The `erfnet` command: one subcommand per job, each a module of erfnet/commands/.

A subcommand module provides `add_arguments(parser)` and `run(args) -> int`, and for long work
`after_interrupt(args) -> str`: what Ctrl-C left saved and the command that goes on (exit 130). Modules are
imported only when their subcommand runs, so `erfnet --help` starts quickly. A `UserError` becomes one line on
stderr and exit code 2: users never see a traceback for their own mistake. A Python or MindSpore outside the
supported releases (facts/versions.yaml) is one line before any command runs (`erfnet doctor` still runs, to say
more).
"""
import argparse
import importlib
import platform
import signal
import sys
from importlib.metadata import PackageNotFoundError, version

from erfnet.logs import set_up_logging
from facts.errors import BadSample, UserError
from facts.versions import installed_version, unsupported

SUBCOMMANDS = {
    "convert": "convert weights between PyTorch (.pth/.pth.tar/.pt) and MindSpore (.ckpt)",
    "parity": "compare MindSpore and PyTorch layer by layer on your weights, or a .ckpt against its .pth",
    "demo": "run the end-to-end demonstration on random weights and generated data",
    "make-data": "write generated street scenes in the Cityscapes layout or as folders of N classes (for tests "
                 "and demos)",
    "prepare": "resize a dataset split once into a MindRecord cache for fast epochs",
    "train": "train ERFNet in stages from a YAML config, on one device or N through msrun",
    "eval": "score weights on a dataset split (Cityscapes or your own): per-class IoU, mIoU, weighted loss, "
            "images/s",
    "infer": "predict images and write colour, overlay, trainId and labelId pictures",
    "export": "write a verified MINDIR or ONNX model for deployment",
    "compare-training": "train one config in MindSpore and in the PyTorch reference, seed by seed, and compare "
                        "the accuracy they reach",
    "doctor": "check this machine: versions against the tested matrix, device targets, msrun, caches",
}
UNCHECKED = ("doctor",)  # runs whatever the releases, to report on them


def command_module(name):
    return f"erfnet.commands.{name.replace('-', '_')}"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default where it has one worth showing (not for flags, lists or required options)."""

    def _get_help_string(self, action):
        if action.required or action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


def release_problem():
    """One line naming the found and the supported releases, or None when they are supported."""
    found = unsupported(platform.python_version(), installed_version("mindspore"))
    return f"{'; '.join(found)}. Run `erfnet doctor` for details." if found else None


def package_version():
    """The installed erfnet-parity's version (pyproject.toml's, as pip recorded it)."""
    try:
        return version("erfnet-parity")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="erfnet", description="ERFNet in MindSpore and PyTorch: convert, compare, train, evaluate.",
        epilog="`erfnet COMMAND --help` shows a command's options.")
    parser.add_argument("--version", action="version", version=f"erfnet {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in SUBCOMMANDS.items():
        commands.add_parser(name, help=summary, description=summary, add_help=False)
    return parser


def command_parser(name, module=None):
    """The parser of subcommand `name` with all its options (its module imported unless given)."""
    module = module or importlib.import_module(command_module(name))
    sub = argparse.ArgumentParser(prog=f"erfnet {name}", description=SUBCOMMANDS[name],
                                  formatter_class=HelpFormatter)
    sub.add_argument("--verbose", action="store_true",
                     help="debug lines, and MindSpore's own log (hidden otherwise unless GLOG_v is set)")
    module.add_arguments(sub)
    return sub


def stop_as_interrupted(signum, frame):
    """SIGTERM ends a command the way Ctrl-C does. MindSpore's data pipeline turns Ctrl-C into SIGTERM once an
    epoch's iterator runs (its C++ SIGINT handler), and job schedulers stop work with SIGTERM: either way the
    command says what it saved and how to go on."""
    raise KeyboardInterrupt


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if not argv:
        parser.print_help()
        return 0
    if argv[0] not in SUBCOMMANDS:
        parser.parse_args(argv)
        return 2
    name, rest = argv[0], argv[1:]
    problem = None if name in UNCHECKED else release_problem()
    if problem:
        print(f"erfnet {name}: error: {problem}", file=sys.stderr)
        return 2
    set_up_logging("--verbose" in rest)  # before the command's module imports MindSpore, which reads GLOG_v
    module = importlib.import_module(command_module(name))
    args = command_parser(name, module).parse_args(rest)
    args.argv = argv  # the command line, which `--devices N` runs again on each worker (erfnet/launch.py)
    from ms_erfnet.onednn import cap_isa_where_it_helps  # here, not at the top: `erfnet --help` needs no MindSpore
    cap_isa_where_it_helps()  # before the command runs MindSpore's first kernel
    previous = signal.signal(signal.SIGTERM, stop_as_interrupted)
    try:
        return module.run(args)
    except UserError as error:
        hint = " (use --skip-bad to skip such files)" if isinstance(error, BadSample) and "skip_bad" in args else ""
        print(f"erfnet {name}: error: {error}{hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        account = getattr(module, "after_interrupt", None)
        print(f"erfnet {name}: interrupted" + (f"; {account(args)}" if account else ""), file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
