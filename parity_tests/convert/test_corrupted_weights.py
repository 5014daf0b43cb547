"""Corrupted weight files never convert silently: a byte flip, a truncation, appended junk or a zeroed region
anywhere in a valid .pth (torch.save's zip format) or in this project's .ckpt ends in one clear error or in
weights bit-identical to the original, nothing else. Hypothesis draws the damage (derandomized in CI)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from convert import convert_file, read_weights
from facts.errors import UserError
from helpers.upstream_weights import save_upstream

EXAMPLES = 60

damage = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("zero"), st.floats(0, 1, exclude_max=True), st.integers(1, 4096)),
)


def damaged(data, how):
    data = bytearray(data)
    if how[0] == "flip":
        data[int(how[1] * len(data))] ^= 1 << how[2]
    elif how[0] == "truncate":
        del data[int(how[1] * len(data)):]
    elif how[0] == "append":
        data += how[1]
    else:
        start = int(how[1] * len(data))
        data[start:start + how[2]] = bytes(len(data[start:start + how[2]]))
    return bytes(data)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    folder = tmp_path_factory.mktemp("originals")
    save_upstream(folder / "net.pth", seed=3)
    convert_file(folder / "net.pth", folder / "net.ckpt")
    return {suffix: ((folder / f"net{suffix}").read_bytes(), read_weights(folder / f"net{suffix}").arrays)
            for suffix in (".pth", ".ckpt")}


def check_damage(originals, folder, suffix, how):
    data, arrays = originals[suffix]
    path = folder / f"damaged{suffix}"
    path.write_bytes(damaged(data, how))
    try:
        weights = read_weights(path)
    except UserError as error:
        assert "\n" not in str(error) and str(path) in str(error)
        return
    assert weights.arrays.keys() == arrays.keys(), how
    for name, array in arrays.items():
        assert np.array_equal(weights.arrays[name], array) and weights.arrays[name].dtype == array.dtype, (how, name)


@settings(max_examples=EXAMPLES)
@given(how=damage)
def test_a_damaged_pth_is_refused_or_unchanged(originals, tmp_path_factory, how):
    check_damage(originals, tmp_path_factory.mktemp("pth"), ".pth", how)


@settings(max_examples=EXAMPLES)
@given(how=damage)
def test_a_damaged_ckpt_is_refused_or_unchanged(originals, tmp_path_factory, how):
    check_damage(originals, tmp_path_factory.mktemp("ckpt"), ".ckpt", how)


@pytest.mark.parametrize("suffix", [".pth", ".ckpt"])
def test_a_flipped_weight_byte_is_caught_by_the_checksum(originals, tmp_path, suffix):
    """The case a parser cannot see: one bit of one float inside the tensor data, found only by the CRC32."""
    data, _ = originals[suffix]
    marker = originals[suffix][1]["decoder.output_conv.weight"].tobytes()[:64]
    flipped = bytearray(data)
    flipped[data.index(marker) + 13] ^= 1 << 3
    path = tmp_path / f"flipped{suffix}"
    path.write_bytes(bytes(flipped))
    with pytest.raises(UserError, match=r"corrupted: .*(CRC32 check|CRC32 checksum)"):
        read_weights(path)
