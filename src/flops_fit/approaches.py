"""The three estimators of Hoffmann et al. 2022 (§3.1-3.3) and the one map between their names.

An approach has one id, the int 1, 2 or 3: ``FitOptions.approaches``, ``--approaches``, the
``approach`` column of predictions.csv and of fit.json's ``rolling_backtest``.  fit.json keys its
blocks ``"approach1"`` .. ``"approach3"`` (``approaches``, ``backtest.approaches``); people read
"Approach 2", tables and figures say "A2", a legend "Approach 2 (IsoFLOP)".  Those spellings are
public, so every conversion between them goes through this module.  It imports nothing: the fit,
the figures, the tables and the command line all use it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Approach:
    """One approach: its id and what it fits (the method in the paper's words)."""

    id: int
    method: str

    @property
    def key(self) -> str:
        """The fit.json key, e.g. "approach2"."""
        return f"approach{self.id}"

    @property
    def name(self) -> str:
        """e.g. "Approach 2"."""
        return f"Approach {self.id}"

    @property
    def short(self) -> str:
        """e.g. "A2" (table cells, figure legends)."""
        return f"A{self.id}"

    @property
    def label(self) -> str:
        """e.g. "Approach 2 (IsoFLOP)" (a figure's legend)."""
        return f"{self.name} ({self.method})"


APPROACHES = (Approach(1, "envelope"), Approach(2, "IsoFLOP"), Approach(3, "parametric"))
APPROACH_IDS = tuple(a.id for a in APPROACHES)
APPROACH_KEYS = tuple(a.key for a in APPROACHES)
_BY_KEY = {a.key: a for a in APPROACHES}


def approach_of(a: int | float | str) -> Approach:
    """The approach named by its id (2, 2.0, "2") or by its fit.json key ("approach2")."""
    found = _BY_KEY.get(a) if isinstance(a, str) else None
    if found is None:
        try:
            x = float(a)
        except (TypeError, ValueError):
            x = None
        found = _BY_KEY.get(f"approach{int(x)}") if x is not None and x.is_integer() else None
    if found is None:
        raise ValueError(f"approach {a!r} is unknown: allowed values are {APPROACH_IDS} or {APPROACH_KEYS}")
    return found


def approach_key(a: int | float | str) -> str:
    """fit.json's key of an approach given by id or key: 2 -> "approach2"."""
    return approach_of(a).key


def approach_id(a: int | float | str) -> int:
    """The id of an approach given by id or key: "approach2" -> 2."""
    return approach_of(a).id
