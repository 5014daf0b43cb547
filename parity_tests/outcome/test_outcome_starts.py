"""The pieces of `erfnet compare-training` that must be the same on both sides: the weights each stage
starts from with `--start same`, and the scoring of the PyTorch model, checked against MindSpore's own
validation (eval.evaluate, train.validate) on the same weights."""
import dataclasses

import mindspore as ms
import numpy as np
import pytest
import torch
import yaml

from convert import convert_file, read_weights
from convert.names import DECODER, ENCODER, ENCODER_HEAD, part_of
from convert.network import load_full_network
from data.make_folders import make_folders_data
from eval.evaluate import evaluate
from outcome.reference_config import reference_run
from outcome.reference_scoring import reference_confusion, reference_predictions
from outcome.reference_starts import join_encoder_and_decoder, write_reference_starts
from torch_ref.loss import CLASS_WEIGHTS
from torch_ref.random_weights import random_reference_net, upstream_state_dict
from torch_ref.trainer import evaluation_batches, train_reference
from train.config import read_config
from train.validate import EncoderPrediction

HEIGHT = 32
ENCODER_THEN_FULL = {
    "seed": 3, "lr0": 1.0e-3, "poly": {"epochs": 2}, "batch_size": 4, "height": HEIGHT, "workers": 1,
    "model": {"upsample_align": "torch"}, "validation": {"every": 1, "batch_size": 2},
    "stages": {1: {"network": "encoder", "epochs": [1, 1], "augmentation": {"recipe": "pytorch"}, "init": "scratch"},
               2: {"network": "full", "epochs": [1, 1], "augmentation": {"recipe": "pytorch"},
                   "init": "previous_encoder"}},
}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """64x32 pictures: two torch threads that meet at every op crawl when other processes hold a core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def parameters(model):
    return {name: parameter.detach().clone() for name, parameter in model.named_parameters()}


def file_state(path):
    return {key.removeprefix("module."): value for key, value in torch.load(path, weights_only=True).items()}


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "two.yaml"
    path.write_text(yaml.safe_dump(ENCODER_THEN_FULL))
    return read_config(path)


def cityscapes_run(config):
    """The reference run of `config` on Cityscapes with erfnet_pytorch's class weights."""
    return reference_run(config, CLASS_WEIGHTS, "cityscapes")


def test_the_reference_trains_from_the_starts_given_to_mindspore(config, data_root, tmp_path):
    """At lr 0 the trained parameters stay where each stage started: stage 1 at the scratch start written for
    MindSpore, stage 2's decoder at the written fresh decoder (its encoder is stage 1's)."""
    starts = write_reference_starts(config, cityscapes_run(config), tmp_path / "start")
    other = dataclasses.replace(config, seed=4)
    other_seed = write_reference_starts(other, cityscapes_run(other), tmp_path / "other")
    seen = {}
    run = dataclasses.replace(cityscapes_run(config), lr0=0.0, workers=0)
    train_reference(run, data_root, tmp_path / "run", on_epoch=lambda stage, epoch, model, record:
                    seen.setdefault(stage, parameters(model)))
    for stage, names in ((1, seen[1]), (2, [name for name in seen[2] if name.startswith("decoder.")])):
        written, planted = file_state(starts[stage]), file_state(other_seed[stage])
        assert all(torch.equal(seen[stage][name], written[name]) for name in names)
        assert not all(torch.equal(seen[stage][name], planted[name]) for name in names), "another seed differs"
    assert len([name for name in seen[2] if name.startswith("decoder.")]) > 50


def test_the_starts_of_a_five_class_run_are_five_class_networks(config, tmp_path):
    five = dataclasses.replace(config, model=dataclasses.replace(config.model, num_classes=5))
    weights = {network: (1.0,) * 5 + (0.0,) for network in ("encoder", "full")}
    starts = write_reference_starts(five, reference_run(five, weights, "folders"), tmp_path)
    assert [(file_state(starts[stage])["encoder.output_conv.weight"].shape[0],
             file_state(starts[stage])["decoder.output_conv.weight"].shape[1]) for stage in (1, 2)] == [(5, 5)] * 2


def test_a_joined_start_holds_one_files_encoder_under_the_others_decoder(tmp_path):
    torch.save(upstream_state_dict(20, seed=1), tmp_path / "a.pth")
    convert_file(tmp_path / "a.pth", tmp_path / "a.ckpt")
    torch.save(upstream_state_dict(20, seed=2), tmp_path / "b.pth")
    joined = read_weights(join_encoder_and_decoder(tmp_path / "a.ckpt", tmp_path / "b.pth", tmp_path / "ab.ckpt"))
    first, second = read_weights(tmp_path / "a.pth"), read_weights(tmp_path / "b.pth")
    assert joined.parts == (ENCODER, ENCODER_HEAD, DECODER) and list(joined.arrays) == list(first.arrays)
    for name, array in joined.arrays.items():
        source = second if part_of(name) == DECODER else first
        np.testing.assert_array_equal(array, source.arrays[name], err_msg=name)


@pytest.fixture(scope="module")
def weights_pair(tmp_path_factory):
    """A random reference net (random BatchNorm statistics: varied predictions) and the same weights in
    MindSpore."""
    net = random_reference_net(20, seed=4)
    path = tmp_path_factory.mktemp("weights") / "random.pth"
    torch.save(upstream_state_dict(20, seed=4), path)
    return net, load_full_network(path)[0]


def test_the_reference_is_scored_as_mindspore_validation_scores_the_same_weights(weights_pair, data_root):
    torch_net, ms_net = weights_pair
    ours = evaluate(ms_net, data_root, "val", HEIGHT, "pytorch", 2, num_workers=1, quiet=True).confusion
    reference = reference_confusion(torch_net, "full", data_root, HEIGHT, 2, 1)
    pixels = reference.sum()
    assert pixels == ours.sum() > 0 and (reference.sum(1) == ours.sum(1)).all(), "same labels"
    assert (np.diag(reference) > 0).sum() >= 3, "predictions varied enough to compare"
    assert np.abs(reference - ours).sum() <= 1e-3 * pixels, "argmax flips only at float32 ties (measured: none)"


def test_a_five_class_model_is_scored_over_the_datas_five_classes(tmp_path):
    """On a folders dataset of 5 classes the confusion matrix is [5, 6], counted here from the reference's own reader
    of the layout (torch_ref.trainer.evaluation_batches, ignored pixels as 5)."""
    make_folders_data(tmp_path, {"train": 0, "val": 3}, 2 * HEIGHT, seed=1, num_classes=5)
    net = random_reference_net(5, seed=4)
    want = np.zeros((5, 6), dtype=np.int64)
    for images, labels in evaluation_batches(tmp_path, "val", HEIGHT, layout="folders", void_id=5):
        predicted, truth = reference_predictions(net, images.numpy(), "full").ravel(), labels.numpy().ravel()
        np.add.at(want, (truth[truth < 5], predicted[truth < 5]), 1)
    assert (want.sum(0) > 0).sum() >= 2, "predictions varied enough to compare"
    np.testing.assert_array_equal(reference_confusion(net, "full", tmp_path, HEIGHT, 2, 1), want)


class FixedScores(torch.nn.Module):
    """A torch stand-in for the encoder: the same 1/8 scores for any input."""

    def __init__(self, scores):
        super().__init__()
        self.scores = torch.from_numpy(scores)

    def forward(self, images, only_encode=False):
        return self.scores


class MsFixedScores(ms.nn.Cell):
    """Its MindSpore twin, as train.validate.EncoderPrediction calls a network."""
    num_classes = 20

    def __init__(self, scores):
        super().__init__()
        self.scores = ms.Tensor(scores)

    def construct(self, images, only_encode=False):
        return self.scores


def test_an_encoder_stage_is_scored_as_training_validates_it():
    """The 1/8 scores upsampled bilinearly to the input size, then the argmax, as train.validate does it (a
    random encoder head predicts one class everywhere, so the upsampling is checked on random scores)."""
    rng = np.random.default_rng(0)
    images = rng.random((2, 3, HEIGHT, 2 * HEIGHT), dtype=np.float32)
    scores = rng.normal(0, 1, (2, 20, HEIGHT // 8, HEIGHT // 4)).astype(np.float32)
    reference = reference_predictions(FixedScores(scores), images, "encoder")
    ours = ms.ops.argmax(EncoderPrediction(MsFixedScores(scores))(ms.Tensor(images)), dim=1).asnumpy()
    assert reference.shape == (2, HEIGHT, 2 * HEIGHT) and len(np.unique(reference)) == 20
    assert (reference == ours).mean() >= 0.999
