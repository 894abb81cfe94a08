"""Outgoing mail through a real SMTP server, with login, and to the outbox."""
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import models
from conftest import Mailbox, free_port, make_app
from portal.mail import MailError, send_mail


def send_test_message(application):
    with application.test_request_context():
        send_mail("cliente@example.com", "Prova", "password_changed", kind="test",
                  customer_name="ROSSI MARIO", code="123456")


def test_smtp_with_login(tmp_path):
    mailbox, seen = Mailbox(), []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"portale" \
            and auth_data.password == b"segreto"
        seen.append(ok)
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port,
                            authenticator=authenticator, auth_require_tls=False)
    controller.start()
    try:
        application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                               MAIL_USERNAME="portale", MAIL_PASSWORD="segreto",
                               MAIL_DEFAULT_SENDER="Area Clienti <noreply@example.it>")
        send_test_message(application)
        assert seen == [True]
        assert mailbox.wait_for(1)
        recipients, message = mailbox.messages[0]
        assert recipients == ["cliente@example.com"]
        assert message["From"] == "Area Clienti <noreply@example.it>"
        assert "codice cliente 123456" in mailbox.text_of(0)
        assert "<strong>123456</strong>" in message.get_body(("html",)).get_content()
        assert models.OutgoingMail.get().status == "sent"
    finally:
        controller.stop()


def test_unreachable_server_raises_and_is_recorded(tmp_path):
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=2)
    with pytest.raises(MailError):
        send_test_message(application)
    row = models.OutgoingMail.get()
    assert row.status == "failed" and row.recipient == "cliente@example.com"


def test_outbox_when_no_server(tmp_path):
    application = make_app(tmp_path)
    send_test_message(application)
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    text = eml.read_text()
    assert "Subject: Prova" in text and "To: cliente@example.com" in text
    assert models.OutgoingMail.get().status == "outbox"
