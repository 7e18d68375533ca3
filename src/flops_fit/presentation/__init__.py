"""What figures, tables and the ``predict`` text share: a read-only view of the fit files
(:mod:`~flops_fit.presentation.fitview`) and the formatting of numbers
(:mod:`~flops_fit.presentation.formatting`).

Layers (each imports only those below it): ``flops_fit.report`` (what the pipeline writes and the
report's headline) > ``flops_fit.figures`` | ``flops_fit.tables`` > ``flops_fit.presentation``.
Nothing here imports matplotlib, pandas or torch at import time.
"""
