"""The training recipe's pieces against independent computations: the weighted loss (numpy, float64), the
poly schedule (erfnet_pytorch's lambda), Adam with L2 weight decay (torch.optim.Adam), which parameters train,
and 20 optimizer steps of MindSpore against a torch reference step written the erfnet_pytorch way."""
import math

import mindspore as ms
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from convert import read_weights
from convert.names import torch_name
from convert.network import build_network
from parity.engine import NO_DROPOUT
from facts.spec import class_weights
from ms_erfnet import ERFNet
from torch_ref.random_weights import random_reference_net
from ms_erfnet.loss import WeightedCrossEntropy
from ms_erfnet.seeded_dropout import SeededDropout, network_state
from train.optim import make_adam, set_learning_rate, trained_parameters
from train.schedule import poly_learning_rate
from train.step import TrainStep

LR0, WEIGHT_DECAY = 5e-4, 1e-4
LOSS_RTOL, WEIGHT_ATOL = 1e-4, 1e-3


@given(st.integers(1, 3), st.sampled_from([(8, 16), (16, 8), (24, 32)]), st.sampled_from(["encoder", "full"]),
       st.integers(0, 2 ** 32 - 1))
def test_loss_is_the_weighted_mean_of_the_nll(batch, size, kind, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (batch, 20) + size).astype(np.float32)
    labels = rng.integers(0, 20, (batch,) + size).astype(np.int32)
    labels.flat[0] = 0
    z = logits.astype(np.float64)
    log_softmax = z - z.max(1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(1, keepdims=True))
    nll = -np.take_along_axis(log_softmax, labels[:, None], 1)[:, 0]
    w = np.array(class_weights(kind))[labels]
    expected = (w * nll).sum() / w.sum()
    ours = float(WeightedCrossEntropy(kind)(ms.Tensor(logits), ms.Tensor(labels)).asnumpy())
    assert math.isclose(ours, expected, rel_tol=1e-6)


@given(st.integers(1, 3), st.sampled_from([(8, 16), (24, 32)]), st.sampled_from(["encoder", "full"]),
       st.floats(0.1, 100), st.integers(0, 2 ** 32 - 1))
def test_loss_gradient_is_torchs_float64_autograd(batch, size, kind, scale, seed):
    """The loss's hand-written gradient (train/loss.py) against torch's autograd of nll_loss(log_softmax), for a
    loss scaled by `scale` as the loss scalers do."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (batch, 20) + size).astype(np.float32)
    labels = rng.integers(0, 20, (batch,) + size).astype(np.int32)
    labels.flat[0] = 0
    reference = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.nll_loss(torch.log_softmax(reference, 1), torch.from_numpy(labels).long(),
                                        torch.tensor(class_weights(kind), dtype=torch.float64))
    (loss * scale).backward()
    ours = ms.grad(lambda x: WeightedCrossEntropy(kind)(x, ms.Tensor(labels)) * scale)(ms.Tensor(logits))
    expected = reference.grad.numpy()
    np.testing.assert_allclose(ours.asnumpy(), expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_void_pixels_do_not_count():
    rng = np.random.default_rng(0)
    logits = ms.Tensor(rng.normal(size=(1, 20, 4, 4)).astype(np.float32))
    labels = rng.integers(0, 19, (1, 4, 4)).astype(np.int32)
    voided = labels.copy()
    voided[0, :2] = 19
    loss = WeightedCrossEntropy("full")
    kept = ms.Tensor(np.ascontiguousarray(labels[:, 2:]))
    sliced = loss(logits[:, :, 2:], kept)
    assert math.isclose(float(loss(logits, ms.Tensor(voided)).asnumpy()), float(sliced.asnumpy()), rel_tol=1e-6)


def test_poly_schedule_is_erfnet_pytorchs_lambda():
    erfnet_pytorch_lambda = lambda epoch: pow((1 - ((epoch - 1) / 150)), 0.9)  # noqa: E731  (upstream's form)
    for epoch in (1, 2, 65, 66, 150):
        assert poly_learning_rate(LR0, epoch) == pytest.approx(LR0 * erfnet_pytorch_lambda(epoch), rel=1e-12)
    assert poly_learning_rate(LR0, 1) == LR0
    with pytest.raises(ValueError):
        poly_learning_rate(LR0, 151)


@given(st.integers(0, 2 ** 32 - 1), st.floats(0.0, 1e-2))
def test_adam_with_l2_decay_matches_torch_on_every_parameter_bn_included(seed, weight_decay):
    rng = np.random.default_rng(seed)
    shapes = {"conv.weight": (4, 3), "bn.gamma": (4,), "bn.beta": (4,)}
    start = {name: rng.normal(size=shape).astype(np.float32) for name, shape in shapes.items()}
    ours = [ms.Parameter(ms.Tensor(value), name=name) for name, value in start.items()]
    reference = [torch.nn.Parameter(torch.from_numpy(value.copy())) for value in start.values()]
    optimizer = make_adam(ours, 1e-2, weight_decay)
    torch_optimizer = torch.optim.Adam(reference, 1e-2, (0.9, 0.999), eps=1e-8, weight_decay=weight_decay)
    for step in range(6):
        if step == 3:
            set_learning_rate(optimizer, 3e-3)
            torch_optimizer.param_groups[0]["lr"] = 3e-3
        grads = [(rng.normal(size=shape) * 10.0 ** rng.integers(-9, 1)).astype(np.float32) for shape in shapes.values()]
        optimizer(tuple(ms.Tensor(g) for g in grads))
        for parameter, g in zip(reference, grads):
            parameter.grad = torch.from_numpy(g)
        torch_optimizer.step()
    for parameter, expected in zip(ours, reference):
        np.testing.assert_allclose(parameter.asnumpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-7)


def test_encoder_stages_train_the_encoder_and_full_stages_all_but_its_head():
    net = ERFNet(20)
    encoder = {p.name for p in trained_parameters(net, "encoder")}
    full = {p.name for p in trained_parameters(net, "full")}
    names = {p.name for p in net.trainable_params()}
    assert encoder == {n for n in names if n.startswith("encoder.")}
    assert full == names - {"encoder.output_conv.weight", "encoder.output_conv.bias"}
    assert "encoder.layers.0.bn.gamma" in encoder and "decoder.layers.0.bn.beta" in full


@pytest.mark.parametrize("mode, rate", [("channel", 0.3), ("element", 0.5)])
def test_seeded_dropout_masks_whole_channels_or_elements_and_scales_the_kept(mode, rate):
    cell = SeededDropout(rate, mode, channels=64, stride=2)
    cell.set_train(True)
    cell.draw(np.random.default_rng(0), 4, 12, 12)
    out = cell(ms.Tensor(np.ones((4, 64, 6, 6), np.float32))).asnumpy()
    assert set(np.unique(out)) <= {0.0, np.float32(1 / (1 - rate))}
    per_channel = out.reshape(4, 64, -1)
    if mode == "channel":
        assert (per_channel.min(2) == per_channel.max(2)).all()
    assert abs((out == 0).mean() - rate) < 0.05
    cell.set_train(False)
    assert (cell(ms.Tensor(np.ones((1, 2, 2, 2), np.float32))).asnumpy() == 1).all()


def dropout_masks(randomness):
    return [cell.mask.asnumpy().copy() for cell in randomness.encoder + randomness.decoder]


@pytest.mark.parametrize("mode", ["channel", "element"])
def test_seeded_dropout_masks_fit_every_block_and_replay_from_their_state(mode):
    net = ERFNet(20, dropout={"enc64": 0.03, "enc128": 0.3, "decoder": 0.1}, dropout_mode=mode, dropout_seed=5)
    randomness = net.dropout_randomness
    rates = [(name, cell.rate, cell.mode) for name, cell in net.cells_and_names() if isinstance(cell, SeededDropout)]
    assert len(rates) == 5 + 8 + 4
    assert {r for _, r, _ in rates} == {0.03, 0.3, 0.1} and {m for *_, m in rates} == {mode}
    names = [p.name for p in net.get_parameters()]
    assert len(set(names)) == len(names) and "encoder.layers.8.dropout.mask" in names
    assert [p.name for p in network_state(net)] == [p.name for p in ERFNet(20).get_parameters()]
    state = randomness.state()
    images = np.random.default_rng(0).random((2, 3, 64, 96), dtype=np.float32)
    randomness.draw(images.shape, only_encode=False)
    first = dropout_masks(randomness)
    net.set_train(True)
    assert net(ms.Tensor(images)).shape == (2, 20, 64, 96)
    randomness.restore(state)
    randomness.draw(images.shape, only_encode=False)
    for replayed, drawn in zip(dropout_masks(randomness), first):
        np.testing.assert_array_equal(replayed, drawn)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [ms.GRAPH_MODE, ms.PYNATIVE_MODE])
def test_each_step_applies_the_masks_drawn_for_it(mode):
    """Same batch, learning rate 0: the loss changes with the masks and repeats when the masks repeat, in the
    compiled step (graph mode, training's) and op by op."""
    ms.set_context(mode=mode)
    net, _ = build_network(20, dropout={"enc64": 0.5, "enc128": 0.5}, dropout_seed=1)
    randomness = net.dropout_randomness
    optimizer = make_adam(trained_parameters(net, "full"), 0.0, 0.0)
    step = TrainStep(net, optimizer, "full", dropout=randomness)
    rng = np.random.default_rng(0)
    images = ms.Tensor(rng.random((2, 3, 32, 64), dtype=np.float32))
    labels = ms.Tensor(rng.integers(0, 20, (2, 32, 64)).astype(np.int32))
    state = randomness.state()
    first, second = step(images, labels), step(images, labels)
    randomness.restore(state)
    assert first != second and step(images, labels) == first


def converted_weights(tmp_path, seed):
    path = tmp_path / "start.pth"
    torch.save(random_reference_net(20, seed).state_dict(), path)
    return read_weights(path)


def torch_reference_run(weights_path, batches, network, lr_by_epoch, dtype=torch.float32):
    """erfnet_pytorch's train loop: Adam over model.parameters() (parameters without a gradient are skipped),
    the learning rate set per epoch, zero_grad / loss.backward() / step(). Returns per-step losses and the
    final state_dict."""
    model = random_reference_net(20, 0)
    model.load_state_dict(torch.load(weights_path, weights_only=True))
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout2d):
            module.p = 0.0
    model.to(dtype).train()
    enc = network == "encoder"
    weight = torch.tensor(class_weights("encoder" if enc else "full"), dtype=dtype)
    optimizer = torch.optim.Adam(model.parameters(), LR0, (0.9, 0.999), eps=1e-08, weight_decay=WEIGHT_DECAY)
    losses = []
    for lr, epoch_batches in zip(lr_by_epoch, batches):
        for group in optimizer.param_groups:
            group["lr"] = lr
        for images, labels in epoch_batches:
            outputs = model(torch.from_numpy(images).to(dtype), only_encode=enc)
            optimizer.zero_grad()
            loss = torch.nn.functional.nll_loss(torch.nn.functional.log_softmax(outputs, 1),
                                                torch.from_numpy(labels).long(), weight)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return np.array(losses), {key: value.double().numpy() for key, value in model.state_dict().items()}


def mindspore_run(weights, batches, network, lr_by_epoch):
    net, _ = build_network(20, weights, dropout=NO_DROPOUT, dropout_seed=0)
    optimizer = make_adam(trained_parameters(net, network), LR0, WEIGHT_DECAY)
    step = TrainStep(net, optimizer, network)
    losses = []
    for lr, epoch_batches in zip(lr_by_epoch, batches):
        set_learning_rate(optimizer, lr)
        losses += [step(ms.Tensor(images), ms.Tensor(labels.astype(np.int32))) for images, labels in epoch_batches]
    return np.array(losses), {torch_name(p.name): p.asnumpy().astype(np.float64) for p in net.get_parameters()}


def divergence(losses, state, reference_losses, reference_state):
    """(max relative per-step loss difference, max absolute difference over all weights and BN statistics)."""
    loss = float(np.max(np.abs(losses - reference_losses) / np.abs(reference_losses)))
    weights = max(float(np.max(np.abs(value - reference_state[key]))) for key, value in state.items())
    return loss, weights


def recipe_batches(network, seed=11):
    rng = np.random.default_rng(seed)
    label_size = (8, 16) if network == "encoder" else (64, 128)
    return [[(rng.random((2, 3, 64, 128), dtype=np.float32), rng.integers(0, 20, (2,) + label_size))
             for _ in range(5)] for _ in range(4)]


@pytest.mark.slow
def test_twenty_steps_match_an_erfnet_pytorch_reference_within_float32s_own_spread(tmp_path):
    """The issue's bars (losses to 1e-4 relative, weights to 1e-3) are below what float32 itself allows here:
    torch float32 against torch float64, the same 20 steps, differ by about 3% in loss (measured 2.5% at
    128x256 batch 1, 3.5% at 64x128 batch 2): Adam turns gradients at rounding level (biases before BatchNorm,
    whose exact gradient is 0, ReLUs at 0) into steps of size lr, and batch statistics amplify them. So the
    first step, before any such amplification, is held to the bar, and the 20 steps are held to float32's own
    spread: MindSpore may not drift from torch float32 more than torch float32 drifts from float64."""
    network = "encoder"
    weights = converted_weights(tmp_path, seed=3)
    batches = recipe_batches(network)
    lr_by_epoch = [poly_learning_rate(LR0, epoch, total_epochs=8) for epoch in range(1, 5)]
    ours = mindspore_run(weights, batches, network, lr_by_epoch)
    reference = torch_reference_run(tmp_path / "start.pth", batches, network, lr_by_epoch)
    exact = torch_reference_run(tmp_path / "start.pth", [[(x.astype(np.float64), y) for x, y in epoch]
                                                         for epoch in batches], network, lr_by_epoch, torch.float64)
    ours_loss, ours_weights = divergence(*ours, *reference)
    spread_loss, spread_weights = divergence(*reference, *exact)
    print(f"\n20 steps, {network}: MindSpore vs torch float32: losses {ours_loss:.2e} relative, weights "
          f"{ours_weights:.2e}; torch float32 vs float64: losses {spread_loss:.2e}, weights {spread_weights:.2e}")
    assert abs(ours[0][0] - reference[0][0]) / reference[0][0] < LOSS_RTOL
    assert ours[0][-1] < ours[0][0] - 0.3
    assert ours_loss < 2 * spread_loss and ours_weights < 2 * spread_weights
    start = torch.load(tmp_path / "start.pth", weights_only=True)
    for key in (key for key in ours[1] if key.startswith("decoder.")):
        np.testing.assert_array_equal(ours[1][key], start[key].double().numpy(), err_msg=key)
