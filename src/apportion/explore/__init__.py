"""Self-service drill-down: the queries behind the REST API and the web UI. From a period's
overview to a cost centre's statement, from a statement line to the allocations behind it,
their pools, the bill lines in them and the driver rows that set each share.

Every function takes the :class:`~apportion.access.Caller` and filters in the query: what a
consumer may not see is never read, and asking for it by id is :class:`NotFoundError`, the same
answer as for an id that does not exist.
"""

from apportion.errors import NotFoundError

__all__ = ["NotFoundError"]
