"""Running an `erfnet` subcommand on N local data-parallel workers through msrun, MindSpore's launcher (HCCL on
Ascend, its own collectives on the CPU). Every worker runs the same command line; ms_erfnet.devices joins
them into one job.

When a worker dies, msrun waits for its scheduler to time the worker out (about 40 s here) and then says only
"Distributed job exited with exception". So the job runs under a small supervisor, `python -m erfnet.launch`
(`supervise` below), written for the two things msrun lacks: it makes itself the workers' parent (a Linux child
subreaper, with msrun told not to join, so msrun exits once it has started them), learns each worker's rank
from its environment, and the moment one ends with an error or a signal it stops the others and the scheduler
and reports which rank it was and how it ended. msrun's own output goes to <log_dir>/msrun.log.
"""
import ctypes
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from facts.errors import UserError

PORTS = (20000, 40000)
PR_SET_CHILD_SUBREAPER = 36
USER_MISTAKE = 2  # the exit code of an erfnet command that stopped on a UserError
ERROR_LINE = re.compile(r"^erfnet [a-z-]+: error: .*")


@dataclass(frozen=True)
class WorkerFailure:
    """How a job failed: rank (None: not a worker, e.g. msrun or its scheduler), a one-line account, and whether
    it was a user's mistake the worker reported (exit code 2)."""
    rank: object
    message: str
    user_mistake: bool = False


def msrun_command(devices, argv, log_dir, master_port):
    """msrun starting `python -m erfnet.cli <argv>` on `devices` local workers, without joining them."""
    msrun = shutil.which("msrun", path=str(Path(sys.executable).parent)) or shutil.which("msrun")
    if msrun is None:
        raise UserError("--devices needs MindSpore's msrun launcher, which is not on PATH")
    return [msrun, f"--worker_num={devices}", f"--local_worker_num={devices}", f"--master_port={master_port}",
            f"--log_dir={log_dir}", "--join=False", "python", "-m", "erfnet.cli", *argv]


def launch_workers(devices, argv, log_dir, master_port=None):
    """Run the job to its end under the supervisor; the workers' logs go to `log_dir`. Returns None when every
    worker succeeded, else a WorkerFailure. The port is random in PORTS when not given."""
    port = master_port or random.randint(*PORTS)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "erfnet.launch", str(log_dir), *msrun_command(devices, argv, log_dir, port)]
    outcome = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    lines = outcome.stdout.strip().splitlines()
    if outcome.returncode == 0:
        return None
    if not lines:
        return WorkerFailure(None, f"the job's supervisor ended with code {outcome.returncode}; see {log_dir}")
    return WorkerFailure(**json.loads(lines[-1]))


def _ended(status):
    """'exited with code 2' or 'was killed by SIGKILL' for an os.waitpid status."""
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.WEXITSTATUS(status)}"


def _last_error_line(log):
    """The worker's own one-line error (`erfnet train: error: ...`), if its log ends with one."""
    try:
        lines = Path(log).read_text(errors="replace").splitlines()
    except OSError:
        return None
    return next((line for line in reversed(lines) if ERROR_LINE.match(line)), None)


def _roles(parent):
    """{pid: (role, rank)} of the msrun processes below `parent` (role MS_WORKER or MS_SCHED, from the environment
    msrun gives them)."""
    import psutil  # a MindSpore dependency (msrun uses it)
    found = {}
    for child in psutil.Process(parent).children():
        try:
            env = child.environ()
        except (psutil.Error, OSError):
            continue
        if env.get("MS_ROLE") in ("MS_WORKER", "MS_SCHED"):
            found[child.pid] = (env["MS_ROLE"], env.get("RANK_ID"))
    return found


def _stop(pids, process_groups):
    for pid in pids:
        try:
            (os.killpg if pid in process_groups else os.kill)(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def supervise(log_dir, msrun):
    """Run `msrun` (a command with --join=False) and its job to the end; prints one JSON line describing the
    first failure (WorkerFailure's fields) and returns 1, or returns 0 when every worker exited with code 0."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    with open(Path(log_dir) / "msrun.log", "w") as output:
        launcher = subprocess.Popen(msrun, stdout=output, stderr=subprocess.STDOUT)
    roles = {}
    while launcher.poll() is None:
        roles.update(_roles(launcher.pid))
        time.sleep(0.05)
    roles.update(_roles(os.getpid()))
    workers = {pid for pid, (role, _) in roles.items() if role == "MS_WORKER"}
    if launcher.returncode != 0 or not workers:
        _stop(roles, workers)
        print(json.dumps({"rank": None, "message": f"msrun could not start the job (exit code "
                          f"{launcher.returncode}); see {Path(log_dir) / 'msrun.log'}"}), flush=True)
        return 1
    failure, running = None, set(roles)
    try:
        while running & workers:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:  # nothing left to wait for
                break
            running.discard(pid)
            if pid not in roles or failure is not None or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                continue
            role, rank = roles[pid]
            if role == "MS_SCHED":
                failure = {"rank": None, "message": f"msrun's scheduler {_ended(status)} while the workers ran; "
                                                    f"see {Path(log_dir) / 'scheduler.log'}"}
            else:
                log = Path(log_dir) / f"worker_{rank}.log"
                error = _last_error_line(log) if os.WIFEXITED(status) else None
                mistake = os.WIFEXITED(status) and os.WEXITSTATUS(status) == USER_MISTAKE and error is not None
                who = f"rank {rank}" if rank is not None else f"a worker (pid {pid})"
                failure = {"rank": None if rank is None else int(rank), "user_mistake": mistake,
                           "message": f"{who} {_ended(status)}" + (f": {error.split(': error: ', 1)[1]}"
                                                                   if error else f"; see {log}")
                           + "; the other workers were stopped"}
            _stop(running, workers)
    finally:
        _stop(running, workers)
    if failure is None:
        return 0
    print(json.dumps(failure), flush=True)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(supervise(sys.argv[1], sys.argv[2:]))
    except KeyboardInterrupt:  # the workers were stopped on the way out; the erfnet command says "interrupted"
        sys.exit(130)
