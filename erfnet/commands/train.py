"""`erfnet train`: run a staged training configuration on one device or N data-parallel workers (msrun).

Exit codes: 0 done, 2 a mistake in what was given (one line naming the file or field), 1 a worker of an msrun
job failed or died (one line naming its rank; the last complete checkpoint is intact and --resume continues).
"""
import sys
from pathlib import Path

from erfnet.launch import PORTS, launch_workers
from facts.errors import UserError
from ms_erfnet.devices import (DEVICE_TARGETS, Devices, idle_scheduler, in_msrun_job, init_data_parallel,
                               select_device)


def add_arguments(parser):
    parser.add_argument("--config", type=Path, required=True,
                        help="training config (YAML), e.g. configs/cityscapes_4stage.yaml or configs/smoke.yaml")
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
    parser.add_argument("--device", default="auto", choices=DEVICE_TARGETS,
                        help="device target; auto: Ascend if present, else CPU")
    parser.add_argument("--devices", type=int, default=1,
                        help="data-parallel workers launched through msrun (8 for one 8-card Ascend server)")
    parser.add_argument("--master-port", type=int, default=None,
                        help=f"msrun scheduler port with --devices > 1; a random port in {PORTS[0]}-{PORTS[1]} when not "
                             "given")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out unusable samples (missing partner, unreadable PNG, size mismatch, label "
                             "values outside the table), each named on stderr, instead of stopping")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args):
    if args.devices < 1:
        raise UserError(f"--devices {args.devices}: must be at least 1")
    if args.devices > 1 and not in_msrun_job():
        return launch(args)
    if idle_scheduler():
        return 0
    from train.run import train_from_config
    select_device(args.device)
    devices = init_data_parallel() if in_msrun_job() else Devices()
    results = train_from_config(args.config, args.data, args.out, overrides=args.overrides, stages=args.stages,
                                init=args.init, resume=args.resume, devices=devices, quiet=args.quiet,
                                skip_bad=args.skip_bad)
    if devices.is_writer:
        for result in results:
            print(f"stage {result.stage}: val mIoU {result.last_miou:.4f} (best {result.best_miou:.4f})")
        print(f"wrote {args.out}")
    return 0


def worker_argv(args):
    """The command line each msrun worker runs: this command with the same options."""
    argv = ["train", "--config", str(args.config), "--data", str(args.data), "--out", str(args.out),
            "--device", args.device, "--devices", str(args.devices)]
    argv += ["--stages", args.stages] if args.stages else []
    argv += [f"--set={override}" for override in args.overrides]
    argv += ["--init", str(args.init)] if args.init else []
    argv += ["--resume"] * args.resume + ["--quiet"] * args.quiet + ["--skip-bad"] * args.skip_bad
    return argv


def launch(args):
    """Check what the run will do here (errors before any worker starts), then run this command under msrun."""
    from train.run import planned_run
    from train.run_folder import LAUNCHER_LOGS, check_run_folder
    config, chosen = planned_run(args.config, args.data, args.out, args.overrides, args.stages, args.init)
    check_run_folder(args.out, config, chosen, args.resume)
    log_dir = args.out / LAUNCHER_LOGS
    print(f"launching {args.devices} workers through msrun (logs in {log_dir})", flush=True)
    failure = launch_workers(args.devices, worker_argv(args), log_dir, args.master_port)
    if failure is None:
        print(f"wrote {args.out}")
        return 0
    if failure.user_mistake:
        raise UserError(failure.message)
    print(f"erfnet train: error: {failure.message}", file=sys.stderr)
    return 1
