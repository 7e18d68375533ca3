"""The ViT family: a vision transformer on images (``flops_fit.models.vit``; Dosovitskiy et al. 2021).

Shape rule, parameter counts and FLOPs per image are ``flops_fit.accounting``'s (torch-free); the
torch network is built only in :func:`build_model`. The unit of data is the image.
"""

from __future__ import annotations

from flops_fit.accounting import ViTShape, vit_flops_by_convention, vit_flops_per_image, vit_param_counts, vit_shape
from flops_fit.forward import call_model as forward  # noqa: F401 (the family's forward: model(images))
from flops_fit.sources import IMAGE_SOURCES

SOURCES = tuple(IMAGE_SOURCES)
EXPLICIT_SIZES = False


def architecture(name: str, study: dict, size: int) -> dict:
    """The ViT of width ``size`` (see ``flops_fit.families``); ValueError if no such shape."""
    model, acct, data = study["model"], study["accounting"], study["data"]
    image = IMAGE_SOURCES.get(data["source"])
    if image is None:
        raise ValueError(f"model.family vit needs image data (data.source: {', '.join(IMAGE_SOURCES)})")
    shape = vit_shape(size, model, **image)
    return {
        "model": shape.to_dict(),
        "counts": vit_param_counts(shape),
        "flops_per_unit": vit_flops_per_image(shape, acct["flops"], acct["params"]),
        "units_per_sample": 1,
        "extra": {"unit": "images", "units_per_sample": 1},
    }


def flops_per_unit_by_convention(spec: dict) -> dict[str, float]:
    return vit_flops_by_convention(ViTShape.from_dict(spec["model"]))


def build_model(spec: dict):
    from flops_fit.models.vit import ViT

    return ViT(ViTShape.from_dict(spec["model"]))


def loss_function(spec: dict):
    from flops_fit.forward import default_loss

    return default_loss
