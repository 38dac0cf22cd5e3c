"""The engines the engine-facing tests run on. APPORTION_TEST_ENGINES=duckdb narrows a quick
local run; CI runs both."""

from __future__ import annotations

import os

import pytest

ENGINES = [e for e in os.environ.get("APPORTION_TEST_ENGINES", "duckdb,spark").split(",") if e]
ENGINE_PARAMS = [pytest.param(e, marks=getattr(pytest.mark, e)) for e in ENGINES]
