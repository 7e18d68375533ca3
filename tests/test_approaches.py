"""The one map between an approach's id, its fit.json key and its names (flops_fit.approaches)."""

import pytest

from flops_fit.approaches import APPROACH_IDS, APPROACH_KEYS, approach_id, approach_key, approach_of


def test_ids_and_keys_keep_their_public_spelling():
    assert APPROACH_IDS == (1, 2, 3)
    assert APPROACH_KEYS == ("approach1", "approach2", "approach3")


@pytest.mark.parametrize("given", [2, 2.0, "2", "approach2"])
def test_an_approach_is_named_by_id_or_key(given):
    a = approach_of(given)
    assert (a.id, a.key, a.name, a.short, a.label) == (2, "approach2", "Approach 2", "A2", "Approach 2 (IsoFLOP)")
    assert approach_key(given) == "approach2" and approach_id(given) == 2


@pytest.mark.parametrize("given", [0, 4, 2.5, "approach4", "A2", None])
def test_an_unknown_approach_is_one_clear_error(given):
    with pytest.raises(ValueError, match=r"allowed values are \(1, 2, 3\)"):
        approach_of(given)

