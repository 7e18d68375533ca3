"""Parameter and FLOP accounting (flops_fit.accounting) against published numbers."""

import pytest

from flops_fit.accounting import (
    FLOP_CONVENTIONS,
    GPTShape,
    chinchilla_forward_flops_per_token,
    gpt_flops_by_convention,
    gpt_flops_per_token,
    gpt_param_counts,
    gpt_shape,
)

GPT2_SMALL = GPTShape(
    n_layer=12, d_model=768, n_head=12, n_ctx=1024, vocab_size=50257, d_ff=3072,
    mlp="gelu", positions="learned", tie_embeddings=True, bias=True,
)  # fmt: skip


def test_gpt2_small_has_124_439_808_parameters():
    counts = gpt_param_counts(GPT2_SMALL)
    assert counts["total"] == 124_439_808
    assert counts["embedding"] == 50257 * 768 + 1024 * 768
    assert counts["non_embedding"] == counts["total"] - counts["embedding"]


# Hoffmann et al. 2022, Table A9 (d_model, ffw_size, kv_size, n_heads, n_layers) and its
# "Parameters (million)" column, for the six models of Table A4 with their FLOP ratios.
CHINCHILLA_A4 = [
    # (A9 params in millions, d_model, ffw_size, kv_size, n_heads, n_layers, A4 ratio ours / 6ND)
    (74, 640, 2560, 64, 10, 10, 1.03),
    (306, 1024, 4096, 64, 16, 20, 1.10),
    (552, 1280, 5120, 128, 10, 24, 1.08),
    (1143, 1792, 7168, 128, 14, 26, 1.04),
    (1593, 2048, 8192, 128, 16, 28, 1.03),
    (6796, 3584, 14336, 128, 28, 40, 0.99),
]


@pytest.mark.parametrize("n_million, d, ffw, kv, heads, layers, ratio", CHINCHILLA_A4)
def test_chinchilla_appendix_f_reproduces_table_a4(n_million, d, ffw, kv, heads, layers, ratio):
    """Appendix F forward FLOPs without embedding and logits (the authors' correction), x3 for
    the backward pass, over 6N with N the model's Table A9 parameter count (which includes the
    32k x d_model embedding: 13 L d^2 + V d matches the A9 column for all six models, so the
    ratio is not ours/6N_non-embedding, which would be ~1.5 for the 74M model)."""
    assert kv * heads == d
    s = GPTShape(n_layer=layers, d_model=d, n_head=heads, n_ctx=2048, vocab_size=32000, d_ff=ffw)
    ours = 3 * chinchilla_forward_flops_per_token(s, embeddings=False)
    assert abs(13 * layers * d * d + 32000 * d - n_million * 1e6) / (n_million * 1e6) < 0.005
    assert ours / (6 * n_million * 1e6) == pytest.approx(ratio, abs=0.01)


def test_chinchilla_convention_counts_embeddings_and_logits():
    s = GPT2_SMALL
    with_emb = chinchilla_forward_flops_per_token(s)
    without = chinchilla_forward_flops_per_token(s, embeddings=False)
    assert with_emb - without == 4 * s.vocab_size * s.d_model
    assert gpt_flops_per_token(s, "chinchilla") == 3 * with_emb


def test_conventions():
    s = GPT2_SMALL
    counts = gpt_param_counts(s)
    assert gpt_flops_per_token(s, "6N") == 6 * counts["total"]
    assert gpt_flops_per_token(s, "6N", "non_embedding") == 6 * counts["non_embedding"]
    assert gpt_flops_per_token(s, "6N+attention") - gpt_flops_per_token(s, "6N") == 12 * 12 * 768 * 1024
    assert set(gpt_flops_by_convention(s)) == {"6N_total", "6N_non_embedding", "6N+attention", "chinchilla"}
    with pytest.raises(ValueError, match="unknown FLOP convention"):
        gpt_flops_per_token(s, "7N")
    assert FLOP_CONVENTIONS == ("6N", "6N+attention", "chinchilla")


def test_shape_rule():
    s = gpt_shape(64, {"n_ctx": 128, "aspect_ratio": 32, "head_dim": 16}, 256)
    assert (s.n_layer, s.d_model, s.n_head, s.d_ff, s.n_ctx, s.vocab_size) == (2, 64, 4, 256, 128, 256)
    assert gpt_shape(16, {"n_ctx": 128}, 256).n_layer == 1  # never below one layer
    assert gpt_shape(64, {"n_ctx": 128, "n_layer": 5}, 256).n_layer == 5
    sw = gpt_shape(48, {"n_ctx": 64, "mlp": "swiglu"}, 256)
    assert sw.d_ff == 128  # 2/3 of 4 x 48: same parameter count as the GELU MLP
    assert gpt_param_counts(sw)["total"] == gpt_param_counts(gpt_shape(48, {"n_ctx": 64}, 256))["total"]
    assert GPTShape.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"mlp": "relu"}, "model.mlp"),
        ({"positions": "alibi"}, "model.positions"),
        ({"head_dim": 24}, "multiple"),
    ],
)
def test_shape_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        gpt_shape(64, {"n_ctx": 128, **bad}, 256)


def test_run_jsons_that_name_flops_per_unit_flops_per_token_still_aggregate(tmp_path):
    """Specs before the rename carry ``flops_per_token`` (per image for a ViT): read as a fallback."""
    import pandas as pd
    from conftest import tiny_config

    from flops_fit.accounting import flops_per_unit
    from flops_fit.config import check_config
    from flops_fit.mock import train_mock
    from flops_fit.plan import plan_study
    from flops_fit.runs import aggregate

    spec = plan_study("tiny", check_config(tiny_config("mock"))["studies"]["tiny"])[0]
    old = {("flops_per_token" if k == "flops_per_unit" else k): v for k, v in spec.items()}
    assert flops_per_unit(old) == flops_per_unit(spec) == spec["flops_per_unit"] > 0
    new_run, old_run = train_mock(spec, tmp_path / "new.json"), train_mock(old, tmp_path / "old.json")
    assert old_run["flops"] == new_run["flops"] and old_run["curve"] == new_run["curve"]
    aggregate([str(tmp_path / "old.json")], tmp_path / "runs.csv", tmp_path / "curves.csv")
    row = pd.read_csv(tmp_path / "runs.csv").iloc[0]
    assert row["flops"] == pytest.approx(spec["tokens"] * spec["flops_per_unit"])
    curves = pd.read_csv(tmp_path / "curves.csv")
    assert curves["flops"].to_numpy() == pytest.approx(curves["tokens"].to_numpy() * spec["flops_per_unit"])
