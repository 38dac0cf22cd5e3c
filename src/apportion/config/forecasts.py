"""The forecasts part of apportion.yaml (MISSION R6.2): when a forecaster's bias counts as
persistent, and how much history the statistical baseline reads."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForecastsConfig(_Strict):
    bias_periods: int = Field(
        default=4, ge=1, le=24, description="Periods looked back at for bias, this one included"
    )
    bias_count: int = Field(
        default=3,
        ge=1,
        le=24,
        description="Over- (or under-) forecast in at least this many of them is a bias",
    )
    baseline_history: int = Field(
        default=36, ge=1, le=120, description="Periods of actuals the baseline may read"
    )

    @model_validator(mode="after")
    def _count_fits(self) -> ForecastsConfig:
        if self.bias_count > self.bias_periods:
            raise ValueError(
                f"bias_count ({self.bias_count}) cannot exceed bias_periods ({self.bias_periods})"
            )
        return self
