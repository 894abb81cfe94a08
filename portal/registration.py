"""First access: the temporary password goes to the e-mail the billing system has on
file; another address gets it only once the address on file (by a signed link) or an
operator confirms, so knowing a code and its codice fiscale is not enough to take the
account."""
import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer

from models import Customer, RegistrationRequest, db, utcnow
from portal.mail import queue_mail
from portal.passwords import hash_password, new_temporary_password

TEMPORARY_PASSWORD_LIFETIME = datetime.timedelta(hours=24)
TOKEN_SALT = "registration-address"


def masked_email(address):
    """`mario.rossi@example.it` as `m***@example.it`: enough for its owner to know it,
    too little for anyone else to learn it."""
    local, _, domain = (address or "").partition("@")
    if not local or not domain:
        return ""
    return f"{local[0]}***@{domain}"


def same_address(first, second):
    return (first or "").strip().lower() == (second or "").strip().lower()


def register(customer, email):
    """Register the customer with `email` and queue the first-access password there,
    in one transaction; False (nothing done) when somebody registered the code first."""
    temporary = new_temporary_password()
    now = utcnow()
    with db.atomic():
        claimed = (Customer
                   .update(registered_at=now, email=email,
                           temp_password_hash=hash_password(temporary),
                           temp_password_expires_at=now + TEMPORARY_PASSWORD_LIFETIME)
                   .where((Customer.id == customer.id) & Customer.registered_at.is_null())
                   .execute())
        if not claimed:
            return False
        queue_mail(email, _l("Area Clienti: la tua password di primo accesso"),
                   "temporary_password", kind="registration", customer=customer,
                   customer_name=customer.name, code=customer.code, password=temporary,
                   first_access=True)
    return True


def request_other_address(customer, email):
    """Ask the address on file to confirm that the first password goes to `email`;
    nothing is sent to `email` now. Returns the request."""
    hours = current_app.config["REGISTRATION_CONFIRM_HOURS"]
    with db.atomic():
        request = RegistrationRequest.create(
            customer=customer, email=email,
            expires_at=utcnow() + datetime.timedelta(hours=hours))
        link = (current_app.config["BASE_URL"].rstrip("/")
                + f"/registrazione/indirizzo/{token_for(request)}")
        queue_mail(customer.email, _l("Area Clienti: conferma l'indirizzo per la registrazione"),
                   "registration_address", kind="registration_address", customer=customer,
                   customer_name=customer.name, code=customer.code, new_address=email,
                   link=link, hours=hours)
    return request


def token_for(request):
    return _serializer().dumps(request.id)


def request_for_token(token):
    """The pending, unexpired request a link names; None for anything else."""
    max_age = current_app.config["REGISTRATION_CONFIRM_HOURS"] * 3600
    try:
        request_id = _serializer().loads(token, max_age=max_age)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(request_id, int):
        return None
    return (RegistrationRequest
            .select()
            .where((RegistrationRequest.id == request_id)
                   & (RegistrationRequest.status == RegistrationRequest.PENDING)
                   & (RegistrationRequest.expires_at > utcnow()))
            .first())


def confirm(request, operator=None):
    """The address on file (or `operator`) agrees: register with the requested address.
    Once only; False when the request was used or the code registered meanwhile."""
    with db.atomic() as transaction:
        used = (RegistrationRequest
                .update(status=RegistrationRequest.CONFIRMED, confirmed_at=utcnow(),
                        confirmed_by=operator)
                .where((RegistrationRequest.id == request.id)
                       & (RegistrationRequest.status == RegistrationRequest.PENDING)
                       & (RegistrationRequest.expires_at > utcnow()))
                .execute())
        if not used:
            return False
        customer = Customer.get_by_id(request.customer_id)
        if not register(customer, request.email):
            transaction.rollback()  # the request stays as it was
            return False
    return True


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)
