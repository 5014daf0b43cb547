"""Running an `erfnet` subcommand on N local data-parallel workers through msrun, MindSpore's launcher (HCCL on
Ascend, its own collectives on the CPU). Every worker runs the same command line; ms_erfnet.devices joins
them into one job."""
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

from facts.errors import UserError

PORTS = (20000, 40000)


def msrun_command(devices, argv, log_dir, master_port):
    """msrun running `python -m erfnet.cli <argv>` on `devices` local workers."""
    msrun = shutil.which("msrun", path=str(Path(sys.executable).parent)) or shutil.which("msrun")
    if msrun is None:
        raise UserError("--devices needs MindSpore's msrun launcher, which is not on PATH")
    return [msrun, f"--worker_num={devices}", f"--local_worker_num={devices}", f"--master_port={master_port}",
            f"--log_dir={log_dir}", "--join=True", "python", "-m", "erfnet.cli", *argv]


def launch_workers(devices, argv, log_dir, master_port=None):
    """Run the msrun job to its end; the workers' logs go to `log_dir`. Returns msrun's exit code. The port is
    random in PORTS when not given."""
    port = master_port or random.randint(*PORTS)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    return subprocess.run(msrun_command(devices, argv, log_dir, port), env=env, check=False).returncode
