"""apportion.yaml: pydantic models, the commented default, and the loader."""

from apportion.config.loader import ConfigError, config_hash, load_config, parse_config
from apportion.config.models import (
    ActivityRule,
    CategoryRule,
    Config,
    DirectRule,
    EvenRule,
    FixedRule,
    ProportionalRule,
    Rule,
)

__all__ = [
    "ActivityRule",
    "CategoryRule",
    "Config",
    "ConfigError",
    "DirectRule",
    "EvenRule",
    "FixedRule",
    "ProportionalRule",
    "Rule",
    "config_hash",
    "load_config",
    "parse_config",
]
