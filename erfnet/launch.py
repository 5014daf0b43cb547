"""Running an `erfnet` subcommand on N local data-parallel workers through msrun, MindSpore's launcher (HCCL on
Ascend, its own collectives on the CPU), and the device options every command that runs a network shares.

The command the user starts with `--devices N` checks its inputs, then runs its own command line again under
msrun; every worker runs it inside the job (ms_erfnet.devices.in_msrun_job), joins it and does its share.
msrun treats a worker's non-zero exit as a crash and kills the job, so a worker that finished exits 0 and the
writer (rank 0) leaves its command's exit code (e.g. infer's 1 for unreadable images) in a file for the
launcher. The console shows rank 0's output; msrun's own lines go to its log file.
"""
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

from erfnet.logs import worker_environment
from facts.errors import UserError
from ms_erfnet.devices import DEVICE_TARGETS, Devices, in_msrun_job, init_data_parallel, resolve_device, select_device

PORTS = (20000, 40000)
MSRUN_LOG = "msrun.log"
MSRUN_OWN_LINES = ("Start scheduler process", "Start worker process")  # msrun prints these and has no quiet option
EXIT_CODE_FILE = "exit_code"
EXIT_CODE_VARIABLE = "ERFNET_EXIT_CODE_FILE"


def add_device_arguments(parser, workers=None):
    """--device; with `workers` (what each of N workers does, for the help) also --devices and --master-port."""
    parser.add_argument("--device", default="auto", choices=DEVICE_TARGETS,
                        help="device target; auto: Ascend if present, else CPU")
    if workers:
        parser.add_argument("--devices", type=int, default=1,
                            help="data-parallel processes launched through msrun, one per device (8 for one 8-card "
                                 f"Ascend server): {workers}")
        parser.add_argument("--master-port", type=int, default=None,
                            help=f"msrun scheduler port with --devices > 1; a random port in {PORTS[0]}-{PORTS[1]} "
                                 "when not given")


def launches(args):
    """True for the command the user started with --devices N > 1: it launches the job instead of working."""
    if args.devices < 1:
        raise UserError(f"--devices {args.devices}: must be at least 1")
    return args.devices > 1 and not in_msrun_job()


def join_devices(args):
    """Set the device target of `args.device` and, inside an msrun job, join it; returns this process's Devices."""
    select_device(args.device)
    return init_data_parallel() if in_msrun_job() else Devices()


def msrun_command(devices, argv, log_dir, master_port):
    """msrun running `python -m erfnet.cli <argv>` on `devices` local workers, rank 0's log on its stdout."""
    msrun = shutil.which("msrun", path=str(Path(sys.executable).parent)) or shutil.which("msrun")
    if msrun is None:
        raise UserError("--devices needs MindSpore's msrun launcher, which is not on PATH")
    return [msrun, f"--worker_num={devices}", f"--local_worker_num={devices}", f"--master_port={master_port}",
            f"--log_dir={log_dir}", "--join=True", "--tail_worker_log=0", "python", "-m", "erfnet.cli", *argv]


def launch_workers(devices, argv, log_dir, master_port=None):
    """Run the msrun job to its end, passing rank 0's output through to stdout and msrun's own lines to
    `log_dir`/msrun.log (the workers' logs are there too). Returns msrun's exit code. The port is random in
    PORTS when not given."""
    port = master_port or random.randint(*PORTS)
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / EXIT_CODE_FILE).unlink(missing_ok=True)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               **worker_environment(log_dir))
    env[EXIT_CODE_VARIABLE] = str((log_dir / EXIT_CODE_FILE).resolve())
    with open(log_dir / MSRUN_LOG, "w") as own, subprocess.Popen(
            msrun_command(devices, argv, log_dir, port), env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace") as job:
        for line in job.stdout:
            (own if line.startswith(MSRUN_OWN_LINES) else sys.stdout).write(line)
            sys.stdout.flush()
    return job.returncode


def launch(args, log_dir):
    """Run the user's command line (`args.argv`) on `args.devices` workers, after checking that the devices
    exist; returns the job's exit code (the writer's, see `exit_code`)."""
    resolve_device(args.device, args.devices)
    print(f"launching {args.devices} workers through msrun (logs in {log_dir})", flush=True)
    code = launch_workers(args.devices, args.argv, log_dir, args.master_port)
    if code != 0:
        raise UserError(f"msrun exited with code {code}; see {log_dir}/worker_*.log")
    written = Path(log_dir) / EXIT_CODE_FILE
    return int(written.read_text()) if written.is_file() else 0


def exit_code(code, devices):
    """What a command returns for its result `code`: `code` itself outside an msrun job; inside one 0, after
    the writer has left `code` for the launcher."""
    target = os.environ.get(EXIT_CODE_VARIABLE)
    if not in_msrun_job() or not target:
        return code
    if devices.is_writer:
        Path(target).write_text(f"{code}\n")
    return 0
