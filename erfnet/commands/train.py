"""`erfnet train`: run a staged training configuration on one device or N data-parallel workers (msrun)."""
from pathlib import Path

from erfnet.launch import add_device_arguments, join_devices, launch, launches
from facts.errors import UserError
from train.config import shipped_configs


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="training config: a YAML file, or the name of a shipped "
                        f"one ({', '.join(shipped_configs())})")
    parser.add_argument("--data", type=Path, required=True, help="Cityscapes root (leftImg8bit/, gtFine/)")
    parser.add_argument("--out", type=Path, required=True,
                        help="run folder: config.yaml, then stage<N>/ with checkpoints/, best.ckpt, final.ckpt, "
                             "metrics.jsonl")
    parser.add_argument("--stages", default=None, help="stages to run, N or N-M; all, in order, when not given")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                        help="override a config field, value in YAML (repeatable): --set stages.2.epochs=[66,140]")
    parser.add_argument("--init", type=Path, default=None,
                        help="weight file (.pth/.pth.tar/.pt/.ckpt) the first selected stage starts from instead "
                             "of its config's source (the previous stage's final weights in --out, or its init file)")
    parser.add_argument("--resume", action="store_true",
                        help="continue each stage from its last epoch checkpoint in --out; completed stages are skipped")
    add_device_arguments(parser, workers="each trains on its shard of the data, gradients averaged, rank 0 writes")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args):
    if launches(args):
        return launch_training(args)
    from train.run import train_from_config
    devices = join_devices(args)
    results = train_from_config(args.config, args.data, args.out, overrides=args.overrides, stages=args.stages,
                                init=args.init, resume=args.resume, devices=devices, quiet=args.quiet)
    if devices.is_writer:
        for result in results:
            print(f"stage {result.stage}: val mIoU {result.last_miou:.4f} (best {result.best_miou:.4f})")
        print(f"wrote {args.out}")
    return 0


def launch_training(args):
    """Check the config here (errors before any worker starts), then run this command under msrun."""
    from train.config import read_config
    from train.run import check_out_folder, parse_stage_selection
    config = read_config(args.config, args.overrides)
    selected = parse_stage_selection(args.stages, config)
    check_out_folder(args.out, [stage for stage in config.stages if stage.number in selected], args.resume)
    return launch(args, args.out / "msrun_logs")
