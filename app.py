"""Application factory of Area Clienti."""
import copy
import datetime
import logging
import os
import secrets
import time
import uuid
from pathlib import Path

from dotenv import load_dotenv
from flask import Flask, g, make_response, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2_fragments.flask import render_block
import peewee
from werkzeug.routing import IntegerConverter

from portal import formatting
import models
import views
from views import htmx_redirect

csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
log = logging.getLogger("area_clienti")

IDLE_TIMEOUT = datetime.timedelta(minutes=30)
# How stale the session's "last seen" may get before a response rewrites the cookie:
# re-signing and re-sending it on every page view costs CPU and bytes for nothing.
# An idle session so ends between 29 and 30 minutes after its last request.
SEEN_RESOLUTION = 60
ABSOLUTE_TIMEOUT = datetime.timedelta(hours=12)

# Environment variables read into the configuration, with their types.
ENVIRONMENT = {
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "BASE_URL": str,
    "FILES_DIR": str,
    "OUTBOX_DIR": str,
    "EXPORT_DIR": str,
    "MAIL_SERVER": str,
    "MAIL_PORT": int,
    "MAIL_USERNAME": str,
    "MAIL_PASSWORD": str,
    "MAIL_USE_TLS": bool,
    "MAIL_USE_SSL": bool,
    "MAIL_DEFAULT_SENDER": str,
    "MAIL_TIMEOUT": int,
    "COMPANY_NAME": str,
    "COMPANY_ADDRESS": str,
    "COMPANY_PHONE": str,
    "COMPANY_EMAIL": str,
    "COMPANY_WEBSITE": str,
    "PRODUCTION": bool,
    "RATELIMIT_STORAGE_URI": str,
    "ACQUISITION_INTERVAL": int,
    "ACQUISITION_TICK_SECONDS": int,
    "READINGS_POLL_SECONDS": int,
    "AUDIT_RETENTION_DAYS": int,
    "MAIL_RETENTION_DAYS": int,
    "EXPORT_RETENTION_DAYS": int,
    "TICKET_NOTIFY_EMAIL": str,
}


class PortalSessionInterface(SecureCookieSessionInterface):
    """The cookie is sent only when the session's values changed: writing a value the
    session already holds (the same supply point, `permanent` again) costs no new
    signature and no Set-Cookie.

    Responses anyone may cache (plotly.js) never set or vary on the session cookie.
    Nor do static files: one still loading with the cookie of the previous page would
    put back the session that page's successor has just changed (the supply point)."""

    def open_session(self, app, request):
        session = super().open_session(app, request)
        if session is not None:
            # A deep copy: flash() appends to the list the session already holds.
            session.loaded = copy.deepcopy(dict(session))
        return session

    def save_session(self, app, session, response):
        if (request.endpoint == "static"
                or response.headers.get("Cache-Control", "").startswith("public")):
            return
        if session.modified and dict(session) == getattr(session, "loaded", None):
            session.modified = False
        super().save_session(app, session, response)


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` with the bound of a 64-bit integer column."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**63 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _from_environment(name, kind):
    value = os.environ[name]
    if kind is bool:
        return value.strip().lower() in ("1", "true", "yes", "on")
    return kind(value)


def _secret_key(app):
    """SECRET_KEY from the configuration; in development one generated once and kept
    under instance/; in production its absence is an error."""
    if app.config.get("SECRET_KEY"):
        return app.config["SECRET_KEY"]
    if app.config["PRODUCTION"]:
        raise RuntimeError("SECRET_KEY must be set when PRODUCTION=1.")
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        # Several workers may start at once: each writes a candidate and links it into
        # place; the first link wins and every worker reads that one key.
        candidate = key_file.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        candidate.write_text(secrets.token_hex(32))
        candidate.chmod(0o600)
        try:
            os.link(candidate, key_file)
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return key_file.read_text().strip()


def create_app(test_config=None):
    """Create and configure the portal."""
    app = Flask(__name__, instance_relative_config=True)
    # Ids in URLs fit a 64-bit integer column: a larger one is a 404, not an overflow.
    app.url_map.converters["int"] = DatabaseIdConverter
    app.session_interface = PortalSessionInterface()
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if test_config is None:
        load_dotenv(Path(app.root_path) / ".env")

    app.config.from_mapping(
        SECRET_KEY=None,
        PRODUCTION=False,
        DATABASE_URL=f"sqlite:///{instance / 'portal.db'}",
        BASE_URL="http://127.0.0.1:5000",
        FILES_DIR=str(instance / "files"),
        OUTBOX_DIR=str(instance / "outbox"),
        EXPORT_DIR=str(instance / "exports"),
        MAIL_SERVER="",
        MAIL_PORT=25,
        MAIL_USERNAME="",
        MAIL_PASSWORD="",
        MAIL_USE_TLS=False,
        MAIL_USE_SSL=False,
        MAIL_DEFAULT_SENDER="Area Clienti <noreply@example.it>",
        MAIL_TIMEOUT=10,
        COMPANY_NAME="Energia Colline Toscane S.p.A.",
        COMPANY_ADDRESS="Via Roma 1 - 57014 Collesalvetti (LI)",
        COMPANY_PHONE="0586 000000",
        COMPANY_EMAIL="clienti@example.it",
        COMPANY_WEBSITE="https://www.example.it",
        RATELIMIT_STORAGE_URI="memory://",
        # Minutes between automatic acquisitions of self-readings; 0 turns them off.
        ACQUISITION_INTERVAL=30,
        # Seconds between the schedule's checks whether a run is due (in every worker).
        ACQUISITION_TICK_SECONDS=60,
        # Seconds between refreshes of a self-reading list that shows pending rows.
        READINGS_POLL_SECONDS=60,
        # Retention (flask retention): security events two years (the Garante asks at
        # least six months for access logs), mail records and export files one year.
        AUDIT_RETENTION_DAYS=730,
        MAIL_RETENTION_DAYS=365,
        EXPORT_RETENTION_DAYS=365,
        # Mailbox told about every new ticket.
        TICKET_NOTIFY_EMAIL="clienti@example.it",
        RATELIMIT_HEADERS_ENABLED=False,
        # Ticket attachments are up to 5 MB; anything larger is refused with 413.
        MAX_CONTENT_LENGTH=6 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=None,  # None: decided by BASE_URL below
        SESSION_COOKIE_NAME=None,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=IDLE_TIMEOUT,
        # The cookie is rewritten when the session changes (see SEEN_RESOLUTION).
        SESSION_REFRESH_EACH_REQUEST=False,
        REMEMBER_COOKIE_DURATION=datetime.timedelta(0),
        WTF_CSRF_TIME_LIMIT=3600,
        TEMPLATES_AUTO_RELOAD=False,
    )
    for name, kind in ENVIRONMENT.items():
        if name in os.environ:
            app.config[name] = _from_environment(name, kind)
    if test_config is not None:
        app.config.from_mapping(test_config)

    app.config["SECRET_KEY"] = _secret_key(app)
    # Behind TLS (an https BASE_URL) the cookie is locked to this host and to https.
    secure = app.config["BASE_URL"].startswith("https://")
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = secure
    if app.config["SESSION_COOKIE_NAME"] is None:
        app.config["SESSION_COOKIE_NAME"] = "__Host-session" if secure else "session"

    if not app.testing:
        # The one logging setup: a line per event on stderr (a no-op where the server
        # configured logging already), and the portal's own INFO lines (acquisition
        # runs, incidents) whatever the root level.
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if log.level == logging.NOTSET:
            log.setLevel(logging.INFO)
    models.db.initialize(models.open_database(app.config["DATABASE_URL"]))

    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Accedi per continuare."
    login_manager.session_protection = None  # the session version does this job
    formatting.init_app(app)
    # The form-field macro as a global: a block rendered alone (an htmx fragment) does
    # not run the template's top-level `{% from ... import %}` lines.
    app.jinja_env.globals["field"] = _form_field

    app.context_processor(views.portal_context)
    _register_request_hooks(app)
    _register_error_handlers(app)

    from views import (auth, consumption, documents, home, invoices, measurements, operator,
                       profile, readings, supply, tickets)
    for module in (auth, home, invoices, profile, supply, documents, readings, consumption,
                   measurements, tickets, operator):
        app.register_blueprint(module.bp)

    from portal import acquisition, cli
    cli.init_app(app)
    acquisition.init_app(app)
    return app


def _form_field(*args, **kwargs):
    from flask import current_app
    return current_app.jinja_env.get_template("_form.html").module.field(*args, **kwargs)


@login_manager.user_loader
def load_user(user_id):
    """Customer (`c:<id>:<session version>`) or operator (`o:...`) from the session id;
    a stale version (after logout or a password change) loads nobody."""
    kind, _, rest = user_id.partition(":")
    ident, _, version = rest.partition(":")
    model = {"c": models.Customer, "o": models.Operator}.get(kind)
    if model is None or not ident.isdigit() or not version.isdigit():
        return None
    if model is models.Customer:
        return models.Customer.for_session(int(ident), int(version))
    return (model
            .select()
            .where((model.id == int(ident)) & (model.session_version == int(version)))
            .first())


# Endpoints a customer who must change password may still reach.
_ALLOWED_BEFORE_PASSWORD_CHANGE = {"auth.change_password", "auth.logout", "static"}


def _register_request_hooks(app):
    @app.before_request
    def connect_database():
        models.db.connect(reuse_if_open=True)

    @app.teardown_request
    def close_database(exc):
        if not models.db.is_closed():
            models.db.close()

    @app.before_request
    def expire_idle_sessions():
        """End sessions idle for 30 minutes or older than 12 hours."""
        if not current_user.is_authenticated:
            return None
        now = time.time()
        seen = session.get("seen", 0)
        started = session.get("login_at", 0)
        if now - seen > IDLE_TIMEOUT.total_seconds() or now - started > ABSOLUTE_TIMEOUT.total_seconds():
            user = current_user._get_current_object()
            is_customer = isinstance(user, models.Customer)
            models.audit("session_expired", customer=user if is_customer else None,
                         operator=None if is_customer else user, ip=request.remote_addr)
            logout_user()
            session.clear()
            session["expired"] = True
            return htmx_redirect(url_for("auth.login" if is_customer else "operator.login"))
        if now - seen >= SEEN_RESOLUTION:
            session["seen"] = now
        session.permanent = True
        return None

    @app.before_request
    def force_password_change():
        """A temporary password allows nothing but choosing a new one."""
        if (current_user.is_authenticated
                and getattr(current_user, "must_change_password", False)
                and request.endpoint not in _ALLOWED_BEFORE_PASSWORD_CHANGE):
            return htmx_redirect(url_for("auth.change_password"))
        return None

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'"))
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["X-Frame-Options"] = "DENY"
        if request.is_secure or app.config.get("SESSION_COOKIE_SECURE"):
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if response.mimetype == "text/html":
            # The same URL answers with a page or a fragment: caches must keep both.
            response.vary.add("HX-Request")
        # Pages carry personal data and CSRF tokens: never stored. Only static files and
        # responses that chose a public lifetime (plotly.js) are cached.
        if request.endpoint != "static" and not headers.get("Cache-Control", "").startswith("public"):
            headers["Cache-Control"] = "no-store"
        return response


_ERROR_TITLES = {
    400: "Richiesta non valida",
    403: "Accesso negato",
    404: "Pagina non trovata",
    405: "Operazione non consentita",
    413: "File troppo grande",
    422: "Dati non validi",
    429: "Troppi tentativi",
    500: "Errore del servizio",
    503: "Servizio momentaneamente non disponibile",
}

_ERROR_MESSAGES = {
    400: "La richiesta non è valida.",
    403: "Non hai accesso a questa pagina.",
    404: "La pagina o il documento richiesto non esiste.",
    405: "Questa operazione non è consentita.",
    413: "Il file o i dati inviati superano la dimensione massima consentita (5 MB).",
    429: "Troppi tentativi in poco tempo. Attendi qualche minuto e riprova.",
    500: "Si è verificato un errore imprevisto. Riprova tra qualche minuto; se il problema "
         "persiste contatta il servizio clienti indicando il codice dell'incidente.",
    503: "Non è stato possibile salvare i dati: l'operazione non è stata registrata. "
         "Riprova tra qualche minuto; se il problema persiste contatta il servizio clienti "
         "indicando il codice dell'incidente.",
}


def render_error(status, message=None, incident=None):
    """The error page (a small fragment for htmx requests), always in Italian."""
    context = dict(status=status, title=_ERROR_TITLES.get(status, "Errore"),
                   message=message or _ERROR_MESSAGES.get(status, "Si è verificato un errore."),
                   incident=incident)
    if request.headers.get("HX-Request"):
        response = make_response(render_block("error.html", "content", **context), status)
        # Errors belong in the flash area, not inside whatever the request targeted.
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return render_template("error.html", **context), status


def _register_error_handlers(app):
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(400, "La pagina è scaduta o la sessione è cambiata: "
                                 "ricarica la pagina e riprova.")

    @app.errorhandler(HTTPException)
    def http_error(error):
        return render_error(error.code)

    @app.errorhandler(peewee.OperationalError)
    def database_unavailable(error):
        """A full disk, an I/O error or a database that stayed locked: nothing was saved,
        and the customer is told so. The page asks nothing of the database (not even
        who is logged in): it may be the very thing that is down."""
        incident = uuid.uuid4().hex[:12]
        log.error("incident %s: database unavailable on %s %s: %s", incident,
                  request.method, request.path, error)
        g.database_down = True
        try:
            models.db.manual_close()  # never back to the pool: it may be broken
        except peewee.PeeweeException:
            pass  # closing a broken connection may fail too; it is dropped either way
        # Straight from the Jinja environment: Flask's context processors would load the
        # logged-in user from the database.
        page = app.jinja_env.get_template("error_database.html").render(
            config=app.config, url_for=url_for, incident=incident,
            message=_ERROR_MESSAGES[503], title=_ERROR_TITLES[503])
        response = make_response(page, 503)
        if request.headers.get("HX-Request"):
            response.headers["HX-Retarget"] = "#flash"
            response.headers["HX-Reswap"] = "innerHTML"
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error):
        incident = uuid.uuid4().hex[:12]
        log.exception("incident %s on %s %s", incident, request.method, request.path)
        return render_error(500, incident=incident)
