"""Finding and reading Cityscapes samples: pairing by stem, each bad-file error, the labelIds fallback."""
import numpy as np
import pytest
from PIL import Image

from erfnet.cli import main
from facts.errors import BadSample, UserError
from data.cityscapes import find_samples, read_label, read_sample
from helpers.data_references import png, reference_train_ids

LABEL = "_gtFine_labelTrainIds.png"


def label_files(root, split, kind="labelTrainIds"):
    return sorted((root / "gtFine" / split).glob(f"*/*_gtFine_{kind}.png"))


def test_samples_pair_by_stem_and_read_the_right_files(data_root):
    samples = find_samples(data_root, "train")
    assert [s.city for s in samples].count("aachen") == 6 and len(samples) == 12
    for sample in samples:
        assert sample.image_path.name == f"{sample.stem}_leftImg8bit.png"
        assert sample.label_path.name == f"{sample.stem}{LABEL}"
        assert sample.relative_path == f"train/{sample.city}/{sample.stem}_leftImg8bit.png"
        image, label = read_sample(sample)
        np.testing.assert_array_equal(image, np.asarray(Image.open(sample.image_path).convert("RGB")))
        raw = png(sample.label_path)
        np.testing.assert_array_equal(label, np.where(raw == 255, 19, raw))


def test_a_missing_label_is_named_and_does_not_shift_later_pairs(copy_root):
    victim = label_files(copy_root, "train")[3]
    victim.unlink()
    (victim.parent / victim.name.replace("labelTrainIds", "labelIds")).unlink()
    image_of_victim = victim.name.replace("_gtFine_labelTrainIds", "_leftImg8bit")
    with pytest.raises(UserError, match=image_of_victim):
        find_samples(copy_root, "train")
    samples = find_samples(copy_root, "train", skip_bad=True)
    assert len(samples) == 11
    for sample in samples:
        assert sample.label_path.name.startswith(sample.stem + "_")
        assert sample.image_path.name.startswith(sample.stem + "_")


def test_a_label_without_image_is_named(copy_root):
    orphan = label_files(copy_root, "val")[0]
    image = copy_root / "leftImg8bit" / "val" / orphan.parent.name / orphan.name.replace(
        "_gtFine_labelTrainIds", "_leftImg8bit")
    image.unlink()
    with pytest.raises(UserError, match=orphan.name):
        find_samples(copy_root, "val")
    assert len(find_samples(copy_root, "val", skip_bad=True)) == 3


def test_label_ids_are_used_when_train_ids_are_absent(copy_root):
    for path in label_files(copy_root, "val"):
        path.unlink()
    samples = find_samples(copy_root, "val")
    assert {s.label_kind for s in samples} == {"labelIds"}
    for sample in samples:
        np.testing.assert_array_equal(read_label(sample), reference_train_ids(png(sample.label_path)))


def test_a_truncated_png_is_named_or_skipped(copy_root, caplog):
    """Skipped, the file is named in the log (which the CLI sends to stderr; read here from the log itself, so the
    test does not depend on an earlier test having set up the CLI's logging)."""
    image = sorted((copy_root / "leftImg8bit" / "train").glob("*/*.png"))[5]
    data = image.read_bytes()
    image.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=image.name):
        find_samples(copy_root, "train")
    with caplog.at_level("WARNING"):
        assert image not in [s.image_path for s in find_samples(copy_root, "train", skip_bad=True)]
    assert image.name in caplog.text


def test_an_unreadable_label_is_named(copy_root):
    label = label_files(copy_root, "train")[0]
    label.write_bytes(b"not a png at all")
    with pytest.raises(UserError, match=label.name):
        find_samples(copy_root, "train")


def test_a_size_mismatch_is_named(copy_root):
    label = label_files(copy_root, "train")[2]
    Image.fromarray(png(label)[:, :100]).save(label)
    with pytest.raises(UserError, match=f"{label.name}.*differs"):
        find_samples(copy_root, "train")


def test_a_label_value_outside_the_table_is_named(copy_root):
    label = label_files(copy_root, "val")[1]
    values = png(label).copy()
    values[0, 0] = 77
    Image.fromarray(values).save(label)
    samples = find_samples(copy_root, "val")
    bad = next(s for s in samples if s.label_path == label)
    with pytest.raises(BadSample, match=f"{label.name}.*77"):
        read_label(bad)
    with pytest.raises(UserError, match=label.name):
        find_samples(copy_root, "val", decode_labels=True)
    assert len(find_samples(copy_root, "val", skip_bad=True, decode_labels=True)) == 3


def test_an_empty_split_is_an_error(copy_root):
    for image in (copy_root / "leftImg8bit" / "val").glob("*/*.png"):
        image.unlink()
    for label in (copy_root / "gtFine" / "val").glob("*/*.png"):
        label.unlink()
    with pytest.raises(UserError, match="no usable"):
        find_samples(copy_root, "val")
    with pytest.raises(UserError, match="no such folder"):
        find_samples(copy_root, "test")


def test_cli_reports_user_errors_in_one_line(tmp_path, capsys):
    assert main(["prepare", "--data", str(tmp_path / "nowhere"), "--split", "val"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere" in err[0] and err[0].startswith("erfnet prepare: error:")
