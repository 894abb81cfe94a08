"""Sessions: the signed cookie written only when it changes, who is logged in, the
idle and absolute time-outs, and the password change a temporary password forces."""
import copy
import datetime
import time

from flask import flash, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, logout_user

import models
from views import client_ip, htmx_redirect, login_manager

IDLE_TIMEOUT = datetime.timedelta(minutes=30)
# How stale the session's "last seen" may get before a response rewrites the cookie:
# re-signing and re-sending it on every page view costs CPU and bytes for nothing.
# An idle session so ends between 29 and 30 minutes after its last request.
SEEN_RESOLUTION = 60
ABSOLUTE_TIMEOUT = datetime.timedelta(hours=12)

# Endpoints a user who must change password may still reach.
ALLOWED_BEFORE_PASSWORD_CHANGE = {"auth.change_password", "auth.logout", "static",
                                  "backoffice.own_password", "backoffice.logout",
                                  "language.switch"}


class PortalSessionInterface(SecureCookieSessionInterface):
    """The cookie is sent only when the session's values changed: writing a value the
    session already holds (the same supply point, `permanent` again) costs no new
    signature and no Set-Cookie.

    Responses anyone may cache (plotly.js) and health probes never set or vary on
    the session cookie.
    Nor do static files: one still loading with the cookie of the previous page would
    put back the session that page's successor has just changed (the supply point)."""

    def open_session(self, app, request):
        session = super().open_session(app, request)
        if session is not None:
            # A deep copy: flash() appends to the list the session already holds.
            session.loaded = copy.deepcopy(dict(session))
        return session

    def save_session(self, app, session, response):
        if (request.endpoint == "static" or request.blueprint == "health"
                or response.headers.get("Cache-Control", "").startswith("public")):
            return
        if session.modified and dict(session) == getattr(session, "loaded", None):
            session.modified = False
        super().save_session(app, session, response)


def init_app(app):
    """Sessions for `app`: the cookie interface, the user loader and the two checks
    every request passes."""
    app.session_interface = PortalSessionInterface()
    app.config["PERMANENT_SESSION_LIFETIME"] = IDLE_TIMEOUT
    login_manager.user_loader(load_user)
    app.before_request(expire_idle_sessions)
    app.before_request(force_password_change)


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


def log_out(message, login_endpoint):
    """End every copy of the current user's session (their session version moves on,
    so no cookie of it loads anybody), audit it, and go to their login page."""
    user = current_user._get_current_object()
    model = type(user)
    model.update(session_version=model.session_version + 1).where(model.id == user.id).execute()
    if isinstance(user, models.Customer):
        models.audit("logout", customer=user, ip=client_ip())
    else:
        models.audit("operator_logout", operator=user, ip=client_ip())
    # The page after logout keeps speaking the language of the one before.
    language = session.get("lingua") or getattr(user, "language", None)
    logout_user()
    session.clear()
    if language:
        session["lingua"] = language
    flash(message)
    return redirect(url_for(login_endpoint), 303)


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
                     operator=None if is_customer else user, ip=client_ip())
        logout_user()
        session.clear()
        session["expired"] = True
        return htmx_redirect(url_for("auth.login" if is_customer else "backoffice.login"))
    if now - seen >= SEEN_RESOLUTION:
        session["seen"] = now
    session.permanent = True
    return None


def force_password_change():
    """A temporary password (a customer's from the e-mail, an operator's from an
    admin) allows nothing but choosing a new one."""
    if (current_user.is_authenticated
            and getattr(current_user, "must_change_password", False)
            and request.endpoint not in ALLOWED_BEFORE_PASSWORD_CHANGE):
        is_customer = isinstance(current_user._get_current_object(), models.Customer)
        return htmx_redirect(url_for("auth.change_password" if is_customer
                                     else "backoffice.own_password"))
    return None
