"""The page tests use the API tests' organisation and servers (tests/api/conftest.py)."""

from tests.api.conftest import _duckdb, allocated, reader, server  # noqa: F401
