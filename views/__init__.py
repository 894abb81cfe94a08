"""What the views share: the Flask extensions, page-or-fragment rendering, the
selected supply point, access guards, the menu and the pager."""
import functools
import math
from urllib.parse import urlsplit

from flask import (abort, current_app, g, make_response, redirect, render_template, request,
                   session, url_for)
from flask_babel import get_locale, get_translations, lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from jinja2 import UndefinedError
from jinja2_fragments.flask import render_block, render_blocks
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import HiddenField

from models import Customer, SupplyPoint
from portal import submissions

# The extensions live here, not in app.py, so that views import them without importing
# the factory; create_app() binds them to the application.
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Accedi per continuare.")
# Flashed as text in the request's language (a lazy string would be stored as markup).
login_manager.localize_callback = str
login_manager.session_protection = None  # the session version in the login id does this job


@limiter.request_filter
def _reads_are_never_limited():
    """Every limit of the portal counts POSTs (attempts: logins, registrations,
    messages; tests/test_static_checks.py holds every one to it): a read skips the
    limiter's work of finding no limit, a twentieth of a page's cost. Unless a limit
    for every route is configured (Flask-Limiter's RATELIMIT_DEFAULT or
    RATELIMIT_APPLICATION): then reads count too."""
    config = current_app.config
    return (request.method in ("GET", "HEAD", "OPTIONS")
            and not config.get("RATELIMIT_DEFAULT") and not config.get("RATELIMIT_APPLICATION"))


# The query argument of every pager.
PAGE_ARGUMENT = "pagina"

# Blocks of base.html sent out of band with every content swap: the flash messages; the menu highlights
# the new page and shows the entries of the new supply point's commodity; the
# supply-point picker targets the new page.
OUT_OF_BAND_BLOCKS = ["menu", "supply_picker", "flash"]


def get_or_404(model, *conditions):
    """The one row of `model` matching `conditions`, or a 404."""
    return or_404(model.get_or_none(*conditions))


def or_404(row):
    """`row` (a model's get_for_customer answer, say), or a 404 when there is none."""
    if row is None:
        abort(404)
    return row


def is_htmx():
    """An htmx request that wants a fragment (a history restore wants the full page)."""
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def render_page(template, **context):
    """The full page, or for an htmx request the block of the same template named by
    HX-Target (`#invoice-list` -> block `invoice_list`). Swapping `#content` also
    refreshes the menu and the supply-point picker out of band."""
    if is_htmx():
        block = (request.headers.get("HX-Target") or "content").replace("-", "_")
        blocks = current_app.jinja_env.get_template(template).blocks
        if block == "content":
            # The page's own blocks live in its template, the frame's in base.html.
            return (render_block(template, "content", **context)
                    + render_blocks("base.html", OUT_OF_BAND_BLOCKS, oob=True, **context))
        if block in blocks:
            try:
                return render_block(template, block, **context)
            except UndefinedError:
                # HX-Target is the client's to choose: a block the views render only
                # with more context (one row of a list) is no target of this request.
                pass
    return render_template(template, **context)


def htmx_redirect(location, status=303):
    """Redirect a normal request; tell htmx to navigate (it would swap a 3xx's body)."""
    if is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, status)


def is_safe_next(target):
    """Only a local path may follow login: no scheme, no host, no `//` or `\\` tricks,
    and no control character (a CR or LF cannot go into the Location header)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if any(ord(character) < 0x20 or ord(character) == 0x7f for character in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and "\\" not in target


def client_ip():
    """The client's address, for the audit log and the rate limits."""
    return request.remote_addr or ""


def start_page():
    """Where a logged-in user starts: operators in the back-office, customers at home."""
    if isinstance(current_user._get_current_object(), Customer):
        return url_for("home.index")
    return url_for("backoffice.index")


class CreatingForm(FlaskForm):
    """A form that creates something: its hidden token makes a repeated submission
    (a retry after a lost answer, a double click) return the first result. A page
    renders a new token each time it shows the form empty; a form sent back with
    errors keeps its token, since nothing was created."""

    submission_token = HiddenField(default=submissions.new_token)


def create_once(form, create, result_url):
    """Run create(submission) once per form token of the logged-in user.

    Returns (result, None), or (None, url of the first result) for a repeat; create
    must record the submission in its own transaction (portal/submissions.py)."""
    user = current_user._get_current_object()
    owner = f"{'c' if isinstance(user, Customer) else 'o'}:{user.id}"
    submission = submissions.Submission(owner, form.submission_token.data, result_url)
    return submissions.once(submission, create)


def customer_required(view):
    """Login required, and the user must be a customer."""
    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not isinstance(current_user._get_current_object(), Customer):
            abort(404)
        return view(*args, **kwargs)
    return wrapped


def selected_supply_point():
    """The supply point this request is about: `?punto=` (404 when it is not the
    customer's), else the one remembered in the session, else the customer's first.
    None only for a customer without supply points."""
    if "supply_point" in g:
        return g.supply_point
    try:
        code = request.values.get("punto")
    except RequestEntityTooLarge:
        code = request.args.get("punto")  # the 413 page must not read the body again
    # The picker lists the customer's points anyway: one query serves both.
    points = {point.code: point for point in customer_supply_points()}
    if code is not None:
        supply_point = points.get(code)
        if supply_point is None:
            g.supply_point = None  # the error page must not abort again
            abort(404)
        session["punto"] = supply_point.code
    else:
        supply_point = points.get(session.get("punto"))
        if supply_point is None and points:
            supply_point = next(iter(points.values()))
    g.supply_point = supply_point
    return supply_point


def customer_supply_points():
    """The customer's supply points in code order, once per request."""
    if "supply_points" not in g:
        g.supply_points = SupplyPoint.of_customer(current_user.id)
    return g.supply_points


# The catalogue of each language, as Flask-Babel loaded it (it keeps them for the
# process too). Looked up by the request's current locale each time, so a mail
# composed in its reader's language (portal.mail.in_language, which makes the request
# choose its locale again) gets the reader's catalogue.
_catalogues = {}


def page_locale():
    """flask_babel.get_locale(), read straight from where it keeps the request's
    choice (get_locale() looks the request context up three times)."""
    try:
        locale = g._flask_babel.babel_locale  # set by get_locale() once per request
    except (AttributeError, RuntimeError):  # not chosen yet, or outside a request
        locale = None
    return locale or get_locale()


def page_translations():
    """flask_babel.get_translations() for the locale of this moment of the request."""
    locale = page_locale()
    if locale is None:
        return get_translations()  # outside a request: no translation
    key = (locale.language, locale.territory, locale.script, locale.variant)
    catalogue = _catalogues.get(key)
    if catalogue is None:
        catalogue = _catalogues[key] = get_translations()
    return catalogue


def N_(text):
    """Marks a message for the catalogue; the menu translates it when drawn."""
    return text


# The left menu of the seed, in its order: (section, endpoint, label, commodity or None).
# An entry shows only when its page exists, so each area appears with its blueprint.
MENU = [
    (N_("Menu Generale"), "home.index", N_("Home Page"), None),
    (N_("Menu Generale"), "invoices.index", N_("Elenco fatture"), None),
    (N_("Menu Generale"), "payments.index", N_("Pagamenti"), None),
    (N_("Menu Generale"), "auth.change_password", N_("Cambio Password"), None),
    (N_("Menu Generale"), "readings.index", N_("Autolettura Contatore"), "gas"),
    (N_("Menu Generale"), "profile.index", N_("Dati Anagrafici"), None),
    (N_("Menu Generale"), "consumption.index", N_("Prelievi Fatturati"), None),
    (N_("Menu Generale"), "tickets.index", N_("Ticket"), None),
    (N_("Menu Generale"), "supply.technical", N_("Dati Tecnici"), None),
    (N_("Menu Generale"), "supply.contract", N_("Dati Contrattuali"), None),
    (N_("Menu Generale"), "documents.index", N_("I miei documenti"), None),
    (N_("Menu Generale"), "measurements.index", N_("Misure elettriche"), "electricity"),
    (N_("Documentazione Generica"), "documents.forms", N_("Modulistica"), None),
]


# Pages base.html links on every page besides the menu's.
FRAME_ENDPOINTS = ("language.switch", "auth.logout", "info.privacy", "info.accessibility")


def fixed_urls():
    """{endpoint: URL} of the menu's pages and the frame's links, built once per
    application and script root (the same for every user: no personal data)."""
    cache = current_app.extensions.setdefault("fixed_urls", {})
    urls = cache.get(request.script_root)
    if urls is None:
        endpoints = [endpoint for _, endpoint, _, _ in MENU] + list(FRAME_ENDPOINTS)
        urls = cache[request.script_root] = {
            endpoint: url_for(endpoint) for endpoint in endpoints
            if endpoint in current_app.view_functions}
    return urls


def fixed_url(endpoint):
    """url_for(endpoint) of a page of fixed_urls(), as a template global."""
    return fixed_urls()[endpoint]


def current_menu_href(hrefs, path):
    """The menu entry this path belongs to: its own, else the longest whose URL is a
    parent of the path (`/fatture/12` is under Elenco fatture, `/ticket/nuovo` under
    Ticket, `/pagamenti/fatture/12/segnala` under Pagamenti), else None."""
    best = None
    for href in hrefs.values():
        if path == href or path.startswith(href.rstrip("/") + "/"):
            if best is None or len(href) > len(best):
                best = href
    return best


def menu_sections(supply_point):
    """[(section, [(URL, label, aria-current or None), ...]), ...] for this supply point,
    translated: aria-current is "page" on the entry's own page, "true" on a page under
    it."""
    translate = page_translations().ugettext
    urls = fixed_urls()
    hrefs = {endpoint: urls[endpoint] for _, endpoint, _, _ in MENU if endpoint in urls}
    path = request.script_root + request.path
    current = current_menu_href(hrefs, path)
    sections = {}
    for section, endpoint, label, commodity in MENU:
        href = hrefs.get(endpoint)
        if href is None:
            continue
        if commodity and (supply_point is None or supply_point.commodity != commodity):
            continue
        state = None
        if href == current:
            state = "page" if path == href else "true"
        sections.setdefault(section, []).append((href, translate(label), state))
    return [(translate(section), entries) for section, entries in sections.items()]


def portal_context():
    """What base.html needs on every page: the customer's supply points and the menu.
    Built once per request, user and language (a fragment renders two parts of the
    templates, each asking for it; a mail composed meanwhile may speak another
    language)."""
    user = current_user._get_current_object()
    if g.get("database_down") or not isinstance(user, Customer):
        return {}
    key = (user, page_translations())
    kept = g.get("portal_context")
    if kept is None or kept[0] != key:
        supply_point = selected_supply_point()
        kept = g.portal_context = (key, dict(supply_points=customer_supply_points(),
                                             supply_point=supply_point,
                                             menu=menu_sections(supply_point)))
    return kept[1]


def requested_page(name=PAGE_ARGUMENT):
    """The query argument `name` as a page number; anything odd is page 1."""
    value = request.values.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 7 else 1


class Pager:
    """The rows of one page of `query`; a page past the end shows the last one."""

    def __init__(self, query, per_page, page=None):
        self._fill(query.count(),
                   lambda limit, offset: list(query.limit(limit).offset(offset)),
                   per_page, page)

    @classmethod
    def of(cls, total, fetch, per_page, page=None):
        """A pager over `total` rows that `fetch(limit, offset)` returns a page of."""
        pager = cls.__new__(cls)
        pager._fill(total, fetch, per_page, page)
        return pager

    @classmethod
    def of_list(cls, items, per_page, page=None):
        return cls.of(len(items), lambda limit, offset: items[offset:offset + limit],
                      per_page, page)

    def _fill(self, total, fetch, per_page, page):
        self.per_page = per_page
        self.total = total
        self.pages = max(1, math.ceil(self.total / per_page))
        self.page = min(max(1, page or requested_page()), self.pages)
        self.items = fetch(per_page, (self.page - 1) * per_page)

    @property
    def previous(self):
        return self.page - 1 if self.page > 1 else None

    @property
    def next(self):
        return self.page + 1 if self.page < self.pages else None
