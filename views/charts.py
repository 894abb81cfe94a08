"""plotly.js for every chart of the portal: the basic bundle vendored under static/js
(never from a CDN), gzipped once, cached for a year."""
import gzip
import threading
from pathlib import Path

from flask import Blueprint, abort, current_app, make_response, request, url_for

from portal import charts

bp = Blueprint("charts", __name__)

_plotly_lock = threading.Lock()
_plotly_bundle = {}


def plotly_path():
    """The vendored plotly.js basic bundle (bar, scatter and pie traces: what the charts
    draw) of the plotly.js version the Python package writes figures for."""
    return Path(current_app.static_folder) / "js" / f"plotly-basic-{charts.PLOTLY_JS_VERSION}.min.js"


def plotly_bundle():
    """The basic bundle, plain and gzipped, read and compressed once per process
    (1.2 MB -> 0.4 MB; the full bundle of the Python package was 4.8 -> 1.5 MB)."""
    with _plotly_lock:
        if not _plotly_bundle:
            plain = plotly_path().read_bytes()
            _plotly_bundle.update(plain=plain, gzip=gzip.compress(plain, 6, mtime=0))
    return _plotly_bundle


@bp.app_template_global()
def plotly_js_url():
    """The versioned URL of plotly.js: a new plotly release gets a new URL, so the
    browser may keep the file for a year."""
    return url_for("charts.plotly_js", version=charts.PLOTLY_JS_VERSION)


@bp.get("/grafici/plotly-<version>.min.js")
def plotly_js(version):
    """plotly.js basic: long cache lifetime, gzip when accepted."""
    if version != charts.PLOTLY_JS_VERSION:
        abort(404)
    bundle = plotly_bundle()
    compressed = request.accept_encodings["gzip"] > 0
    response = make_response(bundle["gzip"] if compressed else bundle["plain"])
    response.content_type = "text/javascript; charset=utf-8"
    if compressed:
        response.content_encoding = "gzip"
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.vary.add("Accept-Encoding")
    response.set_etag(f"plotly-{version}-{'gzip' if compressed else 'plain'}")
    return response.make_conditional(request)
