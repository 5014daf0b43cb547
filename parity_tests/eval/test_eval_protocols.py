"""`eval.evaluate.evaluate` on generated scenes against an independent computation of both protocols: Pillow
resizing, the cityscapesscripts label table, PyTorch interpolation and cross entropy, per-class masks."""
import mindspore as ms
import numpy as np
import pytest
from PIL import Image

from convert.ms_io import ms_parameters
from eval.evaluate import evaluate
from convert.network import load_full_network
from eval.predict import logits
from facts.errors import UserError
from helpers.eval_references import (counts_by_masks, iou_from_counts, reference_input, reference_label,
                                     upsampled_prediction, weighted_loss_terms)
from ms_erfnet import ERFNet
from data.cityscapes import find_samples

HEIGHT = 64


def reference_scores(net, samples, protocol):
    """(TP, FP, FN) per class and the weighted loss over the samples, computed image by image."""
    totals = np.zeros((3, 19), dtype=np.int64)
    loss_sum = weight_sum = 0.0
    for sample in samples:
        label_ids = sample.label_path.with_name(f"{sample.stem}_gtFine_labelIds.png")
        scores = logits(net, reference_input(sample.image_path, HEIGHT)).asnumpy()
        small_label = reference_label(label_ids, HEIGHT)
        loss, weight = weighted_loss_terms(scores, small_label[None])
        loss_sum, weight_sum = loss_sum + loss, weight_sum + weight
        if protocol == "full":
            label = reference_label(label_ids)
            prediction = upsampled_prediction(scores, label.shape)[0]
        else:
            label, prediction = small_label, scores.argmax(1)[0]
        totals += np.array(counts_by_masks(prediction, label))
    return totals, loss_sum / weight_sum


@pytest.fixture(scope="module")
def net(weight_files):
    return load_full_network(weight_files["torch"])[0]


@pytest.mark.parametrize("protocol", ["pytorch", "full"])
def test_scores_match_an_independent_computation(net, data_root, protocol):
    """Batches of 3 (one partial) against one image at a time: also shows batching changes nothing."""
    (tp, fp, fn), loss = reference_scores(net, find_samples(data_root, "val"), protocol)
    net.set_train(True)
    result = evaluate(net, data_root, "val", HEIGHT, protocol, batch_size=3)
    assert net.training, "evaluate must give the network back in the mode it came in"
    net.set_train(False)
    confusion = result.confusion
    np.testing.assert_array_equal(np.diag(confusion[:, :19]), tp)
    np.testing.assert_array_equal(confusion[:, :19].sum(0) - tp, fp)
    np.testing.assert_array_equal(confusion.sum(1) - tp, fn)
    expected_iou = iou_from_counts(tp, fp, fn)
    np.testing.assert_allclose(result.iou_class, expected_iou, rtol=1e-12, equal_nan=True)
    assert result.mean_iou == pytest.approx(np.nanmean(expected_iou), rel=1e-12)
    assert result.mean_loss == pytest.approx(loss, rel=1e-5)
    assert result.images == 4 and result.images_per_second > 0
    # the random network predicts several classes right and some void, so every rule above was exercised
    assert np.count_nonzero(tp) >= 3 and confusion[:, 19].sum() > 0 and 0 < result.mean_iou < 1
    native_pixels = 4 * 128 * 256 if protocol == "full" else 4 * HEIGHT * 2 * HEIGHT
    assert confusion.sum() + np.sum([np.sum(reference_label(s.label_path.with_name(
        f"{s.stem}_gtFine_labelIds.png"), None if protocol == "full" else HEIGHT) == 19)
        for s in find_samples(data_root, "val")]) == native_pixels


def test_an_all_void_image_adds_nothing_to_the_matrix_or_the_loss(net, copy_root):
    samples = find_samples(copy_root, "val")
    with Image.open(samples[0].label_path) as label:
        Image.new("L", label.size, 255).save(samples[0].label_path)
    result = evaluate(net, copy_root, "val", HEIGHT, "pytorch", batch_size=1)
    (tp, fp, fn), loss = reference_scores(net, samples[1:], "pytorch")
    np.testing.assert_array_equal(np.diag(result.confusion[:, :19]), tp)
    np.testing.assert_array_equal(result.confusion.sum(1) - tp, fn)
    assert result.mean_loss == pytest.approx(loss, rel=1e-5) and result.images == 4


def test_the_checkpoints_upsampler_alignment_is_honoured(weight_files, data_root):
    zoo_net, weights = load_full_network(weight_files["zoo"])
    assert weights.upsample_align == "zoo"
    torch_net = load_full_network(weight_files["torch"])[0]
    image = reference_input(find_samples(data_root, "val")[0].image_path, HEIGHT)
    zoo_scores, torch_scores = logits(zoo_net, image).asnumpy(), logits(torch_net, image).asnumpy()
    assert np.abs(zoo_scores - torch_scores).max() > 1e-3
    built = ERFNet(20, upsample_align="zoo")
    ms.load_param_into_net(built, ms_parameters(weights))
    built.set_train(False)
    np.testing.assert_array_equal(zoo_scores, logits(built, image).asnumpy())


def test_encoder_only_weights_are_refused(weight_files):
    with pytest.raises(UserError, match="encoder-only"):
        load_full_network(weight_files["encoder"])


@pytest.mark.parametrize("options, message", [
    (dict(protocol="paper"), "protocol"), (dict(height=60), "multiple of 8"), (dict(batch_size=0), "batch size"),
])
def test_bad_settings_are_named(net, data_root, options, message):
    settings = dict(split="val", height=HEIGHT, protocol="pytorch", batch_size=1) | options
    with pytest.raises(UserError, match=message):
        evaluate(net, data_root, **settings)
