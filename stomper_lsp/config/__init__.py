"""Stomper's settings: one validated model, read from layered sources."""

from stomper_lsp.config.loader import ConfigError, LoadedConfig, load_config, user_config_path
from stomper_lsp.config.model import AGENT_NAMES, EXECUTOR_NAMES, TOOL_NAMES, StomperConfig

__all__ = [
    "AGENT_NAMES",
    "EXECUTOR_NAMES",
    "TOOL_NAMES",
    "ConfigError",
    "LoadedConfig",
    "StomperConfig",
    "load_config",
    "user_config_path",
]
