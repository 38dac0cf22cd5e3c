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
    RuleGroup,
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
    "RuleGroup",
    "config_hash",
    "load_config",
    "parse_config",
]
