"""Stored files sent as downloads: invoice PDFs, documents, forms and ticket
attachments, each named by the server, meter photos shown in the page, or a clear 404
page when the file is gone."""
import logging
import re
import unicodedata
from pathlib import Path

from flask import current_app, send_file
from flask_babel import lazy_gettext as _l
from werkzeug.security import safe_join

from portal import attachments
from views.errors import render_error

log = logging.getLogger("area_clienti.downloads")

FILE_MISSING = _l("Questo documento non è al momento disponibile: contatta il servizio "
                  "clienti.")
ATTACHMENT_MISSING = _l("Il file allegato non è più disponibile. Se ti serve, contatta il "
                        "servizio clienti.")


def stored_file(relative_path):
    """The file at `relative_path` inside FILES_DIR, or None when the path is empty,
    leads outside FILES_DIR or names no file."""
    if not relative_path:
        return None
    full_path = safe_join(current_app.config["FILES_DIR"], relative_path)
    if full_path is None:
        # Paths come from the import or the upload, never from the request: one that
        # escapes FILES_DIR is a data error the back-office must see.
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


def send_stored(relative_path, stem, missing=FILE_MISSING):
    """The stored file as a download named `stem` (plus its extension); the browser
    never renders it inline. A file that is not there gets the 404 page `missing`."""
    path = stored_file(relative_path)
    if path is None:
        return render_error(404, missing)
    return send_file(path, as_attachment=True, download_name=download_name(stem, relative_path))


def send_ticket_attachment(message):
    """A ticket message's attachment, with the type checked at upload and its
    sanitised name."""
    path = stored_file(message.attachment_path)
    if path is None:
        return render_error(404, ATTACHMENT_MISSING)
    content_type = (message.attachment_type if message.attachment_type in attachments.CONTENT_TYPES
                    else "application/octet-stream")
    return send_file(path, mimetype=content_type, as_attachment=True,
                     download_name=message.attachment_name or "allegato", max_age=0)


PHOTO_MISSING = _l("La foto del contatore non è più disponibile.")


def send_meter_photo(reading):
    """A self-reading's meter photo, inline: the portal wrote the file itself (shrunk
    and encoded again as JPEG or PNG), so its type is known from its extension."""
    path = stored_file(reading.photo_path)
    if path is None:
        return render_error(404, PHOTO_MISSING)
    content_type = "image/png" if path.suffix == ".png" else "image/jpeg"
    return send_file(path, mimetype=content_type, as_attachment=False,
                     download_name=download_name(f"contatore-{reading.reading_date}",
                                                 reading.photo_path), max_age=0)
