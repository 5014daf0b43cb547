"""Fine-tuning from weights of another class count (train/run.py's file_weights with refit): every tensor that fits
is loaded, the class-dependent output convolutions start fresh and are named in one line; the same for an
encoder-only start; a stage's own weights of another count stay an error naming both counts."""
import logging

import numpy as np
import pytest
import torch

from convert.names import ENCODER, ENCODER_HEAD, PARTS, torch_name
from convert.network import build_network
from facts.errors import UserError
from helpers.upstream_weights import save_upstream
from train.run import CLASS_TENSORS, file_weights

HEADS = ["encoder.output_conv.weight", "encoder.output_conv.bias", "decoder.output_conv.weight",
         "decoder.output_conv.bias"]


@pytest.mark.parametrize("parts", [PARTS, (ENCODER, ENCODER_HEAD)], ids=["full network", "encoder only"])
def test_weights_of_20_classes_start_a_5_class_network_with_fresh_heads_only(tmp_path, caplog, parts):
    state = save_upstream(tmp_path / "city.pth", num_classes=20)
    if parts != PARTS:
        state = {key: value for key, value in state.items() if not key.startswith("module.decoder.")}
        torch.save(state, tmp_path / "city.pth")
    with caplog.at_level(logging.INFO, logger="train.run"):
        weights = file_weights(tmp_path / "city.pth", 5, refit=True)
    lines = [record.getMessage() for record in caplog.records]
    named = [name for name in HEADS if parts == PARTS or name.startswith("encoder.")]
    assert len(lines) == 1 and f"20 classes, the network 5: every tensor loaded but {', '.join(named)}" in lines[0]
    net, fresh = build_network(5, weights.only(parts), fresh_parts=PARTS)
    expected_fresh = HEADS if parts == PARTS else [p.name for p in net.get_parameters() if not p.name.startswith(
        "encoder.") or p.name.startswith(CLASS_TENSORS)]
    assert sorted(fresh) == sorted(expected_fresh)
    loaded = [p for p in net.get_parameters() if p.name not in fresh]
    fitting = [key for key in state if "num_batches_tracked" not in key and ".output_conv." not in key]
    assert len(loaded) == len(fitting) == (302 if parts == PARTS else 226)
    for parameter in loaded:
        np.testing.assert_array_equal(parameter.asnumpy(), state[f"module.{torch_name(parameter.name)}"].numpy())


def test_a_stages_own_weights_of_another_count_are_one_line_naming_both(tmp_path):
    save_upstream(tmp_path / "city.pth", num_classes=20)
    with pytest.raises(UserError, match="city.pth: holds weights for 20 classes; the config trains 5"):
        file_weights(tmp_path / "city.pth", 5)
