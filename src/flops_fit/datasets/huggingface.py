"""A text corpus from HF ``datasets`` (TinyStories by default), BPE-tokenized once into memmaps.

    data:
      source: huggingface
      name: tinystories
      tokenizer: bpe
      vocab_size: 4096
      huggingface: {path: roneneldan/TinyStories}          # the hub (needs network once)
      # or local files, no network: {path: json, data_files: {train: a.jsonl, validation: b.jsonl}}

The tokenizer is a byte-level BPE (GPT-2's scheme: any UTF-8 text encodes, no unknown tokens)
trained by HF ``tokenizers`` on the training split only, never downloaded; it is saved beside the
data as ``tokenizer.json``. Every document ends with the ``<|endoftext|>`` token (id 0), and the
documents are concatenated into one flat array (uint16 while the vocabulary fits, else uint32),
streamed to disk in chunks so a corpus larger than memory still works. A corpus without a
validation split holds out every ``round(1/val_fraction)``-th document.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import write_meta

DEFAULT_PATH = "roneneldan/TinyStories"
DEFAULT_VOCAB = 4096
EOT = "<|endoftext|>"
CHUNK = 2000  # documents per encode_batch call


def load_splits(hf: dict, val_fraction: float):
    """The (train, validation) ``datasets.Dataset`` splits of the config's corpus."""
    import datasets

    kwargs = {k: hf[k] for k in ("name", "data_files", "cache_dir", "revision") if hf.get(k) is not None}
    path = hf.get("path", DEFAULT_PATH)
    _check_regular(hf.get("data_files"))
    try:
        ds = datasets.load_dataset(path, **kwargs)
    except Exception as err:  # noqa: BLE001 -- one clear line for any loading failure
        offline = os.environ.get("HF_DATASETS_OFFLINE") or os.environ.get("HF_HUB_OFFLINE")
        hint = " (HF offline mode is on: give local data_files or a cache_dir that holds it)" if offline else ""
        why = " ".join(str(err).split())
        raise ValueError(f"data.huggingface: datasets.load_dataset({path!r}, {kwargs}) failed: {why}{hint}") from None
    train_name, val_name = hf.get("train_split", "train"), hf.get("val_split", "validation")
    if train_name not in ds:
        raise ValueError(f"data.huggingface: no split {train_name!r} (splits: {', '.join(ds)})")
    train = ds[train_name]
    if hf.get("max_documents"):
        train = train.select(range(min(len(train), int(hf["max_documents"]))))
    if val_name in ds:
        return train, ds[val_name]
    step = max(2, round(1 / val_fraction))
    index = np.arange(len(train))
    return train.select(index[index % step != step - 1]), train.select(index[index % step == step - 1])


def _check_regular(data_files) -> None:
    """Refuse local data_files (str, list, or split -> str/list; globs allowed) that match a FIFO, a
    socket or a device: reading one would block or never end."""
    import glob

    if isinstance(data_files, dict):
        data_files = list(data_files.values())
    patterns = [data_files] if isinstance(data_files, str) else data_files or []
    for pattern in (p for entry in patterns for p in ([entry] if isinstance(entry, str) else entry or [])):
        for match in glob.glob(str(pattern), recursive=True) if isinstance(pattern, str) else []:
            if os.path.exists(match) and not (os.path.isfile(match) or os.path.isdir(match)):
                raise ValueError(f"data.huggingface.data_files: {match} is not a regular file (a FIFO, socket "
                                 "or device); list regular files only")  # fmt: skip


def _texts(split, field: str, limit: int | None = None):
    """Batches of document strings, in order."""
    n = len(split) if limit is None else min(limit, len(split))
    for start in range(0, n, CHUNK):
        yield split[start : min(start + CHUNK, n)][field]


def train_tokenizer(train, field: str, vocab_size: int, limit: int | None = None):
    """A byte-level BPE of ``vocab_size`` tokens (``<|endoftext|>`` = id 0) trained on ``train``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOT],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_texts(train, field, limit), trainer=trainer)
    return tok


def write_tokens(split, field: str, tok, path: Path, dtype) -> tuple[int, int]:
    """Encode every document of ``split`` (+ EOT) into the flat array ``path``; (tokens, documents)."""
    eot = tok.token_to_id(EOT)
    tmp = path.with_name(f".{path.name}.tmp")
    count = docs = 0
    with open(tmp, "wb") as fh:
        for texts in _texts(split, field):
            ids = [e.ids + [eot] for e in tok.encode_batch(texts)]
            flat = np.fromiter((i for doc in ids for i in doc), dtype=dtype)
            flat.tofile(fh)
            count, docs = count + len(flat), docs + len(texts)
    tmp.replace(path)
    return count, docs


def meta_path(hf: dict) -> str:
    return hf.get("path", DEFAULT_PATH)


def prepare(data: dict, out_dir: str | Path) -> dict:
    """Load, train the BPE, tokenize both splits into ``out_dir``; return meta.json's content."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hf = data.get("huggingface") or {}
    if data.get("tokenizer", "bpe") != "bpe":
        raise ValueError("data.source huggingface needs data.tokenizer: bpe")
    field = hf.get("text_field", "text")
    train, val = load_splits(hf, float(data.get("val_fraction", 0.05)))
    if field not in train.column_names:
        raise ValueError(f"data.huggingface.text_field {field!r} is not a column (columns: {train.column_names})")
    vocab = int(data.get("vocab_size") or DEFAULT_VOCAB)
    tok = train_tokenizer(train, field, vocab, hf.get("tokenizer_documents"))
    tok.save(str(out / "tokenizer.json"))
    dtype = np.uint16 if tok.get_vocab_size() <= 2**16 else np.uint32
    n_train, d_train = write_tokens(train, field, tok, out / "train.bin", dtype)
    n_val, d_val = write_tokens(val, field, tok, out / "val.bin", dtype)
    return write_meta(
        out,
        data,
        unit="tokens",
        tokenizer="bpe",
        vocab_size=vocab,  # the model's vocabulary (the tokenizer's is at most this)
        tokenizer_vocab_size=tok.get_vocab_size(),
        tokenizer_file="tokenizer.json",
        eot_token=tok.token_to_id(EOT),
        dtype=np.dtype(dtype).name,
        train_tokens=n_train,
        val_tokens=n_val,
        documents=d_train + d_val,
        train_documents=d_train,
        val_documents=d_val,
        huggingface={"path": hf.get("path", DEFAULT_PATH), **{k: v for k, v in hf.items() if k != "path"}},
        description=f"{d_train} + {d_val} documents of {meta_path(hf)}, byte-level BPE of {vocab}",
    )
