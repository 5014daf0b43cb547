"""Running an `erfnet` subcommand on N local data-parallel workers through msrun, MindSpore's launcher (HCCL on
Ascend, its own collectives on the CPU). Every worker runs the same command line; ms_erfnet.devices joins
them into one job. The console shows rank 0's output; msrun's own lines go to its log file."""
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

from erfnet.logs import worker_environment
from facts.errors import UserError

PORTS = (20000, 40000)
MSRUN_LOG = "msrun.log"
MSRUN_OWN_LINES = ("Start scheduler process", "Start worker process")  # msrun prints these and has no quiet option


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
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               **worker_environment(log_dir))
    with open(log_dir / MSRUN_LOG, "w") as own, subprocess.Popen(
            msrun_command(devices, argv, log_dir, port), env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace") as job:
        for line in job.stdout:
            (own if line.startswith(MSRUN_OWN_LINES) else sys.stdout).write(line)
            sys.stdout.flush()
    return job.returncode
