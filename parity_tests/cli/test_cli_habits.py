"""What users expect of a command line, tried on the installed `erfnet` command: --version, the command list when
run bare, Ctrl-C ending in one line that names what was saved and the command that goes on (exit 130, no
half-written file), and photos stored turned (EXIF orientation) predicted as they are shown."""
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from data.make_data import make_data
from erfnet.cli import SUBCOMMANDS
from facts.atomic import is_temporary
from helpers.upstream_weights import save_upstream

ERFNET = str(Path(sys.executable).with_name("erfnet"))
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
TURNED = 6  # EXIF: shown after a quarter turn clockwise


def erfnet(*argv, **options):
    return subprocess.run([ERFNET, *map(str, argv)], capture_output=True, text=True, timeout=600, **options)


def test_version_prints_the_package_version():
    result = erfnet("--version")
    version = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert result.returncode == 0 and result.stdout.strip() == f"erfnet {version}"


def test_erfnet_alone_lists_the_commands_and_succeeds():
    result = erfnet()
    assert result.returncode == 0 and result.stderr == ""
    assert all(f"    {name}" in result.stdout for name in SUBCOMMANDS)
    assert "erfnet COMMAND --help" in result.stdout


def interrupted(argv, ready, cwd, limit=600):
    """Start `erfnet argv`, send SIGINT (as Ctrl-C does) once `ready()` holds, and return (exit code, stderr)."""
    process = subprocess.Popen([ERFNET, *map(str, argv)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    started = time.monotonic()
    while not ready() and process.poll() is None and time.monotonic() - started < limit:
        time.sleep(0.2)
    assert process.poll() is None, "the command ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


def no_temporaries(folder):
    return [path for path in Path(folder).rglob("*") if is_temporary(path)]


@pytest.mark.slow
def test_ctrl_c_during_training_names_the_checkpoint_and_the_resume_command(tmp_path):
    make_data(tmp_path / "data", {"train": 4, "val": 2}, 64, seed=0)
    run = tmp_path / "run"
    code, stderr = interrupted(["train", "--config", "demo", "--data", "data", "--out", "run", "--quiet"],
                               lambda: any(run.glob("stage1/checkpoints/epoch_*.ckpt")), tmp_path)
    last = stderr.strip().splitlines()[-1]
    assert code == 130, stderr
    assert last.startswith("erfnet train: interrupted; the newest complete checkpoint is run/stage1/")
    assert last.endswith("continue with: erfnet train --config demo --data data --out run --quiet --resume")
    assert (tmp_path / last.split("checkpoint is ")[1].split(";")[0]).is_file()
    assert "Traceback" not in stderr and no_temporaries(run) == []


@pytest.mark.slow
def test_ctrl_c_during_inference_says_what_was_written(tmp_path):
    save_upstream(tmp_path / "w.pth")
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(400):
        Image.new("RGB", (64, 32), (index % 256, 90, 160)).save(photos / f"{index:03d}.png")
    out = tmp_path / "out"
    code, stderr = interrupted(["infer", "--weights", "w.pth", "--input", "photos", "--out", "out", "--height", 32,
                                "--what", "trainids"], lambda: len(list(out.glob("trainids/*.png"))) >= 2, tmp_path)
    last = stderr.strip().splitlines()[-1]
    assert code == 130, stderr
    written = len(list(out.glob("trainids/*.png")))
    assert last == (f"erfnet infer: interrupted; {written} image(s) predicted, their pictures whole under out; "
                    f"predict every image again with: erfnet infer --weights w.pth --input photos --out out "
                    f"--height 32 --what trainids")
    assert 2 <= written < 400 and no_temporaries(out) == []


def turned_copy(upright, path):
    """`upright` stored a quarter turn anticlockwise, with the EXIF orientation that shows it upright again."""
    exif = Image.Exif()
    exif[0x0112] = TURNED
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=95)


def test_a_photo_stored_turned_is_predicted_as_it_is_shown(tmp_path):
    save_upstream(tmp_path / "w.pth")
    photos = tmp_path / "photos"
    photos.mkdir()
    scene = np.random.default_rng(0).integers(0, 256, (64, 40, 3), dtype=np.uint8)  # 64 high, 40 wide as shown
    turned_copy(Image.fromarray(scene), photos / "phone.jpg")
    with Image.open(photos / "phone.jpg") as stored:
        assert stored.size == (64, 40)  # stored 64 wide, 40 high
        ImageOps.exif_transpose(stored).save(photos / "shown.png")  # the decoded photo as Pillow shows it
    result = erfnet("infer", "--weights", tmp_path / "w.pth", "--input", photos, "--out", tmp_path / "out",
                    "--height", 64)
    assert result.returncode == 0, result.stderr
    for kind in ("color", "overlay", "trainids", "labelids"):
        with Image.open(tmp_path / "out" / kind / "phone.png") as turned, \
                Image.open(tmp_path / "out" / kind / "shown.png") as shown:
            assert turned.size == shown.size == (40, 64)
            np.testing.assert_array_equal(np.asarray(turned), np.asarray(shown))


def test_the_interrupted_line_of_eval_and_compare_training(tmp_path):
    from argparse import Namespace
    from erfnet.commands import compare_training, eval as eval_command
    (tmp_path / "a.pth.metrics.json").write_text("{}")
    argv = ["eval", "--weights", str(tmp_path), "--data", "my data"]
    line = eval_command.after_interrupt(Namespace(weights=tmp_path, metrics_out=None, argv=argv))
    assert line == f"1 metrics file(s) in {tmp_path}, each whole; score again with: erfnet eval --weights {tmp_path} " \
                   f"--data 'my data'"
    for ended in ("mindspore/seed0", "pytorch/seed0"):
        (tmp_path / "cmp" / ended).mkdir(parents=True)
        (tmp_path / "cmp" / ended / "run.json").write_text("{}")
    (tmp_path / "cmp" / "mindspore" / "seed1").mkdir()
    line = compare_training.after_interrupt(Namespace(out=tmp_path / "cmp", argv=["compare-training", "--out", "x"]))
    assert line == f"2 run(s) ended and are kept under {tmp_path / 'cmp'}; continue with: erfnet compare-training " \
                   f"--out x --resume"


def test_evaluation_reads_a_turned_photo_as_shown_and_pairs_it_with_its_label(tmp_path):
    from data.cityscapes import check_sample, find_samples, read_sample
    make_data(tmp_path, {"train": 0, "val": 1}, 64, seed=0)
    sample = find_samples(tmp_path, "val")[0]
    upright, label = read_sample(sample)
    exif = Image.Exif()
    exif[0x0112] = TURNED
    Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90).save(sample.image_path, exif=exif)
    check_sample(sample)
    image, same_label = read_sample(sample)
    np.testing.assert_array_equal(image, upright)
    np.testing.assert_array_equal(same_label, label)
