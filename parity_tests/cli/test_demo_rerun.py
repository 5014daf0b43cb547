"""`make demo` runs again over its own output: the training run an earlier demo left is replaced, and a folder
that is not a training run is refused, never deleted."""
import pytest

from erfnet.commands.demo import replace_previous_run
from facts.errors import UserError
from train.run_folder import MARKER


def test_a_previous_demo_run_is_replaced(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "stage1").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("seed: 0\n")
    (run_dir / MARKER).write_text("{}\n")
    (run_dir / "stage1" / "final.ckpt").write_bytes(b"weights")
    replace_previous_run(run_dir)
    assert not run_dir.exists()


def test_a_folder_that_is_not_a_training_run_is_kept(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("mine")
    (run_dir / "config.yaml").write_text("# my own recipe\n")
    with pytest.raises(UserError, match="not a training run"):
        replace_previous_run(run_dir)
    assert (run_dir / "notes.txt").read_text() == "mine" and (run_dir / "config.yaml").is_file()
