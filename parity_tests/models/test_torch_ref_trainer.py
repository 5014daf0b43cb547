"""The reference trainer (erfnet_pytorch's train/main.py) against independent computations: the loss in
numpy float64, the lr of each epoch against torch's LambdaLR.step(epoch) and against the size of Adam's
first step, PyTorch's default init for a scratch start, the full stage around the trained encoder, the
dropout groups, checkpoints, reproducibility per seed, a falling loss on generated scenes, and a run of
another class count on a folders dataset with the class weights it is given."""
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from data.make_folders import make_folders_data
from torch_ref import Decoder, Net, non_bottleneck_1d
from torch_ref.loss import CLASS_WEIGHTS, reference_loss
from torch_ref.random_weights import random_reference_net, upstream_state_dict
from torch.utils.data import RandomSampler

from torch_ref.trainer import (ReferenceRun, ReferenceStage, poly_lr, reference_optimizer, seed_everything, stage_model,
                               stage_seed, train_reference, training_loader)

WIDTH, HEIGHT, BLOCK = 64, 32, 8
COLOURS = {0: (128, 64, 128), 1: (244, 35, 232), 2: (70, 70, 70), 8: (107, 142, 35), 255: (0, 0, 0)}
NO_DROPOUT = {"enc64_dropout": 0.0, "enc128_dropout": 0.0, "decoder_dropout": 0.0}


def write_scenes(root, count, seed=0):
    """`count` 64x32 train scenes in Cityscapes layout: 8x8 blocks of one class each (four trainIds and
    void), painted in the class's colour with noise, so a network can learn them in a few epochs."""
    rng = np.random.default_rng(seed)
    classes = list(COLOURS)
    for split in ("leftImg8bit", "gtFine"):
        (root / split / "train" / "ulm").mkdir(parents=True)
    for i in range(count):
        blocks = rng.choice(classes, (HEIGHT // BLOCK, WIDTH // BLOCK))
        label = np.kron(blocks, np.ones((BLOCK, BLOCK), int)).astype(np.uint8)
        colours = np.array([COLOURS[c] for c in label.ravel()]).reshape(HEIGHT, WIDTH, 3)
        image = np.clip(colours + rng.integers(-20, 21, colours.shape), 0, 255).astype(np.uint8)
        stem = f"ulm_{i:06d}_000019"
        Image.fromarray(image).save(root / "leftImg8bit" / "train" / "ulm" / f"{stem}_leftImg8bit.png")
        Image.fromarray(label, "L").save(root / "gtFine" / "train" / "ulm" / f"{stem}_gtFine_labelTrainIds.png")
    return root


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The networks here see 64x32 pictures: one thread is as fast as two on a quiet machine, while two
    threads that meet at every op crawl when other processes hold a core (83 s against 1.3 s measured)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return write_scenes(tmp_path_factory.mktemp("cityscapes"), 4)


def run_of(*stages, **settings):
    """A small CPU run: batches of 4 at height 32, no worker processes unless asked."""
    return ReferenceRun(stages=stages, **{"batch_size": 4, "height": HEIGHT, "workers": 0, **settings})


def epoch_log(log):
    """An on_epoch callback appending (stage, epoch, model, record) to `log`."""
    return lambda stage, epoch, model, record: log.append((stage, epoch, model, record))


def weighted_nll(logits, labels, weights):
    """numpy float64: sum over pixels of w[label] * -log_softmax(logits)[label] / sum of w[label], the label
    K = len(weights) - 1 (ignored, weight 0) left out when the logits have no channel for it."""
    logits, labels, weights = np.asarray(logits, np.float64), np.asarray(labels), np.asarray(weights, np.float64)
    shifted = logits - logits.max(1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    counted = labels < logits.shape[1]
    nll = -np.take_along_axis(log_softmax, np.where(counted, labels, 0)[:, None], 1)[:, 0]
    pixel_weights = weights[labels] * counted
    return (pixel_weights * nll).sum() / pixel_weights.sum()


@pytest.mark.parametrize("network", ["encoder", "full"])
def test_loss_is_the_class_weighted_nll_of_the_log_softmax_in_float64(network):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (2, 20, 5, 7))
    labels = rng.integers(0, 20, (2, 5, 7))
    got = reference_loss(CLASS_WEIGHTS[network], 20)(torch.tensor(logits, dtype=torch.float32),
                                                       torch.from_numpy(labels))
    assert (labels == 19).any() and CLASS_WEIGHTS[network][19] == 0
    assert got.item() == pytest.approx(weighted_nll(logits, labels, CLASS_WEIGHTS[network]), rel=1e-6)


@pytest.mark.parametrize("channels", [5, 6])
def test_given_weights_of_five_classes_weigh_a_network_without_or_with_a_void_channel(channels):
    """Labels 0..4 and 5 (ignored): a network of 5 channels has none for the label 5, one of 6 has it at weight 0."""
    weights = (0.5, 4.0, 1.0, 8.0, 2.0, 0.0)
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (2, channels, 5, 7))
    labels = rng.integers(0, 6, (2, 5, 7))
    got = reference_loss(weights, channels)(torch.tensor(logits, dtype=torch.float32), torch.from_numpy(labels))
    assert (labels == 5).any()
    assert got.item() == pytest.approx(weighted_nll(logits, labels, weights), rel=1e-6)
    with pytest.raises(ValueError, match="6 class weights .* fit networks of 5 or 6 channels, not 20"):
        reference_loss(weights, 20)


def test_class_weight_vectors_are_twenty_long_with_void_last_at_zero():
    assert {network: (len(weights), weights[19], min(weights[:19]) > 2) for network, weights in CLASS_WEIGHTS.items()} \
        == {"encoder": (20, 0.0, True), "full": (20, 0.0, True)}
    assert CLASS_WEIGHTS["encoder"][0] == 2.3653597831726 and CLASS_WEIGHTS["full"][18] == 10.138095855713


def test_poly_lr_is_what_lambdalr_step_epoch_sets():
    lr0, epochs = 5e-4, 7
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: (1 - (epoch - 1) / epochs) ** 0.9)
    for epoch in range(1, epochs + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scheduler.step(epoch)
        assert poly_lr(lr0, epoch, epochs, 0.9) == optimizer.param_groups[0]["lr"]
        assert poly_lr(lr0, epoch, epochs, 0.9) == pytest.approx(lr0 * (1 - (epoch - 1) / epochs) ** 0.9, rel=1e-15)


def test_each_epoch_trains_at_its_poly_lr(scenes, tmp_path):
    """One batch per epoch and a fresh Adam per stage: Adam's first step moves every parameter by the lr
    (|g| / (|g| + eps) of it), so the median move of the encoder's parameters measures the lr used."""
    start = upstream_state_dict(20, seed=1)
    stages = (ReferenceStage("encoder", 2, 2, 5, start, **NO_DROPOUT),
              ReferenceStage("encoder", 5, 5, 5, start, **NO_DROPOUT),
              ReferenceStage("encoder", 1, 3, 3, "previous", **NO_DROPOUT))
    moves, lrs = {}, []

    def measure(stage, epoch, model, record):
        if stage < 3:
            moves[stage] = torch.cat([(p.detach() - start[f"module.{name}"]).abs().flatten()
                                      for name, p in model.named_parameters() if name.startswith("encoder.")])
        lrs.append((stage, epoch, record.lr))

    train_reference(run_of(*stages, lr0=1e-3), scenes, tmp_path, on_epoch=measure)
    assert lrs == [(1, 2, 1e-3 * (1 - 1 / 5) ** 0.9), (2, 5, 1e-3 * (1 - 4 / 5) ** 0.9),
                   (3, 1, 1e-3), (3, 2, 1e-3 * (1 - 1 / 3) ** 0.9), (3, 3, 1e-3 * (1 - 2 / 3) ** 0.9)]
    assert moves[1].median().item() == pytest.approx(lrs[0][2], rel=1e-3)
    assert moves[2].median().item() == pytest.approx(lrs[1][2], rel=1e-3)


def test_the_optimizer_is_adam_with_l2_weight_decay_as_numpy_computes_it():
    lr, decay, betas, eps = 1e-2, 0.1, (0.9, 0.999), 1e-8
    layer = torch.nn.Linear(3, 2).double()
    optimizer = reference_optimizer(layer, run_of(ReferenceStage("full", 1, 1, 1, "scratch"), lr0=lr, weight_decay=decay))
    rng = np.random.default_rng(0)
    params = [p.detach().numpy().copy() for p in layer.parameters()]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    for t in range(1, 4):
        grads = [rng.normal(0, 1e-2, p.shape) for p in params]
        for p, g in zip(layer.parameters(), grads):
            p.grad = torch.from_numpy(g.copy())
        optimizer.step()
        for i, (p, g) in enumerate(zip(params, grads)):
            g = g + decay * p
            m, v = moments[i]
            m, v = betas[0] * m + (1 - betas[0]) * g, betas[1] * v + (1 - betas[1]) * g * g
            moments[i] = (m, v)
            params[i] = p - lr * (m / (1 - betas[0] ** t)) / (np.sqrt(v / (1 - betas[1] ** t)) + eps)
    for p, want in zip(layer.parameters(), params):
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-12)


def test_batches_are_shuffled_per_seed_and_keep_the_short_last_one(scenes):
    run = run_of(ReferenceStage("full", 1, 1, 1, "scratch"), batch_size=3)
    loader = training_loader(run, "full", scenes, seed=0)
    assert isinstance(loader.sampler, RandomSampler) and loader.drop_last is False
    assert [labels.shape for _, labels in loader] == [(3, 1, 32, 64), (1, 1, 32, 64)]

    def orders(seed):
        sampler = training_loader(run, "full", scenes, seed).sampler
        return [list(sampler) for _ in range(5)]

    assert all(sorted(order) == [0, 1, 2, 3] for order in orders(0)) and orders(0) != [[0, 1, 2, 3]] * 5
    assert orders(0) == orders(0) != orders(1)
    encoder_labels = next(iter(training_loader(run, "encoder", scenes, seed=0)))[1]
    assert encoder_labels.shape == (3, 1, 4, 8)


def test_a_scratch_start_is_pytorchs_default_init_under_the_seed(scenes, tmp_path):
    finals = train_reference(run_of(ReferenceStage("full", 1, 1, 1, "scratch"), lr0=0.0, seed=7), scenes, tmp_path)
    torch.manual_seed(7)
    want = Net(20).state_dict()
    names = [name for name, _ in Net(20).named_parameters()]
    assert all(torch.equal(finals[1][name], want[name]) for name in names)
    assert not torch.equal(finals[1]["encoder.initial_block.bn.running_mean"],
                           want["encoder.initial_block.bn.running_mean"]), "train mode moved the statistics"


def test_the_full_stage_trains_the_encoder_of_the_encoder_stage_under_a_fresh_decoder():
    previous = random_reference_net(20, seed=2)
    before = {key: value.clone() for key, value in previous.state_dict().items()}
    torch.manual_seed(3)
    model = stage_model(ReferenceStage("full", 1, 1, 1, "previous_encoder"), previous)
    assert model.encoder is previous.encoder and model.decoder is not previous.decoder
    state = model.state_dict()
    assert all(torch.equal(state[key], before[key]) for key in before if key.startswith("encoder."))
    torch.manual_seed(3)
    fresh = Decoder(20).state_dict()
    assert all(torch.equal(state[f"decoder.{key}"], fresh[key]) for key in fresh), "a default-init decoder"
    assert not torch.equal(state["decoder.layers.0.bn.running_var"], before["decoder.layers.0.bn.running_var"])


def test_two_stages_hand_the_encoder_over_and_checkpoint_every_epoch(scenes, tmp_path):
    stages = (ReferenceStage("encoder", 1, 2, 2, "scratch"), ReferenceStage("full", 1, 1, 1, "previous_encoder"))
    log = []
    finals = train_reference(run_of(*stages), scenes, tmp_path, on_epoch=epoch_log(log))
    assert [(stage, epoch) for stage, epoch, _, _ in log] == [(1, 1), (1, 2), (2, 1)]
    encoder_model, full_model = log[1][2], log[2][2]
    assert full_model.encoder is encoder_model.encoder and full_model.decoder is not encoder_model.decoder
    assert not any(model.training for _, _, model, _ in log)
    key = "encoder.layers.7.bn2.running_mean"
    assert not torch.equal(finals[1][key], finals[2][key]), "stage 2 trained the encoder; stage 1's copy kept"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == \
        ["stage1", "stage1/epoch_001.pth", "stage1/epoch_002.pth", "stage2", "stage2/epoch_001.pth"]
    for stage, name in ((1, "epoch_002.pth"), (2, "epoch_001.pth")):
        saved = torch.load(tmp_path / f"stage{stage}" / name)
        assert list(saved) == [f"module.{key}" for key in finals[stage]]
        assert all(torch.equal(saved[f"module.{key}"], value) for key, value in finals[stage].items())


def test_dropout_rates_follow_the_block_groups_and_their_overrides(scenes, tmp_path):
    stages = (ReferenceStage("full", 1, 1, 1, "scratch"),
              ReferenceStage("full", 1, 1, 1, "previous", enc64_dropout=0.1, enc128_dropout=0.2, decoder_dropout=0.05))
    rates = []

    def record_rates(stage, epoch, model, record):
        rates.append([layer.dropout.p for layer in [*model.encoder.layers, *model.decoder.layers]
                      if isinstance(layer, non_bottleneck_1d)])

    train_reference(run_of(*stages, lr0=0.0), scenes, tmp_path, on_epoch=record_rates)
    assert rates == [[0.03] * 5 + [0.3] * 8 + [0.0] * 4, [0.1] * 5 + [0.2] * 8 + [0.05] * 4]


def test_the_same_seed_gives_the_same_batches_and_losses_with_a_worker(scenes, tmp_path):
    def losses(seed):
        log = []
        train_reference(run_of(ReferenceStage("encoder", 1, 2, 2, "scratch"), batch_size=2, workers=1, seed=seed),
                        scenes, tmp_path / str(seed), on_epoch=epoch_log(log))
        return [record.loss for _, _, _, record in log]

    first = losses(0)
    assert losses(0) == first
    assert losses(1) != first


def test_training_lowers_the_loss_on_generated_scenes(tmp_path):
    root = write_scenes(tmp_path / "data", 8, seed=1)
    log = []
    train_reference(run_of(ReferenceStage("encoder", 1, 6, 6, "scratch", **NO_DROPOUT)), root, tmp_path / "run",
                    on_epoch=epoch_log(log))
    losses = [record.loss for _, _, _, record in log]
    assert all(record.images_per_s > 0 and record.seconds > 0 for _, _, _, record in log)
    assert losses[-1] < 0.7 * losses[0], losses


FIVE_CLASS_WEIGHTS = {"encoder": (0.5, 4.0, 1.0, 8.0, 2.0, 0.0), "full": (3.0, 1.0, 6.0, 0.25, 1.5, 0.0)}


@pytest.fixture(scope="module")
def five_classes(tmp_path_factory):
    """A generated folders dataset of 5 classes: 4 train and 2 val scenes of 64x32."""
    root = tmp_path_factory.mktemp("five")
    make_folders_data(root, {"train": 4, "val": 2}, WIDTH, seed=0, num_classes=5)
    return root


def test_a_five_class_run_on_folders_trains_five_channels_with_the_weights_it_is_given(five_classes, tmp_path):
    """At lr 0 the epoch's model is the one every batch saw, and the same seed gives the same batches, so the
    epoch's loss can be recomputed in numpy with the weights handed over: not the full network's, not uniform
    ones, not erfnet_pytorch's published 20 (which no 5-class network takes)."""
    run = run_of(ReferenceStage("encoder", 1, 1, 1, "scratch", **NO_DROPOUT), batch_size=2, lr0=0.0,
                 num_classes=5, class_weights=FIVE_CLASS_WEIGHTS, layout="folders")
    log = []
    train_reference(run, five_classes, tmp_path, on_epoch=epoch_log(log))
    (_, _, model, record), = log
    assert model.encoder.output_conv.out_channels == model.decoder.output_conv.out_channels == 5
    seed_everything(stage_seed(run, 1))
    model.train()
    batches = []
    with torch.no_grad():
        for images, labels in training_loader(run, "encoder", five_classes, stage_seed(run, 1)):
            batches.append((model(images, only_encode=True).numpy(), labels[:, 0].numpy()))
    assert len(batches) == 2 and set(np.unique(np.concatenate([labels for _, labels in batches]))) >= set(range(5))

    def epoch_loss(weights):
        return np.mean([weighted_nll(logits, labels, weights) for logits, labels in batches])

    assert record.loss == pytest.approx(epoch_loss(FIVE_CLASS_WEIGHTS["encoder"]), rel=1e-5)
    for other in (FIVE_CLASS_WEIGHTS["full"], (1.0,) * 5 + (0.0,)):
        assert record.loss != pytest.approx(epoch_loss(other), rel=1e-3), "the check tells the weights apart"


def test_a_run_refuses_class_weights_that_do_not_fit_it():
    encoder = (ReferenceStage("encoder", 1, 1, 1, "scratch"),)
    with pytest.raises(ValueError, match="holds none for the encoder network"):
        ReferenceRun(stages=encoder, num_classes=5, class_weights={"full": FIVE_CLASS_WEIGHTS["full"]})
    with pytest.raises(ValueError, match="num_classes 20: the class weights are for 5 classes"):
        ReferenceRun(stages=encoder, class_weights=FIVE_CLASS_WEIGHTS)
    with pytest.raises(ValueError, match="the last \\(ignored pixels\\) 0"):
        ReferenceRun(stages=encoder, num_classes=5, class_weights={"encoder": (1.0,) * 6})
    with pytest.raises(ValueError, match="layout"):
        ReferenceRun(stages=encoder, layout="voc")
    assert ReferenceRun(stages=encoder).class_weights == CLASS_WEIGHTS, "erfnet_pytorch's by default"


def test_stages_and_runs_refuse_what_erfnet_pytorch_cannot_train():
    with pytest.raises(ValueError, match="network"):
        ReferenceStage("decoder", 1, 1, 1, "scratch")
    with pytest.raises(ValueError, match="poly_epochs"):
        ReferenceStage("full", 1, 6, 5, "scratch")
    with pytest.raises(ValueError, match="init"):
        ReferenceStage("full", 1, 1, 1, "imagenet")
    with pytest.raises(ValueError, match="dropout"):
        ReferenceStage("full", 1, 1, 1, "scratch", enc128_dropout=1.5)
    with pytest.raises(ValueError, match="previous stage"):
        ReferenceRun(stages=(ReferenceStage("full", 1, 1, 1, "previous_encoder"),))
