"""Dati Anagrafici: the customer record, with phone, fax and e-mail editable, the notices
the customer wants, bolletta web, and the one-click unsubscribe of a notice's e-mail."""
import datetime
import json
import re

from email_validator import EmailNotValidError, validate_email
from flask import Blueprint, abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, TelField
from wtforms.validators import DataRequired, Length, ValidationError

from models import AuditLog, Customer, audit, db, utcnow
from portal import notices, privacy
from portal.mail import queue_mail
from portal.passwords import MAX_LENGTH
from views import (client_ip, csrf, customer_required, is_htmx, limiter, render_page,
                   selected_supply_point)
from views.auth import current_password_confirmed

bp = Blueprint("profile", __name__)

# The only fields a customer may change, with the names used in the audit log and
# in the notification e-mail. Whatever else a request carries is never read.
CONTACT_FIELDS = {"phone": _l("Telefono"), "fax": _l("FAX"), "email": _l("E-Mail")}

# An Italian number: optional +39 / 0039, then 6 to 13 digits, which people group
# with spaces, dots, slashes or dashes.
_PHONE_PREFIX = re.compile(r"^(\+|00)39")
_PHONE_SEPARATORS = re.compile(r"[\s./-]+")
EMAIL_CHANGES_EXHAUSTED = _l("Hai già cambiato l'indirizzo e-mail {} volte nelle ultime 24 ore: "
                             "per sicurezza potrai cambiarlo di nuovo domani. Se è urgente, "
                             "contatta il servizio clienti.")
PHONE_HELP = _l("Solo cifre, con spazi e prefisso +39 facoltativi (es. 0586 123456 o "
                "+39 333 1234567).")


def italian_phone(text):
    """The number tidied (surrounding and repeated spaces removed), or ValueError."""
    tidy = " ".join(text.split())
    digits = _PHONE_SEPARATORS.sub("", _PHONE_PREFIX.sub("", tidy))
    if not (digits.isascii() and digits.isdigit() and 6 <= len(digits) <= 13):
        raise ValueError(tidy)
    return tidy


def _validate_phone(invalid):
    def validate(form, field):
        if not (field.data or "").strip():
            field.data = ""
            return
        try:
            field.data = italian_phone(field.data)
        except ValueError:
            raise ValidationError(f"{invalid} {PHONE_HELP}") from None
    return validate


class ContactForm(FlaskForm):
    phone = TelField(_l("Telefono"), [Length(max=32, message=_l("Al massimo 32 caratteri.")),
                                     _validate_phone(_l("Numero di telefono non valido."))],
                      default="")
    fax = TelField(_l("FAX"), [Length(max=32, message=_l("Al massimo 32 caratteri.")),
                              _validate_phone(_l("Numero di fax non valido."))], default="")
    email = EmailField(_l("E-Mail"), [DataRequired(_l("Campo obbligatorio.")),
                                     Length(max=254, message=_l("Indirizzo e-mail troppo lungo."))])
    current_password = PasswordField(_l("Password attuale"),
                                     [Length(max=MAX_LENGTH * 4,
                                             message=_l("Password non corretta."))])

    def validate_email(self, field):
        try:
            field.data = validate_email(field.data.strip(),
                                        check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValidationError(_("Indirizzo e-mail non valido: controlla di averlo scritto "
                                    "per intero (es. nome@dominio.it).")) from None


def changed_fields(customer, form):
    """{field: new value} for the contact fields that differ from the record."""
    changes = {}
    for name in CONTACT_FIELDS:
        new_value = getattr(form, name).data or ""
        old_value = getattr(customer, name) or ""
        differs = (new_value.lower() != old_value.lower() if name == "email"
                   else new_value != old_value)
        if differs:
            changes[name] = new_value
    return changes


def _contact_page(form, customer, status=200, saved=None):
    return render_page("profile/index.html", form=form, customer=customer,
                       saved=saved), status


@bp.get("/dati-anagrafici")
@customer_required
def index():
    """Dati Anagrafici: the record read-only, the contacts in an editable form."""
    selected_supply_point()
    customer = Customer.get_by_id(current_user.id)
    return _contact_page(ContactForm(obj=customer), customer)


@bp.post("/dati-anagrafici")
@customer_required
# Only refused submissions count: a stolen session cannot guess the password here
# faster than 20 tries an hour, and a customer fixing typos is never stopped.
@limiter.limit("20 per hour", key_func=lambda: f"contacts:{getattr(current_user, 'id', '')}",
               methods=["POST"], deduct_when=lambda response: response.status_code == 422)
def update():
    """Save Telefono, FAX and E-Mail; a new e-mail needs the current password."""
    selected_supply_point()
    customer = Customer.get_by_id(current_user.id)
    form = ContactForm(obj=customer)
    valid = form.validate_on_submit()
    # Checked even when another field is wrong, so that every message shows at once.
    if "email" in changed_fields(customer, form) and not form.email.errors:
        if _email_changes_exhausted(customer):
            form.email.errors.append(EMAIL_CHANGES_EXHAUSTED.format(
                current_app.config["EMAIL_CHANGES_PER_DAY"]))
            valid = False
        else:
            valid = _current_password_confirmed(form, customer) and valid
    if not valid:
        return _contact_page(form, customer, 422)
    changes = changed_fields(customer, form)
    old_email = customer.email
    notified = None
    if changes:
        update = dict(changes)
        if "email" in changes:
            # The address that can reset the password changed: like a new password, it
            # ends every other session (one opened by whoever knew the old password).
            update["session_version"] = Customer.session_version + 1
        with db.atomic():
            Customer.update(**update).where(Customer.id == customer.id).execute()
            if "email" in changes:
                notified = _notify_email_change(Customer.get_by_id(customer.id), old_email)
        audit("contact_changed", customer=customer, ip=client_ip(),
              detail="fields: " + ", ".join(changes))
    customer = Customer.get_by_id(customer.id)
    if "email" in changes:
        login_user(customer)  # this session goes on with the new version
    message = _saved_message(changes, notified)
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("profile.index"), 303)
    return _contact_page(ContactForm(obj=customer, formdata=None), customer, saved=message)


def _email_changes_exhausted(customer):
    """Each change mails two addresses: a stolen session must not use the portal to
    send notices to somebody else's mailbox over and over."""
    since = utcnow() - datetime.timedelta(days=1)
    return (AuditLog.email_changes_since(customer, since)
            >= current_app.config["EMAIL_CHANGES_PER_DAY"])


def _current_password_confirmed(form, customer):
    """A new e-mail address needs the current password (a fresh proof of identity)."""
    if not form.current_password.data:
        form.current_password.errors.append(
            _("Per cambiare l'indirizzo e-mail inserisci la password attuale."))
        return False
    if not current_password_confirmed(customer, form.current_password.data,
                                      "contact_change_refused"):
        form.current_password.errors.append(_("La password attuale non è corretta."))
        return False
    return True


@bp.get("/dati-anagrafici/esporta")
@customer_required
def export():
    """Download every personal datum the portal holds, as JSON (GDPR Art. 15 and 20)."""
    customer = Customer.get_by_id(current_user.id)
    audit("gdpr_export", customer=customer, ip=client_ip())
    body = json.dumps(privacy.personal_data(customer), ensure_ascii=False, indent=2)
    response = current_app.response_class(body, mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=dati-personali-{customer.code}.json")
    return response


def _saved_message(changes, notified):
    if not changes:
        return _("Nessuna modifica: i recapiti erano già questi.")
    message = _("Recapiti aggiornati: %(fields)s.",
                fields=", ".join(str(CONTACT_FIELDS[name]) for name in changes))
    if notified:
        message += " " + _("Abbiamo inviato un avviso al precedente indirizzo e-mail.")
    return message


def _notify_email_change(customer, old_email):
    """Queue the notice to the old address (and to the new one), in the transaction of
    the change; True when the old address will be told."""
    for recipient, is_old_address in ((old_email, True), (customer.email, False)):
        if recipient:
            queue_mail(recipient, _l("Area Clienti: indirizzo e-mail modificato"),
                       "contact_changed", kind="contact_changed", customer=customer,
                       customer_name=customer.name,
                       code=customer.code, old_address=is_old_address,
                       company_phone=current_app.config["COMPANY_PHONE"],
                       company_email=current_app.config["COMPANY_EMAIL"])
    return bool(old_email)


# --- Notices and bolletta web ---------------------------------------------------------

class NoticesForm(FlaskForm):
    """One checkbox per kind of notice (see portal.notices.KINDS), and bolletta web."""
    paperless = BooleanField(_l("Bolletta web: ricevo le bollette solo on line, senza copia "
                                "cartacea"))


for _kind, (_label, _hint) in notices.KINDS.items():
    setattr(NoticesForm, f"notice_{_kind}", BooleanField(_label, description=_hint))


def _notices_page(form, customer, status=200, saved=None):
    kind_fields = [getattr(form, f"notice_{kind}") for kind in notices.KINDS]
    return render_page("profile/notices.html", form=form, customer=customer,
                       kind_fields=kind_fields, saved=saved), status


def _notices_form(customer):
    """The form showing the customer's current choices."""
    wanted = notices.wanted_kinds(customer)
    data = {f"notice_{kind}": kind in wanted for kind in notices.KINDS}
    data["paperless"] = customer.paperless
    return NoticesForm(formdata=None, data=data)


@bp.get("/dati-anagrafici/avvisi")
@customer_required
def notice_choices():
    """Avvisi e bolletta web: which notices the customer gets by e-mail."""
    selected_supply_point()
    customer = Customer.get_by_id(current_user.id)
    return _notices_page(_notices_form(customer), customer)


@bp.post("/dati-anagrafici/avvisi")
@customer_required
def save_notice_choices():
    """Save the notices wanted and bolletta web on or off."""
    selected_supply_point()
    customer = Customer.get_by_id(current_user.id)
    # No defaults from the record: a box left unticked is not sent, and means off.
    form = NoticesForm()
    if not form.validate_on_submit():
        return _notices_page(form, customer, 422)
    with db.atomic():
        off = notices.set_wanted(customer, [kind for kind in notices.KINDS
                                            if getattr(form, f"notice_{kind}").data])
        paperless_changed = notices.set_paperless(customer, form.paperless.data)
    audit("notice_choices", customer=customer, ip=client_ip(),
          detail="off: " + (", ".join(off) or "none")
          + (f"; paperless {'on' if form.paperless.data else 'off'}" if paperless_changed else ""))
    customer = Customer.get_by_id(customer.id)
    message = _("Preferenze salvate.")
    if paperless_changed:
        message += " " + (_("Bolletta web attivata: non riceverai più la copia cartacea.")
                          if customer.paperless else
                          _("Bolletta web disattivata: riceverai di nuovo la copia cartacea."))
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("profile.notice_choices"), 303)
    return _notices_page(_notices_form(customer), customer, saved=message)


# The one-click unsubscribe of RFC 8058: a mail client POSTs here with no cookie and no
# CSRF token; the signed token (customer and kind) is the proof, and the only change it
# allows is turning that kind off. No rate limit: a mailbox provider POSTs the
# unsubscribes of all its users from a few addresses, and a forged token costs one HMAC.
@bp.get("/avvisi/disiscrizione/<token>")
def unsubscribe(token):
    """Ask to confirm: a GET changes nothing (mail scanners open links)."""
    found = notices.read_unsubscribe_token(token)
    if found is None:
        abort(404)
    customer, kind = found
    return render_page("profile/unsubscribe.html", token=token, kind_name=notices.KINDS[kind][0],
                       done=False)


@bp.post("/avvisi/disiscrizione/<token>")
@csrf.exempt
def unsubscribe_confirmed(token):
    """Turn the token's kind of notice off (the page's button, or a mail client's one-click
    POST)."""
    found = notices.read_unsubscribe_token(token)
    if found is None:
        abort(404)
    customer, kind = found
    if notices.turn_off(customer, kind):
        audit("notice_unsubscribed", customer=customer, ip=client_ip(), detail=kind)
    return render_page("profile/unsubscribe.html", token=token, kind_name=notices.KINDS[kind][0],
                       done=True)
