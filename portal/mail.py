"""Outgoing e-mail: SMTP when MAIL_SERVER is set, otherwise `.eml` files in the outbox."""
import logging
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app, render_template

from models import OutgoingMail, utcnow

log = logging.getLogger("area_clienti.mail")


class MailError(Exception):
    """The message could not be handed to the mail server."""


def send_mail(recipient, subject, template, *, kind, customer=None, **context):
    """Send `templates/mail/<template>.txt` and `.html` to `recipient`.

    Raises MailError when the message could not be delivered to the server (or
    written to the outbox); the caller decides whether to undo its action."""
    config = current_app.config
    context.update(company=config["COMPANY_NAME"], base_url=config["BASE_URL"].rstrip("/"))
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = recipient
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="area-clienti")
    message.set_content(render_template(f"mail/{template}.txt", **context))
    message.add_alternative(render_template(f"mail/{template}.html", **context), subtype="html")

    record = dict(recipient=recipient, subject=subject, kind=kind, customer=customer)
    try:
        if config["MAIL_SERVER"]:
            _send_smtp(message, config)
            status = "sent"
        else:
            path = _write_outbox(message, Path(config["OUTBOX_DIR"]))
            log.info("mail %s to %s written to %s", kind, recipient, path)
            status = "outbox"
    except (OSError, smtplib.SMTPException) as error:
        log.error("mail %s to %s failed: %s", kind, recipient, error.__class__.__name__)
        OutgoingMail.create(status="failed", error=error.__class__.__name__, **record)
        raise MailError(str(error)) from error
    OutgoingMail.create(status=status, **record)


def _send_smtp(message, config):
    timeout = config["MAIL_TIMEOUT"]
    if config["MAIL_USE_SSL"]:
        server = smtplib.SMTP_SSL(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout,
                                  context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
    with server:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            server.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            server.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        server.send_message(message)


def _write_outbox(message, outbox):
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
    path.write_bytes(bytes(message))
    return path
