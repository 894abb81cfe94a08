"""Posta non recapitata (admins only): messages the sender gave up on, sent again on
request; and an operator's confirmation of a registrant's new e-mail address."""
from flask_login import current_user

from models import Operator, OutgoingMail, RegistrationRequest
from portal import mail, registration
from views import get_or_404, render_page
from views.backoffice import audit_action, bp, done, operator_required
from views.backoffice_records import customer_or_404

KIND_LABELS = {
    "registration": "Password di primo accesso",
    "registration_address": "Conferma indirizzo per la registrazione",
    "recovery": "Nuova password",
    "password_changed": "Avviso di password modificata",
    "contact_changed": "Avviso di e-mail modificata",
    "ticket_new": "Nuovo ticket (allo sportello)",
    "ticket_answer": "Risposta a un ticket",
}


@bp.get("/posta")
@operator_required(role=Operator.ADMIN)
def failed_mail():
    """The messages failed for good, with "Invia di nuovo"."""
    return render_page("backoffice/mail.html", messages=list(OutgoingMail.failed_for_good()),
                       kind_labels=KIND_LABELS, health=mail.queue_health())


@bp.post("/posta/<int:mail_id>/invia")
@operator_required(role=Operator.ADMIN)
def send_mail_again(mail_id):
    """Queue a failed message again: the sender tries it afresh."""
    row = get_or_404(OutgoingMail, OutgoingMail.id == mail_id)
    if not mail.send_again(row.id):
        return done("Questo messaggio non è più tra quelli non recapitati.",
                    "backoffice.failed_mail", "error")
    audit_action("mail_send_again", row.customer_id,
                 detail=f"messaggio n. {row.id} ({row.kind}) a {row.recipient}")
    return done(f"Messaggio a {row.recipient} rimesso in coda: parte entro pochi minuti.",
                "backoffice.failed_mail")


@bp.post("/clienti/<code>/registrazione/<int:request_id>/conferma")
@operator_required()
def confirm_registration_address(code, request_id):
    """After checking who is asking (by phone, at the counter), the operator confirms the
    registrant's address: the first password goes there."""
    customer = customer_or_404(code)
    pending = get_or_404(RegistrationRequest, (RegistrationRequest.id == request_id)
                         & (RegistrationRequest.customer == customer))
    if not registration.confirm(pending, operator=current_user.id):
        return done("Richiesta non più valida (scaduta, già confermata o cliente già "
                    "registrato).", "backoffice.customer", "error", code=customer.code)
    audit_action("registration", customer,
                 detail=f"indirizzo {pending.email} confermato dall'operatore")
    return done(f"Indirizzo {pending.email} confermato: la password di primo accesso è in "
                "partenza.", "backoffice.customer", code=customer.code)
