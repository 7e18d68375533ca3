"""flops-fit: compute-optimal scaling laws for your architecture and dataset.

The notebook API, imported lazily so that ``import flops_fit`` stays cheap::

    import flops_fit as ff
    runs, curves = ff.load_runs("results/shakespeare/runs.csv", "results/shakespeare/curves.csv")
    fit = ff.fit(runs, curves, ff.FitOptions(flops="counted"))
    ff.predict(fit, [1e18, 1e21])
"""

__version__ = "0.1.0"

_API = {
    "FitOptions": ("flops_fit.fitting", "FitOptions"),
    "FitError": ("flops_fit.fitting", "FitError"),
    "load_runs": ("flops_fit.fitting", "load_runs"),
    "fit": ("flops_fit.fitting", "fit_runs"),
    "write_fit": ("flops_fit.fitting", "write_fit"),
    "read_fit": ("flops_fit.fitting", "read_fit"),
    "predict": ("flops_fit.fitting", "predict"),
    "predict_loss": ("flops_fit.fitting", "predict_loss"),
    "table": ("flops_fit.tables", "make_tables"),
    "plot": ("flops_fit.figures", "make_figures"),
    "load_config": ("flops_fit.config", "load_config"),
    "plan_study": ("flops_fit.plan", "plan_study"),
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'flops_fit' has no attribute {name!r}")
    import importlib

    module, attr = _API[name]
    return getattr(importlib.import_module(module), attr)
