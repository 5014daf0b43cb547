"""`erfnet compare-training`: one training config trained in MindSpore and in the PyTorch reference trainer,
seed by seed, with curves, a table and a verdict on whether the two reach the same accuracy."""
from pathlib import Path

from erfnet.command_line import again
from facts.errors import UserError
from ms_erfnet.devices import DEVICE_TARGETS, select_device


def add_arguments(parser):
    parser.add_argument("--config", type=Path, required=True,
                        help="training config with the pytorch augmentation recipe: a YAML file, or a shipped name "
                             "(learn, learn_two_stage)")
    parser.add_argument("--data", type=Path, required=True,
                        help="dataset root: Cityscapes' (leftImg8bit/, gtFine/) or one's own folders of any class "
                             "count (images/, labels/, classes.yaml: docs/own-data.md)")
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder: curves.csv, curves.png, summary.json, and each run's files under "
                             "mindspore/seed<k>/ and pytorch/seed<k>/")
    parser.add_argument("--seeds", type=int, default=3,
                        help="runs per framework, with the config's seed, seed + 1, ...")
    parser.add_argument("--start", choices=("own", "same"), default="own",
                        help="own: each framework from its own initialisation (what a user does); same: MindSpore "
                             "from PyTorch's initialisation of every stage")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                        help="override a config field for both frameworks, value in YAML (repeatable): "
                             "--set stages.1.epochs=[1,20]")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch's compute threads (torch.set_num_threads); 0 keeps torch's default (one per "
                             "core). One by default: on a CPU other processes share, torch's threads wait for each "
                             "other at every op (two were 10x slower than one here); compare CPU time for speed")
    parser.add_argument("--device", default="CPU", choices=DEVICE_TARGETS,
                        help="MindSpore's device target (the PyTorch reference trains on the CPU)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted comparison in --out: runs that ended are kept, the one that "
                             "was cut off starts again (the config, seeds, start and --set must be the same)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args):
    from outcome.comparison import compare_training, plan_comparison
    from outcome.report import (plot_curves, runs_table, summarise, summary_table, verdict, write_curves_csv,
                                write_summary_json)
    if args.torch_threads < 0:
        raise UserError(f"--torch-threads {args.torch_threads}: must be 0 (torch's default) or more")
    comparison = plan_comparison(args.config, args.data, args.out, args.seeds, args.start, args.overrides,
                                 args.resume)
    select_device(args.device)
    if args.torch_threads:
        import torch
        torch.set_num_threads(args.torch_threads)
    runs = compare_training(comparison, quiet=args.quiet)
    write_curves_csv(runs, args.out / "curves.csv")
    title = f"{args.config.name}: {len(comparison.seeds)} seed(s), start {args.start}"
    plot_curves(runs, args.out / "curves.png", title)
    summaries = summarise(runs)
    result = verdict(summaries)
    write_summary_json(summaries, result, args.out / "summary.json")
    print(f"{title}\n\n{runs_table(runs)}\n\n{summary_table(summaries)}\n\n{result.line()}")
    print(f"wrote {args.out / 'curves.csv'}, {args.out / 'curves.png'}, {args.out / 'summary.json'}")
    return 0 if result.passed else 1


def after_interrupt(args):
    """What Ctrl-C leaves: every run that ended has its run.json under OUT; --resume keeps them and trains the
    rest."""
    from outcome.comparison import RUN_RECORD
    ended = sorted(args.out.glob(f"*/seed*/{RUN_RECORD}"))
    return (f"{len(ended)} run(s) ended and are kept under {args.out}; continue with: "
            f"{again(args.argv, '--resume')}")
