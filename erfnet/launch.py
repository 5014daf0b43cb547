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

Several hosts (`erfnet train --nodes N --node-rank R --master-addr ADDR --master-port P`, run once on each, or
scripts/run_distribute_train.sh): each host's launcher starts its `--devices` workers of the N x devices under its
own supervisor, which ends its host's part of the job the moment one of its workers dies (the other hosts' workers
then fail in their next collective and their supervisors report it); a host other than node 0 writes msrun's
output to <log_dir>/msrun_node<R>.log.
"""
import ctypes
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from erfnet.logs import worker_environment
from erfnet.msrun_path import msrun_path
from facts.errors import UserError
from ms_erfnet.devices import (DEVICE_TARGETS, NODE_RANK_VARIABLE, Devices, in_msrun_job, init_data_parallel,
                               resolve_device, select_device)

PORTS = (20000, 40000)
EXIT_CODE_FILE = "exit_code"
EXIT_CODE_VARIABLE = "ERFNET_EXIT_CODE_FILE"
PR_SET_CHILD_SUBREAPER = 36
USER_MISTAKE = 2  # the exit code of an erfnet command that stopped on a UserError
ERROR_LINE = re.compile(r"^erfnet [a-z-]+: error: .*")


@dataclass(frozen=True)
class Hosts:
    """The hosts of a job: `nodes` of them, this one `node_rank`, node 0 at `master` (None: this machine); an HCCL
    `rank_table` file where the cluster assigns devices by rank table."""
    nodes: int = 1
    node_rank: int = 0
    master: str = None
    rank_table: Path = None


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


def add_host_arguments(parser):
    """--nodes, --node-rank, --master-addr and --rank-table: one job over several hosts, launched on each."""
    parser.add_argument("--nodes", type=int, default=1,
                        help="hosts in the job; run the same command on each, with its --node-rank (--devices "
                             "workers on each host, gradients averaged over all)")
    parser.add_argument("--node-rank", type=int, default=0, help="this host's rank among --nodes, 0 on the master")
    # not "--master": msrun reads the option-like words of the command it runs too, and would take it for an
    # abbreviation of its own --master_addr or --master_port
    parser.add_argument("--master-addr", default=None, help="address of the node-0 host, with --nodes > 1")
    parser.add_argument("--rank-table", type=Path, default=None,
                        help="HCCL rank table file, for clusters that assign devices by rank table")


def hosts_of(args):
    """The Hosts of a command's arguments (one host for commands without add_host_arguments)."""
    hosts = Hosts(getattr(args, "nodes", 1), getattr(args, "node_rank", 0), getattr(args, "master_addr", None),
                  getattr(args, "rank_table", None))
    if hosts.nodes < 1:
        raise UserError(f"--nodes {hosts.nodes}: must be at least 1")
    if not 0 <= hosts.node_rank < hosts.nodes:
        raise UserError(f"--node-rank {hosts.node_rank}: must be from 0 to {hosts.nodes - 1} with --nodes {hosts.nodes}")
    if hosts.nodes > 1 and (hosts.master is None or args.master_port is None):
        raise UserError(f"--nodes {hosts.nodes}: give --master-addr (the node-0 host's address) and --master-port, "
                        f"the same on every host")
    if hosts.rank_table is not None and not hosts.rank_table.is_file():
        raise UserError(f"--rank-table {hosts.rank_table}: no such file")
    return hosts


def launches(args):
    """True for the command the user started with --devices N > 1 or --nodes N > 1: it launches the job (its
    share of it, on several hosts) instead of working."""
    if args.devices < 1:
        raise UserError(f"--devices {args.devices}: must be at least 1")
    return (args.devices > 1 or hosts_of(args).nodes > 1) and not in_msrun_job()


def join_devices(args):
    """Set the device target of `args.device` and, inside an msrun job, join it; returns this process's Devices."""
    select_device(args.device)
    return init_data_parallel() if in_msrun_job() else Devices()


def msrun_command(devices, argv, log_dir, master_port, hosts=Hosts()):
    """msrun starting `python -m erfnet.cli <argv>` on `devices` local workers of `hosts`, without joining them."""
    msrun = msrun_path()
    if msrun is None:
        raise UserError("--devices needs MindSpore's msrun launcher, which is not on PATH")
    command = [msrun, f"--worker_num={devices * hosts.nodes}", f"--local_worker_num={devices}",
               f"--master_port={master_port}", f"--log_dir={log_dir}", "--join=False"]
    if hosts.nodes > 1:
        command += [f"--master_addr={hosts.master}", f"--node_rank={hosts.node_rank}"]
    if hosts.rank_table is not None:
        command.append(f"--rank_table_file={hosts.rank_table}")
    return command + ["python", "-m", "erfnet.cli", *argv]


def msrun_log(log_dir, node_rank):
    """Where the supervisor of host `node_rank` writes msrun's own output."""
    return Path(log_dir) / ("msrun.log" if int(node_rank) == 0 else f"msrun_node{node_rank}.log")


def free_port(tries=50):
    """A port in PORTS that nothing listens on now, drawn from the operating system's randomness: the process's own
    `random` may be seeded alike in two processes (pytest-xdist workers under hypothesis' derandomised runs drew the
    same port, and one job's worker registered with the other job's scheduler)."""
    draw = random.SystemRandom()
    for _ in range(tries):
        port = draw.randint(*PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise UserError(f"no free port for msrun's scheduler in {PORTS[0]}-{PORTS[1]}; give --master-port")


def launch_workers(devices, argv, log_dir, master_port=None, hosts=Hosts()):
    """Run this host's part of the job to its end under the supervisor, following the log of its first worker
    (rank 0's on node 0) on stdout; the workers' logs go to `log_dir`. Returns None when every worker succeeded,
    else a WorkerFailure. The port is random in PORTS when not given."""
    port = master_port or free_port()
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / EXIT_CODE_FILE).unlink(missing_ok=True)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               **worker_environment(log_dir))
    env[EXIT_CODE_VARIABLE] = str((log_dir / EXIT_CODE_FILE).resolve())
    env[NODE_RANK_VARIABLE] = str(hosts.node_rank)
    command = [sys.executable, "-m", "erfnet.launch", str(log_dir), *msrun_command(devices, argv, log_dir, port, hosts)]
    rank0 = _Follower(log_dir / f"worker_{hosts.node_rank * devices}.log")
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
    hosts = hosts_of(args)
    resolve_device(args.device, args.devices)
    share = f" (node {hosts.node_rank} of {hosts.nodes})" if hosts.nodes > 1 else ""
    print(f"launching {args.devices} workers{share} through msrun (logs in {log_dir})", flush=True)
    failure = launch_workers(args.devices, args.argv, log_dir, args.master_port, hosts)
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
    msrun_output = msrun_log(log_dir, os.environ.get(NODE_RANK_VARIABLE, 0))
    with open(msrun_output, "w") as output:
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
                          f"{launcher.returncode}); see {msrun_output}"}), flush=True)
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
