"""Parse a rule's ``match`` expression into a small whitelisted tree, and compile it to Ibis.

The text comes from a YAML config file, so it is untrusted. sqlglot (DuckDB dialect) is used
only to get a syntax tree; that tree is checked against a whitelist and converted to the frozen
dataclasses below. Nothing the user wrote is ever executed or pasted into SQL: :func:`to_ibis`
builds an Ibis expression from the whitelisted tree alone, and Ibis quotes every name and value.

Allowed: column names (``ServiceName``, ``"Some Column"``), tag lookups (``tags['use_case']``),
constants (``'text'``, ``12``, ``-0.5``, ``TRUE``, ``FALSE``), the comparisons
``= <> != < > <= >=``, ``[NOT] IN (constant, ...)``, ``[NOT] LIKE 'pattern'``,
``[NOT] ILIKE 'pattern'``, ``IS [NOT] NULL``, and ``AND``, ``OR``, ``NOT``, parentheses.
Anything else (functions, arithmetic, subqueries, casts, several statements...) raises
:class:`MatchError`. Numbers stay :class:`~decimal.Decimal`, never float.

NULL: inside the expression SQL's three-valued logic applies (``x = 'a'`` is NULL where ``x`` is
NULL, and so is ``NOT (x = 'a')``). Only the final verdict is forced to a boolean: NULL means
"no match". So ``NOT (x = 'a')`` does not select rows whose ``x`` is NULL; write
``x IS NULL OR NOT (x = 'a')`` for that. A missing tag key reads as NULL.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias, cast

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import sqlglot
from ibis.common.exceptions import IbisTypeError
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from apportion.errors import UsageError

MAX_TEXT_LENGTH = 10_000
MAX_DIGITS = 38  # widest DECIMAL that DuckDB supports


class MatchError(UsageError):
    """A match expression that is malformed or uses something outside the whitelist."""


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Tag:
    key: str


@dataclass(frozen=True)
class Literal:
    value: str | Decimal | bool | None

    # bool is an int, so True == Decimal(1): compare the types too, so that two trees which
    # compile differently never compare (or hash) equal.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Literal):
            return NotImplemented
        return type(self.value) is type(other.value) and self.value == other.value

    def __hash__(self) -> int:
        return hash((type(self.value), self.value))


Ref: TypeAlias = Column | Tag
Operand: TypeAlias = Column | Tag | Literal

_COMPARE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "<>": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Compare:
    op: str
    left: Operand
    right: Operand

    def __post_init__(self) -> None:
        if self.op not in _COMPARE_OPS:
            raise ValueError(f"unknown comparison operator {self.op!r}")


@dataclass(frozen=True)
class InList:
    operand: Ref
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    operand: Ref
    pattern: str
    case_insensitive: bool
    negated: bool


@dataclass(frozen=True)
class IsNull:
    operand: Ref
    negated: bool


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


Node: TypeAlias = Compare | InList | Like | IsNull | And | Or | Not


@dataclass(frozen=True)
class Match:
    """A parsed match expression: the text as written, and its whitelisted tree."""

    text: str
    root: Node

    @classmethod
    def parse(cls, text: str) -> Match:
        return parse_match(text)


# ---------------------------------------------------------------------------------------------
# Parsing: sqlglot tree -> whitelisted tree


def parse_match(text: str) -> Match:
    """Parse ``text``; raise :class:`MatchError` for anything outside the grammar."""
    if not isinstance(text, str):
        raise MatchError(f"a match expression must be text, not {type(text).__name__}")
    if not text.strip():
        raise MatchError("the match expression is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise MatchError(f"the match expression is longer than {MAX_TEXT_LENGTH} characters")
    if "\x00" in text:
        # engines read SQL text as C strings: a NUL would end a literal mid-way
        at = text.index("\x00")
        raise MatchError(
            f"a match expression may not contain a NUL character (\\x00), found after "
            f"{_clip(text[:at])!r}"
        )
    try:
        statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
        if len(statements) != 1:
            raise MatchError(
                f"several statements are not allowed in a match expression: {_clip(text)!r}"
                if statements
                else "the match expression is empty"
            )
        return Match(text=text, root=_condition(cast(exp.Expression, statements[0])))
    except SqlglotError as error:
        raise MatchError(f"cannot parse {_clip(text)!r}: {_reason(error)}") from None
    except RecursionError:
        # sqlglot's parser recurses about 20 frames per parenthesis level.
        raise MatchError(f"the match expression is nested too deeply: {_clip(text)!r}") from None


def _condition(e: exp.Expression) -> Node:
    e = _unparen(e)
    if isinstance(e, exp.And | exp.Or):
        return _connective(e)
    if isinstance(e, exp.Not):
        return _negation(e)
    if type(e) in _SQL_COMPARISONS:
        return _compare(e)
    if isinstance(e, exp.In):
        return _in_list(e, negated=False)
    if isinstance(e, exp.Like | exp.ILike):
        return _like(e, negated=False)
    if isinstance(e, exp.Is):
        return _is_null(e, negated=False)
    if isinstance(e, exp.Column | exp.Bracket | exp.Literal | exp.Boolean | exp.Null):
        raise MatchError(
            f"{_fragment(e)!r} is a value, not a condition; compare it, e.g. {_fragment(e)} = '...'"
        )
    raise _not_allowed(e)


def _connective(e: exp.And | exp.Or) -> Node:
    # `a AND b AND c ...` nests to the left; walk that spine in a loop so that a rule with
    # hundreds of conditions does not exhaust Python's recursion limit.
    kind, rights = type(e), []
    current: exp.Expression = e
    while type(current) is kind:
        rights.append(current.expression)
        current = current.this
    node = _condition(current)
    for right in reversed(rights):
        node = And(node, _condition(right)) if kind is exp.And else Or(node, _condition(right))
    return node


def _negation(e: exp.Not) -> Node:
    # sqlglot 30 reads `x IS NOT NULL` and `x NOT IN (...)` (and `NOT x LIKE ...`, which some
    # versions also use for `x NOT LIKE`) as NOT over the positive predicate: fold those into
    # the predicate's negated form. `NOT (x IN (...))` has a Paren inside and stays a Not.
    inner = e.this
    if isinstance(inner, exp.In):
        return _in_list(inner, negated=True)
    if isinstance(inner, exp.Is):
        return _is_null(inner, negated=True)
    if isinstance(inner, exp.Like | exp.ILike) and not inner.args.get("negate"):
        return _like(inner, negated=True)
    return Not(_condition(inner))


_SQL_COMPARISONS: dict[type[exp.Expression], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.LT: "<",
    exp.GT: ">",
    exp.LTE: "<=",
    exp.GTE: ">=",
}


def _compare(e: exp.Expression) -> Compare:
    op = _SQL_COMPARISONS[type(e)]
    left, right = _operand(e.this), _operand(e.expression)
    if isinstance(left, Literal) and isinstance(right, Literal):
        raise MatchError(
            f"comparison {_fragment(e)!r} compares two constants; "
            "one side must be a column or tags['...']"
        )
    if Literal(None) in (left, right):
        fix = {"=": "IS NULL", "<>": "IS NOT NULL"}.get(op, "IS NULL or IS NOT NULL")
        raise MatchError(f"comparison {_fragment(e)!r} with NULL never matches; write {fix}")
    return Compare(op, left, right)


def _in_list(e: exp.In, negated: bool) -> InList:
    query = e.args.get("query")
    if query is not None:
        raise _not_allowed(query)
    if any(e.args.get(arg) for arg in ("unnest", "field")):
        raise _not_allowed(e)
    operand = _reference(e.this, e)
    values = []
    for item in e.expressions:
        value = _operand(item)
        if not isinstance(value, Literal):
            raise MatchError(f"IN lists may hold only constants; got {_fragment(item)!r}")
        if value.value is None:
            raise MatchError(f"NULL in {_fragment(e)!r} never matches; use IS NULL")
        values.append(value)
    if not values:
        raise MatchError(f"the IN list of {_fragment(e)!r} is empty")
    return InList(operand, tuple(values), negated)


def _like(e: exp.Like | exp.ILike, negated: bool) -> Like:
    pattern = _unparen(e.expression)
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise MatchError(f"the pattern of {_fragment(e)!r} must be a quoted string")
    negated = negated != bool(e.args.get("negate"))
    return Like(_reference(e.this, e), pattern.this, isinstance(e, exp.ILike), negated)


def _is_null(e: exp.Is, negated: bool) -> IsNull:
    if not isinstance(e.expression, exp.Null):
        raise MatchError(f"only IS NULL and IS NOT NULL are allowed; got {_fragment(e)!r}")
    return IsNull(_reference(e.this, e), negated != bool(e.args.get("negate")))


def _reference(e: exp.Expression, parent: exp.Expression) -> Ref:
    operand = _operand(e)
    if isinstance(operand, Literal):
        raise MatchError(
            f"in {_fragment(parent)!r} the left side must be a column or tags['...'], "
            "not a constant"
        )
    return operand


def _operand(e: exp.Expression) -> Operand:
    e = _unparen(e)
    if isinstance(e, exp.Column):
        return _column(e)
    if isinstance(e, exp.Bracket):
        return _tag(e)
    if isinstance(e, exp.Predicate | exp.Connector | exp.Not):
        raise MatchError(f"condition {_fragment(e)!r} cannot be used as a value")
    if isinstance(e, exp.Boolean):
        return Literal(bool(e.this))
    if isinstance(e, exp.Null):
        return Literal(None)
    if isinstance(e, exp.Literal):
        return Literal(e.this if e.is_string else _number(e))
    if isinstance(e, exp.Neg):  # a negative number is Neg(number); any other Neg is arithmetic
        inner = _unparen(e.this)
        if isinstance(inner, exp.Literal) and not inner.is_string:
            return Literal(-_number(inner))
    raise _not_allowed(e)


def _column(e: exp.Column) -> Column:
    name = e.this
    if not isinstance(name, exp.Identifier):
        raise _not_allowed(name)
    if any(e.args.get(part) for part in ("table", "db", "catalog")):
        raise MatchError(f"qualified name {_fragment(e)!r} is not allowed; write the bare name")
    if not name.this:
        raise MatchError("an empty column name is not allowed")
    return Column(name.this)


def _tag(e: exp.Bracket) -> Tag:
    base, keys = e.this, e.expressions
    if not (isinstance(base, exp.Column) and _column(base).name.lower() == "tags"):
        raise MatchError(f"brackets are allowed only as tags['key']; got {_fragment(e)!r}")
    key = keys[0] if len(keys) == 1 else None
    if not (isinstance(key, exp.Literal) and key.is_string):
        raise MatchError(
            f"a tag key must be one quoted string, as in tags['key']; got {_fragment(e)!r}"
        )
    return Tag(key.this)


def _number(e: exp.Literal) -> Decimal:
    try:
        value = Decimal(e.this)
    except InvalidOperation:
        raise MatchError(f"{e.this!r} is not a number") from None
    if not value.is_finite() or _width(value)[0] > MAX_DIGITS:
        raise MatchError(f"number {e.this} needs more than {MAX_DIGITS} digits")
    return value


def _unparen(e: exp.Expression) -> exp.Expression:
    while isinstance(e, exp.Paren):
        e = e.this
    return e


def _not_allowed(e: exp.Expression) -> MatchError:
    return MatchError(f"{_kind(e)} {_fragment(e)!r} is not allowed in a match expression")


def _kind(e: exp.Expression) -> str:
    """Name a forbidden construct in words the config's author will recognise."""
    if isinstance(e, exp.Cast):  # a Func in sqlglot, but users think of it as a cast
        return "cast"
    if isinstance(e, exp.Case):
        return "CASE expression"
    if isinstance(e, exp.Subquery | exp.Query | exp.Exists):
        return "subquery"
    if isinstance(e, exp.Func):
        return "function call"
    if isinstance(e, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod | exp.IntDiv | exp.Neg):
        return "arithmetic"
    if isinstance(e, exp.Escape):
        return "ESCAPE clause"
    if isinstance(e, exp.Between):
        return "BETWEEN"
    if isinstance(e, exp.Star):
        return "star"
    if isinstance(e, exp.Placeholder | exp.Parameter):
        return "parameter"
    if isinstance(e, exp.Alias | exp.Aliases):
        return "alias"
    if isinstance(e, exp.Binary | exp.Unary):
        return "operator"
    return "construct"


def _fragment(e: exp.Expression) -> str:
    try:
        return _clip(e.sql(dialect="duckdb"))
    except Exception:  # rendering is only for the message; never hide the real error
        return type(e).__name__


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(error: SqlglotError) -> str:
    # ParseError messages embed ANSI underlines; rebuild a plain one from the details.
    if isinstance(error, ParseError) and error.errors:
        first = error.errors[0]
        return f"{first['description']} (line {first['line']}, column {first['col']})"
    return str(error).splitlines()[0]


def _width(value: Decimal) -> tuple[int, int]:
    """(precision, scale) of the narrowest DECIMAL that holds ``value`` exactly."""
    _, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)  # finite numbers only
    scale = max(0, -exponent)
    return max(len(digits) + exponent, 0) + scale, scale


# ---------------------------------------------------------------------------------------------
# Inspecting and compiling the tree


def referenced_columns(match: Match) -> frozenset[str]:
    """Names of the columns the expression reads (tags excluded)."""
    return frozenset(o.name for o in _operands(match.root) if isinstance(o, Column))


def referenced_tags(match: Match) -> frozenset[str]:
    """Keys of the tags the expression reads."""
    return frozenset(o.key for o in _operands(match.root) if isinstance(o, Tag))


def _operands(root: Node) -> Iterator[Operand]:
    stack: list[Node] = [root]
    while stack:  # a loop, not recursion: long AND chains are deep trees
        node = stack.pop()
        if isinstance(node, And | Or):
            stack += (node.right, node.left)
        elif isinstance(node, Not):
            stack.append(node.operand)
        elif isinstance(node, Compare):
            yield from (node.left, node.right)
        else:
            yield node.operand


def to_ibis(
    match: Match,
    column: Callable[[str], ir.Value],
    tag: Callable[[str], ir.Value],
) -> ir.BooleanValue:
    """Compile ``match`` to an Ibis boolean that is never NULL (NULL counts as no match).

    ``column(name)`` and ``tag(key)`` supply the Ibis value for each name; their own errors
    (an unknown column, say) propagate unchanged.
    """

    def resolve(ref: Ref) -> ir.Value:
        return column(ref.name) if isinstance(ref, Column) else tag(ref.key)

    # Three-valued logic inside; only the final verdict turns NULL into False.
    return _compile(match.root, resolve).fill_null(False)


def _compile(node: Node, resolve: Callable[[Ref], ir.Value]) -> ir.BooleanValue:
    if isinstance(node, And | Or):
        rights: list[Node] = []
        current: Node = node
        while type(current) is type(node):  # the left spine, in a loop (see _connective)
            assert isinstance(current, And | Or)
            rights.append(current.right)
            current = current.left
        result = _compile(current, resolve)
        for right in reversed(rights):
            other = _compile(right, resolve)
            result = result & other if isinstance(node, And) else result | other
        return result
    if isinstance(node, Not):
        return ~_compile(node.operand, resolve)
    if isinstance(node, Compare):
        return _compile_compare(node, resolve)
    value = resolve(node.operand)
    if isinstance(node, IsNull):
        return value.notnull() if node.negated else value.isnull()
    if isinstance(node, Like):
        if not isinstance(value, ir.StringValue):
            raise MatchError(f"LIKE needs text, but {_name(node.operand)} is {value.type()}")
        found = value.ilike(node.pattern) if node.case_insensitive else value.like(node.pattern)
        return ~found if node.negated else found
    values = [_constant(v, value) for v in node.values]
    for literal, constant in zip(node.values, values, strict=True):
        # isin() does not type-check its list; an equality does, at build time rather than
        # as a cast error when DuckDB runs the query.
        try:
            value == constant  # noqa: B015
        except IbisTypeError:
            raise _incomparable(node.operand, value, literal, constant) from None
    return value.notin(values) if node.negated else value.isin(values)


def _compile_compare(node: Compare, resolve: Callable[[Ref], ir.Value]) -> ir.BooleanValue:
    # Resolve the names first: a constant takes its type from the value it is compared with.
    left = None if isinstance(node.left, Literal) else resolve(node.left)
    right = None if isinstance(node.right, Literal) else resolve(node.right)
    if left is None and right is None:
        raise MatchError("a comparison needs a column or tag on one side")
    if left is None:
        assert isinstance(node.left, Literal) and right is not None
        left = _constant(node.left, right)
    if right is None:
        assert isinstance(node.right, Literal)
        right = _constant(node.right, left)
    try:
        return cast(ir.BooleanValue, _COMPARE_OPS[node.op](left, right))
    except IbisTypeError:
        raise _incomparable(node.left, left, node.right, right) from None


def _incomparable(a: Operand, a_value: ir.Value, b: Operand, b_value: ir.Value) -> MatchError:
    return MatchError(
        f"cannot compare {_name(a)} ({a_value.type()}) with {_name(b)} ({b_value.type()})"
    )


def _constant(literal: Literal, other: ir.Value) -> ir.Value:
    if isinstance(literal.value, Decimal):
        return _decimal(literal.value, other.type())
    return ibis.literal(literal.value)


def _decimal(value: Decimal, other: dt.DataType) -> ir.Value:
    # ibis.literal(Decimal) is typed DECIMAL(18, 3), which would round 0.0005 to 0.001: give
    # the constant an exact type. Against a DECIMAL(p, s) column, use DECIMAL(38, s): the
    # column then widens losslessly, in Ibis's type check and in DuckDB alike.
    precision, scale = _width(value)
    if isinstance(other, dt.Decimal) and other.scale is not None:
        if scale > other.scale:
            raise MatchError(f"number {value} has more decimal places than {other} holds")
        precision, scale = precision - scale + other.scale, other.scale
        if precision > MAX_DIGITS:
            raise MatchError(f"number {value} is too large for {other}")
        precision = MAX_DIGITS
    # Cast from text, which DuckDB converts exactly; a number like 1E-7 would go via DOUBLE.
    return ibis.literal(format(value, "f")).cast(dt.Decimal(max(precision, 1), scale))


def _name(operand: Operand) -> str:
    """The operand as the user would write it, for messages."""
    if isinstance(operand, Column):
        return operand.name
    if isinstance(operand, Tag):
        return f"tags[{operand.key!r}]"
    value = operand.value
    if isinstance(value, Decimal):
        return format(value, "f")
    return repr(value) if isinstance(value, str) else str(value).upper()
