"""Dataset sources beyond the built-in byte-level text (``flops_fit.data``).

* ``huggingface`` -- any text corpus ``datasets.load_dataset`` reads (TinyStories by default), with a
  byte-level BPE tokenizer trained on the training split by HF ``tokenizers``; written once as
  flat uint16 token memmaps, the same format as the byte-level data.
* ``cifar10`` -- CIFAR-10 through ``torchvision.datasets.CIFAR10``, written as fixed-size records
  (1 label byte + 3072 pixel bytes, channel-major: CIFAR-10's own binary layout).

Each module has ``prepare(data, out_dir) -> meta`` (called by ``flops_fit.data.prepare_dataset``)
and imports its heavy libraries inside that function only. Every source, the byte-level text too,
writes its ``meta.json`` through :func:`write_meta`.
"""

from __future__ import annotations

from pathlib import Path

SCHEMA_VERSION = 1
"""The version of a prepared dataset's ``meta.json`` (docs/contracts.md); it lives here only."""


def write_meta(out_dir: str | Path, data: dict, **fields) -> dict:
    """Write (atomically) and return ``out_dir/meta.json``: the schema version, the dataset's name
    and source (from its ``data`` config), then the source's own ``fields``."""
    from flops_fit.io import atomic_write_json

    meta = {"schema_version": SCHEMA_VERSION, "dataset": data["name"], "source": data["source"], **fields}
    atomic_write_json(Path(out_dir) / "meta.json", meta)
    return meta
