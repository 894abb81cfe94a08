"""What the Plotly figures of both areas share: look, colours, JSON for plotly.js."""
import copy
import functools
import json

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs_version

from portal.formatting import page_language
from portal.timebands import F1, F2, F3

PLOTLY_JS_VERSION = get_plotlyjs_version()

FONT = "Segoe UI, Helvetica Neue, Arial, sans-serif"
GRID = "#e3e8ec"
TEXT = "#1f2933"
GAP_COLOUR = "rgba(95, 107, 118, 0.16)"
PREVIOUS_COLOUR = "#5f6b76"
POWER_COLOUR = "#073f53"
# F3 in the brand blue, F2 in the brand amber, F1 (the dearest hours) in red.
BAND_COLOURS = {F1: "#c0392b", F2: "#f2a900", F3: "#0b5d7a"}


@functools.cache
def _none_template():
    """Plotly's "none" template as plotly.py sends it to plotly.js."""
    return json.loads(go.Figure(layout=dict(template="none")).to_json())["layout"]["template"]


def figure_json(figure):
    """A figure (a dict of plain values) as the JSON plotly.js reads."""
    return json.dumps(figure, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def base_layout(**extra):
    """Shared look: the page's separators (1.234,5 in Italian, 1,234.5 in English), no
    Plotly template, a horizontal legend above the plot that wraps on a phone."""
    layout = dict(
        template=copy.deepcopy(_none_template()),
        separators=",." if page_language() == "it" else ".,",
        font=dict(family=FONT, size=13, color=TEXT),
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        margin=dict(l=56, r=16, t=16, b=40),
        legend=dict(orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom",
                    font=dict(size=12), traceorder="normal"),
        hoverlabel=dict(bgcolor="#ffffff", bordercolor="#d7dee4", font=dict(color=TEXT)),
        hovermode="closest",
    )
    layout.update(extra)
    return layout
