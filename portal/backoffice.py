"""What the back-office does outside its views: operator accounts and their login,
customer search, publishing documents, reading the audit log."""
import re

from flask import current_app
from peewee import JOIN, IntegrityError, fn

from portal import attachments
from models import AuditLog, Customer, Document, Form, Operator, audit, db, utcnow
from portal.passwords import hash_password, needs_rehash, policy_errors, verify_password

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
ROLES = (Operator.OPERATOR, Operator.ADMIN)
MAX_NAME = 100

# The demo accounts (README): only ever created by `flask demo`, on demo data.
DEMO_OPERATOR_USERNAME = "operatore"
DEMO_OPERATOR_PASSWORD = "Sportello-Demo-2015"
DEMO_ADMIN_USERNAME = "admin"
DEMO_ADMIN_PASSWORD = "Amministra-Demo-2015"


class AccountError(ValueError):
    """An operator account cannot be created or changed; `errors` maps each form field
    (username, name, role, password) to its messages, the text joins them all."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__(" ".join(message for messages in errors.values() for message in messages))


def normalise_username(username):
    return (username or "").strip().lower()


def operator_named(username):
    """The operator with this username, or None. A name no account can have is not
    looked up (PostgreSQL refuses a NUL in a text value)."""
    username = normalise_username(username)
    return Operator.get_or_none(Operator.username == username) if USERNAME.match(username) else None


def password_errors(username, password):
    """The customers' policy, plus: the password may not contain the username."""
    errors = policy_errors(password)
    if username and username in password.lower():
        errors.append("La password non può contenere il nome utente.")
    return errors


def account_errors(username, password, role=Operator.OPERATOR, name=""):
    """Everything wrong with a new account, field by field ({} when nothing is): the
    back-office form shows each message beside its field, the CLI prints them all."""
    username = normalise_username(username)
    errors = {}
    if not USERNAME.match(username):
        errors["username"] = ["Nome utente non valido: 3-32 caratteri tra lettere minuscole, "
                              "cifre, punto, trattino e trattino basso."]
    if role not in ROLES:
        errors["role"] = [f"Ruolo non valido: {role}."]
    if len(name.strip()) > MAX_NAME:  # the column holds 255; PostgreSQL refuses more
        errors["name"] = [f"Nome troppo lungo: al massimo {MAX_NAME} caratteri."]
    problems = password_errors(username, password)
    if problems:
        errors["password"] = problems
    return errors


def create_operator(username, password, role=Operator.OPERATOR, name="", temporary=False):
    """A new operator account; AccountError for a bad name, role or password or a
    name already taken. A `temporary` password (an admin chose it) must be replaced at
    the first login."""
    errors = account_errors(username, password, role, name)
    if errors:
        raise AccountError(errors)
    username = normalise_username(username)
    try:
        with db.atomic():
            return Operator.create(username=username, name=name.strip(), role=role,
                                   password_hash=hash_password(password),
                                   must_change_password=temporary)
    except IntegrityError:
        raise AccountError({"username": [f"Esiste già un operatore «{username}»."]}) from None


def set_password(operator, password, temporary=False):
    """A new password ends every session of the account. A `temporary` one (an admin
    chose it for a colleague) must be replaced at the next login; the operator's own
    choice (their page, or `flask operator set-password` on the server) is not."""
    errors = password_errors(operator.username, password)
    if errors:
        raise AccountError({"password": errors})
    (Operator
     .update(password_hash=hash_password(password), failed_logins=0, locked_until=None,
             must_change_password=temporary, session_version=Operator.session_version + 1)
     .where(Operator.id == operator.id)
     .execute())


def set_active(operator, active):
    """Deactivate (ending every session of the account) or reactivate an operator."""
    changes = dict(active=active)
    if not active:
        changes["session_version"] = Operator.session_version + 1
    Operator.update(**changes).where(Operator.id == operator.id).execute()


def operators():
    """Every operator account, by username."""
    return Operator.select().order_by(Operator.username)


def last_logins():
    """{operator id: time of the last successful login}, read from the audit log (the
    account keeps no such column; after the retention job, older logins are gone)."""
    query = (AuditLog
             .select(AuditLog.operator, fn.MAX(AuditLog.at).alias("last_at"))
             .where((AuditLog.event == "operator_login_ok") & AuditLog.operator.is_null(False))
             .group_by(AuditLog.operator)
             .tuples())
    return {operator_id: last_at for operator_id, last_at in query}


def create_demo_operators():
    """The demo's operator and admin (fixed passwords, documented in the README);
    existing accounts are left as they are. Returns both accounts."""
    accounts = []
    for username, password, role, name in (
            (DEMO_OPERATOR_USERNAME, DEMO_OPERATOR_PASSWORD, Operator.OPERATOR, "Operatore demo"),
            (DEMO_ADMIN_USERNAME, DEMO_ADMIN_PASSWORD, Operator.ADMIN, "Amministratore demo")):
        existing = Operator.get_or_none(Operator.username == username)
        accounts.append(existing or create_operator(username, password, role, name))
    return accounts


def authenticate(username, password, ip=""):
    """The operator for these credentials, else None. An unknown, inactive or locked
    account costs one argon2 verification like a real one, and counts no failure
    unless it exists."""
    now = utcnow()
    operator = operator_named(username)
    usable = operator is not None and operator.active and not operator.is_locked(now)
    if verify_password(operator.password_hash if usable else None, password):
        changes = dict(failed_logins=0, locked_until=None)
        if needs_rehash(operator.password_hash):
            changes["password_hash"] = hash_password(password)
        Operator.update(**changes).where(Operator.id == operator.id).execute()
        return Operator.get_by_id(operator.id)
    if usable:
        if operator.record_failed_login():
            audit("operator_account_locked", operator=operator, ip=ip)
    return None


def search_customers(term, limit=50):
    """Customers by code (or its start), name, codice fiscale or partita IVA."""
    term = (term or "").strip()
    if not term:
        return []
    condition = Customer.name.contains(term) | (Customer.tax_code == term.upper())
    if term.isdigit():
        condition |= Customer.code.startswith(term)
    return list(Customer
                .select()
                .where(condition)
                .order_by(Customer.name, Customer.code)
                .limit(limit))


def _store(folder, upload):
    return attachments.store(current_app.config["FILES_DIR"], folder, upload)


def publish(upload, title, date, customer=None):
    """A Document for one customer, or a Form (Modulistica) for everybody when no
    customer is given. The file is removed again if the row cannot be written."""
    folder = f"documents/{customer.code}" if customer is not None else "forms"
    stored = _store(folder, upload)
    try:
        with db.atomic():
            if customer is not None:
                return Document.create(customer=customer, title=title, date=date,
                                       file_path=stored)
            return Form.create(title=title, date=date, file_path=stored)
    except Exception:
        attachments.remove(current_app.config["FILES_DIR"], stored)
        raise


def withdraw(record):
    """Delete a Document or Form and its file (the row first: a file without a row
    is harmless, a row without its file is a broken download)."""
    with db.atomic():
        deleted = type(record).delete().where(type(record).id == record.id).execute()
    if deleted:
        attachments.remove(current_app.config["FILES_DIR"], record.file_path)
    return deleted


def audit_entries(customer_code=None, username=None, event=None):
    """The audit log, newest first, filtered by customer code, operator username and
    event."""
    query = (AuditLog
             .select(AuditLog, Customer, Operator)
             .join(Customer, JOIN.LEFT_OUTER)
             .switch(AuditLog)
             .join(Operator, JOIN.LEFT_OUTER)
             .order_by(AuditLog.at.desc(), AuditLog.id.desc()))
    if customer_code:
        query = query.where(Customer.code == customer_code.strip())
    if username:
        query = query.where(Operator.username == normalise_username(username))
    if event:
        query = query.where(AuditLog.event == event)
    return query


def audit_events():
    """Every event name in the log, for the filter."""
    return [entry.event for entry in
            AuditLog.select(AuditLog.event).distinct().order_by(AuditLog.event)]
