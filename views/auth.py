"""Autenticazione: login, logout, registration, password recovery and change."""
import re
import time

from email_validator import EmailNotValidError, validate_email
from flask import Blueprint, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from stdnum.it import codicefiscale
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from models import Customer, audit, db, utcnow
from portal import registration
from portal.mail import compose as mail_compose
from portal.mail import queue_mail
from portal.passwords import (
    MAX_LENGTH,
    hash_password,
    needs_rehash,
    new_temporary_password,
    policy_errors,
    verify_password,
)
from portal.registration import TEMPORARY_PASSWORD_LIFETIME
from views import (client_ip, customer_required, htmx_redirect, is_safe_next, limiter,
                   render_page, start_page)
from views import language as language_views
from views.sessions import log_out

bp = Blueprint("auth", __name__)

REGISTRATION_LIFETIME = 15 * 60  # seconds between the two registration screens

# One answer for an unknown code, an unregistered one, a wrong password and a locked
# account: the login page never tells which codes exist.
LOGIN_FAILED = _l("Credenziali non valide. Controlla codice cliente e password; dopo "
                  "troppi tentativi l'accesso resta sospeso per 15 minuti.")
REGISTRATION_MISMATCH = _l("I dati inseriti non corrispondono a un cliente che può registrarsi. "
                           "Controlla il codice cliente in fattura e il codice fiscale o la "
                           "partita IVA.")
ALREADY_REGISTERED = _l("Risulti già registrato al portale. Se non ricordi la password usa "
                        "«Hai dimenticato la Password ?».")
RECOVERY_SENT = _l("Se il codice cliente è registrato al portale, a breve riceverai una nuova "
                   "password all'indirizzo e-mail indicato in fase di registrazione. La "
                   "password attuale resta valida finché non usi quella nuova.")
LINK_INVALID = _l("Il link non è valido o è scaduto, oppure l'indirizzo è già stato "
                  "confermato. Se serve, ripeti la registrazione.")

REQUIRED = _l("Campo obbligatorio.")
CODE_FIELD = [DataRequired(REQUIRED),
              Regexp(r"^\s*\d{6}\s*$", message=_l("Il codice cliente è di 6 cifre: lo trovi "
                                                  "in fattura sotto numero e data."))]


class LoginForm(FlaskForm):
    code = StringField(_l("User"), [DataRequired(REQUIRED), Length(max=32)])
    password = PasswordField(_l("Password"), [DataRequired(REQUIRED), Length(max=MAX_LENGTH * 4)])


class RegistrationForm(FlaskForm):
    code = StringField(_l("Codice cliente presente in fattura"), CODE_FIELD)
    tax_code = StringField(_l("Codice fiscale o partita IVA"),
                           [DataRequired(REQUIRED), Length(max=32)])

    def validate_tax_code(self, field):
        # validate() accepts a 16-character codice fiscale and an 11-digit partita IVA.
        try:
            field.data = codicefiscale.validate(field.data)
        except ValueError:
            raise ValidationError(_("Codice fiscale o partita IVA non valido: controlla di "
                                    "averlo scritto per intero.")) from None


class EmailForm(FlaskForm):
    """The address for the first password: required when the billing system has none on
    file; otherwise optional (empty means the address on file)."""
    email = EmailField(_l("E-Mail"), [Length(max=254)])

    def __init__(self, required, **kwargs):
        super().__init__(**kwargs)
        self.required = required
        if not required:
            self.email.label.text = _("Un altro indirizzo e-mail (facoltativo)")

    def validate_email(self, field):
        field.data = (field.data or "").strip()
        if not field.data:
            if self.required:
                raise ValidationError(REQUIRED)
            return
        try:
            field.data = validate_email(field.data, check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValidationError(_("Indirizzo e-mail non valido.")) from None


class ForgotForm(FlaskForm):
    code = StringField(_l("Codice cliente"), CODE_FIELD)


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Password attuale"))
    new_password = PasswordField(_l("Nuova password"), [DataRequired(REQUIRED)])
    confirm_password = PasswordField(_l("Ripeti la nuova password"), [DataRequired(REQUIRED)])

    def validate_new_password(self, field):
        errors = policy_errors(field.data, current_user.code)
        if errors:
            raise ValidationError(" ".join(errors))

    def validate_confirm_password(self, field):
        if field.data != self.new_password.data:
            raise ValidationError(_("Le due password non coincidono."))


def _tax_code_key():
    """Rate-limit key for the codice fiscale / partita IVA of a registration attempt:
    typed on the first screen, remembered in the session on the second."""
    typed = request.form.get("tax_code")
    if typed is None:
        typed = (session.get("registration") or {}).get("tax_code", "")
    return "tax:" + re.sub(r"\s", "", typed).upper()[:32]


def _registration_limit_per_address():
    return current_app.config["REGISTRATION_LIMIT_PER_ADDRESS"]


def _registration_limit_per_tax_code():
    return current_app.config["REGISTRATION_LIMIT_PER_TAX_CODE"]


# Both registration screens draw on the same two budgets: one per IP address and one
# per tax code, whichever address the attempts come from.
registration_per_address = limiter.shared_limit(
    _registration_limit_per_address, scope="registration-address", methods=["POST"])
registration_per_tax_code = limiter.shared_limit(
    _registration_limit_per_tax_code, scope="registration-tax-code", key_func=_tax_code_key,
    methods=["POST"])


def _code_key():
    """Rate-limit key for the account named in the form (whether or not it exists)."""
    return "code:" + request.form.get("code", "").strip()[:32]


def _authenticate(code, password):
    """(customer, "password" | "temporary") on success, else (None, None).

    Always two argon2 verifications, so that a known code costs the same as an
    unknown one."""
    now = utcnow()
    customer = Customer.get_or_none(Customer.code == code) if code.isdigit() else None
    usable = customer is not None and customer.is_registered and not customer.is_locked(now)
    temporary_valid = (usable and customer.temp_password_hash
                       and customer.temp_password_expires_at > now)
    password_ok = verify_password(customer.password_hash if usable else None, password)
    temporary_ok = verify_password(customer.temp_password_hash if temporary_valid else None,
                                   password)
    if password_ok:
        return customer, "password"
    if temporary_ok:
        # Single use: only the request that clears it may log in with it.
        consumed = (Customer
                    .update(temp_password_hash=None, temp_password_expires_at=None,
                            must_change_password=True)
                    .where((Customer.id == customer.id)
                           & (Customer.temp_password_hash == customer.temp_password_hash))
                    .execute())
        if consumed:
            return customer, "temporary"
    if usable:
        if customer.record_failed_login():
            audit("account_locked", customer=customer, ip=client_ip())
    return None, None


def _start_session(customer, password, method):
    """Log the customer in on a brand-new session."""
    now = utcnow()
    changes = dict(previous_login_at=Customer.last_login_at, last_login_at=now,
                   failed_logins=0, locked_until=None)
    # A language chosen with the switch before logging in is the latest choice: the
    # account keeps it (the session's choice survives the fresh session below).
    language = session.get(language_views.SESSION_KEY)
    if language in language_views.LANGUAGES:
        changes["language"] = language
    if method == "password" and needs_rehash(customer.password_hash):
        changes["password_hash"] = hash_password(password)
    Customer.update(**changes).where(Customer.id == customer.id).execute()
    customer = Customer.get_by_id(customer.id)
    # A fresh session: nothing an attacker planted before login survives it.
    session.clear()
    login_user(customer)
    session["login_at"] = session["seen"] = time.time()
    session["temporary_login"] = method == "temporary"
    if language in language_views.LANGUAGES:
        session[language_views.SESSION_KEY] = language
    session.permanent = True
    audit("login_temporary_password" if method == "temporary" else "login_ok",
          customer=customer, ip=client_ip())


@bp.get("/login")
@bp.post("/login")
@limiter.limit("30 per minute", methods=["POST"])
@limiter.limit("10 per minute;100 per hour", key_func=_code_key, methods=["POST"])
def login():
    """Autenticazione: customer code and password."""
    if current_user.is_authenticated:
        return redirect(start_page())
    form = LoginForm()
    error = None
    if session.pop("expired", False):
        error = _("La sessione è scaduta per inattività: accedi di nuovo.")
    if form.validate_on_submit():
        code = form.code.data.strip()
        customer, method = _authenticate(code, form.password.data)
        if customer is not None:
            _start_session(customer, form.password.data, method)
            target = request.args.get("next")
            return redirect(target if is_safe_next(target) else url_for("home.index"), 303)
        # Only digits can be a code (and PostgreSQL refuses a NUL in a text value).
        audit("login_failed", ip=client_ip(),
              customer=Customer.get_or_none(Customer.code == code) if code.isdigit() else None)
        error = LOGIN_FAILED
    status = 422 if request.method == "POST" else 200
    return render_page("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@customer_required
def logout():
    """Log out and end every copy of this session."""
    return log_out(_("Sei uscito dall'Area Clienti."), "auth.login")


@bp.get("/registrazione")
@bp.post("/registrazione")
@registration_per_address
@registration_per_tax_code
def register():
    """Registrazione nuovo utente: customer code and codice fiscale / partita IVA."""
    if current_user.is_authenticated:
        return redirect(start_page())
    form = RegistrationForm()
    error = None
    if form.validate_on_submit():
        customer = (Customer
                    .select()
                    .where((Customer.code == form.code.data.strip())
                           & (Customer.tax_code == form.tax_code.data))
                    .first())
        if customer is None:
            error = REGISTRATION_MISMATCH
        elif customer.is_registered:
            error = ALREADY_REGISTERED
        else:
            session["registration"] = {"customer": customer.id, "at": time.time(),
                                       "tax_code": customer.tax_code}
            return redirect(url_for("auth.confirm_registration"), 303)
        audit("registration_refused", ip=client_ip())
    status = 422 if request.method == "POST" else 200
    return render_page("auth/register.html", form=form, error=error), status


def _customer_being_registered():
    pending = session.get("registration") or {}
    if time.time() - pending.get("at", 0) > REGISTRATION_LIFETIME:
        return None
    return Customer.get_or_none(Customer.id == pending.get("customer"))


@bp.get("/registrazione/conferma")
@bp.post("/registrazione/conferma")
@registration_per_address
@registration_per_tax_code
def confirm_registration():
    """Conferma registrazione: the summary, and the first-access password to the address
    on file (another address only once the address on file confirms)."""
    customer = _customer_being_registered()
    if customer is None:
        flash(_("Inserisci codice cliente e codice fiscale o partita IVA per registrarti."))
        return redirect(url_for("auth.register"), 303)
    on_file = customer.email
    form = EmailForm(required=not on_file)
    error = None
    if form.validate_on_submit():
        session.pop("registration", None)
        # Registered meanwhile by another session: its address is no longer "on file".
        done = None if customer.is_registered else _register(customer, on_file,
                                                             form.email.data or on_file)
        if done is not None:
            return done
        error = ALREADY_REGISTERED
    status = 422 if request.method == "POST" else 200
    masked = "" if customer.is_registered else registration.masked_email(on_file)
    return render_page("auth/register_confirm.html", form=form, customer=customer,
                       masked=masked, error=error), status


def _register(customer, on_file, chosen):
    """The page after the confirmation; None when somebody registered the code first."""
    if on_file and not registration.same_address(chosen, on_file):
        registration.request_other_address(customer, chosen)
        audit("registration_address_requested", customer=customer, ip=client_ip())
        return render_page("auth/register_done.html", pending=True, email=chosen,
                           masked=registration.masked_email(on_file))
    if not registration.register(customer, chosen):
        return None
    audit("registration", customer=customer, ip=client_ip())
    audit("temporary_password_sent", customer=customer, ip=client_ip())
    shown = registration.masked_email(chosen) if on_file else chosen
    return render_page("auth/register_done.html", pending=False, email=shown)


@bp.get("/registrazione/indirizzo/<token>")
@bp.post("/registrazione/indirizzo/<token>")
@limiter.limit("10 per minute", methods=["POST"])
def confirm_address(token):
    """The address on file confirms that the first password goes to another address
    (GET only shows the question: mail scanners open links)."""
    pending = registration.request_for_token(token)
    if pending is None:
        return render_page("auth/register_address.html", error=LINK_INVALID), 404
    customer = Customer.get_by_id(pending.customer_id)
    form = FlaskForm()
    if form.validate_on_submit():
        if not registration.confirm(pending):
            return render_page("auth/register_address.html", error=ALREADY_REGISTERED), 409
        audit("registration", customer=customer, ip=client_ip(),
              detail="address confirmed by the address on file")
        audit("temporary_password_sent", customer=customer, ip=client_ip())
        return render_page("auth/register_done.html", pending=False, email=pending.email)
    return render_page("auth/register_address.html", form=form, pending=pending,
                       customer=customer, token=token)


@bp.get("/password-dimenticata")
@bp.post("/password-dimenticata")
@limiter.limit("10 per minute", methods=["POST"])
@limiter.limit("5 per hour", key_func=_code_key, methods=["POST"])
def forgot_password():
    """Hai dimenticato la Password ?: a temporary password to the registered e-mail."""
    form = ForgotForm()
    if form.validate_on_submit():
        customer = Customer.get_or_none(Customer.code == form.code.data.strip())
        temporary = new_temporary_password()
        # The same work for unknown codes (a hash, a message composed, one transaction
        # with an audit row): the answer takes the same time either way.
        temporary_hash = hash_password(temporary)
        if customer is not None and customer.is_registered and customer.email:
            _send_recovery(customer, temporary, temporary_hash)
        else:
            _recovery_without_account(customer, form.code.data.strip(), temporary)
        return render_page("auth/forgot.html", form=None, sent=RECOVERY_SENT)
    status = 422 if request.method == "POST" else 200
    return render_page("auth/forgot.html", form=form), status


def _send_recovery(customer, temporary, temporary_hash):
    """Store the temporary password beside the current one and queue its mail, in one
    transaction. The current password keeps working until the temporary one is used."""
    with db.atomic():
        (Customer
         .update(temp_password_hash=temporary_hash,
                 temp_password_expires_at=utcnow() + TEMPORARY_PASSWORD_LIFETIME)
         .where(Customer.id == customer.id)
         .execute())
        queue_mail(customer.email, _l("Area Clienti: la tua nuova password"), "temporary_password",
                   kind="recovery", customer=customer, customer_name=customer.name,
                   code=customer.code, password=temporary, first_access=False)
        audit("temporary_password_sent", customer=customer, ip=client_ip())


def _recovery_without_account(customer, code, temporary):
    """Recovery for a code without a registered account: nothing is sent, but the
    request is recorded and costs what a real one costs."""
    with db.atomic():
        mail_compose("nessuno@example.invalid", "Area Clienti: la tua nuova password",
                     "temporary_password", customer_name="", code=code, password=temporary,
                     first_access=False)
        audit("recovery_without_account", customer=customer, ip=client_ip(),
              detail=f"codice {code}")


def current_password_confirmed(user, password, event):
    """The current password of a logged-in customer or operator, checked for a form.

    A wrong one is audited as `event` and counts toward the lockout like a failed
    login; while the account is locked even the right one is refused. Whoever holds a
    stolen session so guesses no faster than at the login page."""
    model = type(user)
    user = model.get_by_id(user.id)  # the failure count as it is now
    who = {"customer": user} if model is Customer else {"operator": user}
    locked = user.is_locked(utcnow())
    if not locked and verify_password(user.password_hash, password):
        return True
    g.wrong_current_password = True
    audit(event, ip=client_ip(), detail="account locked" if locked else "wrong current password",
          **who)
    # A locked account counts nothing more: counting would start a new round (and
    # lift the lock), as at the login page.
    if not locked and user.record_failed_login():
        audit("account_locked" if model is Customer else "operator_account_locked",
              ip=client_ip(), **who)
    return False


def current_password_key():
    """Rate-limit key of the logged-in user's current-password answers."""
    user = current_user._get_current_object()
    return f"current-password:{type(user).__name__}:{getattr(user, 'id', '')}"


def current_password_limit():
    """Wrong current passwords per user (CURRENT_PASSWORD_LIMIT); right ones and
    refused new passwords do not count."""
    return limiter.limit(lambda: current_app.config["CURRENT_PASSWORD_LIMIT"],
                         methods=["POST"], key_func=current_password_key,
                         deduct_when=lambda response: g.get("wrong_current_password", False))


@bp.get("/cambio-password")
@bp.post("/cambio-password")
@customer_required
@current_password_limit()
def change_password():
    """Cambio Password: the menu stays locked until Annulla or Conferma."""
    forced = current_user.must_change_password
    form = ChangePasswordForm()
    # After a temporary-password login the old password is not asked: the customer
    # may not know it, and this session has just proved the temporary one.
    ask_current = not session.get("temporary_login")
    if form.validate_on_submit():
        if ask_current and not current_password_confirmed(
                current_user._get_current_object(), form.current_password.data or "",
                "password_change_refused"):
            form.current_password.errors.append(_("La password attuale non è corretta."))
        else:
            _set_new_password(form.new_password.data)
            flash(_("La password è stata modificata."))
            return htmx_redirect(url_for("home.index"))
    status = 422 if request.method == "POST" else 200
    return render_page("auth/change_password.html", form=form, forced=forced,
                       ask_current=ask_current, menu_locked=True), status


def _set_new_password(password):
    """Store the new password, end every other session, keep this one, tell the customer."""
    with db.atomic():
        (Customer
         .update(password_hash=hash_password(password), must_change_password=False,
                 temp_password_hash=None, temp_password_expires_at=None,
                 session_version=Customer.session_version + 1)
         .where(Customer.id == current_user.id)
         .execute())
        customer = Customer.get_by_id(current_user.id)
        if customer.email:
            queue_mail(customer.email, _l("Area Clienti: password modificata"), "password_changed",
                       kind="password_changed", customer=customer, customer_name=customer.name,
                       code=customer.code)
    login_user(customer)
    session["temporary_login"] = False
    audit("password_changed", customer=customer, ip=client_ip())
