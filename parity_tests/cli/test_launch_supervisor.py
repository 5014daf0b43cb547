"""The msrun supervisor (erfnet/launch.py) against a stand-in for msrun that starts workers the way msrun does
(MS_ROLE and RANK_ID in their environment, each in a session of its own, plus a scheduler) and exits: a worker
that is killed, fails with a user's mistake or crashes is named with its rank, the others are stopped at once,
and a job whose workers all succeed is a success; the multi-host options become this host's share of the job.
Seconds, no MindSpore."""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import pytest

from erfnet.launch import (Hosts, WorkerFailure, add_device_arguments, add_host_arguments, hosts_of, launches,
                           msrun_command, msrun_log)
from facts.errors import UserError

FAKE_MSRUN = """
import os, subprocess, sys
log_dir, behaviours = sys.argv[1], sys.argv[2:]
code = {
    "ok": "import time; time.sleep(1)",
    "sleep": "import time; time.sleep(120)",
    "kill": "import os, signal, time; time.sleep(1); os.kill(os.getpid(), signal.SIGKILL)",
    "mistake": "import sys, time; time.sleep(1); print('erfnet train: error: x.png: unreadable'); sys.exit(2)",
    "crash": "import time; time.sleep(1); raise RuntimeError('a bug')",
}
for rank, behaviour in enumerate(behaviours):
    with open(os.path.join(log_dir, f"worker_{rank}.log"), "w") as log:
        subprocess.Popen([sys.executable, "-c", code[behaviour]], stdout=log, stderr=subprocess.STDOUT,
                         env=dict(os.environ, MS_ROLE="MS_WORKER", RANK_ID=str(rank)), start_new_session=True)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], env=dict(os.environ, MS_ROLE="MS_SCHED"))
"""


def supervised(tmp_path, *behaviours):
    """(WorkerFailure or None, seconds) of a job of workers with the given behaviours."""
    (tmp_path / "msrun.py").write_text(FAKE_MSRUN)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "erfnet.launch", str(tmp_path), sys.executable,
                           str(tmp_path / "msrun.py"), str(tmp_path), *behaviours], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    seconds = time.monotonic() - start
    lines = done.stdout.strip().splitlines()
    assert (done.returncode == 0) == (not lines), done.stderr
    return (WorkerFailure(**json.loads(lines[-1])) if lines else None), seconds


@pytest.mark.parametrize("behaviour, message, mistake", [
    ("kill", "rank 1 was killed by SIGKILL; see {}/worker_1.log; the other workers were stopped", False),
    ("mistake", "rank 1 exited with code 2: x.png: unreadable; the other workers were stopped", True),
    ("crash", "rank 1 exited with code 1; see {}/worker_1.log; the other workers were stopped", False),
])
def test_the_first_worker_to_fail_is_named_and_the_others_stopped(tmp_path, behaviour, message, mistake):
    failure, seconds = supervised(tmp_path, "sleep", behaviour)
    assert failure == WorkerFailure(1, message.format(tmp_path), mistake)
    assert seconds < 30, "the sleeping worker and the scheduler (120 s each) were stopped, not waited for"


def test_a_job_whose_workers_all_succeed_is_a_success(tmp_path):
    failure, seconds = supervised(tmp_path, "ok", "ok")
    assert failure is None and seconds < 30, "the scheduler is not waited for once every worker is done"


def host_arguments(*argv):
    parser = argparse.ArgumentParser()
    add_device_arguments(parser, workers="train")
    add_host_arguments(parser)
    return parser.parse_args(list(argv))


def test_each_host_launches_its_workers_of_the_whole_job(tmp_path):
    """The multi-host command line, as scripts/run_distribute_train.sh gives it, becomes msrun's options for this
    host's share under the same supervisor."""
    args = host_arguments("--devices", "2", "--nodes", "3", "--node-rank", "1", "--master-addr", "10.0.0.1",
                          "--master-port", "8118")
    hosts = hosts_of(args)
    assert hosts == Hosts(3, 1, "10.0.0.1") and launches(args)
    command = msrun_command(2, ["train"], tmp_path, 8118, hosts)
    assert command[1:8] == ["--worker_num=6", "--local_worker_num=2", "--master_port=8118", f"--log_dir={tmp_path}",
                            "--join=False", "--master_addr=10.0.0.1", "--node_rank=1"]
    assert msrun_command(2, ["train"], tmp_path, 8118)[1:6] == ["--worker_num=2", "--local_worker_num=2",
                                                                "--master_port=8118", f"--log_dir={tmp_path}",
                                                                "--join=False"]
    assert launches(host_arguments("--nodes", "2", "--master-addr", "h", "--master-port", "1"))
    assert not launches(host_arguments())
    assert msrun_log(tmp_path, "0") == tmp_path / "msrun.log" and msrun_log(tmp_path, 2) == tmp_path / "msrun_node2.log"


@pytest.mark.parametrize("argv, message", [
    (("--nodes", "0"), "--nodes 0: must be at least 1"),
    (("--nodes", "2", "--node-rank", "2", "--master-addr", "h", "--master-port", "1"), "--node-rank 2: must be from 0 to 1"),
    (("--nodes", "2", "--master-port", "1"), "--nodes 2: give --master-addr"),
    (("--nodes", "2", "--master-addr", "h"), "--nodes 2: give --master-addr"),
    (("--rank-table", "/no/such/table.json"), "--rank-table /no/such/table.json: no such file"),
])
def test_a_wrong_host_option_is_one_line(argv, message):
    with pytest.raises(UserError, match="^" + re.escape(message)):
        hosts_of(host_arguments(*argv))


def test_the_scheduler_port_is_free_and_not_drawn_from_the_seeded_random(monkeypatch):
    """Two pytest workers whose `random` a seeded reference run had left alike drew one port, and one job's worker
    registered with the other job's scheduler: the port comes from the OS's randomness and is checked free."""
    import random
    import socket
    from erfnet import launch
    draws = []
    for _ in range(4):
        random.seed(0)
        draws.append(launch.free_port())
    assert len(set(draws)) > 1
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        offered = iter([taken, taken + 1 if taken < launch.PORTS[1] else taken - 1])
        monkeypatch.setattr(random.SystemRandom, "randint", lambda self, low, high: next(offered))
        assert launch.free_port() != taken
