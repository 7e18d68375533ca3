"""CIFAR-10 (Krizhevsky 2009) through ``torchvision.datasets.CIFAR10``, written as fixed-size records.

    data:
      source: cifar10
      name: cifar10
      cifar10: {root: resources/cifar10, download: true}

With ``download: true`` (the default) torchvision downloads the archive when missing and checks
the md5 of every file. With ``download: false`` the files under ``root/cifar-10-batches-py``
(``data_batch_1..5``, ``test_batch``, ``batches.meta``: pickled dicts with ``data`` uint8 N x 3072
channel-major and ``labels``) are read offline -- after their md5 sums are checked against
torchvision's list. The files are pickles, and unpickling a file runs whatever code it names: a
file that is not the real CIFAR-10 (a tampered download, a wrong folder) is refused before it is
opened as a pickle. ``verify: false`` skips the check, for a CIFAR-shaped dataset you made
yourself (a test's tiny fake); the files are then read with an unpickler that builds only numpy
arrays, lists, dicts, strings and numbers, and refuses anything else.

Output: ``train.bin`` / ``val.bin`` (the 10,000 test images: the held-out split) as records of
1 label byte + 3 x 32 x 32 pixel bytes (CIFAR-10's own binary layout), and ``meta.json`` with
the per-channel mean and std of the training images (the training task normalises with them).
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np

from . import write_meta

IMAGE_SHAPE = (3, 32, 32)
NUM_CLASSES = 10
DEFAULT_ROOT = "resources/cifar10"


def read_split(
    root: str | Path, train: bool, download: bool, verify: bool = True
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images uint8 (N, 3, 32, 32), labels uint8 (N,), class names) of one split."""
    from torchvision.datasets import CIFAR10

    root = Path(root)
    if download:  # torchvision downloads when missing and checks every file's md5
        try:
            ds = CIFAR10(str(root), train=train, download=True)
        except (OSError, RuntimeError) as err:  # URLError is an OSError; a bad checksum a RuntimeError
            reason = " ".join(str(getattr(err, "reason", None) or err).split())
            raise ValueError(
                f"data.cifar10: could not download CIFAR-10 into {root} ({reason}); without a network, unpack "
                f"{CIFAR10.url} into {root} (it holds cifar-10-batches-py) and set data.cifar10.download: false"
            ) from None
        images = np.asarray(ds.data, dtype=np.uint8).transpose(0, 3, 1, 2)  # HWC -> CHW
        labels, classes = np.asarray(ds.targets, dtype=np.int64), list(ds.classes)
    else:
        folder = root / "cifar-10-batches-py"
        if not folder.is_dir():
            raise ValueError(f"data.cifar10: no {folder} (set data.cifar10.download: true)")
        names = [name for name, _ in (CIFAR10.train_list if train else CIFAR10.test_list)]
        if verify:
            for name, md5 in [*CIFAR10.train_list, *CIFAR10.test_list, [CIFAR10.meta["filename"], CIFAR10.meta["md5"]]]:
                _check_md5(folder / name, md5)
        batches = [_unpickle(folder / name) for name in names]
        images = np.concatenate([np.asarray(b["data"], dtype=np.uint8) for b in batches]).reshape(-1, *IMAGE_SHAPE)
        labels = np.asarray([y for b in batches for y in b.get("labels", b.get("fine_labels", []))], dtype=np.int64)
        meta = folder / CIFAR10.meta["filename"]
        classes = [str(c) for c in _unpickle(meta)[CIFAR10.meta["key"]]] if meta.exists() else []
        classes = classes or [str(i) for i in range(NUM_CLASSES)]
    images = np.ascontiguousarray(images)
    if images.shape[1:] != IMAGE_SHAPE or len(labels) != len(images) or labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise ValueError(f"data.cifar10: unexpected data under {root}: images {images.shape}, labels {labels.shape}")
    return images, labels.astype(np.uint8), classes


def _check_md5(path: Path, expected: str) -> None:
    if not path.is_file():
        raise ValueError(f"data.cifar10: {path} is missing (set data.cifar10.download: true to fetch CIFAR-10)")
    with open(path, "rb") as fh:
        got = hashlib.file_digest(fh, "md5").hexdigest()
    if got != expected:
        raise ValueError(
            f"data.cifar10: {path} is not CIFAR-10 as torchvision knows it (md5 {got}, expected {expected}); "
            "it is not unpickled, since unpickling can run code: download it again (download: true), or set "
            "data.cifar10.verify: false for a CIFAR-shaped dataset you made yourself"
        )


class _ArraysOnly(pickle.Unpickler):
    """Builds numpy arrays and plain Python values; any other class or function named by the pickle
    (the way a malicious pickle runs code) is refused."""

    ALLOWED = {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")}
    ALLOWED |= {("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR-10 file never does")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            entry = _ArraysOnly(fh, encoding="latin1").load()
    except FileNotFoundError:
        raise ValueError(f"data.cifar10: {path} is missing") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise ValueError(f"data.cifar10: {path} is not a CIFAR-10 batch file: {err}") from None
    if not isinstance(entry, dict):
        raise ValueError(f"data.cifar10: {path} is not a CIFAR-10 batch file (a {type(entry).__name__}, not a dict)")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


def write_records(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    records = np.concatenate([labels[:, None], images.reshape(len(images), -1)], axis=1)  # (N, 3073)
    tmp = path.with_name(f".{path.name}.tmp")
    records.tofile(tmp)
    tmp.replace(path)


def prepare(data: dict, out_dir: str | Path) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = data.get("cifar10") or {}
    root, download = cfg.get("root", DEFAULT_ROOT), bool(cfg.get("download", True))
    verify = bool(cfg.get("verify", True))
    train_x, train_y, classes = read_split(root, True, download, verify)
    val_x, val_y, _ = read_split(root, False, download, verify)
    write_records(out / "train.bin", train_x, train_y)
    write_records(out / "val.bin", val_x, val_y)
    pixels = train_x.astype(np.float64) / 255.0
    return write_meta(
        out,
        data,
        unit="images",
        tokenizer=None,
        vocab_size=0,
        dtype="uint8",
        image_shape=list(IMAGE_SHAPE),
        num_classes=NUM_CLASSES,
        classes=classes,
        record_bytes=1 + int(np.prod(IMAGE_SHAPE)),
        mean=pixels.mean(axis=(0, 2, 3)).round(6).tolist(),
        std=pixels.std(axis=(0, 2, 3)).round(6).tolist(),
        train_tokens=len(train_y),  # units: images
        val_tokens=len(val_y),
        train_images=len(train_y),
        val_images=len(val_y),
        description=f"CIFAR-10: {len(train_y)} training and {len(val_y)} test images, 10 classes",
    )


def load_records(data_dir: str | Path, split: str) -> np.ndarray:
    """The ``split`` records as a read-only (N, 3073) uint8 memmap."""
    path = Path(data_dir) / f"{split}.bin"
    n = path.stat().st_size // (1 + int(np.prod(IMAGE_SHAPE)))
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(n, 1 + int(np.prod(IMAGE_SHAPE))))
