"""Helpers of the training job (``flops_fit.train``): schedule, data, checkpoints."""
