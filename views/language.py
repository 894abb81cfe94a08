"""The customer side's language (Italian or English): the account's choice, else the
session's, else the browser's; the switch on every page."""
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, has_request_context, redirect, request, session, url_for
from flask_babel import Babel, get_locale, gettext
from flask_login import current_user
from jinja2 import pass_eval_context
from markupsafe import Markup

from models import Customer
from portal import formatting
from portal.mail import forced_language
from views import is_safe_next, page_locale, page_translations, selected_supply_point

bp = Blueprint("language", __name__)
babel = Babel()

# Italian first: the portal's own language, and the default when nothing else says.
LANGUAGES = {"it": "Italiano", "en": "English"}
DEFAULT = "it"
SESSION_KEY = "lingua"


def N_(text):
    """Marks a message for the catalogue without translating it here."""
    return text


# Words stored in Italian in the database and shown to customers, translated where
# shown (`_(invoice.status)`): listed here so that `pybabel extract` finds them.
STORED_WORDS = (
    N_("Pagata"), N_("Scaduta"), N_("Da pagare"),          # Invoice.status
    N_("Da acquisire"), N_("Acquisita"),                   # SelfReading.status
    N_("Aperto"), N_("In lavorazione"), N_("Chiuso"),      # Ticket.status
    N_("Fatturazione"), N_("Letture"), N_("Contratto"),    # Ticket.CATEGORIES
    N_("Guasto / tecnico"), N_("Altro"),
    N_("In attesa"), N_("Attivo"), N_("Rifiutato"),          # DirectDebitMandate.status
    N_("Revoca in corso"), N_("Revocato"), N_("Sostituito"),
)


def init_app(app):
    """Flask-Babel for `app`, with the catalogues of translations/ (msgids are the
    Italian text, so Italian needs no catalogue)."""
    babel.init_app(app, locale_selector=select_language, default_locale=DEFAULT,
                   default_timezone="Europe/Rome")
    app.jinja_env.filters["stored_word"] = stored_word
    # Flask-Babel's own callables look the request context up four times and format
    # the locale's name on every `_()`, a hundred of them per page: these look the
    # catalogue up once per call by the locale object itself.
    app.jinja_env.install_gettext_callables(
        gettext=lambda message: page_translations().ugettext(message),
        ngettext=lambda singular, plural, n: page_translations().ungettext(singular, plural, n),
        pgettext=lambda context, message: page_translations().upgettext(context, message),
        npgettext=lambda context, singular, plural, n: page_translations().unpgettext(
            context, singular, plural, n),
        newstyle=True)
    # `_()` and `gettext()` straight to the catalogue: Jinja's own wrappers pass each
    # call through the template context three times (an invoice list makes 120 calls).
    app.jinja_env.globals.update(_=template_gettext, gettext=template_gettext)
    formatting.use_page_locale(page_locale)
    app.context_processor(lambda: dict(languages=LANGUAGES,
                                       current_language=get_locale().language))


@pass_eval_context
def template_gettext(eval_context, message, **variables):
    """Jinja's newstyle `_()`: the translation, marked safe where the template escapes,
    always formatted with `variables` (a literal % is written %% in every message)."""
    text = page_translations().ugettext(message)
    if eval_context.autoescape:
        text = Markup(text)  # nosec B704: the catalogue's text, as Jinja's own gettext
    return text % variables


def stored_word(word):
    """One of STORED_WORDS in the page's language, as text: a value from the database
    never goes through the template's `_()`, which marks its result safe."""
    return gettext(word)


def select_language():
    """The language of this request: the back-office is Italian only; a customer's
    own choice, else the session's, else the best of the browser's Accept-Language,
    else Italian. A mail being composed speaks its reader's language."""
    if forced_language():
        return forced_language()
    if not has_request_context() or request.blueprint == "backoffice":
        return DEFAULT
    # With the database down (the 503 page) nobody is loaded: the session still says.
    if not g.get("database_down"):
        user = current_user._get_current_object()
        if isinstance(user, Customer) and user.language in LANGUAGES:
            return user.language
        if user is not None and user.is_authenticated and not isinstance(user, Customer):
            return DEFAULT  # an operator
    if session.get(SESSION_KEY) in LANGUAGES:
        return session[SESSION_KEY]
    return request.accept_languages.best_match(LANGUAGES, DEFAULT)


def _back_to_the_page():
    """The page the switch was used on: the Referer when it is this portal's (the
    Referrer-Policy is same-origin; after an htmx navigation it names the current page,
    which a field written at the first load would not), else the start."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host:
        target = referrer.path + (f"?{referrer.query}" if referrer.query else "")
        if is_safe_next(target):
            return target
    return url_for("home.root")


@bp.post("/lingua")
def switch():
    """Remember the chosen language for the session and, when logged in, the account.

    A POST with the CSRF token: for a logged-in customer it changes the account."""
    user = current_user._get_current_object()
    if isinstance(user, Customer):
        # As on every customer page: a `punto` that is not theirs is a 404 (and the
        # error page then has no point to look up again).
        selected_supply_point()
    chosen = request.form.get("lingua", "")
    if chosen not in LANGUAGES:
        abort(400)
    session[SESSION_KEY] = chosen
    if isinstance(user, Customer):
        Customer.update(language=chosen).where(Customer.id == user.id).execute()
    return redirect(_back_to_the_page(), 303)
