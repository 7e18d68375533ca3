"""Random invalid configs and command lines (issue 25): whatever a user types ends in "ok" or in one
line naming the culprit (exit 2 on the command line) -- never a traceback, never a hang.

Configs: the tiny mock study with one key anywhere in it (an existing one or a new one) set to a
random value of any YAML type, checked and planned.  Command lines: every command with random
values for its options.  Hypothesis draws them derandomized (CI sees the same cases every run)."""

from __future__ import annotations

import copy
import os

from conftest import tiny_config
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_reliability import cli_outcome, config_outcome

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["1e21", "gpt", "mock", "constant", "", "nan", "-1", "0", "1e300"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(st.text(max_size=6), SCALARS, max_size=3))


def _paths(node, prefix=()) -> list[tuple]:
    """Every key path of a nested dict, leaves and inner nodes."""
    out = []
    for key, value in node.items():
        out.append((*prefix, key))
        if isinstance(value, dict):
            out += _paths(value, (*prefix, key))
    return out


BASE = tiny_config("mock")
PATHS = _paths(BASE)


@FUZZ
@given(path=st.sampled_from(PATHS), extra=st.sampled_from([None, "typo_key", "points", "lr", "budgets"]),
       value=VALUES)
def test_random_config_values_end_in_ok_or_one_line(path, extra, value):
    config = copy.deepcopy(BASE)
    node = config
    for key in path[:-1]:
        node = node[key]
    if extra is not None and isinstance(node.get(path[-1]), dict):
        node[path[-1]][extra] = value
    else:
        node[path[-1]] = value
    outcome = config_outcome(config)
    assert outcome and "\n" not in outcome and "Traceback" not in outcome


COMMANDS = {
    "predict": ["--budget", "--params", "--tokens"],
    "fit": ["--out", "--bootstrap", "--confidence", "--seed", "--budgets", "--params", "--flops"],
    "status": [],
    "plan": [],
    "train": ["--spec", "--check"],
}
WORDS = st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                          max_size=10),
                  st.sampled_from(["1e21", "-1", "nan", "inf", "1e-300", "1e400", "0", "{}", "[]", "/", "."]))


@FUZZ
@given(command=st.sampled_from(sorted(COMMANDS)), data=st.data())
def test_random_command_lines_end_in_one_line_and_exit_0_or_2(command, data, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cli")
    options = data.draw(st.lists(st.sampled_from(COMMANDS[command]), max_size=3)) if COMMANDS[command] else []
    argv = [command]
    for option in options:
        argv += [option] if option == "--check" else [option, data.draw(WORDS)]
    argv += data.draw(st.lists(st.sampled_from([str(cwd), str(cwd / "missing.csv"), "-", "x.yaml"]), max_size=1))
    here = os.getcwd()
    os.chdir(cwd)  # relative paths (x.yaml, an --out) land in the case's own folder
    try:
        outcome = cli_outcome(argv)
    finally:
        os.chdir(here)
    assert outcome.startswith(("exit 0:", "exit 2:")), outcome
