"""`erfnet train`: run a staged training configuration on one device or N data-parallel workers (msrun)."""
from pathlib import Path

from erfnet.launch import PORTS, launch_workers
from facts.errors import UserError
from train.config import shipped_configs
from ms_erfnet.devices import DEVICE_TARGETS, Devices, in_msrun_job, init_data_parallel, select_device


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
    parser.add_argument("--device", default="auto", choices=DEVICE_TARGETS,
                        help="device target; auto: Ascend if present, else CPU")
    parser.add_argument("--devices", type=int, default=1,
                        help="data-parallel workers launched through msrun (8 for one 8-card Ascend server)")
    parser.add_argument("--master-port", type=int, default=None,
                        help=f"msrun scheduler port with --devices > 1; a random port in {PORTS[0]}-{PORTS[1]} when not "
                             "given")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args):
    if args.devices < 1:
        raise UserError(f"--devices {args.devices}: must be at least 1")
    if args.devices > 1 and not in_msrun_job():
        return launch(args)
    from train.run import train_from_config
    select_device(args.device)
    devices = init_data_parallel() if in_msrun_job() else Devices()
    results = train_from_config(args.config, args.data, args.out, overrides=args.overrides, stages=args.stages,
                                init=args.init, resume=args.resume, devices=devices, quiet=args.quiet)
    if devices.is_writer:
        for result in results:
            print(f"stage {result.stage}: val mIoU {result.last_miou:.4f} (best {result.best_miou:.4f})")
        print(f"wrote {args.out}")
    return 0


def worker_argv(args):
    """The command line each msrun worker runs: this command with the same options."""
    argv = ["train", "--config", args.config, "--data", str(args.data), "--out", str(args.out),
            "--device", args.device, "--devices", str(args.devices)]
    argv += ["--stages", args.stages] if args.stages else []
    argv += [f"--set={override}" for override in args.overrides]
    argv += ["--init", str(args.init)] if args.init else []
    argv += ["--resume"] * args.resume + ["--quiet"] * args.quiet + ["--verbose"] * args.verbose
    return argv


def launch(args):
    """Check the config here (errors before any worker starts), then run this command under msrun."""
    from train.config import read_config
    from train.run import check_out_folder, parse_stage_selection
    config = read_config(args.config, args.overrides)
    selected = parse_stage_selection(args.stages, config)
    check_out_folder(args.out, [stage for stage in config.stages if stage.number in selected], args.resume)
    log_dir = args.out / "msrun_logs"
    print(f"launching {args.devices} workers through msrun (logs in {log_dir})", flush=True)
    code = launch_workers(args.devices, worker_argv(args), log_dir, args.master_port)
    if code != 0:
        raise UserError(f"msrun exited with code {code}; see {log_dir}/worker_*.log")
    return 0
