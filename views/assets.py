"""Static files and compression: URLs carrying the content's hash (cached for a year),
and gzip of text answers for clients that take it, when no proxy does it."""
import gzip
import threading
import zlib
from pathlib import Path

from flask import current_app, request, url_for

from portal import assets

# What is worth compressing: text. Images, PDFs and archives are compressed already.
COMPRESSIBLE = {"text/html", "text/css", "text/javascript", "application/javascript",
                "application/json", "text/csv", "image/svg+xml"}
# Below this a gzip header and trailer cost more than they save.
MINIMUM_SIZE = 500
LONG_LIFETIME = "public, max-age=31536000, immutable"

_lock = threading.Lock()
_hashes = {}         # static file name -> (mtime_ns, size, hash)
_gzipped_files = {}  # (static file name, ETag) -> gzipped body
_urls = {}           # (script root, static file name, hash) -> URL


def init_app(app):
    """Register the template global and the response hook. Called before the other
    hooks, so that it runs after them and compresses the final body."""
    app.add_template_global(static_url)
    app.after_request(_finish_response)


def file_version(filename):
    """The content hash of a static file, worked out again only when it changes."""
    path = Path(current_app.static_folder) / filename
    stat = path.stat()
    with _lock:
        known = _hashes.get(filename)
        if known and known[:2] == (stat.st_mtime_ns, stat.st_size):
            return known[2]
    version = assets.content_hash(path)
    with _lock:
        _hashes[filename] = (stat.st_mtime_ns, stat.st_size, version)
    return version


def static_url(filename):
    """The URL of a static file with its version: a new content is a new URL, so the
    browser may keep each one for a year."""
    key = (request.script_root, filename, file_version(filename))
    url = _urls.get(key)
    if url is None:
        url = _urls[key] = url_for("static", filename=filename, v=key[2])
    return url


def _finish_response(response):
    if request.endpoint == "static":
        _cache_static_file(response)
    if current_app.config["COMPRESS_RESPONSES"] and response.mimetype in COMPRESSIBLE:
        response.vary.add("Accept-Encoding")
        if (request.accept_encodings["gzip"] > 0 and response.status_code == 200
                and "Content-Encoding" not in response.headers
                and "Content-Range" not in response.headers):
            _compress(response)
    return response


def _cache_static_file(response):
    """A year for the URL of the current version; a stale or missing version is
    revalidated every time (the old URL of a page still open after a deploy)."""
    version = request.args.get("v")
    filename = request.view_args.get("filename", "")
    try:
        current = version is not None and version == file_version(filename)
    except OSError:
        current = False
    response.headers["Cache-Control"] = LONG_LIFETIME if current else "no-cache"


def _compress(response):
    if response.is_streamed and request.endpoint != "static":
        # A streamed answer (the CSV exports) is compressed as it goes.
        original = response.response
        response.response = _gzip_stream(original)
        response.call_on_close(getattr(original, "close", lambda: None))
        response.headers.pop("Content-Length", None)
        response.content_encoding = "gzip"
        return
    etag, _ = response.get_etag()
    response.direct_passthrough = False  # static files come as a file wrapper
    body = response.get_data()
    if len(body) < MINIMUM_SIZE:
        return
    if etag and request.endpoint == "static":
        key = (request.view_args.get("filename"), etag)
        with _lock:
            compressed = _gzipped_files.get(key)
        if compressed is None:
            compressed = gzip.compress(body, 6, mtime=0)
            with _lock:
                _gzipped_files[key] = compressed
    else:
        compressed = gzip.compress(body, 6, mtime=0)
    response.set_data(compressed)
    response.content_encoding = "gzip"
    if etag:
        # Another body than the plain one: a weak tag, still matched by If-None-Match.
        response.set_etag(etag, weak=True)


def _gzip_stream(chunks):
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip format
    for chunk in chunks:
        data = compressor.compress(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
        if data:
            yield data
    yield compressor.flush()
