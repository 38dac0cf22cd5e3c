"""apportion: allocate AI spend to the use cases and cost centres that caused it."""

__version__ = "0.1.0"
