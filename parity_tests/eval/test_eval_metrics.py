"""The confusion matrix and IoU against independent computations: per-class pixel masks, and erfnet_pytorch's
one-hot formulation (written here from its description: void channel dropped, void ground truth ignored)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from eval.metrics import class_iou, confusion_matrix, mean_iou

VOID = 19
maps = st.tuples(st.integers(1, 24), st.integers(1, 24), st.integers(0, 2 ** 32 - 1))


def random_pair(height, width, seed, void_share=0.2):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, VOID, size=(height, width))
    label[rng.random((height, width)) < void_share] = VOID
    prediction = np.where(rng.random((height, width)) < 0.5, label, rng.integers(0, VOID + 1, size=(height, width)))
    return prediction.astype(np.uint8), label.astype(np.uint8)


def iou_by_masks(prediction, label):
    """Per class c: TP = pred c and gt c; FP = pred c on a valid pixel of another class; FN = gt c, pred not c."""
    valid = label != VOID
    result = []
    for c in range(VOID):
        tp = np.sum((prediction == c) & (label == c))
        fp = np.sum((prediction == c) & (label != c) & valid)
        fn = np.sum((prediction != c) & (label == c))
        result.append(tp / (tp + fp + fn) if tp + fp + fn else np.nan)
    return np.array(result)


def iou_one_hot(prediction, label):
    """The one-hot way: 20-channel one-hots, the void channel of the ground truth marks ignored pixels."""
    x = np.eye(VOID + 1)[prediction.ravel()]
    y = np.eye(VOID + 1)[label.ravel()]
    ignored = y[:, VOID:]
    x, y = x[:, :VOID], y[:, :VOID]
    tp = (x * y).sum(0)
    fp = (x * (1 - y - ignored)).sum(0)
    fn = ((1 - x) * y).sum(0)
    union = tp + fp + fn
    return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


@given(maps)
def test_class_iou_matches_per_class_masks_and_the_one_hot_formulation(shape_seed):
    height, width, seed = shape_seed
    prediction, label = random_pair(height, width, seed)
    confusion = confusion_matrix(prediction, label)
    assert confusion.dtype == np.int64 and confusion.shape == (19, 20)
    assert confusion.sum() == np.sum(label != VOID)
    np.testing.assert_allclose(class_iou(confusion), iou_by_masks(prediction, label), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(class_iou(confusion), iou_one_hot(prediction, label), rtol=1e-12, equal_nan=True)
    expected = iou_by_masks(prediction, label)
    assert mean_iou(confusion) == pytest.approx(np.nanmean(expected), rel=1e-12)


@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.integers(0, 19)),
       st.integers(0, 2 ** 32 - 1))
def test_cells_count_each_valid_pixel_once_at_its_ground_truth_and_prediction(label, seed):
    prediction = np.random.default_rng(seed).integers(0, 20, size=label.shape).astype(np.uint8)
    confusion = confusion_matrix(prediction, label)
    expected = np.zeros((19, 20), dtype=np.int64)
    for g, p in zip(label.ravel(), prediction.ravel()):
        if g != VOID:
            expected[g, p] += 1
    np.testing.assert_array_equal(confusion, expected)


def test_void_prediction_on_a_valid_pixel_is_a_miss_and_void_ground_truth_is_ignored():
    label = np.array([[0, 0, 19, 19]], dtype=np.uint8)
    prediction = np.array([[0, 19, 0, 5]], dtype=np.uint8)
    iou = class_iou(confusion_matrix(prediction, label))
    assert iou[0] == pytest.approx(0.5)  # one hit, one void miss; the road guess on void counts nowhere
    assert np.isnan(iou[5])  # predicted only on void ground truth: absent from both, undefined
    assert np.isnan(iou[1:]).all()
    assert mean_iou(confusion_matrix(prediction, label)) == pytest.approx(0.5)


def test_a_class_predicted_but_absent_from_ground_truth_scores_zero_and_counts_in_the_mean():
    label = np.array([[1, 1, 1, 1]], dtype=np.uint8)
    prediction = np.array([[1, 1, 2, 2]], dtype=np.uint8)
    iou = class_iou(confusion_matrix(prediction, label))
    assert iou[1] == pytest.approx(0.5) and iou[2] == 0.0
    assert mean_iou(confusion_matrix(prediction, label)) == pytest.approx(0.25)


def test_matrices_add_up_across_images_without_overflow():
    label = np.zeros((1024, 2048), dtype=np.uint8)
    one = confusion_matrix(label, label)
    total = sum(one for _ in range(1100))
    assert total[0, 0] == 1024 * 2048 * 1100 > 2 ** 31
    assert mean_iou(total) == 1.0


def test_empty_and_all_void_give_nan():
    assert np.isnan(mean_iou(confusion_matrix(np.zeros((2, 2), np.uint8), np.full((2, 2), 19, np.uint8))))


@pytest.mark.parametrize("prediction, label, message", [
    (np.zeros((2, 3)), np.zeros((3, 2)), "shape"),
    (np.full((2, 2), 20), np.zeros((2, 2)), "prediction values"),
    (np.zeros((2, 2)), np.full((2, 2), -1), "label values"),
])
def test_bad_inputs_are_named(prediction, label, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(prediction.astype(np.int64), label.astype(np.int64))
