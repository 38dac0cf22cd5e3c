"""Money stays exact at every edge: numbers read from YAML, divisions for shares and tolerances,
and amounts through the CSV and Parquet readers. Python's default decimal context keeps 28
digits, a DECIMAL(38, 18) amount up to 38; each case below is one where the 28 digits answer
differently (or fail) and the exact context does not."""

from __future__ import annotations

import shutil
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apportion.analyse.forecasts import Accuracy, OwnerAccuracy
from apportion.analyse.review import Comparison, _compare
from apportion.analyse.thresholds import _nice
from apportion.config import parse_config
from apportion.config.models import FixedRule
from apportion.config.review import Threshold
from apportion.explore.drill import _allocation
from apportion.explore.overview import _share
from apportion.ledger.lines import Line
from apportion.ledger.statement import StatementEntry
from apportion.money import EXACT, exact_sum
from apportion.pricing.reconcile import Gap, Reconciliation
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS
from apportion.tags.metering import UnderMetered
from tests.helpers import ingest, make_workspace, write_focus

# -- divisions in the exact context ----------------------------------------------------------
INVOICED = Decimal("12345678901234567890.123456789012345678")  # 38 digits, a valid amount


def _gap(invoiced: Decimal, priced: Decimal) -> Gap:
    return Gap("openai", None, "2026-10", "USD", invoiced, priced, 1, 1)


def test_the_reconcile_tolerance_is_one_percent_exactly_not_to_28_digits() -> None:
    tolerance = EXACT.divide(INVOICED, Decimal(100))  # 123456789012345678.90123456789012345678
    just_past = Decimal("123456789012345678.901234567890123457")  # 28 digits round it away
    check = Reconciliation("2026-10", tolerance_percent=Decimal(1), minimum=Decimal("0.01"))
    assert check.within(_gap(INVOICED, EXACT.add(INVOICED, tolerance)))
    assert not check.within(_gap(INVOICED, EXACT.add(INVOICED, just_past)))


def test_a_gaps_percent_is_exact() -> None:
    difference = Decimal("98765432109876543210.987654321098765432")
    gap = _gap(INVOICED, EXACT.add(INVOICED, difference))
    assert gap.percent == EXACT.divide(EXACT.multiply(difference, Decimal(100)), INVOICED)


def test_the_unmetered_cost_of_a_large_pool_is_exact() -> None:
    # a resource's lines summed past 28 digits at 6 places: the default context cannot even
    # quantize it (InvalidOperation)
    found = UnderMetered(
        "gpu",
        "gpu-1",
        "USD",
        "gpu_seconds",
        billed=Decimal(2),
        metered=Decimal(1),
        cost=Decimal("123456789012345678901234.5"),
    )
    assert found.gap == Decimal("61728394506172839450617.250000")
    assert found.coverage == Decimal("0.5")


def test_an_allocations_share_of_its_pool_is_rounded_once() -> None:
    # 0.0000015 - 5e-38: 28 digits round it to 0.0000015 first, then to 0.000002
    row = {
        "quantity": Decimal("29999999999999999999.999999999999"),
        "pool_quantity": Decimal("20000000000000000000000000"),
        "BilledCost": Decimal(1),
    }
    assert _allocation(row, "BilledCost")["share"] == "0.000001"


def test_an_overview_share_is_rounded_once() -> None:
    # 0.15% less a little: 28 digits make it 0.15 first, then 0.2
    amount = Decimal("29999999999999999.999999999999999999")
    assert _share(amount, Decimal("20000000000000000000")) == "0.1"


def test_a_proposed_threshold_is_never_below_the_value_it_rounds_up() -> None:
    value = Decimal("1200000000.000000000000000000001")
    assert _nice(value) == Decimal(1300000000)
    assert _nice(Decimal("1234.5")) == Decimal(1300)


def test_a_review_change_percent_divides_by_the_exact_amount() -> None:
    # the change is exactly 0.015 % of the amount; abs() would round the amount up to 28
    # digits and make it 0.01499..., so 0.01 instead of 0.02 (half to even)
    amount = Decimal("-12345678901234567890.123456789012345678")
    change = EXACT.multiply(amount.copy_abs(), Decimal("0.00015"))
    assert Comparison("previous", amount, change, exceeded=False).percent == Decimal("0.02")


def test_a_forecast_that_was_exactly_right_has_no_error() -> None:
    exact = Decimal("12345678901234567890.123456789012345678")
    accuracy = Accuracy()
    accuracy.add(forecast=exact, actual=exact)
    assert accuracy.absolute_error == 0
    assert accuracy.wape == 0 and accuracy.mape == 0


def test_a_change_of_exactly_the_percent_threshold_is_flagged() -> None:
    amount = Decimal("12345678901234567890.123456789012345678")
    change = EXACT.multiply(amount, Decimal("0.2"))  # exactly 20 % of it
    compared = _compare(
        "previous",
        EXACT.add(amount, change),
        amount,
        Threshold(absolute=Decimal(0), percent=Decimal(20)),
    )
    assert compared.change == change and compared.exceeded


def test_an_owners_variance_is_exact() -> None:
    exact = Decimal("12345678901234567890.123456789012345678")
    accuracy = Accuracy()
    accuracy.add(forecast=exact, actual=exact)
    found = OwnerAccuracy(None, "USD", accuracy, {}, None).as_dict()
    assert Decimal(found["variance"]) == 0 and found["variance_percent"] in ("0", "0.00")


# -- property: random decimals through YAML, CSV and Parquet ---------------------------------
def test_a_statement_lines_change_on_last_period_is_exact() -> None:
    """Unary minus rounds to the thread's 28 digits: ``add(a, -b)`` lost the last digits of a
    38-digit amount; the change is ``subtract``ed in the exact context."""
    previous = Decimal("12345678901234567889.623456789012345678")  # 38 digits too
    line = Line("l1", "cc", "uc", "fm", "r", "direct", "showback", "USD", INVOICED)
    entry = StatementEntry(line=line, previous=previous, dispute=None)
    assert entry.change == Decimal("0.5")
    assert exact_sum([entry.change, previous]) == INVOICED


@st.composite
def amounts(draw: st.DrawFn, digits: int = 19) -> Decimal:
    """A DECIMAL(38, 18) amount below 10^digits, with 0 to 18 places."""
    places = draw(st.integers(0, t.MONEY_SCALE))
    bound = 10 ** (digits + places) - 1
    return Decimal(draw(st.integers(-bound, bound))).scaleb(-places)


@st.composite
def shares(draw: st.DrawFn) -> list[Decimal]:
    """Two to five positive percents with up to 18 places that sum to exactly 100."""
    count = draw(st.integers(2, 5))
    units = 100 * 10**t.MONEY_SCALE
    cuts = sorted(draw(st.sets(st.integers(1, units - 1), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, units]
    return [Decimal(b - a).scaleb(-t.MONEY_SCALE) for a, b in pairwise(bounds)]


@settings(max_examples=60)
@given(price=amounts(digits=6).map(abs))
def test_a_unit_price_in_yaml_is_exactly_what_it_says(price: Decimal) -> None:
    text = (
        "pricing:\n  overrides:\n    - {name: n, provider: openai, model: gpt-4.1, "
        f"unit_prices: {{input: {price:f}}}}}\n"
    )
    [override] = parse_config(text).pricing.overrides
    assert override.unit_prices == {"input": price}


@settings(max_examples=60)
@given(percents=shares())
def test_fixed_shares_in_yaml_that_sum_to_100_are_exactly_those(percents: list[Decimal]) -> None:
    listed = ", ".join(f"u{i}: {share:f}" for i, share in enumerate(percents))
    rule = parse_config(
        f"rules:\n  - {{name: f, match: \"ResourceId = 'x'\", method: fixed, "
        f"shares: {{use_case: {{{listed}}}}}}}\n"
    ).rules[0]
    assert isinstance(rule, FixedRule)
    assert dict((target["use_case"], share) for target, share in rule.target_weights()) == {
        f"u{i}": share for i, share in enumerate(percents)
    }


def _as_parquet(csv_path: Path) -> Path:
    """The same bill as a provider's Parquet: money typed DECIMAL(38, 18), the rest text."""
    money = pa.decimal128(38, t.MONEY_SCALE)
    names = pacsv.read_csv(csv_path).column_names
    table = pacsv.read_csv(
        csv_path,
        convert_options=pacsv.ConvertOptions(
            column_types={n: money if n in COST_METRICS else pa.string() for n in names},
            null_values=[],
        ),
    )
    path = csv_path.with_suffix(".parquet")
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("form", ["csv", "parquet"])
@settings(max_examples=5)
@given(billed=st.lists(amounts(), min_size=1, max_size=4))
def test_billed_cost_through_a_reader_is_stored_and_summed_exactly(
    form: str, billed: list[Decimal], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("edge")
    try:
        rows = [
            {"BilledCost": f"{amount:f}", "ChargeDescription": str(i)}
            for i, amount in enumerate(billed)
        ]
        bill = write_focus(root / "bill.csv", rows)
        workspace = make_workspace(root / "ws")
        [result] = ingest(workspace, bill if form == "csv" else _as_parquet(bill))
        assert (result.rows, result.quarantined) == (len(billed), 0)
        lines = workspace.data.table(t.COST_LINES)
        stored = workspace.data.to_arrow(lines.order_by(t.ROW_NUMBER).select("BilledCost"))
        assert stored.column("BilledCost").to_pylist() == billed
        total = workspace.data.scalar(lines.BilledCost.sum())
        assert total == exact_sum(billed)
        workspace.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
