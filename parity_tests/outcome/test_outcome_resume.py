"""`erfnet compare-training --resume` and the full bench's results: a comparison cut off in a run goes on with
the runs that ended kept as they were and the cut-off one trained again; another comparison is refused; the
docs table is the one the results JSON makes. Runs are made up here (no training)."""
import json
import sys
from pathlib import Path

import pytest

import outcome.comparison
from facts.errors import UserError
from outcome.comparison import RUN_RECORD, Comparison, EpochPoint, TrainingRun, compare_training, plan_comparison
from torch_ref.loss import CLASS_WEIGHTS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import compare_training as bench  # noqa: E402
from bench.outcome_table import DOCS, section, table  # noqa: E402


def made_up(framework, seed, final):
    points = (EpochPoint(framework, seed, 1, 1, 1.5, None, 9.0, 2.0), EpochPoint(framework, seed, 1, 2, 1.0, final,
                                                                                   9.0, 2.0))
    return TrainingRun(framework, seed, points, wall_seconds=5.0 + seed, cpu_seconds=7.0 + seed)


class Runners:
    """Stands in for the two trainers: leaves a file in the run's folder, returns a made-up run; `cut_at` (framework,
    seed) is interrupted there, as a Ctrl-C or a killed process would."""

    def __init__(self, cut_at=None):
        self.cut_at, self.calls = cut_at, []

    def runner(self, framework):
        def run(comparison, seed, quiet):
            self.calls.append((framework, seed))
            folder = comparison.folder(framework, seed)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "partial.ckpt").write_bytes(b"x")
            if (framework, seed) == self.cut_at:
                raise KeyboardInterrupt
            return made_up(framework, seed, 0.5 + 0.01 * seed + (framework == "pytorch") * 0.001)
        return run

    def install(self, monkeypatch):
        monkeypatch.setattr(outcome.comparison, "RUNNERS", {name: self.runner(name) for name in ("mindspore", "pytorch")})


def comparison(out, seeds=(0, 1), start="own", resume=False):
    return Comparison(Path("learn"), out / "data", out, seeds, "cityscapes", CLASS_WEIGHTS, start, resume=resume)


def test_a_resumed_comparison_keeps_the_runs_that_ended_and_trains_the_cut_off_one_again(tmp_path, monkeypatch):
    first = Runners(cut_at=("pytorch", 1))
    first.install(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        compare_training(comparison(tmp_path))
    assert first.calls == [("mindspore", 0), ("pytorch", 0), ("mindspore", 1), ("pytorch", 1)]
    assert not (tmp_path / "pytorch" / "seed1" / RUN_RECORD).exists()
    second = Runners()
    second.install(monkeypatch)
    runs = compare_training(comparison(tmp_path, resume=True))
    assert second.calls == [("pytorch", 1)]
    assert runs == [made_up("mindspore", 0, 0.5), made_up("pytorch", 0, 0.501), made_up("mindspore", 1, 0.51),
                    made_up("pytorch", 1, 0.511)]


def test_without_resume_every_run_trains_and_an_interrupted_folder_starts_clean(tmp_path, monkeypatch):
    Runners(cut_at=("mindspore", 0)).install(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        compare_training(comparison(tmp_path, seeds=(0,)))
    (tmp_path / "mindspore" / "seed0" / "stale.txt").write_text("from the cut-off run")
    again = Runners()
    again.install(monkeypatch)
    compare_training(comparison(tmp_path, seeds=(0,), resume=True))
    assert again.calls == [("mindspore", 0), ("pytorch", 0)]
    assert not (tmp_path / "mindspore" / "seed0" / "stale.txt").exists()


@pytest.mark.parametrize("seeds, start, named", [(2, "same", "start"), (3, "own", "seeds")])
def test_resume_refuses_another_comparison_and_a_busy_out_names_resume(tmp_path, monkeypatch, data_root, seeds,
                                                                         start, named):
    Runners().install(monkeypatch)
    earlier = plan_comparison("learn", data_root, tmp_path / "out", 2)
    compare_training(earlier)
    with pytest.raises(UserError, match="--resume to continue it"):
        plan_comparison("learn", data_root, tmp_path / "out", 2)
    assert plan_comparison("learn", data_root, tmp_path / "out", 2, resume=True).resume
    with pytest.raises(UserError, match=f"another {named}"):
        plan_comparison("learn", data_root, tmp_path / "out", seeds, start, resume=True)


def test_the_bench_reads_ended_runs_and_judges_only_a_complete_case(tmp_path, monkeypatch):
    Runners(cut_at=("pytorch", 1)).install(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        compare_training(comparison(tmp_path / "learn_own"))
    result = bench.case_result("learn:own", tmp_path / "learn_own", 2)
    assert not result["complete"] and "verdict" not in result
    assert result["runs"]["mindspore"]["1"]["final_val_miou"] == 0.51
    assert result["runs"]["pytorch"]["0"]["curve"] == [[1, 2, 0.501]]
    assert "1" not in result["runs"]["pytorch"]
    results = {"date": "2026-12-05", "machine": {"cores": 2, "processor": "a CPU"},
               "versions": {"mindspore": "2.x", "torch": "2.y"}, "cases": {"learn:own": result}}
    assert "| learn | own | 0.5050 ± 0.0071 (2 seeds) | 0.5010 (1 seed) | - | - | 3 of 4 runs ended | - |" in \
        table(results)


def test_the_docs_table_is_the_one_the_results_json_makes():
    results = json.loads((Path(bench.RESULTS) / "compare_training.json").read_text())
    assert section(DOCS.read_text()) == table(results)
    planted = json.loads(json.dumps(results))
    first = next(iter(planted["cases"].values()))
    first["runs"].setdefault("mindspore", {})["99"] = {"final_val_miou": 0.123}
    assert table(planted) != section(DOCS.read_text()), "a changed result must show in the table"


def test_the_same_start_leaves_mindspores_run_folder_to_erfnet_train(tmp_path, monkeypatch):
    """--start same writes PyTorch's starts before MindSpore trains; erfnet train refuses a run folder that holds
    anything of someone else's, so the starts must live elsewhere (they were in the run folder: the bench's
    learn:same case stopped at its first run)."""
    from outcome.comparison import train_mindspore_same_start
    from train.run_folder import check_run_folder
    calls = []

    def train(config_path, data_root, out, overrides, stages, quiet, loss_weights):
        config = outcome.comparison.read_config(config_path, overrides)
        check_run_folder(out, config, config.stages, resume=False)
        calls.append(overrides[-1])
    monkeypatch.setattr(outcome.comparison, "train_from_config", train)
    planned = comparison(tmp_path, seeds=(0,), start="same")
    train_mindspore_same_start(planned, 0, planned.folder("mindspore", 0), quiet=True)
    start = planned.starts_folder(0) / "stage1_pytorch_start.pth"
    assert start.is_file() and calls == [f'stages.1.init={{file: "{start}", part: all}}']
