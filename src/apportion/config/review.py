"""The monthly review part of apportion.yaml (MISSION R6.1): how far a line may move before
its owner has to explain it, per cost category."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from apportion.config.ledger import ALL_CATEGORIES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threshold(_Strict):
    """A line of ``category`` needs an explanation when its change (against the previous
    period, a forecast or a budget) is at least ``absolute`` in the line's currency AND at
    least ``percent`` of what it is compared with. Both must be exceeded: a small line doubling
    is noise, a large line moving by a fraction of a percent is too. A line with nothing to
    compare with (new this period) is judged on ``absolute`` alone."""

    category: str = Field(default=ALL_CATEGORIES, description="A cost category, or * for any")
    absolute: Decimal = Field(ge=0, description="Change in money, in the line's currency")
    percent: Decimal = Field(ge=0, description="Change in percent of the compared amount")


DEFAULT_THRESHOLD = Threshold(absolute=Decimal(500), percent=Decimal(20))


class ReviewConfig(_Strict):
    thresholds: list[Threshold] = Field(
        default_factory=lambda: [DEFAULT_THRESHOLD],
        description="Per category; the * entry applies to categories not named and to the "
        "comparison of a use case's total with its forecast and budget",
    )

    @model_validator(mode="after")
    def _one_per_category(self) -> ReviewConfig:
        named = [t.category for t in self.thresholds]
        repeated = sorted({c for c in named if named.count(c) > 1})
        if repeated:
            raise ValueError(f"review.thresholds names {', '.join(repeated)} more than once")
        return self

    def threshold(self, category: str) -> Threshold:
        """The category's own threshold, else the * one, else the built-in default."""
        by_category = {t.category: t for t in self.thresholds}
        return by_category.get(category) or by_category.get(ALL_CATEGORIES) or DEFAULT_THRESHOLD
