"""What a playbook finds, and the prices it sizes savings with: the price source the bills are
reconciled with (apportion.pricing.tokens: genai-prices under ``pricing.overrides``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apportion.analyse.playbooks.usage import Group
from apportion.money import EXACT, at_least, to_minor
from apportion.pricing.tokens import CURRENCY, Pricer, TokenUsage
from apportion.schema.currency import minor_units

MILLION = Decimal(1_000_000)
SHARE = Decimal("0.0001")  # shares and means are shown to 4 places


@dataclass(frozen=True)
class Finding:
    """One saving a playbook found: where, the figures that show it, and how it was sized."""

    playbook: str
    use_case: str
    provider: str  # as its bill names it
    model: str
    saving: Decimal  # exact, for the period's usage
    evidence: dict[str, str]
    method: str
    currency: str = CURRENCY

    @property
    def monthly_saving(self) -> Decimal:
        """Rounded to the currency's minor unit, half to even."""
        return rounded_saving(self.saving, self.currency)

    def as_dict(self) -> dict[str, Any]:
        places = minor_units(self.currency)
        return {
            "playbook": self.playbook,
            "use_case": self.use_case,
            "provider": self.provider,
            "model": self.model,
            "currency": self.currency,
            "monthly_saving": at_least(self.monthly_saving, places),
            "evidence": self.evidence,
            "method": self.method,
        }


@dataclass(frozen=True)
class Found:
    findings: list[Finding] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)


class Prices:
    """The price source, remembering which sources priced what and what it could not price."""

    def __init__(self, pricer: Pricer) -> None:
        self.pricer = pricer
        self.sources: set[str] = set()
        self.unpriced: set[str] = set()

    def cost(self, usage: TokenUsage) -> Decimal | None:
        if not any(usage.quantities().values()):
            return Decimal(0)
        price = self.pricer.price(usage)
        if price.amount is None:
            self.unpriced.add(price.reason or f"{usage.provider}/{usage.model}: no price")
            return None
        self.sources.add(price.source)
        return price.amount

    def units(self, group: Group, model: str | None = None) -> dict[str, Decimal] | None:
        """Unit prices (per million tokens) of a model on the group's day and variant."""
        price = self.pricer.price(group.usage({"input_tokens": 1}, model))
        if price.amount is None:
            self.unpriced.add(price.reason or f"{group.provider}/{model or group.model}: no price")
            return None
        self.sources.add(price.source)
        return price.unit_prices


def worth(saving: Decimal, minimum: Decimal) -> bool:
    """A saving to show: above nothing, and at least the minimum once rounded."""
    return saving > 0 and rounded_saving(saving) >= minimum


def rounded_saving(amount: Decimal, currency: str = CURRENCY) -> Decimal:
    """A saving as shown: rounded half to even to the currency's minor unit (cents)."""
    return to_minor(amount, currency)


def exact_text(amount: Decimal, currency: str = CURRENCY) -> str:
    """An amount of evidence with every digit it has (at least the minor unit), so the
    figures a saving comes from add up to it before it is rounded."""
    return at_least(amount, minor_units(currency))


def share(part: int | Decimal, whole: int | Decimal) -> str:
    """A part of a whole to 4 places; the whole is never 0 where this is called."""
    return f"{EXACT.divide(Decimal(part), Decimal(whole)).quantize(SHARE, context=EXACT):f}"


def per_million(tokens: int | Decimal, unit_price: Decimal) -> Decimal:
    """What tokens cost at a price per million tokens, exactly."""
    return EXACT.divide(EXACT.multiply(Decimal(tokens), unit_price), MILLION)


def prices_text(values: Iterable[Decimal]) -> str:
    """The unit prices used, each once (a price may change within a month)."""
    return " / ".join(f"{value.normalize():f}" for value in sorted(set(values)))


ModelKey = tuple[str, str, str]  # use case, provider as billed, model


def by_model(groups: Iterable[Group]) -> dict[ModelKey, list[Group]]:
    found: dict[ModelKey, list[Group]] = defaultdict(list)
    for group in groups:
        found[(group.use_case, group.provider_name, group.model)].append(group)
    return dict(sorted(found.items()))


def by_use_case(groups: Iterable[Group]) -> dict[str, list[Group]]:
    found: dict[str, list[Group]] = defaultdict(list)
    for group in groups:
        found[group.use_case].append(group)
    return dict(sorted(found.items()))
