"""The portal's settings: every environment variable it reads, with its type, default
and meaning. create_app() reads this table; the README's configuration table is this
table (`flask settings` prints it, and a test compares the two)."""
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type
    # The default; text containing "{instance}" is a path in the app's instance folder.
    default: object
    meaning: str
    # How the README shows the default, when the value itself says too little.
    shown_default: str = None

    def default_in(self, instance_path):
        """The default value, with "{instance}" replaced by the instance folder."""
        if isinstance(self.default, str):
            return self.default.replace("{instance}", str(instance_path))
        return self.default

    def parse(self, text):
        """The environment's text as a value of the setting's type."""
        if self.kind is bool:
            return text.strip().lower() in ("1", "true", "yes", "on")
        return self.kind(text)

    def readme_default(self):
        if self.shown_default is not None:
            return self.shown_default
        if self.kind is bool:
            return f"`{int(self.default)}`"
        if self.default == "":
            return "empty"
        return f"`{str(self.default).replace('{instance}', 'instance')}`"


SETTINGS = (
    Setting("SECRET_KEY", str, None,
            "signs sessions and CSRF tokens; **required** when `PRODUCTION=1`",
            shown_default="generated once into `instance/secret_key`"),
    Setting("PRODUCTION", bool, False, "`1` refuses to start without `SECRET_KEY`"),
    Setting("DATABASE_URL", str, "sqlite:///{instance}/portal.db",
            "`sqlite:////abs/path.db` or `postgresql://user:pass@host/db`",
            shown_default="`sqlite:///instance/portal.db` (absolute path)"),
    Setting("BASE_URL", str, "http://127.0.0.1:5000",
            "public address used in e-mail links (never the request's Host header); "
            "`https://` turns on Secure `__Host-` cookies and HSTS"),
    Setting("TRUSTED_PROXIES", int, 0,
            "how many reverse proxies in front of the portal append to `X-Forwarded-For` "
            "and set `X-Forwarded-Proto` (Werkzeug's ProxyFix); the client address of "
            "rate limits and the audit log comes from them. `0`: the headers are ignored "
            "(serving directly); `1` behind the README's single TLS proxy. Never more "
            "than the proxies really there: a client could forge the extra addresses"),
    Setting("FILES_DIR", str, "{instance}/files", "invoice PDFs, documents, forms, ticket attachments"),
    Setting("OUTBOX_DIR", str, "{instance}/outbox", "`.eml` files when no mail server is configured"),
    Setting("EXPORT_DIR", str, "{instance}/exports", "self-reading export files for the billing system"),
    Setting("MAIL_SERVER", str, "", "SMTP host; empty writes mail to the outbox",
            shown_default="empty (outbox)"),
    Setting("MAIL_PORT", int, 25, "SMTP port"),
    Setting("MAIL_USERNAME", str, "", "SMTP login, when the server needs one"),
    Setting("MAIL_PASSWORD", str, "", "SMTP password, when the server needs one"),
    Setting("MAIL_USE_TLS", bool, False, "`1`: STARTTLS after connecting"),
    Setting("MAIL_USE_SSL", bool, False, "`1`: SMTP over TLS from the start (port 465)"),
    Setting("MAIL_DEFAULT_SENDER", str, "Area Clienti <noreply@example.it>", "From address"),
    Setting("MAIL_TIMEOUT", int, 10,
            "seconds the SMTP server may stay silent (each connect or read) before an "
            "attempt fails"),
    Setting("MAIL_SEND_DEADLINE", int, 30,
            "seconds a whole delivery attempt may take, however slowly the server answers; "
            "then the connection is cut and the message retried"),
    Setting("MAIL_SENDER", bool, True,
            "`1`: the serving process delivers queued mail in a background thread (every "
            "worker runs one; each message is claimed by one). `0`: run "
            "`flask mail send-pending` from cron instead"),
    Setting("MAIL_POLL_SECONDS", int, 10,
            "how often the background sender looks for due mail (a page that queues one "
            "wakes it at once)"),
    Setting("MAIL_MAX_ATTEMPTS", int, 8,
            "delivery attempts before a message counts as failed for good (shown to admins "
            "in the back-office, Posta non recapitata)"),
    Setting("MAIL_RETRY_SECONDS", int, 60,
            "wait before the second attempt; it doubles after each failure (8 attempts "
            "span about 2 hours)"),
    Setting("MAIL_STUCK_MINUTES", int, 15,
            "minutes a due message may wait before the queue counts as stuck "
            "(`portal.mail.queue_health()`)"),
    Setting("COMPANY_NAME", str, "Energia Colline Toscane S.p.A.",
            "the utility's name: header, footer, e-mails"),
    Setting("COMPANY_ADDRESS", str, "Via Roma 1 - 57014 Collesalvetti (LI)",
            "the utility's address: footer and contact notes"),
    Setting("COMPANY_PHONE", str, "0586 000000", "the customer service's phone number"),
    Setting("COMPANY_EMAIL", str, "clienti@example.it", "the customer service's e-mail address"),
    Setting("COMPANY_WEBSITE", str, "https://www.example.it", "the utility's website"),
    Setting("COMPRESS_RESPONSES", bool, True,
            "`1`: the portal gzips its HTML, CSS, JavaScript, JSON and CSV answers for "
            "browsers that accept it (a phone on a slow network gets a page in a third of "
            "the bytes); `0` where a reverse proxy compresses instead (nginx `gzip on`, as "
            "in the README's block). Static files keep a compressed copy in memory"),
    Setting("COMPANY_VAT_NUMBER", str, "00000000000",
            "the utility's partita IVA, in the footer of every page (a company's website must "
            "show it: D.P.R. 633/1972, art. 35)"),
    Setting("INFO_PAGES_DIR", str, "{instance}/pages",
            "the utility's own text of the footer pages: `privacy.txt` (Informativa privacy) "
            "and `accessibilita.txt` (Dichiarazione di accessibilità, AgID), with `privacy.en.txt` "
            "and `accessibilita.en.txt` for English pages, UTF-8, "
            "paragraphs apart by a blank line, `## ` starts a heading; without a file the "
            "page shows the portal's generic text. The accessibility page always ends with "
            "the feedback channel (`COMPANY_EMAIL`, `COMPANY_PHONE`, AgID)"),
    Setting("RATELIMIT_STORAGE_URI", str, "memory://",
            "Flask-Limiter store; use a shared one (e.g. `redis://`) with several workers"),
    Setting("CURRENT_PASSWORD_LIMIT", str, "10 per hour",
            "wrong current passwords a logged-in user may give on Cambio Password (customers) "
            "or La mia password (operators) before 429, Flask-Limiter notation. Each also "
            "counts toward the lockout of 10 failed logins in a row, and is audited: a "
            "stolen session must not guess the password"),
    Setting("EMAIL_CHANGES_PER_DAY", int, 3,
            "successful e-mail address changes per customer in 24 hours (each sends notices "
            "to two addresses); the next one is refused beside the field"),
    Setting("TICKET_MESSAGE_LIMIT", str, "10 per hour;30 per day",
            "new tickets and replies a customer may send (each mails the utility), Flask-Limiter "
            "notation; refused forms do not count"),
    Setting("ATTACHMENT_QUOTA_MB", int, 50,
            "megabytes of ticket attachments a customer may store in all (each file is at "
            "most 5 MB); beyond it a new attachment is refused beside the file field"),
    Setting("REGISTRATION_LIMIT_PER_ADDRESS", str, "10 per minute;50 per hour",
            "registration attempts (both screens count) from one IP address"),
    Setting("REGISTRATION_LIMIT_PER_TAX_CODE", str, "10 per hour;30 per day",
            "registration attempts (both screens count) naming one codice fiscale / partita "
            "IVA, from any address"),
    Setting("REGISTRATION_CONFIRM_HOURS", int, 72,
            "hours the address on file has to confirm a first password sent elsewhere"),
    Setting("TICKET_NOTIFY_EMAIL", str, "clienti@example.it", "mailbox told about every new ticket"),
    Setting("CASE_DAYS_COMPLAINT", int, 30,
            "calendar days for the reasoned answer to a written complaint (reclamo), from the "
            "day received, Europe/Rome (TIQV as amended by delibera ARERA 399/2025/R/com: "
            "check the text in force); a later answer earns the automatic indemnity"),
    Setting("CASE_DAYS_INFORMATION", int, 30,
            "calendar days for the answer to a written request for information (TIQV, "
            "delibera 399/2025/R/com); no automatic indemnity"),
    Setting("CASE_DAYS_BILLING_CORRECTION", int, 60,
            "calendar days to answer a request to correct a bill (rettifica di "
            "fatturazione), TIQV, delibera 399/2025/R/com; indemnity when late"),
    Setting("CASE_DAYS_BILLING_CORRECTION_FOUR_MONTHLY", int, 90,
            "the same for an invoice covering four months or more (four-monthly billing), "
            "TIQV, delibera 399/2025/R/com"),
    Setting("CASE_DAYS_DOUBLE_BILLING", int, 15,
            "calendar days to correct a double billing (doppia fatturazione), TIQV, delibera "
            "399/2025/R/com; indemnity when late"),
    Setting("CASE_DAYS_REQUEST", int, 30,
            "calendar days the utility gives itself to answer a structured request (voltura, "
            "disdetta, rateizzazione, postal address): the utility's own target, no indemnity"),
    Setting("CASE_INDEMNITY_BASE_EUR", int, 30,
            "automatic indemnity (EUR, credited on the next bill) for an answer later than "
            "the standard, up to twice its days; reported for delibera 399/2025/R/com (earlier "
            "rules: 25): check the delibera"),
    Setting("CASE_INDEMNITY_DOUBLE_EUR", int, 60,
            "indemnity beyond twice the standard, up to three times (earlier rules: 50)"),
    Setting("CASE_INDEMNITY_TRIPLE_EUR", int, 90,
            "indemnity beyond three times the standard (earlier rules: 75)"),
    Setting("CASE_DUE_SOON_DAYS", int, 3,
            "the back-office marks a case \"in scadenza\" when its deadline is this many "
            "days away or fewer"),
    Setting("INSTALMENT_MIN_EUR", int, 50,
            "the smallest invoice amount (EUR) a customer may ask to pay in instalments "
            "online (the utility's rule)"),
    Setting("INSTALMENT_DAYS_AFTER_DUE", int, 10,
            "days after an invoice's due date within which instalments may still be asked "
            "(TIQV gives the customer at least 10 days: check the text in force)"),
    Setting("INSTALMENT_MAX_COUNT", int, 6,
            "the most instalments a customer may ask for online"),
    Setting("PUBLIC_COMPLAINT_LIMIT", str, "3 per hour;10 per day",
            "complaints without login (Reclamo senza accesso) one IP address may send, "
            "Flask-Limiter notation; each sends a confirmation e-mail"),
    Setting("PUBLIC_COMPLAINT_CONFIRM_HOURS", int, 48,
            "hours the link confirming a complaint without login stays valid; an unconfirmed "
            "complaint is never a case"),
    Setting("ACQUISITION_INTERVAL", int, 30,
            "minutes between automatic acquisitions of self-readings inside the serving "
            "process; `0` turns them off. Several workers run it once, through a lock file "
            "`EXPORT_DIR/.acquisition.lock`"),
    Setting("ACQUISITION_TICK_SECONDS", int, 60,
            "how often each worker's schedule checks whether a run is due"),
    Setting("NOTICE_INTERVAL", int, 60,
            "minutes between runs of the time-based notices (reading windows, invoices "
            "falling due or overdue) inside the serving process, beside the mail sender; "
            "`0` turns them off (run `flask mail notices` from cron instead). Workers running "
            "them at once never repeat a notice: each is recorded under a unique key"),
    Setting("NOTICE_DUE_DAYS", int, 7,
            "days before an unpaid invoice's due date that its holder is reminded (once; "
            "a second notice, once, when it becomes overdue)"),
    Setting("NOTICE_CATCH_UP_DAYS", int, 7,
            "how far back the notices look: a reading window opened, an invoice issued or "
            "fallen overdue more days ago is not announced any more (a schedule stopped over "
            "a weekend still catches up; a new installation does not mail about the past)"),
    Setting("READINGS_POLL_SECONDS", int, 60,
            "how often a self-reading list showing pending rows refreshes itself"),
    Setting("READING_PHOTO_REQUIRED", bool, False,
            "`1`: a customer's self-reading that the plausibility check asks to confirm "
            "(a roll-over, a consumption far above or at zero) is saved only with a photo "
            "of the meter; `0`: the photo stays optional"),
    Setting("READING_PHOTO_LONG_SIDE", int, 1600,
            "pixels of the longer side a meter photo is shrunk to when stored (the digits "
            "stay readable, a phone's 12 MP photo takes about 300 KB instead of 4 MB)"),
    Setting("AUDIT_RETENTION_DAYS", int, 730,
            "days `flask retention` keeps security events (the Garante asks at least six months)"),
    Setting("MAIL_RETENTION_DAYS", int, 365,
            "days `flask retention` keeps records of sent mail (never mail still queued), of "
            "notices given and registration requests"),
    Setting("FORM_TOKEN_RETENTION_DAYS", int, 30,
            "days `flask retention` keeps the token of a submitted creating form (a ticket, a "
            "reply): within them a repeated submission gets the first result"),
    Setting("EXPORT_RETENTION_DAYS", int, 365,
            "days `flask retention` keeps self-reading export files"),
    Setting("HEALTH_MIN_FREE_MB", int, 200,
            "`/readyz` fails when a folder the portal writes to (database, `FILES_DIR`, "
            "`OUTBOX_DIR`, `EXPORT_DIR`) has less free space, in MB: room for 40 largest "
            "uploads (5 MB) and a busy day of database growth, so the proxy stops sending "
            "writes before a full disk refuses them"),
    Setting("PAYMENT_IBAN", str, "IT60X0542811101000000123456",
            "the utility's bank account for transfers, shown under \"Come pagare\" and in "
            "the EPC QR code (the default is the well-known example IBAN: set the real one)"),
    Setting("PAYMENT_BIC", str, "",
            "the BIC of `PAYMENT_IBAN`, put in the EPC QR code when set (optional inside "
            "the SEPA area)"),
    Setting("PAYMENT_BENEFICIARY", str, "Energia Colline Toscane S.p.A.",
            "the beneficiary of transfers (at most 70 characters in the EPC QR code)"),
    Setting("PAYMENT_CAUSALE", str, "Fattura {numbers} cliente {customer}",
            "the causale of a transfer: `{numbers}` becomes the invoice numbers (comma "
            "separated), `{customer}` the customer code. At most 140 characters in the "
            "EPC QR code: a longer one is shown without the code"),
    Setting("PAYMENT_LINK_HOSTS", str, "pagamenti.example.it",
            "comma-separated hosts whose invoice payment links (column `payment_link` of "
            "the invoices file) get a \"Paga online\" button; only `https` links are shown"),
    Setting("MANDATE_CREDITOR_ID", str, "IT43ZZZ00000000000",
            "the utility's SEPA creditor identifier, printed on direct-debit mandates "
            "(the default is a well-formed placeholder)"),
)


def from_environment(instance_path, environ=os.environ):
    """Every setting: the environment's value where it has one, else the default."""
    return {setting.name: (setting.parse(environ[setting.name]) if setting.name in environ
                           else setting.default_in(instance_path))
            for setting in SETTINGS}


def markdown_table():
    """The README's configuration table."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{setting.name}` | {setting.readme_default()} | {setting.meaning} |"
              for setting in SETTINGS]
    return "\n".join(lines) + "\n"
