"""`erfnet doctor`: on this machine it reports every line and exits by its problems; planted machines (an untested
MindSpore, numpy 2 beside MindSpore, no msrun, an unwritable cache, no CANN) get each problem named."""
import dataclasses
from pathlib import Path

import pytest

import erfnet.commands.doctor as doctor
from erfnet.cli import main
from facts.versions import supported

USABLE = doctor.Machine(
    python="3.11.7", versions={"mindspore": "2.10.0", "torch": "2.13.0", "numpy": "1.26.4", "onnxruntime": "1.32.0"},
    mindspore_loads=None, plugins=("ascend", "cpu", "gpu"), cann=None, ascend_cards=0, cuda=None,
    msrun="/venv/bin/msrun", onednn="capped", caches=[doctor.Cache(Path("/cache/erfnet/onnx"), True, 50 << 30)])


def planted(**changes):
    versions = changes.pop("versions", {})
    return dataclasses.replace(USABLE, versions=USABLE.versions | versions, **changes)


def test_a_usable_machine_has_no_problems():
    assert doctor.problems(USABLE) == []
    assert doctor.device_targets(USABLE) == ["CPU"]


@pytest.mark.parametrize("machine, named", [
    (planted(versions={"mindspore": "2.8.0"}), "MindSpore 2.8.0 on Python 3.11.7 is not in the tested matrix"),
    (planted(versions={"mindspore": "2.6.0"}), "MindSpore 2.6.0 is not supported (supported: mindspore>=2.7.1,<2.11)"),
    (planted(python="3.13.0"), "Python 3.13.0 is not supported (supported: Python >=3.10,<3.13)"),
    (planted(versions={"numpy": "2.1.3"}), "numpy 2.1.3 beside MindSpore 2.10.0, which cannot load numpy >=2"),
    (planted(mindspore_loads="numpy.core.multiarray failed to import"),
     "MindSpore 2.10.0 does not load: numpy.core.multiarray failed to import"),
    (planted(versions={"torch": None}), "torch is not installed"),
    (planted(msrun=None), "msrun not found on PATH"),
    (planted(caches=[doctor.Cache(Path("/ro/erfnet/onnx"), False, 50 << 30)]),
     "cache folder /ro/erfnet/onnx is not writable"),
    (planted(caches=[doctor.Cache(Path("/full/erfnet/onnx"), True, 100 << 20)]),
     "cache folder /full/erfnet/onnx: 100 MB free, below 1024 MB"),
])
def test_each_planted_problem_is_named_in_one_line(machine, named):
    found = doctor.problems(machine)
    assert len(found) == 1 and found[0].startswith(named), found


def test_numpy_2_beside_a_mindspore_that_cannot_load_it_names_cause_and_symptom():
    found = doctor.problems(planted(versions={"numpy": "2.0.0"}, mindspore_loads="_ARRAY_API not found"))
    assert [line.split(",")[0].split(":")[0] for line in found] == [
        "numpy 2.0.0 beside MindSpore 2.10.0", "MindSpore 2.10.0 does not load"]


def test_device_targets_need_plugin_cards_and_toolkit():
    assert doctor.device_targets(planted(ascend_cards=8, cann="8.3.RC1", cuda="12.4")) == [
        "CPU", "Ascend (8 cards, CANN 8.3.RC1)", "GPU (CUDA 12.4)"]
    assert doctor.device_targets(planted(ascend_cards=8)) == ["CPU"]
    assert doctor.device_targets(planted(ascend_cards=8, cann="8.3.RC1", plugins=("cpu",))) == ["CPU"]


def test_cann_version_is_read_from_the_toolkits_install_record(tmp_path):
    record = tmp_path / "x86_64-linux" / "ascend_toolkit_install.info"
    record.parent.mkdir()
    record.write_text("package_name=Ascend-cann-toolkit\nversion=8.3.RC1\ninnerversion=V100R001C23\n")
    assert doctor.cann_version({"ASCEND_HOME_PATH": str(tmp_path)}) == "8.3.RC1"
    assert doctor.cann_version({"ASCEND_HOME_PATH": str(tmp_path / "none")}) is None


def test_an_unwritable_cache_folder_is_seen(tmp_path):
    """A file where the cache's folder should be (unwritable for root too, who writes to read-only modes)."""
    (tmp_path / "cache").write_text("not a folder")
    assert not doctor.cache_state(tmp_path / "cache" / "erfnet" / "onnx").writable


def test_a_cache_folder_not_made_yet_is_judged_by_its_nearest_parent(tmp_path):
    cache = doctor.cache_state(tmp_path / "erfnet" / "onnx")
    assert cache.writable and cache.free_bytes > 0 and not (tmp_path / "erfnet").exists()


def test_doctor_on_this_machine_prints_every_line_and_exits_by_its_problems(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    code = main(["doctor"])
    lines = capsys.readouterr().out.splitlines()
    heads = [line.split()[0] for line in lines]
    assert heads[:11] == ["Python", "mindspore", "torch", "numpy", "onnxruntime", "devices", "CANN", "CUDA", "msrun",
                          "oneDNN", "cache"]
    assert lines[5].startswith("devices       CPU")
    problems = [line for line in lines if line.startswith("problem: ")]
    assert code == (1 if problems else 0) and lines[-1] == ("usable" if code == 0 else f"{len(problems)} problem"
                                                              + ("s" if len(problems) > 1 else ""))
    assert f"{tmp_path}/erfnet/onnx (writable" in lines[10]


def test_doctor_runs_where_the_start_up_check_stops_every_other_command(capsys, monkeypatch):
    monkeypatch.setattr(doctor, "installed_version", lambda name: "2.6.0" if name == "mindspore" else "1.0")
    monkeypatch.setattr("erfnet.cli.installed_version", lambda name: "2.6.0")
    assert main(["doctor"]) == 1
    assert f"problem: MindSpore 2.6.0 is not supported (supported: mindspore{supported().mindspore})" in \
        capsys.readouterr().out
    assert main(["eval", "--help"]) == 2
