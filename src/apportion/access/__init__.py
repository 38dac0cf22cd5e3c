"""Who may see what: API tokens with roles, the cost centres granted to consumers, and the
browser sessions opened with a token. The REST API and the web UI ask this package who is
calling; the queries they run take the answer (:class:`Caller`) and filter by it."""

from apportion.access.caller import ADMIN, ANALYST, CONSUMER, ROLES, Caller
from apportion.access.tokens import AccessError, TokenInfo

__all__ = ["ADMIN", "ANALYST", "CONSUMER", "ROLES", "AccessError", "Caller", "TokenInfo"]
