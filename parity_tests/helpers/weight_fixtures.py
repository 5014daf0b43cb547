"""The shared weight files of the eval/infer/export tests (registered by parity_tests/conftest.py, asked for by
name): random erfnet_pytorch-format weights written once per session, in the forms those commands read."""
import pytest
import torch

from convert import read_weights, write_weights
from torch_ref.random_weights import random_reference_net

SEED = 3


@pytest.fixture(scope="session")
def weight_files(tmp_path_factory):
    """{"torch": .pth of random_reference_net(20, SEED), "zoo": the same weights as a zoo-aligned .ckpt,
    "other": a .pth with another seed, "encoder": an encoder-only .pth}. Treat them as read-only."""
    folder = tmp_path_factory.mktemp("weights")
    net = random_reference_net(20, SEED)
    torch.save(net.state_dict(), folder / "erfnet.pth")
    torch.save(random_reference_net(20, SEED + 1).state_dict(), folder / "other.pth")
    encoder = {key: value for key, value in net.state_dict().items() if key.startswith("encoder.")}
    torch.save(encoder, folder / "encoder.pth")
    weights = read_weights(folder / "erfnet.pth")
    weights.upsample_align = "zoo"
    write_weights(weights, folder / "zoo.ckpt")
    return {"torch": folder / "erfnet.pth", "zoo": folder / "zoo.ckpt", "other": folder / "other.pth",
            "encoder": folder / "encoder.pth"}
