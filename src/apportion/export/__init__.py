"""Writing allocated cost out in open formats."""

from apportion.export.focus import export_focus

__all__ = ["export_focus"]
