"""plotly.js for every chart of the portal, served from the installed plotly package
(never from a CDN)."""
import gzip
import importlib.resources
import threading

from flask import Blueprint, abort, make_response, request, url_for

from portal import charts

bp = Blueprint("charts", __name__)

_plotly_lock = threading.Lock()
_plotly_bundle = {}


def plotly_bundle():
    """plotly.min.js of the installed plotly package, plain and gzipped, read and
    compressed once per process (4.8 MB -> 1.5 MB)."""
    with _plotly_lock:
        if not _plotly_bundle:
            source = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
            plain = source.read_bytes()
            _plotly_bundle.update(plain=plain, gzip=gzip.compress(plain, 6, mtime=0))
    return _plotly_bundle


@bp.app_template_global()
def plotly_js_url():
    """The versioned URL of plotly.js: a new plotly release gets a new URL, so the
    browser may keep the file for a year."""
    return url_for("charts.plotly_js", version=charts.PLOTLY_JS_VERSION)


@bp.get("/grafici/plotly-<version>.min.js")
def plotly_js(version):
    """plotly.js from the installed package: long cache lifetime, gzip when accepted."""
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
