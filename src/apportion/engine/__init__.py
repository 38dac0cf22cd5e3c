"""The data plane: the only package that opens an engine or speaks an engine's SQL dialect."""

from apportion.engine.dataplane import DataPlane, FileError

__all__ = ["DataPlane", "FileError"]
