"""Which provider a gateway's or a span's usage went to, as the bill names it and as
genai-prices prices it.

LiteLLM logs ``custom_llm_provider`` (``openai``, ``bedrock``, ``vertex_ai``, ...);
OpenTelemetry spans carry ``gen_ai.provider.name`` (``openai``, ``aws.bedrock``,
``gcp.vertex_ai``, ...; older instrumentations ``gen_ai.system``). Usage is compared with the
invoice of the provider that bills it, so Azure OpenAI is Microsoft's bill and Bedrock is
AWS's, as FOCUS exports name them. A provider not listed here keeps the name it was given for
both, so its usage still shows, unpriced, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    bill_name: str  # ProviderName on the invoice: the FOCUS exports' spelling
    prices_id: str  # genai-prices' provider id


_OPENAI = Provider("OpenAI", "openai")
_ANTHROPIC = Provider("Anthropic", "anthropic")
_AZURE = Provider("Microsoft", "azure")
_AWS = Provider("AWS", "aws")
_GOOGLE_CLOUD = Provider("Google Cloud", "google")
_KNOWN: dict[str, Provider] = {
    "openai": _OPENAI,
    "text-completion-openai": _OPENAI,
    "anthropic": _ANTHROPIC,
    "azure": _AZURE,
    "azure_ai": _AZURE,
    "azure.ai.openai": _AZURE,
    "azure.ai.inference": _AZURE,
    "az.ai.openai": _AZURE,
    "az.ai.inference": _AZURE,
    "bedrock": _AWS,
    "aws.bedrock": _AWS,
    "aws_bedrock": _AWS,
    "vertex_ai": _GOOGLE_CLOUD,
    "vertex_ai_beta": _GOOGLE_CLOUD,
    "gcp.vertex_ai": _GOOGLE_CLOUD,
    # the Gemini API's paid tier is billed through Cloud Billing
    "gemini": _GOOGLE_CLOUD,
    "gcp.gemini": _GOOGLE_CLOUD,
    "gcp.gen_ai": _GOOGLE_CLOUD,
    "cohere": Provider("Cohere", "cohere"),
    "cohere_chat": Provider("Cohere", "cohere"),
    "mistral": Provider("Mistral AI", "mistral"),
    "mistral_ai": Provider("Mistral AI", "mistral"),
    "groq": Provider("Groq", "groq"),
    "deepseek": Provider("DeepSeek", "deepseek"),
    "xai": Provider("xAI", "x-ai"),
    "x_ai": Provider("xAI", "x-ai"),
    "perplexity": Provider("Perplexity", "perplexity"),
    "together_ai": Provider("Together AI", "together"),
    "fireworks_ai": Provider("Fireworks AI", "fireworks"),
}


def provider(given: str) -> Provider:
    """The provider a gateway or span names, by its id in any case."""
    key = given.strip().lower()
    return _KNOWN.get(key) or Provider(given.strip(), key)


def bare_model(model: str, given_provider: str) -> str:
    """The model without the provider prefix gateways put before it (``openai/gpt-4.1``)."""
    prefix, separator, rest = model.partition("/")
    if separator and prefix.strip().lower() == given_provider.strip().lower():
        return rest
    return model
