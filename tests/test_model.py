"""The torch GPT (flops_fit.models.gpt) agrees with the torch-free accounting and behaves."""

import itertools

import pytest
import torch

from flops_fit.accounting import FLOP_CONVENTIONS, GPTShape, gpt_flops_per_token, gpt_param_counts, gpt_shape
from flops_fit.models.gpt import GPT

torch.set_num_threads(1)


def test_gpt2_small_counts_on_meta_device():
    s = GPTShape(
        n_layer=12, d_model=768, n_head=12, n_ctx=1024, vocab_size=50257, d_ff=3072,
        mlp="gelu", positions="learned", tie_embeddings=True, bias=True,
    )  # fmt: skip
    with torch.device("meta"):  # no memory, no init cost
        model = GPT(s)
    assert model.num_params() == 124_439_808
    assert model.param_groups() == gpt_param_counts(s)


VARIANTS = list(itertools.product(["gelu", "swiglu"], ["learned", "rotary"], [True, False], [True, False]))


@pytest.mark.parametrize("mlp, positions, tie, bias", VARIANTS)
def test_model_counts_equal_accounting(mlp, positions, tie, bias):
    cfg = {"n_ctx": 32, "aspect_ratio": 16, "head_dim": 8, "mlp": mlp, "positions": positions,
           "tie_embeddings": tie, "bias": bias}  # fmt: skip
    s = gpt_shape(32, cfg, 64)
    model = GPT(s)
    assert model.param_groups() == gpt_param_counts(s)
    assert model.num_params() == sum(p.numel() for p in model.parameters())
    assert model.num_params(non_embedding=True) == gpt_param_counts(s)["non_embedding"]
    for conv in FLOP_CONVENTIONS:
        assert model.flops_per_token(conv) == gpt_flops_per_token(s, conv)
    x, y = torch.randint(0, 64, (2, 32)), torch.randint(0, 64, (2, 32))
    logits, loss = model(x, y)
    assert logits.shape == (2, 32, 64)  # (B, T, vocab)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(64.0)).item(), abs=0.3)  # ~uniform at init


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_causal(positions):
    torch.manual_seed(0)
    model = GPT(gpt_shape(32, {"n_ctx": 16, "head_dim": 8, "positions": positions}, 50)).eval()
    x = torch.randint(0, 50, (1, 16))
    y = x.clone()
    y[0, 10:] = (y[0, 10:] + 1) % 50  # change the future only
    with torch.no_grad():
        a, b = model(x)[0], model(y)[0]
    assert torch.equal(a[0, :10], b[0, :10])
    assert not torch.allclose(a[0, 10:], b[0, 10:])


def test_tied_embeddings_share_storage():
    model = GPT(gpt_shape(16, {"n_ctx": 8}, 32))
    assert model.lm_head.weight is model.wte.weight
    untied = GPT(gpt_shape(16, {"n_ctx": 8, "tie_embeddings": False}, 32))
    assert untied.lm_head.weight is not untied.wte.weight


def test_weight_decay_groups_are_nanogpt_style():
    model = GPT(gpt_shape(16, {"n_ctx": 8, "bias": True}, 32))
    decay, no_decay = model.optimizer_groups(0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    assert sum(p.numel() for g in (decay, no_decay) for p in g["params"]) == model.num_params()
