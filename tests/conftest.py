"""Fixtures: an app on a temporary database, clients, factories, a real SMTP server
and a live server with Chromium for browser tests."""
import contextlib
import hashlib
import http.cookiejar
import os
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from aiosmtpd.controller import Controller
from werkzeug.serving import make_server

import models
from app import create_app
from portal.passwords import hash_password

PASSWORD = "una-password-sicura"

# With TEST_DATABASE_URL=postgresql://... every app of a test gets its own schema in
# that database (a schema costs ~2 ms, a database ~300 ms to create and drop); without
# it, its own SQLite file.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith(("postgresql://", "postgres://"))
_schemas = []  # the PostgreSQL schemas of the running test


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url_for(tmp_path, schemas=_schemas):
    """The database of an app made on tmp_path: the same path, the same database.
    On PostgreSQL the schema goes into `schemas`, dropped at the end of the test by
    default (a module-scoped fixture passes its own list to drop_schemas)."""
    if not ON_POSTGRES:
        return f"sqlite:///{tmp_path / 'portal.db'}"
    schema = "t_" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:20]
    if schema not in schemas:
        with _admin_connection() as admin:
            # A name left over by an interrupted run starts empty again.
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            admin.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
    # Every connection of the app (threads, subprocesses) works in the schema and
    # carries its name, by which the teardown finds it.
    query = urllib.parse.urlencode({"options": f"-c search_path={schema}",
                                    "application_name": schema}, quote_via=urllib.parse.quote)
    return f"{TEST_DATABASE_URL}{'&' if '?' in TEST_DATABASE_URL else '?'}{query}"


def _admin_connection():
    import psycopg
    return psycopg.connect(TEST_DATABASE_URL, autocommit=True)


# The background senders started by tests and not stopped yet (release_database stops them).
_running_senders = []


def release_database():
    """Close every connection of the app's database: the pool keeps them open.

    First stop every background mail sender of the test: another fixture's teardown
    (an `app` set up after `mail_app`) can come before the sender's own, and closing a
    SQLite connection under its running query crashes the interpreter."""
    while _running_senders:
        sender = _running_senders.pop()
        sender.stop(timeout=120)
        assert not sender.thread.is_alive(), "a mail sender did not stop"
    models.db.close_all()


def drop_schemas(schemas):
    """Drop these schemas, ending whatever connections (live servers, subprocesses)
    still use them."""
    if not schemas:
        return
    release_database()
    with _admin_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = ANY(%s)", (schemas,))
        for schema in schemas:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    schemas.clear()


@pytest.fixture(autouse=True)
def _drop_postgres_schemas():
    yield
    drop_schemas(_schemas)


def make_app(tmp_path, **overrides):
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": overrides.get("DATABASE_URL") or database_url_for(tmp_path),
        "FILES_DIR": str(tmp_path / "files"),
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "EXPORT_DIR": str(tmp_path / "exports"),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "BASE_URL": "https://area-clienti.example.it",
        "SESSION_COOKIE_SECURE": False,
        "SESSION_COOKIE_NAME": "session",
        # Tests that deliver mail start the sender themselves (mail_app, live_app) or
        # run it once (deliver_mail).
        "MAIL_SENDER": False,
        # The time-based notices ride on the sender: off unless a test wants them.
        "NOTICE_INTERVAL": 0,
        # The schema is made below, after the factory, which would refuse its absence.
        "REFUSE_OLD_SCHEMA": False,
    }
    config.update(overrides)
    application = create_app(config)
    with application.app_context():
        models.db.connect(reuse_if_open=True)
        models.init_schema()
    return application


@pytest.fixture
def app(tmp_path):
    application = make_app(tmp_path)
    yield application
    release_database()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Factory:
    """Creates customers and supply points with sensible defaults."""

    def __init__(self):
        self.counter = 0

    def customer(self, code=None, registered=True, password=PASSWORD, **fields):
        self.counter += 1
        values = dict(
            code=code or f"{100000 + self.counter:06d}",
            name=f"CLIENTE {self.counter}",
            tax_code="RSSMRA80A01H501U",
            address="VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)",
            email=f"cliente{self.counter}@example.it",
            phone="0586 123456",
        )
        if registered:
            values.update(registered_at=models.utcnow(), password_hash=hash_password(password))
        values.update(fields)
        return models.Customer.create(**values)

    def supply_point(self, customer, commodity="gas", **fields):
        self.counter += 1
        values = dict(
            code=f"PR{self.counter:06d}",
            customer=customer,
            commodity=commodity,
            pdr_pod=(f"{3340009749000 + self.counter:014d}" if commodity == "gas"
                     else f"IT001E{self.counter:08d}"),
            address="VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)",
            meter_serial=f"M{self.counter:07d}",
            expected_annual_consumption=1200 if commodity == "gas" else 2700,
        )
        values.update(fields)
        return models.SupplyPoint.create(**values)


@pytest.fixture
def factory(request):
    """Factories on the test's app: the live one for browser tests, else `app`."""
    request.getfixturevalue("live_app" if "live_app" in request.fixturenames else "app")
    return Factory()


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, code, password=PASSWORD, **extra):
        return self.client.post("/login", data={"code": code, "password": password}, **extra)

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def customer(factory):
    """A registered customer with a gas point (with corrector) and an electricity point."""
    person = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.", tax_code="01234560496",
                              is_company=True)
    factory.supply_point(person, "gas", has_corrector=True)
    factory.supply_point(person, "electricity")
    return person


@pytest.fixture
def other_customer(factory):
    """Somebody else, whose data must never show."""
    stranger = factory.customer(code="999888", name="ALTRO CLIENTE SEGRETO")
    factory.supply_point(stranger, "gas", code="PR999001")
    return stranger


@pytest.fixture
def logged_in(customer, auth):
    response = auth.login(customer.code)
    assert response.status_code == 303
    return customer


class Mailbox:
    """Messages received by a real SMTP server (aiosmtpd) on a loopback port."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted for delivery"

    def text_of(self, index=-1):
        return self.messages[index][1].get_body(("plain",)).get_content()

    def wait_for(self, count, timeout=5):
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.messages) >= count


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailbox.port = port
    yield mailbox
    controller.stop()


def deliver_mail(application):
    """Run the mail sender once, as its background thread would: every due message
    goes to the SMTP server (or the outbox). Returns the counts of deliver_due."""
    from portal import mail
    with application.app_context(), models.db.connection_context():
        return mail.deliver_due()


@contextlib.contextmanager
def background_sender(application):
    """The app's background mail sender running for the test, stopped after it."""
    from portal import mail
    sender = mail.start_sender(application)
    _running_senders.append(sender)
    try:
        yield sender
    finally:
        sender.stop()
        if sender in _running_senders:
            _running_senders.remove(sender)


@pytest.fixture
def mail_app(tmp_path, smtp_server):
    """The app sending real SMTP to the test server through its background sender,
    woken by every request that queues mail."""
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port,
                           MAIL_POLL_SECONDS=1)
    with background_sender(application):
        yield application
    release_database()


# --- Browser tests -----------------------------------------------------------------

def pytest_collection_modifyitems(config, items):
    for item in items:
        if {"page", "browser", "context"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)
    if ON_POSTGRES:
        # Tests of SQLite itself (README, "PostgreSQL") do not run on PostgreSQL.
        sqlite_only = [item for item in items if item.get_closest_marker("sqlite_only")]
        if sqlite_only:
            config.hook.pytest_deselected(items=sqlite_only)
            items[:] = [item for item in items if not item.get_closest_marker("sqlite_only")]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        # make test runs browser tests only when chromium exists; under CI a missing
        # browser is a failure, never a silent skip.
        raise RuntimeError("Debian's chromium is not installed: apt-get install -y chromium")
    return {
        **browser_type_launch_args,
        "executable_path": chromium,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """An Italian browser: the browser tests read the Italian portal, and Chromium
    would otherwise ask for English, which the portal honours."""
    return {**browser_context_args, "locale": "it-IT"}


class LiveServer:
    """The app served by a threaded werkzeug server. stop() waits for the requests in
    progress: the teardown closes every database connection next, and closing a SQLite
    connection under a query another thread is running crashes the interpreter."""

    def __init__(self, application):
        self.app = application
        self.active = 0
        self.idle = threading.Condition()
        self.server = make_server("127.0.0.1", 0, self._counted, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _counted(self, environ, start_response):
        with self.idle:
            self.active += 1
        try:
            # Whole answers only: a streamed body is read here, inside the count.
            yield from self.app(environ, start_response)
        finally:
            with self.idle:
                self.active -= 1
                self.idle.notify_all()

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)
        with self.idle:
            self.idle.wait_for(lambda: self.active == 0, timeout=10)


@pytest.fixture
def live_app(tmp_path, smtp_server):
    """The real app for a browser: CSRF on, real SMTP to the test server."""
    application = make_app(tmp_path, WTF_CSRF_ENABLED=True, MAIL_SERVER="127.0.0.1",
                           MAIL_PORT=smtp_server.port, MAIL_POLL_SECONDS=1)
    with background_sender(application):
        yield application
    release_database()


class HttpSession:
    """A cookie-keeping HTTP client for a live server, sending the CSRF token the way
    htmx does (X-CSRFToken, taken from the last page's hx-headers)."""

    TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')

    def __init__(self, base_url):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())
        self.token = None

    def request(self, method, path, data=None, headers=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method,
                                         headers={"X-CSRFToken": self.token or "", **(headers or {})})
        try:
            response = self.opener.open(request, timeout=30)
        except urllib.error.HTTPError as error:
            response = error
        text = response.read().decode("utf-8", "replace")
        match = self.TOKEN.search(text)
        if match:
            self.token = match.group(1)
        return response.status, text

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, data=None, **kwargs):
        if self.token is None:
            self.get("/login")
        return self.request("POST", path, data=data or {}, **kwargs)

    def login(self, code, password=PASSWORD):
        self.get("/login")
        return self.post("/login", {"code": code, "password": password})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def http_session(live_server):
    """Factory of HttpSession objects on the live server."""
    return lambda: HttpSession(live_server.url)


@pytest.fixture
def live_server(live_app):
    server = LiveServer(live_app)
    live_app.config["BASE_URL"] = server.url
    yield server
    server.stop()


# Chromium logs every 4xx as a console error; a 422 is a form's validation answer.
EXPECTED_CONSOLE = "Failed to load resource: the server responded with a status of 422"


@pytest.fixture
def console_errors(page):
    """Console errors and CSP violations seen by the page; tests assert it stays empty."""
    errors = []

    def collect(message):
        if message.type == "error" and not message.text.startswith(EXPECTED_CONSOLE):
            errors.append(f"{message.text} at {message.location.get('url')}")

    page.on("console", collect)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: needs Chromium (Playwright)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line("markers", "sqlite_only: tests SQLite itself; deselected when "
                                       "TEST_DATABASE_URL is PostgreSQL")
    os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", "0")
