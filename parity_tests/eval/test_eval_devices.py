"""Evaluation on several devices equals evaluation on one, and the shared 2-worker training run these tests
score equals one process averaging its ranks' gradients (here, so that one pytest worker runs every user of that
run): exact shards (every image once, also when the workers
do not divide the split), shard tallies that add up to the single-process tally, `erfnet eval` and `infer` on 2
and 3 msrun workers against one process, validation inside a 2-worker training run against `erfnet eval` of
its checkpoint, and `--device` / `--devices` mistakes reported before any worker starts."""
import json
import shutil

import mindspore as ms
import numpy as np
import pytest
from hypothesis import given, strategies as st

import erfnet.launch
from convert import read_weights
from convert.names import PARTS
from convert.network import build_network, load_full_network
from data.make_data import make_data
from data.pipeline import make_dataset
from erfnet.cli import main
from erfnet.launch import EXIT_CODE_VARIABLE, exit_code
from eval.evaluate import evaluate, tally_shard
from facts.digest import arrays_digest
from facts.errors import UserError
from helpers.console_lines import unwanted
from helpers.data_references import png
from helpers.msrun_runs import (VAL_IMAGES, averaging_one_process, largest_difference, run_erfnet, worker_digests,
                                worker_log)
from ms_erfnet.execution import use_graph_mode
from ms_erfnet.devices import Devices, resolve_device, shard
from train.config import read_config
from train.validate import validate

HEIGHT = 32
TIMEOUT = 400


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


def validation_lines(out, stage, epoch):
    """{rank: (state validated with, the rank's own state)} from the workers' debug lines."""
    found = {}
    for rank in (0, 1):
        for line in worker_log(out, rank).splitlines():
            prefix = f"debug: {stage} epoch {epoch} rank {rank} validates with network state "
            if line.startswith(prefix):
                used, _, own = line[len(prefix):].partition(" (its own: ")
                found[rank] = (used, own.rstrip(")"))
    return found


@pytest.mark.slow
def test_validation_on_two_workers_is_erfnet_eval_of_the_checkpoint(two_worker_run, tmp_path, capsys):
    run = two_worker_run
    record = json.loads((run.out / "stage3" / "metrics.jsonl").read_text().splitlines()[0])
    checkpoint = tmp_path / "epoch_001.ckpt"
    shutil.copy(run.out / "stage3" / "checkpoints" / "epoch_001.ckpt", checkpoint)
    lines = validation_lines(run.out, "stage3", 1)
    assert lines[0][0] == lines[1][0] == arrays_digest(read_weights(checkpoint).arrays), \
        "both ranks validate with the checkpoint's network state"
    assert lines[1][1] != lines[0][0], "rank 1's own BatchNorm statistics differ: without rank 0's, it would not"
    assert main(["eval", "--weights", str(checkpoint), "--data", str(run.root), "--height", str(HEIGHT),
                 "--batch-size", "4"]) == 0
    alone = json.loads((tmp_path / "epoch_001.ckpt.metrics.json").read_text())
    print(f"\nstage3 val mIoU on 2 workers {record['val_miou']!r}, erfnet eval alone {alone['mean_iou']!r}")
    assert record["val_miou"] == alone["mean_iou"] and alone["images"] == VAL_IMAGES
    assert record["val_loss"] == pytest.approx(alone["mean_loss"], rel=1e-6)
    encoder_record = json.loads((run.out / "stage2" / "metrics.jsonl").read_text().splitlines()[1])
    use_graph_mode()  # as training validates
    weights = read_weights(run.out / "stage2" / "checkpoints" / "epoch_004.ckpt")
    encoder = build_network(20, weights, fresh_parts=PARTS)[0]
    assert encoder_record["val_miou"] == validate(encoder, "encoder", run.root, HEIGHT, 4, 1, quiet=True)[0]


@pytest.mark.parametrize("workers, protocol", [(2, "pytorch"), (3, "full")])
@pytest.mark.slow
def test_eval_on_several_workers_is_exactly_the_single_process_result(two_worker_run, tmp_path, workers, protocol):
    weights = tmp_path / "final.ckpt"
    shutil.copy(two_worker_run.out / "stage3" / "final.ckpt", weights)
    code, stdout, stderr = run_erfnet(["eval", "--weights", weights, "--data", two_worker_run.root, "--height", HEIGHT,
                                       "--protocol", protocol, "--batch-size", "2", "--devices", workers],
                                      timeout=TIMEOUT)
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    assert unwanted(stdout + stderr) == [], "rank 0's lines, none of MindSpore's or msrun's"
    assert "Start worker process" in (tmp_path / "msrun_logs" / "msrun.log").read_text()
    assert f"{workers} workers, mindspore, chosen by --runtime auto: --devices {workers})" in worker_log(tmp_path, 0)
    assert "mIoU" in worker_log(tmp_path, 0)
    record = json.loads((tmp_path / "final.ckpt.metrics.json").read_text())
    use_graph_mode()  # as the workers run
    alone = evaluate(load_full_network(weights)[0], two_worker_run.root, "val", HEIGHT, protocol, 2, quiet=True)
    np.testing.assert_array_equal(np.array(record["confusion"]), alone.confusion)
    assert record["images"] == alone.images == VAL_IMAGES and record["mean_iou"] == alone.mean_iou
    assert record["mean_loss"] == pytest.approx(alone.mean_loss, rel=1e-6)
    last_rank = tmp_path / "msrun_logs" / f"worker_{workers - 1}.log"
    assert last_rank.is_file() and not worker_log(tmp_path, 1).count("mIoU"), "rank 0 alone reports"


@pytest.mark.slow
def test_infer_on_two_workers_writes_every_output_once(two_worker_run, weight_files, tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(two_worker_run.root / "leftImg8bit" / "val", photos)
    broken = photos / "frankfurt" / "zz_broken.png"  # the last of 8 images: rank 1's
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    out, alone = tmp_path / "out", tmp_path / "alone"
    code, stdout, stderr = run_erfnet(["infer", "--weights", weight_files["torch"], "--input", photos, "--out", out,
                                       "--height", HEIGHT, "--devices", "2"], timeout=TIMEOUT)
    assert code == 1, stdout[-3000:] + stderr[-3000:]
    assert "rank 0: wrote 4 of its 4 images" in worker_log(out, 0)
    assert "rank 1: wrote 3 of its 4 images" in worker_log(out, 1)
    assert f"wrote color, overlay, trainids, labelids for {VAL_IMAGES} of 8 images" in worker_log(out, 0)
    assert "1 image(s) could not be read" in worker_log(out, 0) and str(broken) in worker_log(out, 0)
    assert main(["infer", "--weights", str(weight_files["torch"]), "--input", str(photos), "--out", str(alone),
                 "--height", str(HEIGHT)]) == 1
    written = sorted(path.relative_to(alone) for path in alone.rglob("*.png"))
    assert len(written) == 4 * VAL_IMAGES
    assert sorted(path.relative_to(out) for path in out.rglob("*.png")) == written
    for relative in written:
        np.testing.assert_array_equal(png(out / relative), png(alone / relative), err_msg=str(relative))


@pytest.mark.slow
def test_two_msrun_workers_equal_one_process_averaging_their_gradients(two_worker_run, tmp_path):
    out, root = two_worker_run.out, two_worker_run.root
    digests = worker_digests(out / "msrun_logs", (0, 1), stage=2)
    assert len(digests) == 2 and digests[0] == digests[1], "both ranks hold the same trained weights"
    net, steps = averaging_one_process(read_config("smoke", two_worker_run.overrides), 2, root, 2, tmp_path)
    assert steps == 2
    worst = largest_difference(net, out / "stage2" / "final.ckpt")
    print(f"\nmsrun 2 workers vs one process averaging per-rank gradients: max |difference| {worst:.2e}")
    assert worst <= 1e-5
