"""Dataset sources beyond the built-in byte-level text (``flops_fit.data``).

* ``huggingface`` -- any text corpus ``datasets.load_dataset`` reads (TinyStories by default), with a
  byte-level BPE tokenizer trained on the training split by HF ``tokenizers``; written once as
  flat uint16 token memmaps, the same format as the byte-level data.
* ``cifar10`` -- CIFAR-10 through ``torchvision.datasets.CIFAR10``, written as fixed-size records
  (1 label byte + 3072 pixel bytes, channel-major: CIFAR-10's own binary layout).

Each module has ``prepare(data, out_dir) -> meta`` (called by ``flops_fit.data.prepare_dataset``)
and imports its heavy libraries inside that function only.
"""
