"""Application factory of Area Clienti: settings, extensions, blueprints, the hooks
every request passes and the security headers of every response."""
import datetime
import logging
import os
import secrets
from pathlib import Path

import click
import peewee
from dotenv import load_dotenv
from flask import Flask, current_app, request
from jinja2 import FileSystemBytecodeCache
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

import models
import views
from portal import acquisition, cli, formatting, health, mail, notices, settings
from views import (auth, backoffice, charts, consumption, documents, errors, home, info,
                   invoices, language, measurements, payments, profile, readings, sessions, supply,
                   tickets)
from views import assets, health as health_views
# The rest of the back-office: importing them adds their routes to backoffice.bp.
from views import (backoffice_accounts, backoffice_mail, backoffice_readings,  # noqa: F401
                   backoffice_records)

log = logging.getLogger("area_clienti")

BLUEPRINTS = (auth.bp, home.bp, invoices.bp, profile.bp, supply.bp, documents.bp,
              readings.bp, consumption.bp, measurements.bp, charts.bp, tickets.bp,
              backoffice.bp, errors.bp, health_views.bp, info.bp, language.bp, payments.bp)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'")


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` with the bound of a 64-bit integer column: a larger id is a 404,
    not an overflow."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**63 - 1, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def create_app(test_config=None):
    """Create and configure the portal."""
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = DatabaseIdConverter
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if test_config is None:
        load_dotenv(Path(app.root_path) / ".env")

    app.config.from_mapping(settings.from_environment(instance))
    app.config.from_mapping(
        RATELIMIT_HEADERS_ENABLED=False,
        # Ticket attachments are up to 5 MB; anything larger is refused with 413.
        MAX_CONTENT_LENGTH=6 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=None,  # None: decided by BASE_URL below
        SESSION_COOKIE_NAME=None,
        SESSION_COOKIE_SAMESITE="Lax",
        # The cookie is rewritten when the session changes (see views/sessions.py).
        SESSION_REFRESH_EACH_REQUEST=False,
        REMEMBER_COOKIE_DURATION=datetime.timedelta(0),
        WTF_CSRF_TIME_LIMIT=3600,
        TEMPLATES_AUTO_RELOAD=False,
    )
    if test_config is not None:
        app.config.from_mapping(test_config)
    # Compiled templates are kept in the instance folder: each worker of a (re)started
    # portal loads them instead of compiling every template again: a fresh process's
    # first views of eight pages took 150 ms, now 53 (bench/RESULTS.md). A template's
    # entry is keyed by its source, so an edited template is compiled afresh. (Jinja
    # also works out filters of constants then: tests/test_language.py keeps templates
    # from filtering a constant through anything that speaks the page's language.)
    templates_cache = instance / "template-cache"
    templates_cache.mkdir(mode=0o700, exist_ok=True)
    app.jinja_env.bytecode_cache = FileSystemBytecodeCache(str(templates_cache))

    app.config["SECRET_KEY"] = _secret_key(app)
    # Behind TLS (an https BASE_URL) the cookie is locked to this host and to https.
    secure = app.config["BASE_URL"].startswith("https://")
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = secure
    if app.config["SESSION_COOKIE_NAME"] is None:
        app.config["SESSION_COOKIE_NAME"] = "__Host-session" if secure else "session"

    if app.config["TRUSTED_PROXIES"] > 0:
        # Behind the proxy every request comes from 127.0.0.1: without this, the
        # per-address limits would be one limit for everybody and the audit log would
        # record the proxy. Only the hops we trust are read; the rest may be forged.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    _configure_logging(app)
    models.db.initialize(models.open_database(app.config["DATABASE_URL"]))
    _refuse_an_old_schema(app)
    # The connection hooks come first: every later hook may read the database.
    app.before_request(_connect_database)
    app.teardown_request(_close_database)

    views.csrf.init_app(app)
    views.limiter.init_app(app)
    views.login_manager.init_app(app)
    sessions.init_app(app)
    language.init_app(app)
    app.jinja_env.filters.update(formatting.FILTERS)
    # The form-field macro as a global: a block rendered alone (an htmx fragment) does
    # not run the template's top-level `{% from ... import %}` lines.
    app.jinja_env.globals["field"] = _form_field
    app.jinja_env.globals["fixed_url"] = views.fixed_url
    app.context_processor(views.portal_context)
    # Registered first, so that it runs last: it compresses the final body.
    assets.init_app(app)
    app.after_request(_security_headers)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    cli.init_app(app)
    acquisition.init_app(app)
    mail.init_app(app)
    notices.init_app(app)
    return app


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


def _configure_logging(app):
    """The one logging setup: a line per event on stderr (a no-op where the server
    configured logging already), and the portal's own INFO lines (acquisition runs,
    incidents) whatever the root level. Tests keep pytest's capture."""
    if app.testing:
        return
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)


class SchemaNotCurrent(RuntimeError):
    """The database's schema is not the code's: serving it would fail page by page."""


def _refuse_an_old_schema(app):
    """A server (gunicorn, waitress) refuses to start on a database whose schema is
    older than the code, e.g. after a migration killed before its commit. A `flask`
    command starts anyway: `flask init-db` is the cure, and every other command
    checks the schema itself. A database that cannot be reached now is left to
    /readyz: it may come back. Under tests, which mostly create the schema after the
    factory, it runs only when asked (REFUSE_OLD_SCHEMA, not an environment
    setting)."""
    if (not app.config.get("REFUSE_OLD_SCHEMA", not app.testing)
            or click.get_current_context(silent=True) is not None):
        return
    try:
        with models.db.connection_context():
            problem = health.schema_problem()
            version = models.schema_version()
    except peewee.PeeweeException as error:
        log.warning("schema not checked at start, the database is unavailable: %s", error)
        return
    if problem and version < models.SCHEMA_VERSION:
        raise SchemaNotCurrent(f"Area Clienti refuses to start: {problem}, then start it again.")


def _connect_database():
    # Health checks open the database themselves (/healthz never does): a probe
    # must not fail before its check can say why.
    if request.blueprint == "health":
        return
    models.db.connect(reuse_if_open=True)


def _close_database(exc):
    if not models.db.is_closed():
        models.db.close()


def _form_field(*args, **kwargs):
    return current_app.jinja_env.get_template("_form.html").module.field(*args, **kwargs)


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if response.mimetype == "text/html":
        # The same URL answers with a page or a fragment: caches must keep both.
        response.vary.add("HX-Request")
    # Pages carry personal data and CSRF tokens: never stored. Only static files and
    # responses that chose a public lifetime (plotly.js) are cached.
    if request.endpoint != "static" and not headers.get("Cache-Control", "").startswith("public"):
        headers["Cache-Control"] = "no-store"
    return response
