"""The error pages: one page in the customer's language (or, for htmx, a message in the
flash area) for every HTTP error, CSRF failure, unavailable database and unexpected
exception."""
import logging
import uuid

import peewee
from flask import Blueprint, current_app, g, make_response, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from jinja2_fragments.flask import render_block
from werkzeug.exceptions import HTTPException

import models
from views import is_htmx

bp = Blueprint("errors", __name__)
log = logging.getLogger("area_clienti")

TITLES = {
    400: _l("Richiesta non valida"),
    403: _l("Accesso negato"),
    404: _l("Pagina non trovata"),
    405: _l("Operazione non consentita"),
    413: _l("File troppo grande"),
    422: _l("Dati non validi"),
    429: _l("Troppi tentativi"),
    500: _l("Errore del servizio"),
    503: _l("Servizio momentaneamente non disponibile"),
}

MESSAGES = {
    400: _l("La richiesta non è valida."),
    403: _l("Non hai accesso a questa pagina."),
    404: _l("La pagina o il documento richiesto non esiste."),
    405: _l("Questa operazione non è consentita."),
    413: _l("Il file o i dati inviati superano la dimensione massima consentita (5 MB)."),
    429: _l("Troppi tentativi in poco tempo. Attendi qualche minuto e riprova."),
    500: _l("Si è verificato un errore imprevisto. Riprova tra qualche minuto; se il problema "
            "persiste contatta il servizio clienti indicando il codice dell'incidente."),
    503: _l("Non è stato possibile salvare i dati: l'operazione non è stata registrata. "
            "Riprova tra qualche minuto; se il problema persiste contatta il servizio clienti "
            "indicando il codice dell'incidente."),
}

PAGE_EXPIRED = _l("La pagina è scaduta o la sessione è cambiata: ricarica la pagina e riprova.")


def _into_flash(response):
    """Errors of an htmx request belong in the flash area, not inside whatever the
    request targeted."""
    if is_htmx():
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def render_error(status, message=None, incident=None):
    """The error page (a small fragment for htmx requests), in the page's language."""
    context = dict(status=status, title=TITLES.get(status, _("Errore")),
                   message=message or MESSAGES.get(status, _("Si è verificato un errore.")),
                   incident=incident)
    if is_htmx():
        return _into_flash(make_response(render_block("error.html", "content", **context), status))
    return render_template("error.html", **context), status


@bp.app_errorhandler(CSRFError)
def csrf_error(error):
    """A missing or stale CSRF token: the form must be loaded again."""
    return render_error(400, PAGE_EXPIRED)


@bp.app_errorhandler(HTTPException)
def http_error(error):
    """Every HTTP error (404, 405, 413, 429 ...) as the portal's page."""
    return render_error(error.code)


@bp.app_errorhandler(peewee.OperationalError)
def database_unavailable(error):
    """A full disk, an I/O error or a database that stayed locked: nothing was saved,
    and the customer is told so. The page asks nothing of the database (not even who
    is logged in): it may be the very thing that is down."""
    incident = uuid.uuid4().hex[:12]
    log.error("incident %s: database unavailable on %s %s: %s", incident,
              request.method, request.path, error)
    return _nothing_saved_page(incident)


def _nothing_saved_page(incident):
    """The 503 page of a write that could not be saved."""
    g.database_down = True
    try:
        models.db.manual_close()  # never back to the pool: it may be broken
    except peewee.PeeweeException:
        pass  # closing a broken connection may fail too; it is dropped either way
    # Straight from the Jinja environment: Flask's context processors would load the
    # logged-in user from the database.
    page = current_app.jinja_env.get_template("error_database.html").render(
        config=current_app.config, url_for=url_for, incident=incident,
        current_language=get_locale().language,
        message=MESSAGES[503], title=TITLES[503])
    return _into_flash(make_response(page, 503))


@bp.app_errorhandler(OSError)
def disk_error(error):
    """A full disk while storing a file (an upload, an export) is the same bad day as
    a full database: nothing was saved, the customer is told so. Other OS errors
    are unexpected."""
    if not models.is_disk_full(error):
        return unexpected_error(error)
    incident = uuid.uuid4().hex[:12]
    log.error("incident %s: no space left on %s %s: %s", incident, request.method,
              request.path, error)
    return _nothing_saved_page(incident)


@bp.app_errorhandler(Exception)
def unexpected_error(error):
    """Anything else: a 500 page with an incident id that the log records too."""
    incident = uuid.uuid4().hex[:12]
    log.exception("incident %s on %s %s", incident, request.method, request.path)
    return render_error(500, incident=incident)
