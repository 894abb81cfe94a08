"""Prelievi Fatturati: billed consumption by period and year, its figure and its CSV."""
import calendar
import copy
import datetime
import functools
from dataclasses import dataclass

import plotly.graph_objects as go
from flask_babel import gettext as _
from plotly.subplots import make_subplots

from portal.charts import BAND_COLOURS, GRID, POWER_COLOUR, PREVIOUS_COLOUR, base_layout
from portal.formatting import (CSV_BOM, csv_cell, csv_line, csv_number, date_it, local_date,
                               local_number, month_name, page_language)
from portal.timebands import BANDS, F3


@dataclass
class BilledPeriod:
    start: datetime.date
    end: datetime.date
    f1: float
    f2: float
    f3: float
    total: float
    max_power: float
    label: str = ""
    previous_total: float = None   # the same months of the previous year
    reading_kind: str = None       # "letta", "autolettura", "stimata" or None (not said)

    @property
    def dates(self):
        return f"{local_date(self.start)} – {local_date(self.end)}"

    @property
    def is_estimated(self):
        return self.reading_kind == "stimata"

    @property
    def reading_kind_label(self):
        """Letta / Autolettura / Stimata in the page's language, "" when not said."""
        return reading_kind_label(self.reading_kind)


def reading_kind_label(kind):
    labels = {"letta": _("Letta"), "autolettura": _("Autolettura"), "stimata": _("Stimata")}
    return labels.get(kind, "")


@dataclass
class BilledYear:
    year: int
    unit: str
    periods: list
    has_bands: bool
    has_power: bool
    decimals: int

    @property
    def total(self):
        return sum(period.total for period in self.periods)

    def band_total(self, band):
        values = [getattr(period, band.lower()) for period in self.periods]
        values = [value for value in values if value is not None]
        return sum(values) if values else None

    @property
    def has_reading_kinds(self):
        """The billing system said what at least one period rests on."""
        return any(period.reading_kind for period in self.periods)

    @property
    def has_estimates(self):
        return any(period.is_estimated for period in self.periods)

    @property
    def max_power(self):
        values = [period.max_power for period in self.periods if period.max_power is not None]
        return max(values) if values else None

    @property
    def compared(self):
        """(this year, previous year) over the periods that have both, or None."""
        pairs = [(period.total, period.previous_total) for period in self.periods
                 if period.previous_total is not None]
        if not pairs:
            return None
        return sum(pair[0] for pair in pairs), sum(pair[1] for pair in pairs)

    @property
    def change(self):
        """Percentage change against the same months of the previous year."""
        compared = self.compared
        if not compared or not compared[1]:
            return None
        return (compared[0] - compared[1]) / compared[1] * 100

    @property
    def change_label(self):
        """'+2,3 %', '-0,8 %' or '0,0 %' (no sign on what rounds to zero); in English
        '+2.3 %'."""
        change = self.change
        if change is None:
            return ""
        text = local_number(abs(change), 1)
        if text == local_number(0, 1):
            return f"{text} %"
        return f"{'+' if change > 0 else '-'}{text} %"


def period_label(start, end):
    """'gen' for a calendar month, 'gen–feb' for whole months, else '15/01–14/02'
    (in English 'Jan', 'Jan–Feb', '15 Jan–14 Feb')."""
    whole_months = (start.day == 1 and start.year == end.year and start <= end
                    and end.day == calendar.monthrange(end.year, end.month)[1])
    if whole_months:
        if start.month == end.month:
            return month_name(start.month, short=True)
        return f"{month_name(start.month, short=True)}–{month_name(end.month, short=True)}"
    return f"{day_and_month(start)}–{day_and_month(end)}"


def day_and_month(day):
    """'15/01', in English '15 Jan' (01/15 and 15/01 each mislead somebody)."""
    if page_language() == "it":
        return f"{day:%d/%m}"
    return f"{day.day} {month_name(day.month, short=True)}"


def billed_years(rows):
    """The years with billed consumption, newest first. `rows` are
    (period_start, ...) tuples."""
    return sorted({row[0].year for row in rows}, reverse=True)


def billed_year(rows, year):
    """The periods of `year` (by start date) with, for each, the same months of the
    previous year. `rows`: (period_start, period_end, f1, f2, f3, total, max_power, unit
    [, reading_kind]) sorted by period_start."""
    current = [row for row in rows if row[0].year == year]
    previous = [row for row in rows if row[0].year == year - 1]
    used = set()
    periods = []
    for start, end, f1, f2, f3, total, max_power, unit, *kind in current:
        last_month = end.month if end.year == start.year else 12
        matched = [index for index, row in enumerate(previous)
                   if index not in used and start.month <= row[0].month <= last_month]
        used.update(matched)
        periods.append(BilledPeriod(
            start=start, end=end, f1=f1, f2=f2, f3=f3, total=total, max_power=max_power,
            reading_kind=kind[0] if kind else None,
            previous_total=sum(previous[index][5] for index in matched) if matched else None))
    labels = [period_label(period.start, period.end) for period in periods]
    if len(set(labels)) < len(labels):
        labels = [f"{day_and_month(period.start)}–{day_and_month(period.end)}"
                  for period in periods]
    for period, label in zip(periods, labels):
        period.label = label
    numbers = [value for period in periods
               for value in (period.f1, period.f2, period.f3, period.total, period.previous_total)
               if value is not None]
    return BilledYear(
        year=year, unit=current[0][7] if current else "kWh", periods=periods,
        has_bands=any(period.f1 is not None or period.f2 is not None or period.f3 is not None
                      for period in periods),
        has_power=any(period.max_power is not None for period in periods),
        decimals=0 if all(float(value).is_integer() for value in numbers) else 1)


@functools.cache
def _subplot_axes(rows):
    """The axes make_subplots lays out for `rows` charts stacked on one x axis (the
    power chart below the energy one), worked out once per process."""
    if rows == 2:
        figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                               row_heights=[0.68, 0.32])
    else:
        figure = make_subplots(rows=1, cols=1)
    layout = figure.to_plotly_json()["layout"]
    return {name: value for name, value in layout.items() if name[1:5] == "axis"}


def consumption_figure_data(billed):
    """Energy per billing period (stacked by band for electricity) with the same months
    of the previous year as a dashed line; below it, the maximum power. A plain dict,
    the JSON plotly.py would send (see measurements.measurement_figure_data)."""
    unit = billed.unit
    decimals = billed.decimals
    labels = [period.label for period in billed.periods]
    dates = [period.dates for period in billed.periods]
    energy_axes = dict(xaxis="x", yaxis="y")
    energy_hover = (f"<b>%{{x}}</b> (%{{customdata}})<br>%{{fullData.name}}: "
                    f"%{{y:,.{decimals}f}} {unit}<extra></extra>")
    traces = []
    if billed.has_bands:
        for band in BANDS:
            traces.append(dict(
                type="bar", name=band, x=labels,
                y=[getattr(period, band.lower()) for period in billed.periods],
                customdata=dates, marker=dict(color=BAND_COLOURS[band]),
                hovertemplate=energy_hover, **energy_axes))
    else:
        traces.append(dict(
            type="bar", name=_("Energia %(year)s", year=billed.year), x=labels,
            y=[period.total for period in billed.periods], customdata=dates,
            marker=dict(color=BAND_COLOURS[F3]), hovertemplate=energy_hover, **energy_axes))
    if any(period.previous_total is not None for period in billed.periods):
        traces.append(dict(
            type="scatter", name=_("%(year)s (stessi mesi)", year=billed.year - 1), x=labels,
            y=[period.previous_total for period in billed.periods],
            mode="lines+markers", connectgaps=False,
            line=dict(color=PREVIOUS_COLOUR, dash="dash", width=2),
            marker=dict(size=7, color=PREVIOUS_COLOUR),
            hovertemplate=(f"<b>%{{x}} {billed.year - 1}</b><br>" + _("Totale")
                           + f": %{{y:,.{decimals}f}} {unit}<extra></extra>"), **energy_axes))
    if billed.has_estimates:
        _mark_estimates(traces, billed, labels, energy_axes)
    axes = copy.deepcopy(_subplot_axes(2 if billed.has_power else 1))
    if billed.has_power:
        traces.append(dict(
            type="scatter", name=_("Potenza massima"), x=labels,
            y=[period.max_power for period in billed.periods],
            customdata=dates, mode="lines+markers", connectgaps=False,
            line=dict(color=POWER_COLOUR, width=2), marker=dict(size=7, color=POWER_COLOUR),
            hovertemplate=("<b>%{x}</b> (%{customdata})<br>" + _("Potenza massima")
                           + ": %{y:,.1f} kW<extra></extra>"),
            xaxis="x2", yaxis="y2"))
        axes["yaxis2"].update(title=dict(text="kW"), rangemode="tozero", gridcolor=GRID)
    axes["yaxis"].update(title=dict(text=unit), rangemode="tozero", gridcolor=GRID)
    for name, axis in axes.items():
        if name.startswith("y"):
            axis["separatethousands"] = True
        else:
            axis.update(type="category", showgrid=False, linecolor="#aab6c2", showline=True)
    return dict(data=traces, layout=base_layout(barmode="stack", bargap=0.25, **axes))


# Hatching, not colour alone, says "estimated": it survives grey print and colour
# blindness, and the legend entry below names it.
ESTIMATE_PATTERN = "/"
ESTIMATE_KEY_COLOUR = "#5f6b76"


def _mark_estimates(traces, billed, labels, energy_axes):
    """Hatch the bars of the estimated periods and add a legend entry for the hatching
    (zero-height bars on those periods: the key shows, the stack does not change)."""
    shapes = [ESTIMATE_PATTERN if period.is_estimated else "" for period in billed.periods]
    for trace in traces:
        if trace["type"] == "bar":
            # plotly.js draws no background under the hatching unless told its colour.
            trace["marker"]["pattern"] = _hatching(shapes, trace["marker"]["color"])
    estimated = [label for label, period in zip(labels, billed.periods) if period.is_estimated]
    traces.append(dict(
        type="bar", name=_("Periodo con lettura stimata"), x=estimated, y=[0] * len(estimated),
        marker=dict(color=ESTIMATE_KEY_COLOUR,
                    pattern=_hatching(ESTIMATE_PATTERN, ESTIMATE_KEY_COLOUR)),
        hoverinfo="skip", showlegend=True, **energy_axes))


def _hatching(shape, colour):
    """White diagonal lines on the bar's own colour."""
    return dict(shape=shape, bgcolor=colour, fgcolor="#ffffff", fgopacity=0.9, size=7,
                solidity=0.35)


def consumption_figure(billed):
    """consumption_figure_data as a plotly Figure (validated: for tests and tools)."""
    return go.Figure(consumption_figure_data(billed))


def consumption_csv(billed):
    """The CSV of a year of billed periods (one row per period)."""
    unit = billed.unit
    header = ["Dal", "Al"]
    if billed.has_bands:
        header += [f"Energia {band} ({unit})" for band in BANDS]
    header += [f"Energia totale ({unit})", "Potenza massima (kW)"]
    if billed.has_reading_kinds:
        header.append("Lettura")
    yield CSV_BOM + csv_line(csv_cell(name) for name in header)
    for period in billed.periods:
        cells = [date_it(period.start), date_it(period.end)]
        if billed.has_bands:
            cells += [csv_number(period.f1), csv_number(period.f2), csv_number(period.f3)]
        cells += [csv_number(period.total), csv_number(period.max_power)]
        if billed.has_reading_kinds:
            # Italian, like the header: the file is the same whatever the page's language.
            cells.append(csv_cell((period.reading_kind or "").capitalize()))
        yield csv_line(cells)
