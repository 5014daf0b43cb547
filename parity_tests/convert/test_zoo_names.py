"""The model zoo's names against the zoo-style network written from the published facts: every parameter
maps both ways, detection takes zoo files and refuses mixtures."""
import copy
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

from convert.zoo import from_zoo_name, to_zoo_name, translate_zoo_names
from facts import spec
from facts.errors import UserError
from helpers.zoo_style_net import ZooERFNet, ZooEncoderPred
from ms_erfnet import ERFNet

OUR_NAMES = [p.name for p in ERFNet(20).get_parameters()]
ZOO_FULL = [p.name for p in ZooERFNet(20).get_parameters()]
ZOO_ENCODER_PRED = [p.name for p in ZooEncoderPred(20).get_parameters()]


def test_full_network_names_map_onto_the_zoo_network():
    ours = [name for name in OUR_NAMES if not name.startswith("encoder.output_conv.")]
    assert sorted(to_zoo_name(name) for name in ours) == sorted(ZOO_FULL)
    assert sorted(from_zoo_name(name) for name in ZOO_FULL) == sorted(ours)


def test_encoder_only_names_map_onto_the_zoo_encoder_pred_cell():
    ours = [name for name in OUR_NAMES if name.startswith("encoder.")]
    assert sorted(to_zoo_name(name) for name in ours) == sorted(ZOO_ENCODER_PRED)
    assert from_zoo_name("pred.weight") == "encoder.output_conv.weight"


@pytest.mark.parametrize("zoo,ours", [("encoder.down1.bn.gamma", "encoder.initial_block.bn.gamma"),
                                      ("encoder.down3.conv.bias", "encoder.layers.6.conv.bias"),
                                      ("encoder.bottleneck1.conv3x1_1.weight", "encoder.layers.1.conv3x1_1.weight"),
                                      ("encoder.bottleneck13.bn2.moving_variance",
                                       "encoder.layers.14.bn2.moving_variance"),
                                      ("decoder.up2.conv.weight", "decoder.layers.3.conv.weight"),
                                      ("decoder.bottleneck4.bn1.beta", "decoder.layers.5.bn1.beta"),
                                      ("decoder.pred.bias", "decoder.output_conv.bias")])
def test_published_correspondences(zoo, ours):
    assert from_zoo_name(zoo) == ours and to_zoo_name(ours) == zoo


@pytest.mark.parametrize("name", ["encoder.layers.1.conv.weight", "encoder.bottleneck14.bn1.gamma", "predict.weight",
                                  "moment1.encoder.down1.conv.weight", "encoder.down1", "decoder.up3.conv.weight"])
def test_names_outside_the_zoo_network_are_not_zoo_names(name):
    assert from_zoo_name(name) is None


def test_this_projects_names_pass_through_untouched():
    arrays = {name: np.zeros(1) for name in OUR_NAMES}
    notes = []
    assert translate_zoo_names(arrays, "x.ckpt", notes) == (arrays, False) and notes == []


@given(st.lists(st.sampled_from(ZOO_FULL), min_size=1, max_size=20, unique=True), st.sampled_from(OUR_NAMES))
def test_a_file_mixing_both_namings_is_refused(zoo_names, our_name):
    arrays = {name: np.zeros(1) for name in [*zoo_names, our_name]}
    with pytest.raises(UserError, match="mixes the MindSpore model zoo's names"):
        translate_zoo_names(arrays, "mixed.ckpt", [])


@given(st.lists(st.sampled_from(ZOO_ENCODER_PRED), min_size=1, max_size=30, unique=True))
def test_zoo_names_translate_with_a_note(zoo_names):
    arrays = {name: np.full(1, i) for i, name in enumerate(zoo_names)}
    notes = []
    translated, zoo = translate_zoo_names(arrays, "zoo.ckpt", notes)
    assert zoo and "model zoo" in notes[0]
    assert {name: int(a[0]) for name, a in translated.items()} == {from_zoo_name(n): i for i, n in enumerate(zoo_names)}


@pytest.mark.parametrize("damage,message", [
    (lambda table: table["decoder"]["layers"][3].pop("zoo"), "no `zoo` name for decoder.layers.3"),
    (lambda table: table["encoder"]["layers"][2].update(zoo="encoder.bottleneck1"),
     "`zoo` names used twice: encoder.bottleneck1")])
def test_the_layer_tables_zoo_fields_are_checked(monkeypatch, damage, message):
    table = copy.deepcopy(spec._data("layers.yaml"))
    damage(table)
    monkeypatch.setattr(spec, "_data", lambda name: table)
    with pytest.raises(ValueError, match=re.escape(message)):
        spec.zoo_module_names.__wrapped__()
