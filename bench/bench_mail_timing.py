"""Does recovery answer in the same time whether or not it queues a message? Times
"Hai dimenticato la Password ?" for a registered code (a message is queued) and for an
unknown one (nothing is), and the last registration screen (the first password
queued), through a real HTTP server, with a real SMTP server that answers at once and
then one that takes `--smtp-delay` seconds per message.

    .venv/bin/python bench/bench_mail_timing.py [--rounds 100] [--smtp-delay 2]

The portal runs as in production (background sender on, CSRF on); only the rate
limits are off, so that one address may ask many times."""
import argparse
import asyncio
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from aiosmtpd.controller import Controller
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models  # noqa: E402
from app import create_app  # noqa: E402
from portal.passwords import hash_password  # noqa: E402

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class Mailbox:
    def __init__(self, delay):
        self.delay = delay
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        self.count += 1
        return "250 OK"


def timings(base_url, code, rounds):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(base_url + "/password-dimenticata").read().decode()
    token = TOKEN.search(page).group(1)
    body = urllib.parse.urlencode({"code": code, "csrf_token": token}).encode()
    result = []
    for _ in range(rounds):
        started = time.perf_counter()
        with opener.open(urllib.request.Request(base_url + "/password-dimenticata", data=body,
                                                headers={"Referer": base_url + "/"})) as answer:
            answer.read()
            assert answer.status == 200
        result.append((time.perf_counter() - started) * 1000)
    return result


def registration_timings(base_url, codes):
    """The confirmation screen of a registration for each code (the address on file)."""
    result = []
    for code in codes:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        page = opener.open(base_url + "/registrazione").read().decode()
        token = TOKEN.search(page).group(1)
        first = urllib.parse.urlencode({"code": code, "tax_code": "RSSMRA80A01H501U",
                                        "csrf_token": token}).encode()
        opener.open(urllib.request.Request(base_url + "/registrazione", data=first,
                                           headers={"Referer": base_url + "/"})).read()
        # The address on file, typed again (the release before the queue needs it typed).
        body = urllib.parse.urlencode({"email": f"n{code}@example.it",
                                       "csrf_token": token}).encode()
        started = time.perf_counter()
        with opener.open(urllib.request.Request(base_url + "/registrazione/conferma", data=body,
                                                headers={"Referer": base_url + "/"})) as answer:
            assert b"Registrazione completata" in answer.read()
        result.append((time.perf_counter() - started) * 1000)
    return result


def summary(values):
    ordered = sorted(values)
    return (f"median {statistics.median(ordered):5.1f} ms, p95 "
            f"{ordered[int(len(ordered) * 0.95) - 1]:5.1f} ms, max {ordered[-1]:5.1f} ms")


def run(smtp_delay, rounds):
    folder = Path(tempfile.mkdtemp(prefix="area-clienti-mail-bench-"))
    mailbox = Mailbox(smtp_delay)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": f"sqlite:///{folder / 'portal.db'}",
                      "OUTBOX_DIR": str(folder / "outbox"), "EXPORT_DIR": str(folder / "exports"),
                      "FILES_DIR": str(folder / "files"), "MAIL_SERVER": "127.0.0.1",
                      "MAIL_PORT": port, "RATELIMIT_ENABLED": False, "ACQUISITION_INTERVAL": 0,
                      # The schema is made just below, on the empty database.
                      "REFUSE_OLD_SCHEMA": False})
    with app.app_context(), models.db.connection_context():
        models.init_schema()
        models.Customer.create(code="654321", name="BENCH", tax_code="RSSMRA80A01H501U",
                               email="bench@example.it", registered_at=models.utcnow(),
                               password_hash=hash_password("una-password-sicura"))
        for number in range(rounds):
            models.Customer.create(code=f"{200000 + number}", name="NUOVO",
                                   tax_code="RSSMRA80A01H501U", email=f"n{200000 + number}@example.it")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = base_url
    try:
        timings(base_url, "999999", 5)  # warm up
        registered, unknown = [], []
        for _ in range(rounds // 10):  # interleaved, so that drift hits both alike
            registered += timings(base_url, "654321", 10)
            unknown += timings(base_url, "999999", 10)
        print(f"SMTP answering in {smtp_delay:g} s, {len(registered)} requests each:")
        print(f"  registered code (message queued): {summary(registered)}")
        print(f"  unknown code (nothing queued):    {summary(unknown)}")
        registering = registration_timings(base_url, [f"{200000 + n}" for n in range(rounds)])
        print(f"  registration, first password:     {summary(registering)}")
        with app.app_context(), models.db.connection_context():
            queued = models.OutgoingMail.select().count()
        print(f"  messages queued {queued}, delivered by the sender so far {mailbox.count}")
    finally:
        server.shutdown()
        if "mail_sender" in app.extensions:  # not in a release before the queue
            app.extensions["mail_sender"].stop(timeout=1)
        controller.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--smtp-delay", type=float, default=2.0)
    options = parser.parse_args()
    run(0, options.rounds)
    run(options.smtp_delay, options.rounds)


if __name__ == "__main__":
    main()
