"""Running an `erfnet` subcommand on N local data-parallel workers through msrun, MindSpore's launcher (HCCL on
Ascend, its own collectives on the CPU), and the device options every command that runs a network shares.

The command the user starts with `--devices N` checks its inputs, then runs its own command line again under
msrun; every worker runs it inside the job (ms_erfnet.devices.in_msrun_job), joins it and does its share.
msrun treats a worker's non-zero exit as a crash, so a worker that finished exits 0 and the writer (rank 0)
leaves its command's exit code (e.g. infer's 1 for unreadable images) in a file for the launcher. The console
shows rank 0's output (its log, followed while the job runs).

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
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from erfnet.logs import worker_environment
from erfnet.msrun_path import msrun_path
from facts.errors import UserError
from ms_erfnet.devices import DEVICE_TARGETS, Devices, in_msrun_job, init_data_parallel, resolve_device, select_device

PORTS = (20000, 40000)
EXIT_CODE_FILE = "exit_code"
EXIT_CODE_VARIABLE = "ERFNET_EXIT_CODE_FILE"
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
    """msrun starting `python -m erfnet.cli <argv>` on `devices` local workers, without joining them."""
    msrun = msrun_path()
    if msrun is None:
        raise UserError("--devices needs MindSpore's msrun launcher, which is not on PATH")
    return [msrun, f"--worker_num={devices}", f"--local_worker_num={devices}", f"--master_port={master_port}",
            f"--log_dir={log_dir}", "--join=False", "python", "-m", "erfnet.cli", *argv]


def launch_workers(devices, argv, log_dir, master_port=None):
    """Run the job to its end under the supervisor, following rank 0's log on stdout; the workers' logs go to
    `log_dir`. Returns None when every worker succeeded, else a WorkerFailure. The port is random in PORTS when
    not given."""
    port = master_port or random.randint(*PORTS)
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / EXIT_CODE_FILE).unlink(missing_ok=True)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               **worker_environment(log_dir))
    env[EXIT_CODE_VARIABLE] = str((log_dir / EXIT_CODE_FILE).resolve())
    command = [sys.executable, "-m", "erfnet.launch", str(log_dir), *msrun_command(devices, argv, log_dir, port)]
    rank0 = _Follower(log_dir / "worker_0.log")
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as supervisor:
        while supervisor.poll() is None:
            rank0.show()
            time.sleep(0.2)
        lines = supervisor.stdout.read().strip().splitlines()
    rank0.show()
    if supervisor.returncode == 0:
        return None
    if not lines:
        return WorkerFailure(None, f"the job's supervisor ended with code {supervisor.returncode}; see {log_dir}")
    return WorkerFailure(**json.loads(lines[-1]))


class _Follower:
    """Copies what a log file gains to stdout, whole lines only (msrun creates the file after a while)."""

    def __init__(self, path):
        self.path, self.offset = Path(path), 0

    def show(self):
        try:
            with open(self.path, "rb") as log:
                log.seek(self.offset)
                data = log.read()
        except OSError:
            return
        complete = data[:data.rfind(b"\n") + 1]
        self.offset += len(complete)
        if complete:
            sys.stdout.write(complete.decode(errors="replace"))
            sys.stdout.flush()


def launch(args, log_dir):
    """Run the user's command line (`args.argv`) on `args.devices` workers, after checking that the devices
    exist; returns the job's exit code (the writer's, see `exit_code`), or 1 after one line naming the worker
    that failed; a worker's own user-mistake line becomes this command's (exit 2)."""
    resolve_device(args.device, args.devices)
    print(f"launching {args.devices} workers through msrun (logs in {log_dir})", flush=True)
    failure = launch_workers(args.devices, args.argv, log_dir, args.master_port)
    if failure is not None:
        if failure.user_mistake:
            raise UserError(failure.message)
        print(f"erfnet {args.argv[0]}: error: {failure.message}", file=sys.stderr)
        return 1
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
