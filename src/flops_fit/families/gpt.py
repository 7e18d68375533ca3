"""The GPT family: a decoder-only transformer on token windows (nanoGPT's shape, ``flops_fit.models.gpt``).

Shape rule, parameter counts and FLOPs per token are ``flops_fit.accounting``'s (torch-free, with
the papers they follow); the torch network is built only in :func:`build_model`.
"""

from __future__ import annotations

from flops_fit.accounting import GPTShape, gpt_flops_by_convention, gpt_flops_per_token, gpt_param_counts, gpt_shape
from flops_fit.sources import TEXT_SOURCES, vocab_size

SOURCES = TEXT_SOURCES
EXPLICIT_SIZES = False


def architecture(name: str, study: dict, size: int) -> dict:
    """The GPT of width ``size`` (see ``flops_fit.families``); ValueError if no such shape."""
    model, acct, data = study["model"], study["accounting"], study["data"]
    if data["source"] not in SOURCES:
        raise ValueError(f"model.family gpt needs token data (data.source: {', '.join(SOURCES)})")
    shape = gpt_shape(size, model, vocab_size(study))
    return {
        "model": {"family": "gpt", **shape.to_dict()},
        "counts": gpt_param_counts(shape),
        "flops_per_unit": gpt_flops_per_token(shape, acct["flops"], acct["params"]),
        "units_per_sample": shape.n_ctx,
        "extra": {},  # none: a GPT's spec has no unit keys (tokens is the default)
    }


def flops_per_unit_by_convention(spec: dict) -> dict[str, float]:
    return gpt_flops_by_convention(GPTShape.from_dict(spec["model"]))


def build_model(spec: dict):
    from flops_fit.models.gpt import GPT

    return GPT(GPTShape.from_dict(spec["model"]))


def forward(model, batch):
    """The GPT computes its own loss from the targets: ``(logits, loss)``."""
    return model(batch[0], batch[1])


def loss_function(spec: dict):
    from flops_fit.forward import default_loss

    return default_loss
