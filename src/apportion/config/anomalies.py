"""The anomalies part of apportion.yaml (MISSION R7.3): how far back the adaptive baseline of
daily cost looks, how sensitive the check is, and how small a deviation may be and still be
ignored."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnomaliesConfig(_Strict):
    """A day's cost is anomalous when it is further from its baseline than ``sensitivity``
    times the baseline's usual error AND by at least ``min_amount`` (in the series' currency)
    AND by at least ``min_percent`` of the series' mean daily cost over the window."""

    window_days: int = Field(
        default=28,
        ge=14,
        le=366,
        description="Days before each day that set its weekday factors (the spread: twice as many)",
    )
    # 5, not 4: on simulated noisy series 4 flags one clean day in about 400 (8 false alarms a
    # month over 100 series), 5 one in about 1800, and still finds 39 in 40 spikes of eight
    # noise deviations (tests/analyse/test_anomalies.py)
    sensitivity: Decimal = Field(
        default=Decimal(5), gt=0, le=100, description="How many spreads (scaled MADs) away"
    )
    min_amount: Decimal = Field(
        default=Decimal(1), gt=0, description="Smallest deviation in money that counts"
    )
    min_percent: Decimal = Field(
        default=Decimal(10),
        ge=0,
        le=1000,
        description="Smallest deviation, in percent of the mean daily cost of the window",
    )
    weekly: bool = Field(default=True, description="Expect a weekly pattern (weekday factors)")
    top_lines: int = Field(
        default=5, ge=1, le=100, description="Bill lines listed as the drivers of each anomaly"
    )
