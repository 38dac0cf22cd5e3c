"""Charts as inline SVG, drawn on the server by pygal: no script, font or stylesheet from
elsewhere. Amounts become floats here for drawing only; every figure a reader reads is in the
table beside the chart, exact and formatted like the statements."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pygal
from markupsafe import Markup
from pygal.style import Style

SVG = "http://www.w3.org/2000/svg"
_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#333",
    foreground_strong="#111",
    foreground_subtle="#ccc",
    font_family="system-ui, sans-serif",
    colors=("#2b6cb0", "#d69e2e", "#38a169", "#c53030", "#805ad5", "#319795", "#dd6b20", "#718096"),
    title_font_size=14,
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=11,
)


# characters XML 1.0 does not allow (control characters other than tab and newlines); a
# dimension value from a driver file may hold one, and the SVG must still parse
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(label: str) -> str:
    return _NOT_XML.sub("\ufffd", label)


def _config(title: str, height: int) -> pygal.Config:
    return pygal.Config(
        title=_text(title),
        style=_STYLE,
        js=[],  # pygal's tooltips load a script from its site: none here
        disable_xml_declaration=True,
        width=720,
        height=height,
        legend_at_bottom=True,
        truncate_label=40,
        print_values=False,
        show_y_guides=True,
        show_minor_y_labels=False,
        y_labels_major_count=5,
        value_formatter=lambda value: f"{value:,.0f}",
    )


def horizontal_bars(title: str, labels: Sequence[str], amounts: Sequence[Decimal]) -> Markup:
    """One bar per label: a breakdown of one currency's total."""
    chart = pygal.HorizontalBar(_config(title, 80 + 28 * max(len(labels), 1)), show_legend=False)
    chart.x_labels = [_text(label) for label in labels]
    chart.add(title, [float(amount) for amount in amounts])
    return _inline(chart, title)


def lines(
    title: str, x_labels: Sequence[str], series: Mapping[str, Sequence[Decimal | None]]
) -> Markup:
    """One line per series over the periods (None where a period has no figure)."""
    chart = pygal.Line(_config(title, 300), x_label_rotation=0, show_dots=True)
    chart.x_labels = [_text(label) for label in x_labels]
    for name, values in series.items():
        chart.add(_text(name), [None if v is None else float(v) for v in values])
    return _inline(chart, title)


def stacked_bars(
    title: str, x_labels: Sequence[str], series: Mapping[str, Sequence[Decimal | None]]
) -> Markup:
    chart = pygal.StackedBar(_config(title, 320))
    chart.x_labels = [_text(label) for label in x_labels]
    for name, values in series.items():
        chart.add(_text(name), [None if v is None else float(v) for v in values])
    return _inline(chart, title)


def portfolio(title: str, points: Mapping[str, Sequence[tuple[str, Decimal, Decimal]]]) -> Markup:
    """A scatter on log axes: x the total cost, y the cost per decision; one series per
    class, each point labelled with its use case. Only positive figures can sit on log axes."""
    chart = pygal.XY(_config(title, 420), logarithmic=True, stroke=False, dots_size=5)
    chart.x_title, chart.y_title = "total cost", "cost per decision"
    for name, members in points.items():
        chart.add(
            _text(name),
            [
                {"value": (float(total), float(per)), "label": _text(label)}
                for label, total, per in members
                if total > 0 and per > 0
            ],
        )
    return _inline(chart, title)


def _inline(chart: pygal.graph.graph.Graph, title: str) -> Markup:
    """The SVG without the script pygal puts in it (its tooltip settings, which would carry
    labels, cost centre names included, into a script): parsed as the XML it is, so nothing a
    label holds can survive as markup."""
    ET.register_namespace("", SVG)
    root = ET.fromstring(chart.render(is_unicode=True))  # noqa: S314 - pygal's output, ours
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in (f"{{{SVG}}}script", "script"):
                parent.remove(child)
    root.set("role", "img")
    root.set("aria-label", _text(title))
    return Markup(ET.tostring(root, encoding="unicode"))  # noqa: S704 - serialised by ElementTree
