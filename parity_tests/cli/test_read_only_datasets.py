"""Datasets on read-only mounts (a team's shared folder): every command that reads one works there, or says in
one line what it could not write and which option puts it elsewhere. The mount is a real read-only bind mount
in a private mount namespace (unshare -m), since root writes through file permissions."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from data.make_data import make_data
from helpers.upstream_weights import save_upstream

ERFNET = str(Path(sys.executable).with_name("erfnet"))


def read_only(folder, *commands):
    """Run each `erfnet` command line in `commands` with `folder` mounted read-only; [(exit code, output)]."""
    script = [f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} || exit 99",
              f"touch {folder}/probe 2>/dev/null && exit 98"]
    for number, argv in enumerate(commands):
        script.append(f"{ERFNET} {' '.join(map(str, argv))} > {folder.parent}/out{number}.txt 2>&1; "
                      f"echo $? > {folder.parent}/code{number}.txt")
    result = subprocess.run(["unshare", "-m", "sh", "-c", "\n".join(script)], capture_output=True, text=True,
                            timeout=900)
    if result.returncode in (99, 98) or result.stderr.startswith("unshare:"):
        pytest.skip(f"no read-only bind mount here ({result.stderr.strip() or 'mounted, but still writable'})")
    return [(int((folder.parent / f"code{n}.txt").read_text()), (folder.parent / f"out{n}.txt").read_text())
            for n in range(len(commands))]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux's unshare")
def test_commands_on_a_read_only_dataset(tmp_path):
    data = tmp_path / "data"
    make_data(data, {"train": 2, "val": 2}, 64, seed=0)
    save_upstream(data / "w.pth")
    save_upstream(tmp_path / "w.pth")
    prepare, eval_beside, (eval_elsewhere, scored), (infer, predicted) = [
        (code, output.strip().splitlines()) for code, output in read_only(
            data, ["prepare", "--data", data, "--height", 32],
            ["eval", "--weights", data / "w.pth", "--data", data, "--height", 32],
            ["eval", "--weights", data / "w.pth", "--data", data, "--height", 32, "--metrics-out", tmp_path / "m"],
            ["infer", "--weights", tmp_path / "w.pth", "--input", data / "leftImg8bit", "--out", tmp_path / "out",
             "--height", 32])]
    assert prepare == (2, [f"erfnet prepare: error: {data}/mindrecord: cannot write here (Read-only file system): "
                           f"give --out DIR for the cache, with one --split"])
    assert eval_beside == (2, [f"erfnet eval: error: {data}: cannot write here (Read-only file system): the metrics "
                               f"files go beside the weights; give --metrics-out DIR"])
    assert eval_elsewhere == 0 and (tmp_path / "m" / "w.pth.metrics.json").is_file(), scored
    assert infer == 0 and len(list((tmp_path / "out" / "color").rglob("*.png"))) == 4, predicted
