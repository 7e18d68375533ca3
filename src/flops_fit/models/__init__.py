"""Model families trained by flops-fit (torch). Shapes and counts live in ``flops_fit.accounting``."""

from flops_fit.models.gpt import GPT

__all__ = ["GPT"]
