"""What `erfnet train` does with the folder it is given (train/run_folder.py): a user's folder is refused and left as
it was, a run keeps its config (each changed field named with the run's value and the new one), a run is
recognised by its marker and its temporaries are removed (only those), and an --out that cannot be used is one
line with exit code 2. None of this trains: every refusal comes before the first step."""
import shutil
from pathlib import Path

import pytest

from erfnet.cli import main
from facts.errors import UserError
from helpers.file_faults import read_only
from train.config import SHIPPED
from train.run import planned_run
from train.run_folder import changed_fields, check_run_folder, open_run

SMOKE = Path(str(SHIPPED / "smoke.yaml"))


def files_of(folder):
    return {path.relative_to(folder): path.read_bytes() for path in Path(folder).rglob("*") if path.is_file()}


def train(capsys, data_root, out, *extra, config=SMOKE):
    capsys.readouterr()
    code = main(["train", "--config", str(config), "--data", str(data_root), "--out", str(out), "--quiet", *extra])
    return code, capsys.readouterr().err.strip().splitlines()


def make_run(folder, data_root, overrides=(), stages_with_results=(1,)):
    """A run folder as `erfnet train` leaves it: marker, config.yaml and results in the given stages."""
    config, chosen = planned_run(SMOKE, data_root, folder, overrides)
    open_run(folder, config, chosen, resume=False)
    for number in stages_with_results:
        (folder / f"stage{number}").mkdir()
        (folder / f"stage{number}" / "metrics.jsonl").write_text("{}\n")
    return config


@pytest.mark.parametrize("options", [[], ["--resume"], ["--from-its-own-config"]])
def test_a_users_folder_is_refused_and_left_as_it_was(data_root, tmp_path, capsys, options):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text("# my own notes on this recipe\n" + SMOKE.read_text())
    (mine / "notes.txt").write_text("do not lose me")
    before = files_of(mine)
    config = mine / "config.yaml" if options == ["--from-its-own-config"] else SMOKE
    code, err = train(capsys, data_root, mine, *[o for o in options if o == "--resume"], config=config)
    assert code == 2 and len(err) == 1, err
    assert "not a training run" in err[0] and str(mine) in err[0] and "it holds config.yaml, notes.txt" in err[0]
    assert ("nothing to resume" in err[0]) == (options == ["--resume"])
    assert files_of(mine) == before and sorted(p.name for p in mine.iterdir()) == ["config.yaml", "notes.txt"]


def test_a_run_keeps_its_config(data_root, tmp_path, capsys):
    run = tmp_path / "run"
    config = make_run(run, data_root)
    before = files_of(run)
    code, err = train(capsys, data_root, run, "--resume", "--set", "lr0=0.5", "--set", "stages.1.epochs=[1,3]",
                      "--set", "stages.2.epochs=[4,4]")
    assert code == 2 and len(err) == 1, err
    assert "lr0 (run: 0.002, now: 0.5)" in err[0] and "stages.1.epochs (run: [1, 2], now: [1, 3])" in err[0]
    assert "stages.2" not in err[0], "stage 2 has no results yet: its fields may change"
    assert files_of(run) == before, "nothing written"
    code, err = train(capsys, data_root, run, "--stages", "1")
    assert code == 2 and "already holds stage1; pass --resume" in err[0]
    changed, chosen = planned_run(SMOKE, data_root, run, ["stages.2.epochs=[3,3]", "workers=2"], "2")
    assert changed_fields(config, changed, [1]) == [], "a stage without results and workers may change"
    assert check_run_folder(run, changed, chosen, resume=False) == config
    open_run(run, changed, chosen, resume=False)
    assert planned_run(run / "config.yaml", data_root, run, (), "2")[0] == changed, "config.yaml follows"


def test_a_run_whose_config_was_edited_or_lost_is_refused(data_root, tmp_path):
    run = tmp_path / "run"
    config = make_run(run, data_root)
    chosen = list(config.stages)
    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("lr0: 0.002", "lr0: 0.001"))
    with pytest.raises(UserError, match="config.yaml: changed since this run wrote it"):
        check_run_folder(run, config, chosen, resume=True)
    (run / "config.yaml").unlink()
    with pytest.raises(UserError, match="config.yaml: missing"):
        check_run_folder(run, config, chosen, resume=True)
    shutil.rmtree(run / "stage1")
    assert check_run_folder(run, config, chosen, resume=True) is None, "no results yet: the run starts afresh"


def test_a_new_run_starts_in_a_new_or_empty_folder_or_one_holding_only_the_launchers_logs(data_root, tmp_path):
    config, chosen = planned_run(SMOKE, data_root, tmp_path / "new")
    empty, logs = tmp_path / "empty", tmp_path / "logs"
    empty.mkdir()
    (logs / "msrun_logs").mkdir(parents=True)
    for folder in (tmp_path / "new", empty, logs):
        for resume in (False, True):
            assert check_run_folder(folder, config, chosen, resume) is None
        open_run(folder, config, chosen, resume=False)
        assert {"erfnet_run.json", "config.yaml"} <= {path.name for path in folder.iterdir()}


def test_open_run_removes_only_the_temporaries_of_an_interrupted_write(data_root, tmp_path):
    run = tmp_path / "run"
    config = make_run(run, data_root)
    (run / "stage1" / "checkpoints").mkdir()
    ours = [run / ".config.yaml.k3j2h1g0.tmp.yaml", run / "stage1" / ".best.ckpt.fu1gwzjw.tmp.ckpt",
            run / "stage1" / "checkpoints" / ".epoch_002.ckpt.ab12cd34.tmp.tmp"]
    users = [run / ".hidden", run / "stage1" / "notes.tmp", run / "stage1" / "checkpoints" / "epoch_002.ckpt.tmp",
             run / "stage1" / ".best.ckpt.short.tmp.ckpt"]
    for path in ours + users:
        path.write_bytes(b"x")
    open_run(run, config, list(config.stages)[:1], resume=True)
    assert [path.exists() for path in ours] == [False] * len(ours)
    assert [path.exists() for path in users] == [True] * len(users)


def test_an_out_that_cannot_be_used_is_one_line(data_root, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    code, err = train(capsys, data_root, tmp_path / "notes.txt")
    assert code == 2 and len(err) == 1 and "is a file" in err[0]
    assert (tmp_path / "notes.txt").read_text() == "mine"
    (tmp_path / "locked").mkdir()
    with read_only(tmp_path / "locked"):
        code, err = train(capsys, data_root, tmp_path / "locked" / "run")
    assert code == 2 and len(err) == 1 and "cannot write here" in err[0] and "locked" in err[0], err
    assert list((tmp_path / "locked").iterdir()) == []
    run = tmp_path / "run"
    make_run(run, data_root, stages_with_results=())
    with read_only(run):
        code, err = train(capsys, data_root, run, "--resume")
    assert code == 2 and len(err) == 1 and "cannot write here" in err[0], err
