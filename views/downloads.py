"""Stored files (invoice PDFs, documents, forms) sent to the customer as attachments."""
import logging
import re
import unicodedata
from pathlib import Path

from flask import current_app, send_file
from werkzeug.security import safe_join

log = logging.getLogger("area_clienti.downloads")


def stored_file(relative_path):
    """The file at `relative_path` inside FILES_DIR, or None when the path is empty,
    leads outside FILES_DIR or names no file."""
    if not relative_path:
        return None
    full_path = safe_join(current_app.config["FILES_DIR"], relative_path)
    if full_path is None:
        # Paths come from the import, never from the request: one that escapes
        # FILES_DIR is a data error the back-office must see.
        log.error("stored path outside FILES_DIR refused: %r", relative_path)
        return None
    path = Path(full_path)
    if not path.is_file():
        log.warning("stored file missing on disk: %s", relative_path)
        return None
    return path


def download_name(stem, stored_path):
    """A server-chosen file name: `stem` in plain ASCII (accents dropped, anything
    else but letters, digits, `.`, `_` and `-` turned into `-`) plus the extension of
    the stored file."""
    ascii_stem = (unicodedata.normalize("NFKD", stem)
                  .encode("ascii", "ignore")
                  .decode("ascii"))
    safe_stem = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_stem).strip("-.")[:100]
    extension = Path(stored_path).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", extension):
        extension = ""
    return f"{safe_stem or 'documento'}{extension}"


def send_attachment(path, name):
    """The file as a download; the browser never renders it inline."""
    return send_file(path, as_attachment=True, download_name=name)
