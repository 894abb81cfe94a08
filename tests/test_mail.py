"""The outgoing-mail queue: queued in the page's transaction, delivered by the sender to
a real SMTP server (or the outbox), retried with backoff, claimed once, each attempt
under an overall deadline; failed mail sent again from the back-office."""
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import models
from conftest import Mailbox, background_sender, deliver_mail, free_port, make_app
from portal import backoffice, mail

OutgoingMail = models.OutgoingMail
ADMIN_PASSWORD = "amministrazione-del-portale"


def queue_test_message(application, recipient="cliente@example.com"):
    with application.test_request_context():
        return mail.queue_mail(recipient, "Prova", "password_changed", kind="test",
                               customer_name="ROSSI MARIO", code="123456")


def make_due(mail_id=None):
    query = OutgoingMail.update(next_attempt_at=models.utcnow())
    if mail_id is not None:
        query = query.where(OutgoingMail.id == mail_id)
    query.execute()


@pytest.fixture
def smtp_controller():
    """A real SMTP server that a test may start late (on a port chosen now)."""
    servers = []

    def start(port, **options):
        mailbox = Mailbox()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        servers.append(controller)
        return mailbox

    yield start
    for controller in servers:
        controller.stop()


class HangingServer:
    """Accepts connections, then either says nothing or drips one byte at a time of a
    greeting that never ends: smtplib's per-read timeout never fires for the latter."""

    def __init__(self, drip_every=None):
        self.drip_every = drip_every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.connections = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                continue
            self.connections.append(connection)
            if self.drip_every:
                threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection):
        with contextlib.suppress(OSError):  # the client gave up and closed: the drip ends
            connection.sendall(b"220-")
            while not self.stopped.wait(self.drip_every):
                connection.sendall(b"x")

    def stop(self):
        self.stopped.set()
        for connection in self.connections:
            connection.close()
        self.listener.close()


# --- Delivery ----------------------------------------------------------------------

def test_smtp_with_login(tmp_path, smtp_controller):
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"portale" \
            and auth_data.password == b"segreto"
        seen.append(ok)
        return AuthResult(success=ok)

    port = free_port()
    mailbox = smtp_controller(port, authenticator=authenticator, auth_require_tls=False)
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                           MAIL_USERNAME="portale", MAIL_PASSWORD="segreto",
                           MAIL_DEFAULT_SENDER="Area Clienti <noreply@example.it>")
    row = queue_test_message(application)
    assert row.status == "queued" and mailbox.messages == []  # queued, not sent
    assert deliver_mail(application) == {"sent": 1, "retry": 0, "failed": 0}
    assert seen == [True]
    assert mailbox.wait_for(1)
    recipients, message = mailbox.messages[0]
    assert recipients == ["cliente@example.com"]
    assert message["From"] == "Area Clienti <noreply@example.it>"
    assert "codice cliente 123456 è stata modificata" in mailbox.text_of(0)
    assert "<strong>123456</strong>" in message.get_body(("html",)).get_content()
    stored = OutgoingMail.get()
    assert stored.status == "sent" and stored.sent_at and stored.message is None
    assert deliver_mail(application) == {"sent": 0, "retry": 0, "failed": 0}
    assert len(mailbox.messages) == 1


def test_outbox_when_no_server(tmp_path):
    application = make_app(tmp_path)
    queue_test_message(application)
    assert deliver_mail(application)["sent"] == 1
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    text = eml.read_text()
    assert "Subject: Prova" in text and "To: cliente@example.com" in text
    assert OutgoingMail.get().status == "outbox"


def test_a_rolled_back_action_sends_nothing(tmp_path, smtp_server):
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    with application.test_request_context():
        with models.db.atomic() as transaction:
            mail.queue_mail("a@example.com", "Prova", "password_changed", kind="test",
                            customer_name="X", code="1")
            transaction.rollback()
    assert deliver_mail(application)["sent"] == 0
    assert OutgoingMail.select().count() == 0
    assert not smtp_server.wait_for(1, timeout=0.3)


def test_retries_with_backoff_reach_the_server_once_it_is_back(tmp_path, smtp_controller):
    port = free_port()  # nobody listens there yet
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=2,
                           MAIL_RETRY_SECONDS=60)
    row = queue_test_message(application)
    before = models.utcnow()
    assert deliver_mail(application) == {"sent": 0, "retry": 1, "failed": 0}
    first = OutgoingMail.get_by_id(row.id)
    assert first.status == "queued" and first.attempts == 1 and first.error == "ConnectionRefusedError"
    assert 59 <= (first.next_attempt_at - before).total_seconds() <= 62
    assert deliver_mail(application)["retry"] == 0  # not due yet

    make_due()
    assert deliver_mail(application)["retry"] == 1
    second = OutgoingMail.get_by_id(row.id)
    assert 119 <= (second.next_attempt_at - models.utcnow()).total_seconds() <= 121  # doubled

    mailbox = smtp_controller(port)
    make_due()
    assert deliver_mail(application) == {"sent": 1, "retry": 0, "failed": 0}
    assert mailbox.wait_for(1) and mailbox.messages[0][0] == ["cliente@example.com"]
    assert OutgoingMail.get_by_id(row.id).attempts == 3


def test_failed_for_good_after_the_last_attempt(tmp_path):
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(),
                           MAIL_MAX_ATTEMPTS=3)
    queue_test_message(application)
    outcomes = []
    for _ in range(3):
        make_due()
        outcomes.append(deliver_mail(application))
    assert [outcome["failed"] for outcome in outcomes] == [0, 0, 1]
    row = OutgoingMail.get()
    assert row.status == "failed" and row.attempts == 3 and row.message
    with application.app_context():
        assert mail.queue_health() == {"stuck": 0, "failed": 1}


def test_a_refused_recipient_fails_at_once(tmp_path, smtp_controller):
    class Refusing(Mailbox):
        async def handle_RCPT(self, server, session, envelope, address, options):
            return "550 no such user here"

    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
        queue_test_message(application)
        assert deliver_mail(application) == {"sent": 0, "retry": 0, "failed": 1}
        assert OutgoingMail.get().error == "SMTPRecipientsRefused"
    finally:
        controller.stop()


def test_a_refused_login_is_retried_not_failed(tmp_path, smtp_server, monkeypatch):
    """A wrong MAIL_PASSWORD (535) is fixed by the administrator; the mail must still go."""
    import smtplib

    def refused(self, user, password, **kwargs):
        raise smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid")

    monkeypatch.setattr(smtplib.SMTP, "login", refused)
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port,
                           MAIL_USERNAME="portale", MAIL_PASSWORD="sbagliata")
    queue_test_message(application)
    assert deliver_mail(application) == {"sent": 0, "retry": 1, "failed": 0}
    row = OutgoingMail.get()
    assert row.status == "queued" and row.error == "SMTPAuthenticationError 535"


@pytest.mark.parametrize("drip_every", [None, 0.2], ids=["silent", "dripping"])
def test_a_hanging_server_cannot_hold_an_attempt(tmp_path, drip_every):
    """smtplib's timeout is per read: a server dripping a byte every 0.2 s would hold an
    attempt for ever; the overall deadline cuts both kinds of hang."""
    server = HangingServer(drip_every)
    try:
        application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port,
                               MAIL_TIMEOUT=30, MAIL_SEND_DEADLINE=1)
        queue_test_message(application)
        started = time.monotonic()
        assert deliver_mail(application) == {"sent": 0, "retry": 1, "failed": 0}
        assert time.monotonic() - started < 3
        row = OutgoingMail.get()
        assert row.status == "queued" and row.error == "deadline"
    finally:
        server.stop()


@pytest.mark.parametrize("drip_every", [None, 0.2], ids=["silent", "dripping"])
def test_pages_answer_while_the_mail_server_hangs(tmp_path, factory, drip_every):
    """The background sender is stuck on the server; recovery answers at once, for a
    registered code as for an unknown one."""
    server = HangingServer(drip_every)
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port,
                           MAIL_TIMEOUT=30, MAIL_SEND_DEADLINE=3, MAIL_POLL_SECONDS=1)
    factory.customer(code="654321", email="ufficio@example.com")
    client = application.test_client()
    try:
        with background_sender(application):
            timings = []
            for code in ("654321", "999999", "654321", "999999"):
                started = time.monotonic()
                response = client.post("/password-dimenticata", data={"code": code})
                timings.append(time.monotonic() - started)
                assert response.status_code == 200
            time.sleep(0.5)  # the sender is now inside an attempt
            started = time.monotonic()
            assert client.post("/password-dimenticata", data={"code": "654321"}).status_code == 200
            timings.append(time.monotonic() - started)
        assert max(timings) < 1.0, timings
        assert OutgoingMail.select().where(OutgoingMail.kind == "recovery").count() == 3
    finally:
        server.stop()


# --- Exactly once ----------------------------------------------------------------------

def test_many_senders_deliver_each_message_once(tmp_path, smtp_server):
    """Four senders (as four workers would) on the same queue: every message reaches
    the server exactly once."""
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    for number in range(30):
        queue_test_message(application, f"cliente{number}@example.com")
    start = threading.Barrier(4)
    totals = []

    def sender():
        start.wait()
        totals.append(deliver_mail(application)["sent"])

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(totals) == 30
    assert smtp_server.wait_for(30)
    time.sleep(0.3)
    recipients = sorted(recipient for (recipient,), _ in smtp_server.messages)
    assert recipients == sorted(f"cliente{number}@example.com" for number in range(30))
    assert len({message["Message-ID"] for _, message in smtp_server.messages}) == 30
    assert OutgoingMail.select().where(OutgoingMail.status == "sent").count() == 30


def test_two_processes_deliver_each_message_once(tmp_path, smtp_server):
    """Two `flask mail send-pending` processes at once, as two workers' senders (or
    a cron job beside them): each message reaches the server once."""
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    for number in range(40):
        queue_test_message(application, f"cliente{number}@example.com")
    models.db.close_all()
    environment = {**os.environ, "DATABASE_URL": application.config["DATABASE_URL"],
                   "SECRET_KEY": "x", "MAIL_SERVER": "127.0.0.1",
                   "MAIL_PORT": str(smtp_server.port), "OUTBOX_DIR": str(tmp_path / "outbox")}
    command = [sys.executable, "-m", "flask", "--app", "app", "mail", "send-pending"]
    processes = [subprocess.Popen(command, cwd=Path(__file__).parent.parent, env=environment,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    sent = [int(output.split("Inviate ")[1].split(",")[0]) for output in outputs]
    assert sum(sent) == 40, outputs
    assert smtp_server.wait_for(40)
    time.sleep(0.3)
    assert len(smtp_server.messages) == 40
    assert len({recipient for (recipient,), _ in smtp_server.messages}) == 40


def test_an_interrupted_attempt_is_never_resent_blindly(tmp_path, smtp_server):
    """A sender killed mid-attempt (a restart) leaves a claim: whether the server got
    the message is unknown, so it is failed for an admin to decide, not sent again."""
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    row = queue_test_message(application)
    (OutgoingMail
     .update(status="sending", attempts=1,
             claimed_until=models.utcnow() - models.datetime.timedelta(seconds=1))
     .where(OutgoingMail.id == row.id)
     .execute())
    with application.app_context():
        assert mail.queue_health()["stuck"] == 1
    assert deliver_mail(application)["sent"] == 0
    assert OutgoingMail.get_by_id(row.id).status == "failed"
    assert OutgoingMail.get_by_id(row.id).error == mail.INTERRUPTED
    assert not smtp_server.wait_for(1, timeout=0.3)


def test_queue_health_counts_mail_waiting_too_long(tmp_path):
    application = make_app(tmp_path, MAIL_STUCK_MINUTES=15)
    queue_test_message(application)
    with application.app_context():
        assert mail.queue_health() == {"stuck": 0, "failed": 0}
        (OutgoingMail
         .update(next_attempt_at=models.utcnow() - models.datetime.timedelta(minutes=16))
         .execute())
        assert mail.queue_health() == {"stuck": 1, "failed": 0}


# --- Back-office and command line ------------------------------------------------------

def test_admins_send_failed_mail_again_from_the_back_office(tmp_path, smtp_controller):
    port = free_port()
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_MAX_ATTEMPTS=1)
    row = queue_test_message(application, "perso@example.com")
    assert deliver_mail(application)["failed"] == 1
    backoffice.create_operator("capo", ADMIN_PASSWORD, role="admin")
    backoffice.create_operator("mario.rossi", ADMIN_PASSWORD)

    plain = application.test_client()
    plain.post("/operatore/login", data={"username": "mario.rossi", "password": ADMIN_PASSWORD})
    assert plain.get("/operatore/posta").status_code == 403
    assert plain.post(f"/operatore/posta/{row.id}/invia").status_code == 403

    admin = application.test_client()
    admin.post("/operatore/login", data={"username": "capo", "password": ADMIN_PASSWORD})
    page = admin.get("/operatore/posta").text
    assert "Posta non recapitata" in page and "perso@example.com" in page
    assert "ConnectionRefusedError" in page and "Invia di nuovo" in page

    mailbox = smtp_controller(port)
    again = admin.post(f"/operatore/posta/{row.id}/invia")
    assert again.status_code == 303
    assert "rimesso in coda" in admin.get(again.headers["Location"]).text
    assert admin.post(f"/operatore/posta/{row.id}/invia").status_code == 303  # not failed now
    assert admin.post("/operatore/posta/999/invia").status_code == 404
    assert deliver_mail(application)["sent"] == 1
    assert mailbox.wait_for(1) and mailbox.messages[0][0] == ["perso@example.com"]
    assert "Nessun messaggio non recapitato." in admin.get("/operatore/posta").text
    assert models.AuditLog.select().where(models.AuditLog.event == "mail_send_again").count() == 1


def test_mail_commands(tmp_path, smtp_server):
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    runner = application.test_cli_runner()
    queue_test_message(application, "uno@example.com")
    failed = queue_test_message(application, "due@example.com")
    OutgoingMail.update(status="failed", error="SMTPDataError 554").where(
        OutgoingMail.id == failed.id).execute()
    models.db.close()
    sent = runner.invoke(args=["mail", "send-pending"])
    assert sent.exit_code == 0, sent.output
    assert "Inviate 1, da riprovare 0, non recapitate 0." in sent.output
    assert smtp_server.wait_for(1)
    listed = runner.invoke(args=["mail", "list-failed"])
    assert "due@example.com" in listed.output and "SMTPDataError 554" in listed.output
    assert "uno@example.com" not in listed.output


def test_migration_adds_the_queue_and_keeps_mail_records(app):
    """A database made before the queue: its mail records stay, as delivered records."""
    from test_foundation import strip_mail_queue
    models.db.close()
    with models.db.connection_context():
        strip_mail_queue()
        models.db.execute_sql(
            "INSERT INTO outgoing_mail (recipient, subject, kind, created_at, status, error) "
            "VALUES ('vecchio@example.it', 'Prova', 'recovery', '2026-01-02 03:04:05', "
            "'failed', 'SMTPServerDisconnected')")
        models._migrate_5(models.db.obj)
        old = OutgoingMail.get()
        assert (old.recipient, old.status, old.error) == ("vecchio@example.it", "failed",
                                                          "SMTPServerDisconnected")
        assert old.message is None and old.attempts == 0
        assert not mail.send_again(old.id)  # nothing to send: the body was never kept
        assert models.RegistrationRequest.select().count() == 0
