"""Optimisation playbooks (MISSION R6.3): from the period's token usage, where prompt caching,
response caching, routing simple requests to a smaller model and trimming retrieved context
would save money, per use case and model, with the figures that show it and the estimated
saving for the month, sized with the price source the bills are reconciled with
(apportion.pricing.tokens: genai-prices under ``pricing.overrides``), in its currency (USD),
rounded to the cent.

Each playbook works on the usage there is and says what it could not check: request sizes
and content hashes need per-request usage (gateway logs, telemetry), which daily provider
reports are not. Findings may overlap (a repeated long prompt is a caching and a retrieval
finding), so their savings are not added up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apportion.analyse.playbooks import prompt_caching, response_caching, retrieval, routing
from apportion.analyse.playbooks.findings import Finding, Prices
from apportion.analyse.playbooks.usage import period_usage
from apportion.config.playbooks import PlaybooksConfig
from apportion.periods import Period
from apportion.pricing.tokens import CURRENCY, Pricer
from apportion.workspace import Workspace

PLAYBOOKS = (prompt_caching, response_caching, routing, retrieval)

__all__ = ["Finding", "PlaybookReport", "playbooks"]


@dataclass(frozen=True)
class PlaybookReport:
    period: str
    findings: list[Finding]  # largest saving first
    not_checked: list[str]  # what the usage could not show, and why
    notes: list[str]
    origins: dict[str, str]  # provider as billed -> whose usage was read
    sources: list[str]  # the price sources used
    settings: PlaybooksConfig

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "currency": CURRENCY,
            "findings": [finding.as_dict() for finding in self.findings],
            "not_checked": self.not_checked,
            "notes": self.notes,
            "usage_origins": self.origins,
            "price_sources": self.sources,
            "settings": self.settings.model_dump(mode="json"),
        }


def playbooks(workspace: Workspace, period: str) -> PlaybookReport:
    Period.parse(period)
    config = workspace.config.playbooks
    usage = period_usage(workspace, period, config)
    prices = Prices(Pricer(workspace.config.pricing))
    findings: list[Finding] = []
    not_checked: list[str] = []
    for playbook in PLAYBOOKS:
        found = playbook.find(usage.groups, prices, config)
        findings += found.findings
        not_checked += found.not_checked
    findings.sort(key=lambda f: (-f.saving, f.playbook, f.use_case, f.provider, f.model))
    notes = [f"not sized, no price: {reason}" for reason in sorted(prices.unpriced)]
    if not usage.groups:
        notes.append(
            f"no token usage in {period}: ingest provider usage reports, gateway logs "
            "(LiteLLM) or telemetry (OpenTelemetry) to find savings"
        )
    return PlaybookReport(
        period=period,
        findings=findings,
        not_checked=not_checked,
        notes=notes,
        origins=usage.origins,
        sources=sorted(prices.sources),
        settings=config,
    )
