"""Objects named by import path in the config (``package.module:Name``), one clear error each."""

from __future__ import annotations

import importlib

from flops_fit.config import ConfigError


def import_object(path: str, key: str, check=None, expected: str = ""):
    """``package.module:Name`` -> the object; ConfigError naming ``key`` if it does not import, or
    if ``check(obj)`` is false (the error says it is not ``expected``, e.g. "callable")."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"config error at {key}: {path!r} is not an import path of the form package.module:Name")
    try:
        obj = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 -- any import failure is the user's module
        raise ConfigError(
            f"config error at {key}: cannot import module {module_name!r} of {path!r}: "
            f"{type(err).__name__}: {err} (is its folder on PYTHONPATH or pip-installed?)"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"config error at {key}: module {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    if check is not None and not check(obj):
        raise ConfigError(f"config error at {key}: {path} is not {expected}")
    return obj
