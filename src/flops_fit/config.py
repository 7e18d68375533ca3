"""Load and check a flops-fit configuration against its schema, ``flops_fit/config.schema.yaml``
(shipped inside the package, so an installed wheel checks configs as the workflow does).

One bad key gives one message that names the key, the value and what is allowed; after
checking, every optional key gets its documented default, so each run's spec is complete.
NaN and infinity are refused everywhere: JSON-schema bounds compare false with NaN, so the
schema alone would let ``lr: .nan`` through to every run. Every number has a range that makes
sense in the schema (an absurd one -- ``eval_points: 100000000``, ``lr_min: 1e300``, a seed
torch cannot take -- is refused here, not by the job that trips over it), and keys that
constrain each other (warmup + decay, head_dim vs the widths) are checked together after it.
A YAML file is read strictly: a key given twice in one mapping (two ``grid:`` blocks, of which
YAML would silently keep the last) is refused naming the key and both lines, and so are a file
that is not UTF-8 and a file whose top level is not a mapping.
"""

from __future__ import annotations

import copy
import functools
import math
from pathlib import Path

SCHEMA = "config.schema.yaml"
"""The config schema, a resource of this package (the one source of truth; the Snakefile uses it too)."""
SEED_MAX = 0xFFFF_FFFF_FFFF_FFFF
"""The largest seed: torch.manual_seed takes [-2^63, 2^64 - 1], the schema's seeds are >= 0."""


class ConfigError(ValueError):
    """A configuration value that the schema or the planner does not allow."""


def load_schema(path: str | Path | None = None) -> dict:
    """The config schema (or the schema at ``path``) as a dict (a fresh copy: callers may change it)."""
    import yaml  # here, not at the top: a training job imports ConfigError, never a YAML file

    if path is None:
        return copy.deepcopy(_package_schema())
    with open(path) as fh:
        return yaml.safe_load(fh)


@functools.cache
def _package_schema() -> dict:
    """The package's schema, parsed once per process (it is read for every config checked)."""
    from importlib.resources import files

    import yaml

    return yaml.safe_load(files("flops_fit").joinpath(SCHEMA).read_text())


@functools.cache
def schema_defaults(block: str) -> dict:
    """The ``default`` of every key of the schema's ``$defs.<block>`` (``training``, ``fit``, ...):
    the one place a default lives. Read-only; code handed a partial block (the Python API,
    hand-written specs, tests) fills the gaps from here."""
    props = load_schema()["$defs"][block]["properties"]
    return {key: node["default"] for key, node in props.items() if "default" in node}


def load_yaml(path: str | Path):
    """The YAML document in the file ``path``, read strictly: UTF-8, and no key twice in one
    mapping. ConfigError in one line naming the file (and the key and lines) otherwise."""
    import yaml

    if Path(path).exists() and not Path(path).is_file() and not Path(path).is_dir():  # a FIFO would block
        raise ConfigError(f"config file {path} is not a regular file (a FIFO, socket or device)")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, not a YAML file") from None
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {err.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line}); save it as "
            f"UTF-8, e.g. iconv -f latin1 -t utf-8 {path} > fixed.yaml"
        ) from None
    try:
        return yaml.load(text, Loader=_strict_loader())  # noqa: S506 (a SafeLoader subclass)
    except _DuplicateKey as err:
        raise ConfigError(f"config file {path}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        what = " ".join(str(getattr(err, "problem", None) or err).split())
        raise ConfigError(f"config file {path} is not valid YAML{where}: {what}") from None


def load_config(path: str | Path) -> dict:
    """Read a YAML config file (strictly: :func:`load_yaml`), check it and fill in defaults."""
    config = load_yaml(path)
    return check_config({} if config is None else config)


class _DuplicateKey(Exception):
    """A key given twice in one YAML mapping (raised while loading, reported with the file)."""


@functools.cache
def _strict_loader():
    """yaml.SafeLoader that refuses a key given twice in one mapping (YAML keeps the last one
    silently: a second ``grid:`` block would replace the first without a word)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen: dict = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden
                        continue
                    key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
                    try:
                        first = seen.get(key)
                    except TypeError:  # an unhashable key: SafeLoader's own error follows
                        continue
                    if first is not None:
                        raise _DuplicateKey(
                            f"key {key!r} is given twice (lines {first} and {line}); "
                            "YAML would keep only the last one: merge the two or delete one"
                        )
                    seen[key] = line
            return super().construct_mapping(node, deep)

    return StrictLoader


def check_config(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config``; return a copy with defaults filled in. Raises ConfigError."""
    import jsonschema

    schema = schema or load_schema()
    if not isinstance(config, dict):
        raise ConfigError(f"config error at (top level): a {type(config).__name__} is not a config "
                          "(expected a mapping with keys active_studies and studies)")
    config = _resolve_like(config)
    _check_finite(config, [], schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(e.absolute_path)))
    if errors:
        raise ConfigError(_describe(jsonschema.exceptions.best_match(errors)))
    given = {name for name, study in config["studies"].items() if "head_dim" in (study.get("model") or {})}
    config = _with_defaults(copy.deepcopy(config), schema, schema)
    _check_semantics(config, given)
    return config


def _merged(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``: mappings merged key by key, anything else (lists too) replaced."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def _resolve_like(config: dict) -> dict:
    """Studies with ``like: other`` get every key of ``other`` under their own (a variant of a
    study that differs in a few keys, e.g. the MLP, and follows the rest when it changes)."""
    studies = config.get("studies")
    if not isinstance(studies, dict) or not any(isinstance(s, dict) and "like" in s for s in studies.values()):
        return config

    def resolve(name: str, seen: tuple) -> dict:
        study = studies[name]
        if not isinstance(study, dict) or "like" not in study:
            return study
        other = study["like"]
        if other not in studies or not isinstance(studies[other], dict):
            raise ConfigError(f"config error at studies.{name}.like: {other!r} is not a study of this config "
                              f"(allowed values: {', '.join(s for s in studies if s != name)})")
        if other in seen:
            raise ConfigError(f"config error at studies.{name}.like: {' -> '.join((*seen, other))} is a cycle")
        return _merged(resolve(other, (*seen, other)), {k: v for k, v in study.items() if k != "like"})

    config = dict(config)
    config["studies"] = {name: resolve(name, (name,)) for name in studies}
    return config


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def check_block(block: str, value, key: str) -> dict:
    """``value`` checked as the schema's ``$defs.<block>`` (a study's ``data``, ``training``, ...),
    with its defaults filled in: for a block that reaches a command on its own (``flops-fit
    prepare-data --data-config``). ConfigError naming ``key`` and the path inside it."""
    import jsonschema

    schema = load_schema()
    node = {"$defs": schema["$defs"], **schema["$defs"][block]}
    _check_finite(value, [key], {"properties": {key: node}, "$defs": schema["$defs"]})
    errors = list(jsonschema.Draft202012Validator(node).iter_errors(value))
    if errors:
        raise ConfigError(_describe(jsonschema.exceptions.best_match(errors), [key]))
    return _with_defaults(copy.deepcopy(value), node, node)


def _describe(err, prefix: list = ()) -> str:
    key, value, rule = _key([*prefix, *err.absolute_path]), err.instance, err.validator
    spec = err.validator_value
    if rule == "additionalProperties":
        allowed = ", ".join(sorted(err.schema.get("properties", {}))) or "none"
        extra = sorted(set(value) - set(err.schema.get("properties", {})))
        return f"config error at {key}: unknown key {', '.join(map(repr, extra))} (allowed keys: {allowed})"
    if rule == "enum":
        return f"config error at {key}: {value!r} is not allowed (allowed values: {', '.join(map(str, spec))})"
    if rule == "type":
        hint = ""
        if isinstance(value, str) and _is_number(value):  # YAML 1.1 reads 1e12 (no dot) as text
            hint = f"; YAML reads {value} as text: write it with a dot and a signed exponent, e.g. 1.0e+12"
        return f"config error at {key}: {value!r} has the wrong type (expected {spec}){hint}"
    if rule == "required":
        missing = [k for k in spec if k not in value]
        return f"config error at {key}: missing required key {', '.join(map(repr, missing))}"
    if rule in _BOUNDS:
        kind = "an integer" if err.schema.get("type") == "integer" else "a number"
        return f"config error at {key}: {value!r} is out of range (allowed: {_allowed_range(err.schema, kind)})"
    if rule == "minItems":
        return f"config error at {key}: the list is empty (give at least {spec} item{'s' * (spec > 1)})"
    if rule == "uniqueItems":
        return f"config error at {key}: the list {value!r} has duplicates (each item must be unique)"
    if rule == "pattern":
        return f"config error at {key}: {value!r} does not match {spec} (letters, digits, '-', '_')"
    return f"config error at {key}: {err.message}"


_BOUNDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def _allowed_range(node: dict, kind: str = "a number") -> str:
    """'a number > 0 and <= 1e+30' from a schema node's bounds."""
    bounds = [f"{op} {node[rule]:g}" if isinstance(node[rule], float) else f"{op} {node[rule]}"
              for rule, op in _BOUNDS.items() if rule in node]
    return kind + (" " + " and ".join(bounds) if bounds else "")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _check_finite(value, path: list, root: dict) -> None:
    """Refuse NaN and +-infinity anywhere in the config, naming the key and its allowed range."""
    if isinstance(value, float) and not math.isfinite(value):
        node = _schema_at(path, root)
        allowed = _allowed_range(node, "a finite number")
        raise ConfigError(f"config error at {_key(path)}: {value!r} is not allowed (allowed: {allowed})")
    if isinstance(value, dict):
        for name, item in value.items():
            _check_finite(item, [*path, name], root)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_finite(item, [*path, i], root)


def _schema_at(path: list, root: dict) -> dict:
    """The schema node that describes the config value at ``path`` ({} where none does)."""
    node = root
    for part in path:
        node = _resolve(node, root)
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            extra = node.get("additionalProperties")
            node = node.get("properties", {}).get(part, extra if isinstance(extra, dict) else {})
    return _resolve(node, root)


def _resolve(node: dict, root: dict) -> dict:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _with_defaults(value, node: dict, root: dict):
    node = _resolve(node, root)
    if not isinstance(value, dict) or node.get("type") != "object":
        return value
    props = node.get("properties", {})
    for name, sub in props.items():
        sub = _resolve(sub, root)
        if name not in value and "default" in sub:
            value[name] = copy.deepcopy(sub["default"])
        if name in value:
            value[name] = _with_defaults(value[name], sub, root)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        for name in set(value) - set(props):
            value[name] = _with_defaults(value[name], extra, root)
    return value


BUILT_IN_FAMILIES = ("gpt", "vit")
IMAGE_SIDES = {"cifar10": 32}
"""Image side in pixels of each image source: ``flops_fit.sources.IMAGE_SOURCES``' image_size
(which imports this module: a test keeps the two equal)."""


def default_lr_scaling(study: dict) -> str:
    """``training.lr_scaling`` when a study does not set it: ``sweep`` (the rate of every size
    from the study's own learning-rate sweep) for the built-in families trained for real;
    ``constant`` where a sweep is not available or not meaningful (a custom model, the mock
    backend's instant demo, adaptive grids)."""
    built_in = study["model"].get("family", "gpt") in BUILT_IN_FAMILIES
    real = study["training"].get("backend", "torch") == "torch"
    return "sweep" if built_in and real and study["grid"].get("mode") != "adaptive" else "constant"


def _check_semantics(config: dict, head_dim_given: set = frozenset()) -> None:
    studies = config["studies"]
    for name in config["active_studies"]:
        if name not in studies:
            raise ConfigError(
                f"config error at active_studies: {name!r} is not a study (allowed values: {', '.join(studies)})"
            )
    for i, pair in enumerate(config.get("compare", [])):
        for role in ("baseline", "variant"):
            if pair[role] not in studies:
                raise ConfigError(f"config error at compare[{i}].{role}: {pair[role]!r} is not a study "
                                  f"(allowed values: {', '.join(studies)})")
        if pair["baseline"] == pair["variant"]:
            raise ConfigError(f"config error at compare[{i}]: baseline and variant are both {pair['baseline']!r}; "
                              "compare two different studies")
    for name, study in studies.items():
        grid = study["grid"]
        if ("sizes" in grid) == ("centred" in grid):
            raise ConfigError(
                f"config error at studies.{name}.grid: give exactly one of 'sizes' (a list of model sizes) "
                "or 'centred' (sizes centred on a guessed optimum per budget)"
            )
        study["training"].setdefault("lr_scaling", default_lr_scaling(study))
        if grid["mode"] == "adaptive" and study["training"].get("lr_scaling") == "sweep":
            raise ConfigError(
                f"config error at studies.{name}.grid.mode: adaptive does not combine with "
                "training.lr_scaling sweep yet (allowed with a sweep: independent, branches)"
            )
        if grid["mode"] == "branches" and study["training"]["schedule"] != "wsd":
            raise ConfigError(
                f"config error at studies.{name}.grid.mode: branches needs training.schedule wsd "
                f"(a cooldown branches off a constant learning rate); got {study['training']['schedule']!r}"
            )
        if grid["mode"] == "adaptive" and "centred" not in grid:
            raise ConfigError(
                f"config error at studies.{name}.grid.mode: adaptive needs grid.centred (its points, span and "
                "first guess of N*), not grid.sizes"
            )
        _check_code_keys(name, study)
        _check_related_numbers(name, study, name in head_dim_given)
        study["data"].setdefault("name", study["data"]["source"])
        if study["data"]["source"] == "text_files" and not study["data"]["files"]:
            raise ConfigError(f"config error at studies.{name}.data.files: source text_files needs a list of files")


def _check_related_numbers(name: str, study: dict, head_dim_given: bool = True) -> None:
    """Numbers that are each in range but do not fit together: a wsd warmup and cooldown that
    overlap, a head_dim (given, not the default 16 of a tiny study) wider than every model of the
    grid, patches that do not tile the image, seeds of a learning-rate sweep past torch's largest."""
    where = f"config error at studies.{name}"
    training, model, grid = study["training"], study["model"], study["grid"]
    if training["schedule"] == "wsd":
        warmup, decay = training["warmup_fraction"], training["decay_fraction"]
        if warmup + decay > 1:
            raise ConfigError(
                f"{where}.training: warmup_fraction {warmup:g} + decay_fraction {decay:g} = {warmup + decay:g} "
                "exceeds 1: the warmup and the cooldown of schedule wsd would overlap (allowed: a sum <= 1)"
            )
    family = model.get("family", "gpt")
    if head_dim_given and family in BUILT_IN_FAMILIES and "sizes" in grid and model["head_dim"] > max(grid["sizes"]):
        raise ConfigError(
            f"{where}.model.head_dim: {model['head_dim']} is wider than every model of grid.sizes (the widest "
            f"is {max(grid['sizes'])}): each would get one head of its full width (allowed: 1 to {max(grid['sizes'])})"
        )
    if family == "vit" and "patch_size" in model:
        side = IMAGE_SIDES.get(study["data"]["source"])
        if side and side % model["patch_size"]:
            allowed = ", ".join(str(p) for p in range(1, side + 1) if side % p == 0)
            raise ConfigError(f"{where}.model.patch_size: {model['patch_size']} does not tile the {side}x{side} "
                              f"images of {study['data']['source']} (allowed values: {allowed})")
    seeds = (study.get("lr_sweep") or {}).get("seeds") or 1
    if study["seed"] + seeds - 1 > SEED_MAX:
        raise ConfigError(f"{where}.seed: {study['seed']} + lr_sweep.seeds {seeds} - 1 passes torch's largest "
                          f"seed (allowed: 0 to {SEED_MAX - seeds + 1})")


def _check_code_keys(name: str, study: dict) -> None:
    """Keys naming code (import paths) only where they are used: a config of a built-in family or
    source that names code is a mistake to report, not code to import or to ignore silently."""
    model, data = study["model"], study["data"]
    if model["family"] != "custom":
        for key in ("class", "loss"):
            if key in model:
                raise ConfigError(
                    f"config error at studies.{name}.model.{key}: {model[key]!r} is used only with "
                    f"model.family custom (this study's family is {model['family']}); remove it"
                )
    if data["source"] != "custom" and "custom" in data:
        raise ConfigError(
            f"config error at studies.{name}.data.custom: used only with data.source custom "
            f"(this study's source is {data['source']}); remove it"
        )
