"""Outgoing e-mail: a durable queue in the portal's database, delivered in the background
over SMTP (or to `.eml` files in the outbox when MAIL_SERVER is empty).

Why a table of the portal's database and not a queue library (huey, rq): a page must
queue its mail in the same transaction as what caused it, so that a rolled-back action
sends nothing and a committed one cannot lose its mail. Only a queue in the same
database gives that; huey's SQLite storage is another file (and on PostgreSQL it would
need Redis), so its enqueue commits on its own, before or after the page's transaction.
What huey would add (a consumer and retry scheduling) is the small loop below.

How a message is sent once:
- a sender claims a row with one conditional UPDATE (`status = 'queued'` and due):
  whatever the number of workers or hosts, one claim succeeds;
- each attempt has an overall deadline (MAIL_SEND_DEADLINE): smtplib's timeout is per
  read, so a server dripping one byte at a time would hold it for ever; a watchdog cuts
  the socket when the deadline passes;
- a claim that outlives its deadline by far means the sender died mid-attempt (a
  restart, a kill): whether the server got the message is unknown, so it is marked
  failed for good ("interrupted") for an admin to send again, never resent blindly.
"""
import contextlib
import datetime
import email
import logging
import os
import smtplib
import socket
import ssl
import threading
import time
import uuid
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

import flask_babel
from flask import current_app, render_template

from models import OutgoingMail, db, utcnow

log = logging.getLogger("area_clienti.mail")

# A claim lasts this many deadlines: a live sender always finishes well within it.
CLAIM_DEADLINES = 3
# Messages a sender claims one by one per round (a round is never long: each attempt
# has its deadline, and a burst is worked through round after round).
BATCH = 100
INTERRUPTED = "interrupted (outcome unknown)"

# Whether the current thread queued mail since the sender was last woken.
_queued_here = threading.local()


class DeliveryError(Exception):
    """One attempt failed; `permanent` when retrying cannot help (5xx answers)."""

    def __init__(self, reason, permanent=False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


# A language forced on this thread's rendering (a mail in its reader's language).
_forced = threading.local()


def forced_language():
    """The language in_language() forces now, else None."""
    return getattr(_forced, "language", None)


@contextlib.contextmanager
def in_language(language):
    """Render in `language` whatever the page's (None: the page's own). Thread-local,
    unlike flask_babel.force_locale, which swaps the selector for every thread."""
    previous = forced_language()
    _forced.language = language or previous
    flask_babel.refresh()
    try:
        yield
    finally:
        _forced.language = previous
        flask_babel.refresh()


def queue_mail(recipient, subject, template, *, kind, customer=None, language=None,
               headers=None, **context):
    """Queue `templates/mail/<template>.txt` and `.html` for `recipient`, inside the
    caller's transaction; the background sender delivers it. Returns the row.

    The mail speaks `language`, else the customer's chosen one, else the page's;
    `subject` may be a lazy translation; `headers` are added as they are (a notice's
    List-Unsubscribe)."""
    language = language or (customer.language if customer is not None else None)
    with in_language(language):
        subject = str(subject)
        message = compose(recipient, subject, template, headers=headers, **context)
    row = OutgoingMail.create(recipient=recipient, subject=subject, kind=kind,
                              customer=customer, status=OutgoingMail.QUEUED,
                              message=message, next_attempt_at=utcnow())
    _queued_here.pending = True
    return row


def compose(recipient, subject, template, headers=None, **context):
    """The message as text, ready to send (pages that must cost the same whether or
    not they send compose one and drop it)."""
    config = current_app.config
    context.update(company=config["COMPANY_NAME"], base_url=config["BASE_URL"].rstrip("/"))
    message = EmailMessage()
    message["Subject"] = str(subject)
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = recipient
    message["Date"] = formatdate(localtime=True)
    # Fixed now: should the message ever reach a mailbox twice, mail clients show one.
    message["Message-ID"] = make_msgid(domain="area-clienti")
    for name, value in (headers or {}).items():
        message[name] = value
    # Quoted-printable keeps the stored message ASCII, whatever the database.
    message.set_content(render_template(f"mail/{template}.txt", **context),
                        cte="quoted-printable")
    message.add_alternative(render_template(f"mail/{template}.html", **context),
                            subtype="html", cte="quoted-printable")
    return message.as_string()


# --- Delivery -----------------------------------------------------------------------

def deliver_due(limit=BATCH):
    """Deliver the messages that are due, each claimed first; returns how many were
    sent, retried later and failed for good: {"sent": n, "retry": n, "failed": n}."""
    config = current_app.config
    counts = {"sent": 0, "retry": 0, "failed": 0}
    _give_up_interrupted()
    now = utcnow()
    due = [row.id for row in (OutgoingMail
                              .select(OutgoingMail.id)
                              .where((OutgoingMail.status == OutgoingMail.QUEUED)
                                     & (OutgoingMail.next_attempt_at <= now))
                              .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
                              .limit(limit))]
    for mail_id in due:
        row = _claim(mail_id, config)
        if row is not None:
            counts[_attempt(row, config)] += 1
    return counts


def _claim(mail_id, config):
    """The row, if this sender's conditional UPDATE won it; else None."""
    now = utcnow()
    lease = datetime.timedelta(seconds=CLAIM_DEADLINES * config["MAIL_SEND_DEADLINE"] + 60)
    claimed = (OutgoingMail
               .update(status=OutgoingMail.SENDING, claimed_until=now + lease,
                       attempts=OutgoingMail.attempts + 1)
               .where((OutgoingMail.id == mail_id)
                      & (OutgoingMail.status == OutgoingMail.QUEUED)
                      & (OutgoingMail.next_attempt_at <= now))
               .execute())
    return OutgoingMail.get_by_id(mail_id) if claimed else None


def _attempt(row, config):
    """One delivery attempt of a claimed row; records the outcome."""
    try:
        if config["MAIL_SERVER"]:
            _send_smtp(row, config)
            status = OutgoingMail.SENT
        else:
            path = _write_outbox(row.message, Path(config["OUTBOX_DIR"]))
            log.info("mail %s to %s written to %s", row.kind, row.recipient, path)
            status = OutgoingMail.OUTBOX
    except DeliveryError as error:
        return _record_failure(row, error, config)
    # The message leaves the database once delivered: it may hold a temporary password.
    _finish(row, status=status, sent_at=utcnow(), message=None, error="", claimed_until=None)
    return "sent"


def _record_failure(row, error, config):
    if error.permanent or row.attempts >= config["MAIL_MAX_ATTEMPTS"]:
        log.error("mail %s (%s) to %s failed for good after %d attempts: %s",
                  row.id, row.kind, row.recipient, row.attempts, error.reason)
        _finish(row, status=OutgoingMail.FAILED, error=error.reason[:255], claimed_until=None)
        return "failed"
    wait = config["MAIL_RETRY_SECONDS"] * 2 ** (row.attempts - 1)
    log.warning("mail %s (%s) to %s: attempt %d failed (%s), next in %d s",
                row.id, row.kind, row.recipient, row.attempts, error.reason, wait)
    _finish(row, status=OutgoingMail.QUEUED, error=error.reason[:255], claimed_until=None,
            next_attempt_at=utcnow() + datetime.timedelta(seconds=wait))
    return "retry"


def _finish(row, **changes):
    """Record an attempt's outcome, only while the claim is still this sender's."""
    (OutgoingMail
     .update(**changes)
     .where((OutgoingMail.id == row.id) & (OutgoingMail.status == OutgoingMail.SENDING))
     .execute())


def _give_up_interrupted():
    """Claims whose sender died mid-attempt: failed for good, for an admin to decide."""
    stale = (OutgoingMail
             .update(status=OutgoingMail.FAILED, error=INTERRUPTED, claimed_until=None)
             .where((OutgoingMail.status == OutgoingMail.SENDING)
                    & (OutgoingMail.claimed_until < utcnow()))
             .execute())
    if stale:
        log.error("%d mail attempts were interrupted (sender stopped mid-attempt): "
                  "marked failed, an admin may send them again", stale)


def _send_smtp(row, config):
    """Hand the message to the SMTP server within MAIL_SEND_DEADLINE seconds overall."""
    deadline = config["MAIL_SEND_DEADLINE"]
    per_read = min(config["MAIL_TIMEOUT"], deadline)
    use_ssl = config["MAIL_USE_SSL"]
    server = (smtplib.SMTP_SSL(timeout=per_read, context=ssl.create_default_context())
              if use_ssl else smtplib.SMTP(timeout=per_read))
    expired = threading.Event()

    def cut():
        # Unblocks a read in progress, whatever its own timeout.
        expired.set()
        sock = getattr(server, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(deadline, cut)
    watchdog.daemon = True
    watchdog.start()
    sender = parseaddr(config["MAIL_DEFAULT_SENDER"])[1]
    try:
        server.connect(config["MAIL_SERVER"], config["MAIL_PORT"])
        if config["MAIL_USE_TLS"] and not use_ssl:
            server.starttls(context=ssl.create_default_context())
        if config["MAIL_USERNAME"]:
            server.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        # A str (ASCII: quoted-printable) gets its line ends made CRLF; bytes would not.
        server.sendmail(sender, [row.recipient], row.message)
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            pass  # accepted already: a failed goodbye changes nothing
    # Only a refusal of this message is final; a refused login or greeting is the
    # server's or the settings' problem, and retrying after they are fixed delivers.
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as error:
        raise DeliveryError(error.__class__.__name__, permanent=True) from error
    except smtplib.SMTPDataError as error:
        raise DeliveryError(f"SMTPDataError {error.smtp_code}",
                            permanent=500 <= error.smtp_code < 600) from error
    except smtplib.SMTPResponseException as error:
        raise DeliveryError(f"{error.__class__.__name__} {error.smtp_code}") from error
    except (OSError, smtplib.SMTPException) as error:
        reason = "deadline" if expired.is_set() else error.__class__.__name__
        raise DeliveryError(reason) from error
    finally:
        watchdog.cancel()
        server.close()


def _write_outbox(message, outbox):
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(message.encode("ascii"))
    except OSError as error:
        raise DeliveryError(error.__class__.__name__) from error
    return path


# --- For admins and monitoring --------------------------------------------------------

def send_again(mail_id):
    """Queue a message failed for good once more (fresh attempts); False when it is not
    failed or has no message any more."""
    return bool(OutgoingMail
                .update(status=OutgoingMail.QUEUED, attempts=0, error="",
                        next_attempt_at=utcnow())
                .where((OutgoingMail.id == mail_id)
                       & (OutgoingMail.status == OutgoingMail.FAILED)
                       & OutgoingMail.message.is_null(False))
                .execute())


def queue_health():
    """For a readiness check: {"stuck": messages due for longer than MAIL_STUCK_MINUTES
    (or whose sender died mid-attempt), "failed": messages failed for good}."""
    now = utcnow()
    threshold = now - datetime.timedelta(minutes=current_app.config["MAIL_STUCK_MINUTES"])
    stuck = (OutgoingMail
             .select()
             .where(((OutgoingMail.status == OutgoingMail.QUEUED)
                     & (OutgoingMail.next_attempt_at < threshold))
                    | ((OutgoingMail.status == OutgoingMail.SENDING)
                       & (OutgoingMail.claimed_until < now)))
             .count())
    failed = OutgoingMail.select().where(OutgoingMail.status == OutgoingMail.FAILED).count()
    return {"stuck": stuck, "failed": failed}


def parsed(row):
    """The queued message as an email.message object (to read what waits in the queue)."""
    return email.message_from_string(row.message, policy=policy.default)


# --- The background sender --------------------------------------------------------------

class Sender:
    """Delivers due mail from a daemon thread of this process: every MAIL_POLL_SECONDS,
    and at once after a request that queued mail."""

    def __init__(self, app):
        self.app = app
        self.poll_seconds = app.config["MAIL_POLL_SECONDS"]
        # Jobs that ride on this thread, {name: (seconds between runs, function)}: the
        # time-based notices (portal/notices.py) register theirs. Every worker runs them;
        # a job must itself be safe to run in several processes at once.
        self.jobs = app.extensions.setdefault("mail_sender_jobs", {})
        self._job_due_at = {}
        self.wakeup = threading.Event()
        self.stopped = threading.Event()
        self._start_lock = threading.Lock()
        self._pid = None
        self.thread = None

    def ensure_started(self):
        """Start the thread once per process (a forked worker has none of its parent's)."""
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self.thread = threading.Thread(target=self._loop, name="mail-sender", daemon=True)
            self.thread.start()
            self._pid = os.getpid()
            log.info("mail sender started in process %s", self._pid)

    def wake(self):
        self.wakeup.set()

    def stop(self, timeout=10):
        self.stopped.set()
        self.wakeup.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def _loop(self):
        while not self.stopped.is_set():
            self.wakeup.wait(self.poll_seconds)
            self.wakeup.clear()
            if self.stopped.is_set():
                break
            try:
                with self.app.app_context(), db.connection_context():
                    self._run_due_jobs()
                    # A full batch may mean more is due: no waiting for the next poll.
                    while sum(deliver_due(limit=BATCH).values()) == BATCH:
                        if self.stopped.is_set():
                            break
            except Exception:
                log.exception("mail sender: delivery round failed; trying again later")

    def _run_due_jobs(self):
        for name, (seconds, job) in list(self.jobs.items()):
            if time.monotonic() < self._job_due_at.get(name, 0.0):
                continue
            self._job_due_at[name] = time.monotonic() + seconds
            try:
                job()
            except Exception:
                log.exception("%s failed; trying again in %d s", name, seconds)


def start_sender(app):
    """Start the background sender of `app` now (tests and the lazy start use it)."""
    sender = app.extensions.get("mail_sender")
    if sender is None:
        sender = app.extensions["mail_sender"] = Sender(app)
    sender.ensure_started()
    return sender


def init_app(app):
    """Wake this process's sender after a request that queued mail (its transaction is
    committed by then). With MAIL_SENDER on (never under tests, which start it
    themselves), the sender starts with the first request, so `flask` commands other
    than the server never start it."""
    def wake_after_request(exc):
        if getattr(_queued_here, "pending", False):
            _queued_here.pending = False
            sender = app.extensions.get("mail_sender")
            if sender is not None:
                sender.wake()

    def start_with_first_request():
        start_sender(app)

    app.teardown_request(wake_after_request)
    if app.config["MAIL_SENDER"] and not app.testing:
        app.before_request(start_with_first_request)
