"""Fine-tuned weights stored as 4-bit differences from the base must come back faithfully."""

import torch

from redline.models import deltas


def _state():
    g = torch.Generator().manual_seed(0)
    base = {"enc.w": torch.randn(256, 512, generator=g), "enc.b": torch.randn(256, generator=g),
            "odd.w": torch.randn(300, 301, generator=g)}
    tuned = {k: v + 0.01 * torch.randn(v.shape, generator=g) for k, v in base.items()}
    tuned["head.w"] = torch.randn(14, 768, generator=g)  # no base counterpart: stored whole
    return base, tuned


def test_round_trip_error_is_a_small_fraction_of_the_difference():
    base, tuned = _state()
    stored = deltas.pack(tuned, base)
    assert "enc.w" not in stored and stored["enc.w" + deltas.SUFFIX_CODES].dtype == torch.uint8
    assert "enc.b" in stored and "head.w" in stored and "odd.w" in stored  # small, baseless, odd width: whole
    back = deltas.unpack(stored, base)
    assert set(back) == set(tuned)
    d = tuned["enc.w"] - base["enc.w"]
    rel = ((back["enc.w"] - tuned["enc.w"]).norm() / d.norm()).item()
    assert rel < 0.12, rel  # 4-bit codes, MSE-chosen step: about 11% of a Gaussian difference (0.13 at max-abs)
    # ...and, the differences being 1% of the weights here, about 0.1% of the weight itself
    assert ((back["enc.w"] - tuned["enc.w"]).norm() / tuned["enc.w"].norm()).item() < 2e-3
    assert torch.allclose(back["head.w"], tuned["head.w"], atol=1e-2)


def test_packed_matrix_takes_half_a_byte_a_weight():
    base, tuned = _state()
    stored = deltas.pack({"enc.w": tuned["enc.w"]}, base)
    assert deltas.stored_bytes(stored) == 256 * 512 // 2 + 256 * 2


def test_unchanged_weights_come_back_exactly():
    base, _ = _state()
    back = deltas.unpack(deltas.pack({"enc.w": base["enc.w"].clone()}, base), base)
    assert torch.equal(back["enc.w"], base["enc.w"])


def test_a_delta_without_its_base_is_refused():
    base, tuned = _state()
    stored = deltas.pack({"enc.w": tuned["enc.w"]}, base)
    try:
        deltas.unpack(stored, {})
    except KeyError as exc:
        assert "enc.w" in str(exc)
    else:
        raise AssertionError("expected a KeyError")


def test_unpacking_into_the_base_gives_the_same_state():
    base, tuned = _state()
    stored = deltas.pack(tuned, base)
    copied = deltas.unpack(stored, base)
    own = {k: v.clone() for k, v in base.items()}
    in_place = deltas.unpack(stored, own, into_base=True)
    assert in_place["enc.w"].data_ptr() == own["enc.w"].data_ptr()  # no second copy
    assert all(torch.equal(copied[k], in_place[k]) for k in copied)
