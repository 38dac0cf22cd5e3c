"""Token usage to money: list prices (genai-prices) under negotiated overrides."""

from apportion.pricing.tokens import Price, Pricer, TokenUsage

__all__ = ["Price", "Pricer", "TokenUsage"]
