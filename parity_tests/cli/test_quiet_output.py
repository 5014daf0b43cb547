"""`erfnet` commands in normal use show the project's own lines only: no MindSpore log line, no Python warning,
no carriage return on a pipe; where MindSpore would have warned (a stage's fresh decoder), the project says it
in one line. The user's own GLOG_v still shows MindSpore's log. Each command runs in a subprocess, as a user
runs it."""
import os
import subprocess
import sys

import pytest

from data.make_data import make_data
from helpers.console_lines import unwanted
from helpers.upstream_weights import save_upstream

MINDSPORE_WARNING = ("[WARNING] ME(27156:140074305985408,MainProcess):2026-12-01-09:36:07.131.000 [mindspore/train/"
                     "serialization.py:1858] For 'load_param_into_net', 78 parameters in the 'net' are not loaded")


def erfnet(folder, *argv, **env):
    quiet = {name: value for name, value in os.environ.items() if not name.startswith("GLOG_")}
    return subprocess.run([sys.executable, "-m", "erfnet.cli", *map(str, argv)], cwd=folder, capture_output=True,
                          text=True, env=dict(quiet, **env))


def test_the_check_sees_what_a_person_should_not_see():
    assert unwanted(f"stage3: the decoder starts from fresh weights (78 tensors)\n{MINDSPORE_WARNING}\n") == [
        MINDSPORE_WARNING]
    assert unwanted("a.py:3: UserWarning: slow\nstep 1/8\rstep 2/8\nStart worker process with rank id:0\n") == [
        "a.py:3: UserWarning: slow", "step 1/8\rstep 2/8", "Start worker process with rank id:0"]


@pytest.mark.slow
def test_convert_train_and_eval_show_no_mindspore_log(tmp_path):
    make_data(tmp_path / "scenes", {"train": 4, "val": 2}, 64, seed=0)
    save_upstream(tmp_path / "net.pth")
    runs = {"convert": erfnet(tmp_path, "convert", "net.pth", "net.ckpt"),
            "train": erfnet(tmp_path, "train", "--config", "smoke", "--data", "scenes", "--out", "run", "--stages", "3",
                            "--init", "net.ckpt", "--set", "stages.3.epochs=[1,1]"),
            "eval": erfnet(tmp_path, "eval", "--weights", "run/stage3/final.ckpt", "--data", "scenes", "--height", "32")}
    for name, run in runs.items():
        assert run.returncode == 0, f"{name}: {run.stderr}"
        assert unwanted(run.stdout + run.stderr) == [], name
    assert "stage3: the decoder starts from fresh weights (78 tensors)\n" in runs["train"].stderr
    assert "mIoU" in runs["eval"].stdout
    told = erfnet(tmp_path, "convert", "net.pth", "again.ckpt", GLOG_v="1")
    assert told.returncode == 0 and unwanted(told.stderr), "the user's GLOG_v shows MindSpore's log"
