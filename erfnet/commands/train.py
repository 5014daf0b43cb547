"""`erfnet train`: run a staged training configuration on one device or N data-parallel workers (msrun).

Exit codes: 0 done, 2 a mistake in what was given (one line naming the file or field), 1 a worker of an msrun
job failed or died (one line naming its rank; the last complete checkpoint is intact and --resume continues).
"""
from pathlib import Path

from data.workers import WORKER_KINDS
from erfnet.command_line import again
from erfnet.launch import add_device_arguments, add_host_arguments, join_devices, launch, launches
from ms_erfnet.devices import LAUNCHER_LOGS, idle_scheduler
from train.config import shipped_configs


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="training config: a YAML file, or the name of a shipped "
                        f"one ({', '.join(shipped_configs())})")
    parser.add_argument("--data", type=Path, required=True,
                        help="dataset root: Cityscapes' (leftImg8bit/, gtFine/) or one's own folders (images/, "
                             "labels/, classes.yaml: docs/own-data.md)")
    parser.add_argument("--out", type=Path, required=True,
                        help="run folder: config.yaml, then stage<N>/ with checkpoints/, best.ckpt, final.ckpt, "
                             "metrics.jsonl")
    parser.add_argument("--stages", default=None, help="stages to run, N or N-M; all, in order, when not given")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                        help="override a config field, value in YAML (repeatable): --set stages.2.epochs=[66,140]")
    parser.add_argument("--worker-kind", choices=WORKER_KINDS, default=None,
                        help="data workers as threads or processes, or auto: processes when each device has "
                             "enough cores (docs/data-throughput.md); the config's worker_kind when not given")
    parser.add_argument("--init", type=Path, default=None,
                        help="weight file (.pth/.pth.tar/.pt/.ckpt) the first selected stage starts from instead "
                             "of its config's source (the previous stage's final weights in --out, or its init file); "
                             "weights of another class count (fine-tuning) load every tensor but the output "
                             "convolutions, which start fresh")
    parser.add_argument("--resume", action="store_true",
                        help="continue each stage from its last epoch checkpoint in --out; completed stages are skipped")
    add_device_arguments(parser, workers="each trains on its shard of the data, gradients averaged, rank 0 writes")
    add_host_arguments(parser)
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out unusable samples (missing partner, unreadable PNG, size mismatch, label "
                             "values outside the table), each named on stderr, instead of stopping")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args):
    if args.worker_kind is not None:
        args.overrides = args.overrides + [f"worker_kind={args.worker_kind}"]
    if launches(args):
        return launch_training(args)
    if idle_scheduler():
        return 0
    from train.run import train_from_config
    devices = join_devices(args)
    results = train_from_config(args.config, args.data, args.out, overrides=args.overrides, stages=args.stages,
                                init=args.init, resume=args.resume, devices=devices, quiet=args.quiet,
                                skip_bad=args.skip_bad)
    if devices.is_writer:
        for result in results:
            print(f"stage {result.stage}: val mIoU {result.last_miou:.4f} (best {result.best_miou:.4f})")
        print(f"wrote {args.out}")
    return 0


def launch_training(args):
    """Check what the run will do here (errors before any worker starts), then run this command under msrun."""
    from train.run import planned_run
    from train.run_folder import check_run_folder
    config, chosen = planned_run(args.config, args.data, args.out, args.overrides, args.stages, args.init)
    if args.node_rank == 0:  # the other hosts' launchers may start once node 0's workers write the run folder
        check_run_folder(args.out, config, chosen, args.resume)
    return launch(args, args.out / LAUNCHER_LOGS)


def after_interrupt(args):
    """What Ctrl-C leaves: every checkpoint is whole (written atomically); the newest is where --resume goes on."""
    from train.checkpoints import epoch_checkpoints
    saved = [path for stage in sorted(args.out.glob("stage*")) if stage.is_dir()
             for path in [*epoch_checkpoints(stage).values(), stage / "final.ckpt"] if path.is_file()]
    newest = max(saved, key=lambda path: path.stat().st_mtime, default=None)
    kept = f"the newest complete checkpoint is {newest}" if newest else "no epoch had finished, so none was saved"
    return f"{kept}; continue with: {again(args.argv, '--resume')}"
