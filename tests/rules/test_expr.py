"""The match-expression whitelist: parsing, rejection, and compiling to Ibis on DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apportion.engine.dataplane import DataPlane
from apportion.engine.duckdb_plane import DuckDBPlane
from apportion.engine.store import ParquetStore
from apportion.rules.expr import (
    And,
    Column,
    Compare,
    InList,
    IsNull,
    Like,
    Literal,
    Match,
    MatchError,
    Node,
    Not,
    Operand,
    Or,
    Tag,
    parse_match,
    referenced_columns,
    referenced_tags,
    to_ibis,
)
from tests.engines import ENGINE_PARAMS

D = Decimal
x = Column("x")


def lit(value: str | int | float | bool | None) -> Literal:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Literal(D(str(value)))
    return Literal(value)


# ---------------------------------------------------------------------------------------------
# Parsing allowed constructs


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (
            "ServiceName = 'Amazon Bedrock' AND tags['use_case'] IS NOT NULL",
            And(
                Compare("=", Column("ServiceName"), lit("Amazon Bedrock")),
                IsNull(Tag("use_case"), negated=True),
            ),
        ),
        ("\"Some Column\" = 'a'", Compare("=", Column("Some Column"), lit("a"))),
        ("x_Category <> 'a'", Compare("<>", Column("x_Category"), lit("a"))),
        ("x != 'a'", Compare("<>", x, lit("a"))),
        ("x == 'a'", Compare("=", x, lit("a"))),
        ("x < 1", Compare("<", x, lit(1))),
        ("x > 0.5", Compare(">", x, lit(0.5))),
        ("x <= -2.50", Compare("<=", x, Literal(D("-2.50")))),
        ("x >= 1e3", Compare(">=", x, Literal(D("1000")))),
        ("0.5 < x", Compare("<", lit(0.5), x)),
        ("x = (-1)", Compare("=", x, lit(-1))),
        ("x = TRUE", Compare("=", x, lit(True))),
        ("x = false", Compare("=", x, lit(False))),
        ("x = y", Compare("=", x, Column("y"))),
        ("x = 'it''s'", Compare("=", x, lit("it's"))),
        ("Tags['Team'] = 'ml'", Compare("=", Tag("Team"), lit("ml"))),
        ("tags['use_case'] = use_case", Compare("=", Tag("use_case"), Column("use_case"))),
        ("x IN ('a', 1, -2.5)", InList(x, (lit("a"), lit(1), lit(-2.5)), negated=False)),
        ("x NOT IN ('a')", InList(x, (lit("a"),), negated=True)),
        ("NOT x IN ('a')", InList(x, (lit("a"),), negated=True)),
        ("NOT (x IN ('a'))", Not(InList(x, (lit("a"),), negated=False))),
        ("tags['k'] IN ('a', 'b')", InList(Tag("k"), (lit("a"), lit("b")), negated=False)),
        ("x LIKE 'a%'", Like(x, "a%", case_insensitive=False, negated=False)),
        ("x NOT LIKE 'a%'", Like(x, "a%", case_insensitive=False, negated=True)),
        ("NOT x LIKE 'a%'", Like(x, "a%", case_insensitive=False, negated=True)),
        ("x ILIKE 'a_'", Like(x, "a_", case_insensitive=True, negated=False)),
        ("x NOT ILIKE 'a'", Like(x, "a", case_insensitive=True, negated=True)),
        ("x IS NULL", IsNull(x, negated=False)),
        ("x IS NOT NULL", IsNull(x, negated=True)),
        ("NOT (x IS NULL)", Not(IsNull(x, negated=False))),
        (
            "x = 1 OR y = 2 AND z = 3",
            Or(
                Compare("=", x, lit(1)),
                And(Compare("=", Column("y"), lit(2)), Compare("=", Column("z"), lit(3))),
            ),
        ),
        (
            "(x = 1 OR y = 2) AND z = 3",
            And(
                Or(Compare("=", x, lit(1)), Compare("=", Column("y"), lit(2))),
                Compare("=", Column("z"), lit(3)),
            ),
        ),
        (
            "NOT x = 1 AND y = 2",
            And(Not(Compare("=", x, lit(1))), Compare("=", Column("y"), lit(2))),
        ),
        ("NOT NOT x = 1", Not(Not(Compare("=", x, lit(1))))),
        ("((x = 1))", Compare("=", x, lit(1))),
        ("x = 1; ", Compare("=", x, lit(1))),
        ("x = 1 -- a comment", Compare("=", x, lit(1))),
    ],
)
def test_parses_allowed_constructs(text: str, tree: Node) -> None:
    match = parse_match(text)
    assert match == Match(text, tree)
    assert Match.parse(text) == match


def test_long_chains_do_not_hit_the_recursion_limit() -> None:
    match = parse_match(" OR ".join(f"x = '{i}'" for i in range(700)))
    assert referenced_columns(match) == {"x"}


def test_referenced_names() -> None:
    match = parse_match(
        "ServiceName = 'a' AND (tags['use_case'] IS NULL OR NOT x LIKE 'b') "
        "AND Tags['team'] IN ('c') AND y = z"
    )
    assert referenced_columns(match) == {"ServiceName", "x", "y", "z"}
    assert referenced_tags(match) == {"use_case", "team"}


def test_literals_of_different_types_are_never_equal() -> None:
    assert Literal(True) != Literal(D(1))
    assert hash(Literal(D("1.0"))) == hash(Literal(D(1)))
    assert Literal(D("1.0")) == Literal(D(1))


def test_compare_checks_its_operator() -> None:
    with pytest.raises(ValueError, match="operator"):
        Compare("==", x, lit(1))


# ---------------------------------------------------------------------------------------------
# Rejecting everything else


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lower(ServiceName) = 'a'", "function call 'LOWER(ServiceName)' is not allowed"),
        ("foo(x) = 1", "function call 'FOO(x)'"),
        ("ServiceName IN (SELECT 1)", "subquery '(SELECT 1)'"),
        ("EXISTS (SELECT 1)", "subquery"),
        ("SELECT 1", "subquery"),
        ("x + 1 = 2", "arithmetic 'x + 1'"),
        ("x = 2 * 3", "arithmetic"),
        ("x = -y", "arithmetic '-y'"),
        ("x = - -1", "arithmetic"),
        ("1 = 1", "compares two constants"),
        ("'a' = 'a'", "compares two constants"),
        ("x = NULL", "write IS NULL"),
        ("x <> NULL", "write IS NOT NULL"),
        ("NULL < x", "IS NULL or IS NOT NULL"),
        ("x IN ('a', NULL)", "use IS NULL"),
        ("a = 'b'; DROP TABLE x", "several statements"),
        ("", "empty"),
        ("   ", "empty"),
        (";", "empty"),
        ("(x = 1", "Expecting )"),
        ("x = 1)", "cannot parse"),
        ("x = 'abc", "cannot parse"),
        ("x = 1 AND", "cannot parse"),
        ("*", "star '*'"),
        ("x = CAST(1 AS INT)", "cast"),
        ("x = 1::int", "cast"),
        ("CASE WHEN x = 1 THEN TRUE END", "CASE expression"),
        ("x = ?", "parameter"),
        ("x = $1", "parameter"),
        ("x = 1 y", "alias"),
        ("x BETWEEN 1 AND 2", "BETWEEN"),
        ("x LIKE 'a!%' ESCAPE '!'", "ESCAPE clause"),
        ("x <=> 1", "not allowed"),
        ("x ~ 'a'", "not allowed"),
        ("x = @y", "function call"),
        ("x", "'x' is a value, not a condition"),
        ("TRUE", "is a value, not a condition"),
        ("x AND y = 1", "is a value, not a condition"),
        ("x = y = z", "condition 'x = y' cannot be used as a value"),
        ("t.x = 1", "qualified name 't.x'"),
        ("tags.team = 1", "qualified name"),
        ('"" = 1', "empty column name"),
        ("x['a'] = 1", "only as tags['key']"),
        ("tags['a']['b'] = 1", "only as tags['key']"),
        ("tags[1] = 'a'", "one quoted string"),
        ("tags[x] = 'a'", "one quoted string"),
        ("tags['a', 'b'] = 'a'", "one quoted string"),
        ("x IN ('a', y)", "only constants; got 'y'"),
        ("x IN ()", "empty"),
        ("'a' IN ('a')", "must be a column"),
        ("x LIKE y", "must be a quoted string"),
        ("x LIKE 1", "must be a quoted string"),
        ("x LIKE ANY ('a')", "must be a quoted string"),
        ("'a' LIKE 'a'", "must be a column"),
        ("x IS TRUE", "only IS NULL and IS NOT NULL"),
        ("x IS NOT 1", "only IS NULL and IS NOT NULL"),
        ("x = 1e-50", "more than 38 digits"),
        ("x = 123456789012345678901234567890123456789", "more than 38 digits"),
        ("x = $$a$$", "not allowed"),
        ("(" * 60 + "x = 1" + ")" * 60, "nested too deeply"),
        ("x = 'a' OR " * 1000 + "x = 'b'", "longer than"),
    ],
)
def test_rejects(text: str, message: str) -> None:
    with pytest.raises(MatchError) as caught:
        parse_match(text)
    assert message.lower() in str(caught.value).lower()
    assert len(str(caught.value)) < 400  # messages quote fragments, never whole huge texts


def test_match_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_match("lower(x) = 'a'")


# ---------------------------------------------------------------------------------------------
# Compiling to Ibis and running on DuckDB

ROWS = pa.table(
    {
        "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
        "ServiceName": pa.array(
            ["Amazon Bedrock", "Amazon S3", None, "amazon bedrock", "Azure OpenAI"], pa.string()
        ),
        "BilledCost": pa.array(
            [D("1.5"), D("-2"), D("0.0005"), D("0"), None], pa.decimal128(38, 18)
        ),
        "Quantity": pa.array([1, 3, 0, 0, 7], pa.int64()),
        "IsFree": pa.array([False, False, True, False, None], pa.bool_()),
        "Tags": pa.array(
            [
                [("use_case", "chat"), ("team", "ml")],
                [("use_case", "Search")],
                [],
                None,
                [("team", "web")],
            ],
            pa.map_(pa.string(), pa.string()),
        ),
    }
)
ALL = {1, 2, 3, 4, 5}


@pytest.fixture(scope="module", params=ENGINE_PARAMS)
def con(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DataPlane]:
    """Each engine's data plane, which runs the compiled expressions."""
    if request.param == "spark":
        from apportion.engine.spark_plane import SparkPlane, spark_session

        store = ParquetStore(str(tmp_path_factory.mktemp("store")))
        plane: DataPlane = SparkPlane(store, spark_session())
    else:
        plane = DuckDBPlane(":memory:")
    yield plane
    plane.close()


@pytest.fixture(scope="module")
def table() -> ir.Table:
    return ibis.memtable(ROWS)


def _compile(table: ir.Table, text: str) -> ir.BooleanValue:
    return to_ibis(
        parse_match(text), column=lambda name: table[name], tag=lambda key: table.Tags[key]
    )


def selected(con: DataPlane, table: ir.Table, text: str) -> set[int]:
    return set(con.to_arrow(table.filter(_compile(table, text)).select("id"))["id"].to_pylist())


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("ServiceName = 'Amazon Bedrock'", {1}),
        ("ServiceName <> 'Amazon Bedrock'", {2, 4, 5}),
        ("ServiceName != 'Amazon Bedrock'", {2, 4, 5}),
        ("'Amazon S3' = ServiceName", {2}),
        ("ServiceName < 'Amazon S3'", {1}),
        ("ServiceName IN ('Amazon S3', 'Azure OpenAI')", {2, 5}),
        ("ServiceName NOT IN ('Amazon S3', 'Azure OpenAI')", {1, 4}),
        ("ServiceName LIKE 'Amazon%'", {1, 2}),
        ("ServiceName LIKE 'Amazon S_'", {2}),
        ("ServiceName ILIKE 'amazon%'", {1, 2, 4}),
        ("ServiceName NOT LIKE 'Amazon%'", {4, 5}),
        ("ServiceName NOT ILIKE 'amazon%'", {5}),
        ("ServiceName IS NULL", {3}),
        ("ServiceName IS NOT NULL", {1, 2, 4, 5}),
        # Precedence: NOT > AND > OR.
        ("ServiceName = 'Amazon S3' OR ServiceName = 'Amazon Bedrock' AND BilledCost > 10", {2}),
        ("(ServiceName = 'Amazon S3' OR ServiceName = 'Amazon Bedrock') AND BilledCost > 1", {1}),
        ("NOT ServiceName = 'Amazon S3' AND BilledCost >= 0", {1, 4}),
        ("NOT (ServiceName = 'Amazon S3' AND BilledCost >= 0)", {1, 2, 4, 5}),
        # NULL: unknown inside, "no match" at the end, even under NOT.
        ("NOT (ServiceName = 'Amazon Bedrock')", {2, 4, 5}),
        ("NOT (BilledCost > 100)", {1, 2, 3, 4}),
        ("NOT NOT (BilledCost > 100)", set()),
        ("ServiceName IS NULL OR NOT (ServiceName = 'Amazon Bedrock')", {2, 3, 4, 5}),
        ("BilledCost > 100 OR ServiceName = 'Azure OpenAI'", {5}),
        ("NOT (IsFree = TRUE)", {1, 2, 4}),
        # Tags: a missing key, or a missing map, reads as NULL.
        ("tags['use_case'] = 'chat'", {1}),
        ("Tags['team'] IN ('ml', 'web')", {1, 5}),
        ("tags['use_case'] ILIKE 'search'", {2}),
        ("tags['use_case'] IS NULL", {3, 4, 5}),
        ("tags['use_case'] IS NOT NULL", {1, 2}),
        ("tags['nope'] IS NULL", ALL),
        ("NOT (tags['use_case'] = 'chat')", {2}),
        ("tags['use_case'] <> 'chat'", {2}),
        ("tags['use_case'] NOT IN ('chat')", {2}),
        # Decimals: exact, negative, integer-valued, exponent forms.
        ("BilledCost > 0.5", {1}),
        ("BilledCost < 0", {2}),
        ("BilledCost = -2", {2}),
        ("BilledCost >= -2.0", {1, 2, 3, 4}),
        ("BilledCost = 0", {4}),
        ("BilledCost = 0.0005", {3}),
        ("BilledCost > 0.0004 AND BilledCost < 0.0006", {3}),
        ("BilledCost = 1.500000000000000000", {1}),
        ("BilledCost < 1e5", {1, 2, 3, 4}),
        ("BilledCost < 12345678901234567890", {1, 2, 3, 4}),
        ("BilledCost IN (1.5, -2)", {1, 2}),
        ("BilledCost NOT IN (0)", {1, 2, 3}),
        ("-1 > BilledCost", {2}),
        ("Quantity = 3", {2}),
        ("Quantity > 0.5", {1, 2, 5}),
        ("Quantity > BilledCost", {2}),
        ("IsFree = TRUE", {3}),
        ("IsFree <> TRUE", {1, 2, 4}),
    ],
)
def test_to_ibis_selects(con: DataPlane, table: ir.Table, text: str, ids: set[int]) -> None:
    assert selected(con, table, text) == ids


def test_to_ibis_never_yields_null(con: DataPlane, table: ir.Table) -> None:
    verdicts = table.select(m=_compile(table, "NOT (BilledCost > 0 AND ServiceName = 'a')"))
    assert con.to_arrow(verdicts.select("m"))["m"].null_count == 0


def test_literals_are_values_not_sql(con: DataPlane, table: ir.Table) -> None:
    assert selected(con, table, "ServiceName = 'x'' OR ''1''=''1'") == set()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ServiceName = 1", "cannot compare ServiceName (string) with 1 (decimal"),
        ("BilledCost = 'a'", "cannot compare BilledCost"),
        ("BilledCost = IsFree", "cannot compare"),
        ("BilledCost > 0.0000000000000000001", "more decimal places"),
        ("BilledCost > 123456789012345678901", "too large"),
        ("BilledCost LIKE '1%'", "LIKE needs text"),
        ("ServiceName IN (1, 2)", "ServiceName"),
    ],
)
def test_to_ibis_type_errors(table: ir.Table, text: str, message: str) -> None:
    with pytest.raises(MatchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _compile(table, text)


def test_resolver_errors_propagate() -> None:
    class Unknown(Exception):
        pass

    def column(name: str) -> ir.Value:
        raise Unknown(name)

    with pytest.raises(Unknown, match="nope"):
        to_ibis(parse_match("nope = 1"), column=column, tag=column)


# ---------------------------------------------------------------------------------------------
# Round trip: random trees -> text -> the same tree

SAFE_NAMES = ["ServiceName", "x_Category", "use_case", "BilledCost"]
text_ = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
refs: st.SearchStrategy[Column | Tag] = st.one_of(
    st.sampled_from(SAFE_NAMES).map(Column),
    text_.filter(bool).map(Column),
    text_.map(Tag),
)
literals = st.one_of(
    text_.map(Literal),
    st.booleans().map(Literal),
    st.decimals(min_value=-(10**9), max_value=10**9, places=6).map(Literal),
    st.integers(-(10**12), 10**12).map(lambda i: Literal(D(i))),
)
operands: st.SearchStrategy[Operand] = st.one_of(refs, literals)


@st.composite
def compares(draw: st.DrawFn) -> Compare:
    op = draw(st.sampled_from(["=", "<>", "<", ">", "<=", ">="]))
    ref, other = draw(refs), draw(operands)
    return Compare(op, ref, other) if draw(st.booleans()) else Compare(op, other, ref)


leaves: st.SearchStrategy[Node] = st.one_of(
    compares(),
    st.builds(InList, refs, st.lists(literals, min_size=1, max_size=4).map(tuple), st.booleans()),
    st.builds(Like, refs, text_, st.booleans(), st.booleans()),
    st.builds(IsNull, refs, st.booleans()),
)
trees: st.SearchStrategy[Node] = st.recursive(
    leaves,
    lambda sub: st.one_of(st.builds(And, sub, sub), st.builds(Or, sub, sub), st.builds(Not, sub)),
    max_leaves=8,
)


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def render_operand(operand: Operand) -> str:
    if isinstance(operand, Tag):
        return f"tags[{quote(operand.key)}]"
    if isinstance(operand, Column):
        if operand.name in SAFE_NAMES:
            return operand.name
        return '"' + operand.name.replace('"', '""') + '"'
    value = operand.value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        return format(value, "f")
    assert isinstance(value, str)
    return quote(value)


def render(node: Node) -> str:
    if isinstance(node, And | Or):
        word = "AND" if isinstance(node, And) else "OR"
        return f"({render(node.left)}) {word} ({render(node.right)})"
    if isinstance(node, Not):
        return f"NOT ({render(node.operand)})"
    if isinstance(node, Compare):
        return f"{render_operand(node.left)} {node.op} {render_operand(node.right)}"
    subject = render_operand(node.operand)
    no = "NOT " if node.negated else ""
    if isinstance(node, InList):
        return f"{subject} {no}IN ({', '.join(render_operand(v) for v in node.values)})"
    if isinstance(node, Like):
        return f"{subject} {no}{'ILIKE' if node.case_insensitive else 'LIKE'} {quote(node.pattern)}"
    return f"{subject} IS {no}NULL"


@settings(max_examples=300, deadline=None)
@given(trees)
def test_round_trip(tree: Node) -> None:
    text = render(tree)
    assert parse_match(text).root == tree, text


def test_a_nul_character_is_a_match_error_not_an_engine_crash() -> None:
    with pytest.raises(
        MatchError, match=r"NUL character \(\\x00\), found after \"ServiceName = 'a\""
    ):
        parse_match("ServiceName = 'a\x00b'")


def test_a_nul_in_a_rule_is_a_config_error() -> None:
    from apportion.config import ConfigError, parse_config

    text = "version: 1\nrules:\n  - {name: r, match: \"ServiceName = 'a\\0b'\", method: direct}\n"
    with pytest.raises(ConfigError, match="NUL character"):
        parse_config(text, source="apportion.yaml")
