"""flops-fit: compute-optimal scaling laws for your architecture and dataset."""

__version__ = "0.1.0"
