"""Where a budget lies against the studied ones: decided in flops_fit.extrapolation only."""

from flops_fit import extrapolation


def test_extrapolated_is_decided_in_one_place():
    """flops_fit.extrapolation: a budget within 5% of the largest studied one is not extrapolated,
    whether given as a budget (predictions.csv's in_sample) or as its factor (the text outputs)."""
    studied = [1e15, 1e16]
    budgets = [1.04e16, 1.06e16, 1e17, 1.1e17]
    factors = extrapolation.factor(budgets, studied)
    assert list(extrapolation.extrapolated(budgets, studied)) == [False, True, True, True]
    assert list(extrapolation.extrapolated_factor(factors)) == [False, True, True, True]
    assert list(extrapolation.beyond_data(budgets, studied)) == list(extrapolation.far(factors)) == [0, 0, 0, 1]
