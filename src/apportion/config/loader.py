"""Read apportion.yaml into a validated :class:`Config`, with errors that name the rule and
field, and a few environment overrides for deployment."""

from __future__ import annotations

import hashlib
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from apportion.config.models import Config
from apportion.errors import UsageError
from apportion.money import EXACT

CONFIG_FILE = "apportion.yaml"

# Environment variables that override the file, for containers and CI.
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "APPORTION_CONTROL_PLANE": ("control_plane",),
    "APPORTION_ENGINE_TYPE": ("engine", "type"),
    "APPORTION_ENGINE_PATH": ("engine", "path"),
    "APPORTION_ENGINE_STORAGE": ("engine", "storage"),
    "APPORTION_SPARK_MASTER": ("engine", "master"),
    "APPORTION_ENGINE_MEMORY_LIMIT": ("engine", "memory_limit"),
}


class ConfigError(UsageError):
    """apportion.yaml is missing, unreadable or invalid; the message says where."""


class ExactLoader(yaml.SafeLoader):
    """The safe loader, with every YAML float read as the Decimal its text says: a binary float
    would turn a unit price of 0.30000000000000000001 into 0.3 and make shares that sum to
    exactly 100 sum to 100.000000000000006. ``.inf`` and ``.nan`` become Decimal's own
    infinities and NaN, which the money fields refuse by name."""


def _decimal_from_text(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "").lower()  # type: ignore[arg-type]
    sign, digits = ("-", text[1:]) if text[:1] == "-" else ("", text.lstrip("+"))
    if digits == ".inf":
        return Decimal(f"{sign}Infinity")
    if digits == ".nan":
        return Decimal("NaN")
    if ":" in digits:  # YAML 1.1's base 60 (1:30.5 is 90.5), which the safe loader also reads
        value = Decimal(0)
        for part in digits.split(":"):
            value = EXACT.add(EXACT.multiply(value, Decimal(60)), Decimal(part))
        return value.copy_negate() if sign else value
    return Decimal(sign + digits)


ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal_from_text)


def exact_yaml(text: str) -> Any:
    """The YAML document in ``text``, numbers with a fraction or an exponent as exact Decimals;
    for every YAML file whose numbers may be money (apportion.yaml, proposals)."""
    return yaml.load(text, Loader=ExactLoader)  # noqa: S506 - a SafeLoader subclass


def load_config(workspace: Path) -> Config:
    path = workspace / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path} not found: run `apportion init {workspace}` first")
    return parse_config(path.read_text(encoding="utf-8"), source=str(path))


def parse_config(text: str, *, source: str = CONFIG_FILE) -> Config:
    try:
        raw = exact_yaml(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    _apply_env(raw)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, raw, source)) from exc


def config_hash(config: Config) -> str:
    """A stable fingerprint of the effective configuration, recorded with every run."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _apply_env(raw: dict[str, Any]) -> None:
    for variable, keys in ENV_OVERRIDES.items():
        value = os.environ.get(variable)
        if value is None:
            continue
        node = raw
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value


def _describe(exc: ValidationError, raw: dict[str, Any], source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for error in exc.errors():
        location = list(error["loc"])
        where = _where(location, raw)
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


def _where(location: list[Any], raw: dict[str, Any]) -> str:
    """'rules[2] (gpu-cluster).driver' rather than pydantic's ('rules', 2, 'proportional', ...)."""
    parts: list[str] = []
    node: Any = raw
    index = 0
    while index < len(location):
        key = location[index]
        if isinstance(key, int) and isinstance(node, list):
            item = node[key] if key < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            parts[-1] += f"[{key}]" + (f" ({name})" if name else "")
            node = item
            # pydantic inserts the discriminator value (e.g. 'proportional') after the index
            if (
                isinstance(node, dict)
                and index + 1 < len(location)
                and location[index + 1] == node.get("method")
            ):
                index += 1
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
        index += 1
    return ".".join(parts) or "(top level)"
