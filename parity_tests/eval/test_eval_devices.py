"""Evaluation on several devices without msrun: exact shards (every image once, also when the workers do not
divide the split), shard tallies of each protocol that add up to the single-process tally, a worker without
images, the launcher's exit code, and `--device` / `--devices` mistakes reported before any worker starts. The
msrun jobs themselves are in parity_tests/cli/test_msrun_jobs.py."""
import shutil

import mindspore as ms
import numpy as np
import pytest
from hypothesis import given, strategies as st

import erfnet.launch
from convert.network import load_full_network
from data.make_data import make_data
from data.pipeline import make_dataset
from erfnet.cli import main
from erfnet.launch import EXIT_CODE_VARIABLE, exit_code
from eval.evaluate import tally_shard
from facts.errors import UserError
from helpers.msrun_runs import VAL_IMAGES
from ms_erfnet.devices import Devices, resolve_device, shard

HEIGHT = 32


@pytest.fixture(scope="module")
def seven_val(tmp_path_factory):
    """A Cityscapes root with VAL_IMAGES val scenes of 64x32."""
    root = tmp_path_factory.mktemp("seven_val")
    make_data(root, {"train": 1, "val": VAL_IMAGES}, 64, seed=2)
    return root


@given(count=st.integers(0, 60), size=st.integers(1, 9))
def test_shards_partition_the_items_exactly(count, size):
    items = list(range(count))
    shards = [shard(items, size, rank) for rank in range(size)]
    assert sorted(sum(shards, [])) == items
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def shard_stems(root, size, exact, **options):
    """The stems each of `size` pipelines over the val split yields."""
    stems = []
    for rank in range(size):
        data = make_dataset(root, "val", recipe="val", height=HEIGHT, num_shards=size, shard_id=rank,
                            exact_shards=exact, with_meta=True, **options)
        stems.append([str(row["stem"][0]) for row in data.create_dict_iterator(num_epochs=1, output_numpy=True)])
    return stems


@pytest.mark.parametrize("cache", [False, True])
def test_exact_shards_score_every_image_once_where_mindspore_pads(seven_val, tmp_path, cache):
    root = seven_val
    if cache:
        root = tmp_path / "root"
        shutil.copytree(seven_val, root)
        assert main(["prepare", "--data", str(root), "--split", "val", "--height", str(HEIGHT)]) == 0
    for size in (2, 3):
        stems = shard_stems(root, size, exact=True, cache=True if cache else None)
        assert sorted(sum(stems, [])) == sorted(set(sum(stems, []))) and len(sum(stems, [])) == VAL_IMAGES
    padded = sum(shard_stems(seven_val, 2, exact=False), [])
    assert len(padded) == VAL_IMAGES + 1 and len(set(padded)) == VAL_IMAGES, "MindSpore's shards wrap around"


@pytest.mark.parametrize("protocol", ["pytorch", "full"])
def test_shard_tallies_add_up_to_the_single_process_tally(weight_files, seven_val, protocol):
    net = load_full_network(weight_files["torch"])[0]
    whole = tally_shard(net, seven_val, "val", HEIGHT, protocol, 2, 1, quiet=True)
    assert whole.images == VAL_IMAGES and whole.confusion.sum() > 0
    for size in (2, 3):
        parts = [tally_shard(net, seven_val, "val", HEIGHT, protocol, 2, 1, Devices(rank, size), quiet=True)
                 for rank in range(size)]
        np.testing.assert_array_equal(sum(part.confusion for part in parts), whole.confusion)
        assert sum(part.images for part in parts) == VAL_IMAGES
        assert sum(part.loss_sum for part in parts) == pytest.approx(whole.loss_sum, rel=1e-6)
        assert sum(part.weight_sum for part in parts) == pytest.approx(whole.weight_sum, rel=1e-12)


def test_a_worker_without_images_tallies_nothing(weight_files, seven_val):
    net = load_full_network(weight_files["torch"])[0]
    assert make_dataset(seven_val, "val", recipe="val", height=HEIGHT, num_shards=9, shard_id=8,
                        exact_shards=True) is None
    empty = tally_shard(net, seven_val, "val", HEIGHT, "pytorch", 1, 1, Devices(8, 9), quiet=True)
    assert empty.images == 0 and empty.confusion.sum() == 0 and empty.weight_sum == 0


@pytest.mark.parametrize("command", ["eval", "infer", "export"])
def test_every_network_command_takes_device_and_names_a_missing_one(weight_files, data_root, tmp_path, capsys,
                                                                     command):
    where = {"eval": ["--data", data_root], "infer": ["--input", data_root / "leftImg8bit" / "val", "--out", tmp_path],
             "export": ["--format", "onnx", "--out", tmp_path / "net.onnx"]}[command]
    code = main([command, "--weights", str(weight_files["torch"]), *map(str, where), "--device", "Ascend"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == f"erfnet {command}: error: --device Ascend: MindSpore finds no Ascend " \
                                        "device on this machine"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case, message", [
    ("encoder weights", "encoder-only"), ("no data", "no such folder"), ("odd height", "multiple of 8"),
    ("no workers", "--devices 0: must be at least 1"),
])
def test_multi_worker_mistakes_stop_before_any_worker_starts(weight_files, data_root, tmp_path, capsys, case,
                                                             message):
    weights = tmp_path / "weights" / "net.pth"
    weights.parent.mkdir()
    shutil.copy(weight_files["encoder" if case == "encoder weights" else "torch"], weights)
    data = tmp_path / "nowhere" if case == "no data" else data_root
    code = main(["eval", "--weights", str(weights), "--data", str(data), "--height", "30" if case == "odd height"
                 else str(HEIGHT), "--devices", "0" if case == "no workers" else "2"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (weights.parent / "msrun_logs").exists()


def test_more_workers_than_cards_is_refused(monkeypatch):
    monkeypatch.setattr(ms.hal, "is_available", lambda target: target == "Ascend")
    monkeypatch.setattr(ms.device_context.ascend, "device_count", lambda: 4)
    assert resolve_device("auto", 4) == "Ascend"
    with pytest.raises(UserError, match="--devices 8: this machine has 4 Ascend device"):
        resolve_device("auto", 8)
    with pytest.raises(UserError, match="no GPU device"):
        resolve_device("GPU")


def test_the_writer_hands_its_exit_code_to_the_launcher(tmp_path, monkeypatch):
    target = tmp_path / erfnet.launch.EXIT_CODE_FILE
    assert exit_code(1, Devices(0, 2)) == 1, "outside an msrun job the code is the process's own"
    monkeypatch.setenv("MS_ROLE", "MS_WORKER")
    monkeypatch.setenv(EXIT_CODE_VARIABLE, str(target))
    assert exit_code(1, Devices(1, 2)) == 0 and not target.exists()
    assert exit_code(1, Devices(0, 2)) == 0 and target.read_text() == "1\n"
