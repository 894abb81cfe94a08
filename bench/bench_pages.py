"""Load test of every customer page and fragment, served the production way, against a
bare Flask route served the same way (`make bench`).

    .venv/bin/python bench/bench_pages.py                     # medium, 300 views/s, 60 s
    .venv/bin/python bench/bench_pages.py --duration 300      # the 5-minute sustained run
    .venv/bin/python bench/bench_pages.py --scale large
    .venv/bin/python bench/bench_pages.py --database-url postgresql://... --files-dir DIR

1. Data: `flask demo --scale SCALE` into BENCH_DIR/SCALE/ once (reused while its
   marker file `ready.json` is there), or the database given by --database-url.
2. The portal under `gunicorn --workers W --threads T 'app:create_app()'` with
   PRODUCTION=1, on 127.0.0.1.
3. USERS sample customers (a gas point and a measured electricity point each) log in
   through the login form, then each replays the pages below in a loop, keeping its
   cookie and one keep-alive connection, at RATE requests per second in all (an
   open loop: request k of a user is due at start + offset + k * USERS / RATE, so a
   slow answer does not slow the offered load down; a user whose answer comes late
   sends the next request at once, and the report counts those late starts).
4. The same USERS, RATE and DURATION against bench/bare_app.py under the same
   gunicorn command.
5. A Markdown section appended to bench/RESULTS.md (date, machine, command, load
   average, per page p50/p95/p99, requests per second, ratio to the bare route) and
   the raw figures as JSON in bench/results/.

Why our own client rather than locust: the machine has 2 cores shared by server and
client, and every millisecond the client spends is taken from the server. Threads with
one keep-alive socket each and a minimal HTTP/1.1 reader cost about 0.2 ms of CPU per
request (http.client, with its e-mail header parser, about 0.4; locust's gevent
users more), need nothing installed, and keep the per-request work (cookie, CSRF
header, the reading added then deleted) in plain code. The report gives the CPU of
server and client per request, and what other processes of the machine used.

Logins come from a few loopback addresses (127.0.0.2, 127.0.0.3, ...): the login
limit is 30 per minute per address, and the bench keeps it on. All traffic stays on
the loopback interface.
"""
import argparse
import datetime
import json
import math
import os
import platform
import random
import re
import secrets
import shlex
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.demo import common  # noqa: E402
import models  # noqa: E402

TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')
DELETE_URL = re.compile(r'hx-post="(/autolettura/\d+/cancella)"')
LATE = 0.1  # seconds behind schedule that count as a late start
LOGINS_PER_ADDRESS = 20  # under the limit of 30 per minute per address

# The pages of one round, in the order a customer would go through them:
# (name, kind). "page": the full HTML page; "fragment": what htmx asks for.
PAGES = [
    ("home", "page"),
    ("invoices", "fragment"),
    ("invoices: year", "fragment"),
    ("invoice PDF", "download"),
    ("prelievi: chart", "fragment"),
    ("prelievi: table", "fragment"),
    ("misure: chart", "fragment"),
    ("misure: CSV", "download"),
    ("documents", "fragment"),
    ("readings", "page"),
    ("reading: add", "fragment"),
    ("reading: delete", "fragment"),
]


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def prepare_data(args):
    """(database URL, files dir, export dir, when the data was generated)."""
    if args.database_url:
        files = Path(args.files_dir or ROOT / "instance" / "files")
        export = Path(args.bench_dir) / "exports"
        return args.database_url, files, export, None
    folder = Path(args.bench_dir) / args.scale
    marker = folder / "ready.json"
    url = f"sqlite:///{folder / 'portal.db'}"
    if not marker.exists():
        if folder.exists() and any(folder.iterdir()):
            raise SystemExit(f"{folder} holds an unfinished generation: remove it and retry.")
        folder.mkdir(parents=True, exist_ok=True)
        print(f"Generating the {args.scale} demo into {folder} (once; reused afterwards)...")
        started = time.monotonic()
        env = {**os.environ, "DATABASE_URL": url, "FILES_DIR": str(folder / "files"),
               "SECRET_KEY": "bench-generation", "ACQUISITION_INTERVAL": "0"}
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "demo", "--scale",
                        args.scale], cwd=ROOT, env=env, check=True)
        marker.write_text(json.dumps({"generated": datetime.date.today().isoformat(),
                                      "seconds": round(time.monotonic() - started)}))
    return url, folder / "files", folder / "exports", json.loads(marker.read_text())


def sample_users(url, count):
    """The customers to log in with and what their pages need."""
    from portal.demo import scale
    from models import Invoice, Measurement, SelfReading, SupplyPoint
    database = models.open_database(url)
    models.db.initialize(database)
    users = []
    with database.connection_context():
        for code, gas_code, power_code in scale.sample_customers(count):
            gas = SupplyPoint.get(SupplyPoint.code == gas_code)
            power = SupplyPoint.get(SupplyPoint.code == power_code)
            pdf = (Invoice.select(Invoice.id, Invoice.date)
                   .where((Invoice.supply_point == power) & Invoice.pdf_path.is_null(False))
                   .order_by(Invoice.date.desc()).first())
            last = (Measurement.select(Measurement.timestamp)
                    .where(Measurement.supply_point == power)
                    .order_by(Measurement.timestamp.desc()).first())
            if pdf is None or last is None:
                continue
            last_day = datetime.datetime.fromtimestamp(last.timestamp, models.ROME).date()
            users.append(dict(code=code, gas=gas_code, power=power_code,
                              corrector=gas.has_corrector, pdf=pdf.id,
                              year=pdf.date.year - 1,
                              dal=(last_day - datetime.timedelta(days=6)).isoformat(),
                              al=last_day.isoformat()))
        # A run stopped halfway may have left today's reading behind: the add would fail.
        today = models.rome_now().date()
        gas_points = SupplyPoint.select(SupplyPoint.id).where(
            SupplyPoint.code.in_([user["gas"] for user in users]))
        with database.atomic():
            SelfReading.delete().where(SelfReading.supply_point.in_(gas_points)
                                       & (SelfReading.reading_date == today)).execute()
    database.close()
    if len(users) < count:
        raise SystemExit(f"only {len(users)} sample customers in the data; ask for fewer users")
    return users


# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_command(args, port, target):
    return [args.server_python or sys.executable, "-m", "gunicorn", "--workers", str(args.workers),
            "--threads", str(args.threads), "--worker-class", "gthread",
            "--bind", f"127.0.0.1:{port}", target]


class Server:
    """gunicorn in a subprocess, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, command, env, log_path):
        self.command = command
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def wait_ready(self, port, path, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited, see {self.log.name}")
            try:
                if Client(port).request("GET", path)[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not answer within a minute")

    def cpu_seconds(self):
        """CPU time (user + system) of the gunicorn master and its workers so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        pids = [self.process.pid]
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids += [int(pid) for pid in children.read_text().split()]
            total = 0
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError):
            return float("nan")
        return total / ticks

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


# ---------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------

class Response:
    """Status and headers of an answer; `getheader` as http.client has it."""

    def __init__(self, status, headers):
        self.status = status
        self.headers = headers  # [(lower-case name, value)]

    def getheader(self, name, default=None):
        name = name.lower()
        return next((value for key, value in self.headers if key == name), default)


class Connection:
    """HTTP/1.1 over one keep-alive socket, reduced to what the bench needs
    (Content-Length and chunked bodies). http.client parses headers with the e-mail
    package: on the same two cores as the server, its CPU would weigh on the figures."""

    def __init__(self, port, address):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=60,
                                               source_address=(address, 0))
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self):
        self.socket.close()

    def _fill(self):
        chunk = self.socket.recv(262144)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        self.buffer += chunk

    def _read_until(self, marker):
        while True:
            index = self.buffer.find(marker)
            if index >= 0:
                data, self.buffer = self.buffer[:index], self.buffer[index + len(marker):]
                return data
            self._fill()

    def _read_exactly(self, size):
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def exchange(self, request):
        """Send a request (bytes); (Response, body bytes)."""
        self.socket.sendall(request)
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = []
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        response = Response(status, headers)
        if response.getheader("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self._read_until(b"\r\n").split(b";", 1)[0], 16)
                if size == 0:
                    self._read_until(b"\r\n")
                    break
                parts.append(self._read_exactly(size))
                self._read_exactly(2)
            body = b"".join(parts)
        else:
            body = self._read_exactly(int(response.getheader("content-length", "0")))
        return response, body


class Client:
    """One customer: a keep-alive connection, its cookies and CSRF token."""

    def __init__(self, port, address="127.0.0.1"):
        self.port = port
        self.address = address
        self.cookies = {}
        self.token = None
        self.connection = None

    def request(self, method, path, body=None, headers=None):
        """(status, response, body bytes, seconds). A keep-alive connection the server
        closed while idle is opened again once (the request had not been read)."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{name}={value}"
                                                for name, value in self.cookies.items()))
        payload = b""
        if body is not None:
            payload = urllib.parse.urlencode(body).encode()
            lines.append("Content-Type: application/x-www-form-urlencoded")
        if payload or method == "POST":
            lines.append(f"Content-Length: {len(payload)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        for attempt in (1, 2):
            fresh = self.connection is None
            if fresh:
                self.connection = Connection(self.port, self.address)
            started = time.perf_counter()
            try:
                response, data = self.connection.exchange(request)
            except (ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = None
                if fresh or attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - started
            break
        for name, value in response.headers:
            if name == "set-cookie":
                cookie_name, _, rest = value.partition("=")
                self.cookies[cookie_name.strip()] = rest.split(";", 1)[0]
        if (response.getheader("connection") or "").lower() == "close":
            self.connection.close()
            self.connection = None
        return response.status, response, data, elapsed

    def login(self, code, password):
        status, _, page, _ = self.request("GET", "/login")
        self.token = TOKEN.search(page.decode()).group(1)
        status, response, _, elapsed = self.request(
            "POST", "/login", {"code": code, "password": password, "csrf_token": self.token})
        if status != 303 or response.getheader("Location") != "/home":
            raise RuntimeError(f"login of {code} failed: {status}")
        # A new session at login: the token of the login page is gone with it.
        status, _, page, _ = self.request("GET", "/home")
        self.token = TOKEN.search(page.decode()).group(1)
        return elapsed


def htmx(target):
    return {"HX-Request": "true", "HX-Target": target, "HX-Current-URL": "http://127.0.0.1/"}


class PortalUser:
    """One round of every page for one customer; each step returns (status, ok)."""

    def __init__(self, client, user):
        self.client = client
        self.user = user
        self.delete_url = None

    def step(self, name):
        user, get = self.user, self._get
        punto_e = f"punto={user['power']}"
        if name == "home":
            return get(f"/home?{punto_e}", marker=b"Benvenuto")
        if name == "invoices":
            return get(f"/fatture?{punto_e}", htmx("content"), b"invoice-list")
        if name == "invoices: year":
            return get(f"/fatture?{punto_e}&anno={user['year']}", htmx("invoice-list"), b"<tbody")
        if name == "invoice PDF":
            return get(f"/fatture/{user['pdf']}/pdf", marker=b"%PDF-", start=True)
        if name == "prelievi: chart":
            return get(f"/prelievi?{punto_e}", htmx("content"), b"data-figure")
        if name == "prelievi: table":
            return get(f"/prelievi?{punto_e}&anno={user['year']}&vista=tabella",
                       htmx("consumption-data"), b"chart-table")
        period = f"{punto_e}&dal={user['dal']}&al={user['al']}"
        if name == "misure: chart":
            return get(f"/misure?{period}", htmx("measurements-data"), b"data-figure")
        if name == "misure: CSV":
            return get(f"/misure/csv?{period}", marker=b";", start=False)
        if name == "documents":
            return get(f"/documenti?{punto_e}", htmx("content"), b"/documenti/")
        if name == "readings":
            return get(f"/autolettura?punto={user['gas']}", marker=b"reading-list")
        if name == "reading: add":
            return self._add()
        if name == "reading: delete":
            return self._delete()
        raise ValueError(name)

    def finish(self):
        """A round cut between add and delete must not leave today's reading behind."""
        if self.delete_url is not None:
            self._delete()

    def _get(self, path, headers=None, marker=None, start=False):
        status, response, data, elapsed = self.client.request("GET", path, headers=headers)
        ok = (status == 200 and response.getheader("HX-Redirect") is None
              and (marker is None or (data.startswith(marker) if start else marker in data)))
        return status, ok, len(data), elapsed

    def _add(self):
        meter = "12345"
        form = {"punto": self.user["gas"], "meter_reading": meter}
        confirmation = meter
        if self.user["corrector"]:
            form["corrector_reading"] = meter
            confirmation = f"{meter}|{meter}"
        # Any plausibility question is answered: the bench confirms its value.
        form["conferma"] = confirmation
        status, response, data, elapsed = self.client.request(
            "POST", "/autolettura", form, {**htmx("reading-form"), "X-CSRFToken": self.client.token})
        match = DELETE_URL.search(data.decode()) if status == 200 else None
        self.delete_url = match.group(1) if match else None
        ok = status == 200 and b"salvata" in data and match is not None
        return status, ok, len(data), elapsed

    def _delete(self):
        if self.delete_url is None:
            return 0, False, 0, 0.0
        status, response, data, elapsed = self.client.request(
            "POST", self.delete_url, {}, {**htmx("reading-form"), "X-CSRFToken": self.client.token})
        ok = status == 200 and data == b"" and response.getheader("HX-Trigger") == "readingsChanged"
        self.delete_url = None
        return status, ok, len(data), elapsed


class BareUser:
    def __init__(self, client):
        self.client = client

    def step(self, name):
        status, _, data, elapsed = self.client.request("GET", "/")
        return status, status == 200 and data == b"ok", len(data), elapsed


def one_at_a_time(server, actor, steps, repeat):
    """Each step `repeat` times in a row by one customer, nothing else running:
    {step: (p50 ms, server CPU ms per request)}. The cost of a page on its own."""
    figures = {}
    for name in steps:
        if name == "reading: delete":
            continue  # measured with its add
        times, deletes = [], []
        cpu = server.cpu_seconds()
        for _ in range(repeat):
            status, ok, _, elapsed = actor.step(name)
            if not ok:
                raise SystemExit(f"{name} failed ({status}) in the one-at-a-time pass")
            times.append(elapsed * 1000)
            if name == "reading: add":
                status, ok, _, elapsed = actor.step("reading: delete")
                if not ok:
                    raise SystemExit(f"reading: delete failed ({status})")
                deletes.append(elapsed * 1000)
        cpu = (server.cpu_seconds() - cpu) * 1000
        if deletes:
            # The pair's CPU, split in proportion to the two answers' times.
            share = sum(times) / (sum(times) + sum(deletes))
            figures["reading: delete"] = (percentile(sorted(deletes), 0.5),
                                          cpu * (1 - share) / repeat)
            cpu *= share
        figures[name] = (percentile(sorted(times), 0.5), cpu / repeat)
    return figures


def run_load(actors, steps, rate, duration, seed, record=True):
    """Every actor replays `steps` in a loop from a random place, at rate/len(actors)
    requests per second each, for `duration` seconds. Returns the samples
    [(step, seconds, status, ok, bytes, late)] and the wall time."""
    interval = len(actors) / rate
    rng = random.Random(seed)
    plans = [(actor, rng.uniform(0, interval), rng.randrange(len(steps))) for actor in actors]
    samples = [[] for _ in actors]
    start = time.monotonic() + 0.5
    stop = start + duration

    def work(index, actor, offset, first):
        out = samples[index]
        position = first
        # Adds and deletes go in pairs: start a round after an add.
        if steps[position] == "reading: delete":
            position = (position + 1) % len(steps)
        k = 0
        while True:
            due = start + offset + k * interval
            if due >= stop:
                if hasattr(actor, "finish"):
                    actor.finish()
                return
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            late = time.monotonic() - due > LATE
            name = steps[position]
            try:
                status, ok, size, elapsed = actor.step(name)
            except Exception as error:  # a broken connection is an error, not a crash
                status, ok, size, elapsed = f"{type(error).__name__}", False, 0, 0.0
                if actor.client.connection is not None:
                    actor.client.connection.close()
                    actor.client.connection = None
            if record:
                out.append((name, elapsed, status, ok, size, late))
            position = (position + 1) % len(steps)
            k += 1

    threads = [threading.Thread(target=work, args=(index, *plan), daemon=True)
               for index, plan in enumerate(plans)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 120)
    wall = max(duration, time.monotonic() - start)
    return [sample for per_actor in samples for sample in per_actor], wall


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------

def percentile(ordered, fraction):
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def sustained_verdict(run, overall):
    """Whether the portal kept up with at least 300 requests a second for 5 minutes.
    The load is an open loop, so the rate answered can only fall short of the rate
    offered (the wall time runs to the last answer): keeping up means answering 99% of
    it or more."""
    if run["rate"] < 300 or run["duration"] < 300:
        return "not measured by this run (it asks 300/s for 300 s)"
    kept_up = overall["per_second"] >= 0.99 * run["rate"] and overall["errors"] == 0
    return "met" if kept_up else "missed"


def summarise(samples, wall):
    """{step: figures} plus "all". Rates are per second of wall time, from the start
    to the last answer: a server that falls behind stretches the run (a customer
    sends every request it was due to send, late if need be), so its rate drops."""
    by_step = {}
    for sample in samples:
        by_step.setdefault(sample[0], []).append(sample)
    by_step["all"] = samples
    figures = {}
    for name, rows in by_step.items():
        times = sorted(row[1] * 1000 for row in rows if row[3])
        figures[name] = dict(
            requests=len(rows), per_second=len(rows) / wall,
            errors=sum(1 for row in rows if not row[3]),
            late=sum(1 for row in rows if row[5]),
            p50=percentile(times, 0.50), p95=percentile(times, 0.95),
            p99=percentile(times, 0.99), max=times[-1] if times else float("nan"),
            kib=sum(row[4] for row in rows) / max(1, len(rows)) / 1024,
            statuses=sorted({str(row[2]) for row in rows if not row[3]}))
    return figures


def machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = next(line for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        memory_gib = int(memory.split()[1]) / 1024 / 1024
    except (OSError, StopIteration):
        memory_gib = 0
    return (f"{os.cpu_count()} cores ({cpu}), {memory_gib:.0f} GiB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}")


def machine_cpu():
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    try:
        values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return float("nan"), float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / ticks, sum(values[:8]) / ticks


def database_cpu(url):
    """CPU seconds so far of the PostgreSQL backends serving the database of `url` on
    this machine (their process titles name the database): work the portal's requests
    cause, which would otherwise count among "other processes". 0 for SQLite, whose
    work is done inside the portal's own processes."""
    if not url.startswith(("postgresql://", "postgres://")):
        return 0.0
    name = f" {urllib.parse.urlsplit(url).path.lstrip('/')} ".encode()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
            if not title.startswith(b"postgres:") or name not in title:
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a backend that ended meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def shown_path(text):
    """A path as the committed results show it: relative to the project, or only its
    name when it lies elsewhere; never where it is on this machine."""
    path = Path(text).absolute()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def shown_command(arguments):
    """The command line of this run, with every absolute path shown by shown_path."""
    return "bench/bench_pages.py " + shlex.join(
        shown_path(argument) if argument.startswith("/") else argument for argument in arguments)


def server_python_version(args):
    if not args.server_python:
        return f"Python {platform.python_version()} ({shown_path(sys.executable)})"
    version = subprocess.run([args.server_python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return f"Python {version} ({shown_path(args.server_python)})"


def load_average():
    return "{:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())


def markdown(run):
    portal, bare = run["portal"], run["bare"]["all"]
    lines = [
        f"## {run['date']} · {run['scale']} · {run.get('engine', 'SQLite')} · "
        f"{run['rate']:g} req/s offered for "
        f"{run['duration']:g} s",
        "",
        f"- Command: `{run['command']}`",
        f"- Machine: {run['machine']}",
        f"- Server: `{run['server']}` (PRODUCTION=1, no access log), {run['server_python']}",
        f"- Data: {run['data']}",
        f"- Load average (1/5/15 min): before {run['load']['before']}, after the portal "
        f"run {run['load']['portal']}, after the bare run {run['load']['bare']}",
        f"- {run['users']} customers logged in (login p50 {run['login']['p50']:.0f} ms, "
        f"p99 {run['login']['p99']:.0f} ms), each replaying the {len(PAGES)} steps below in "
        "a loop; the bare route got the same users, rate and duration.",
        "",
        "| page or fragment | requests | req/s | p50 ms | p95 ms | p99 ms | max ms "
        "| p50 / bare p50 | KiB | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, kind in PAGES + [("all", "")]:
        figures = portal[name]
        label = f"{name} ({kind})" if kind else "**all customer pages**"
        errors = figures["errors"]
        if errors:
            errors = f"{errors} ({', '.join(figures['statuses'])})"
        lines.append(
            f"| {label} | {figures['requests']:,} | {figures['per_second']:.1f} "
            f"| {figures['p50']:.1f} | {figures['p95']:.1f} | {figures['p99']:.1f} "
            f"| {figures['max']:.0f} | {figures['p50'] / bare['p50']:.1f}× "
            f"| {figures['kib']:.1f} | {errors} |")
    lines.append(
        f"| bare Flask route | {bare['requests']:,} | {bare['per_second']:.1f} "
        f"| {bare['p50']:.1f} | {bare['p95']:.1f} | {bare['p99']:.1f} | {bare['max']:.0f} "
        f"| 1.0× | {bare['kib']:.1f} | {bare['errors']} |")
    overall = portal["all"]
    worst_ratio = max(portal[name]["p50"] / bare["p50"] for name, _ in PAGES)
    worst_p95 = max(portal[name]["p95"] for name, _ in PAGES)
    lines += [
        "",
        "CPU per request (all gunicorn processes / this client): portal "
        f"{run['cpu']['portal_server'] / overall['requests'] * 1000:.2f} / "
        f"{run['cpu']['portal_client'] / overall['requests'] * 1000:.2f} ms, bare route "
        f"{run['cpu']['bare_server'] / bare['requests'] * 1000:.2f} / "
        f"{run['cpu']['bare_client'] / bare['requests'] * 1000:.2f} ms"
        + (f"; PostgreSQL's backends for the portal's database "
           f"{run['cpu']['portal_database'] / overall['requests'] * 1000:.2f} ms more per "
           "request" if run['cpu'].get('portal_database') else "")
        + ". Other processes of "
        f"the machine kept {run['cpu']['portal_others']:.2f} cores busy during the portal run, "
        f"{run['cpu']['bare_others']:.2f} during the bare run (of {os.cpu_count()}).",
        "",
        f"Late starts (a request sent more than {LATE * 1000:.0f} ms after its time because "
        f"the previous answer of that user came late): portal {overall['late']:,}, "
        f"bare {bare['late']:,}.",
        "",
        "Targets: every page p50 ≤ 3× bare p50: "
        f"{'met' if worst_ratio <= 3 else 'missed'} (worst {worst_ratio:.1f}×); "
        f"every page p95 ≤ 50 ms: {'met' if worst_p95 <= 50 else 'missed'} "
        f"(worst {worst_p95:.1f} ms); ≥ 300 page views/s for 5 minutes with zero errors: "
        f"{sustained_verdict(run, overall)} "
        f"({overall['per_second']:.1f}/s of {run['rate']:g} offered for {run['duration']:g} s, "
        f"{overall['errors']} errors).",
        "",
    ]
    if run.get("alone"):
        bare_p50, bare_cpu = run["bare_alone"]
        lines += [
            f"One request at a time (one customer, each page {run['alone_repeat']} times in a "
            "row, before the load; the bare route likewise): what a page costs on its own.",
            "",
            "| page or fragment | p50 ms | p50 / bare p50 | server CPU ms per request |",
            "|---|---:|---:|---:|",
        ]
        for name, kind in PAGES:
            p50, cpu = run["alone"][name]
            lines.append(f"| {name} ({kind}) | {p50:.2f} | {p50 / bare_p50:.1f}× | {cpu:.2f} |")
        lines += [f"| bare Flask route | {bare_p50:.2f} | 1.0× | {bare_cpu:.2f} |", ""]
    return "\n".join(lines)


def compare(paths):
    """A Markdown table of p50 and p95 per page across runs (e.g. medium vs large)."""
    runs = [json.loads(Path(path).read_text()) for path in paths]
    head = " | ".join(f"{run['scale']} p50 | {run['scale']} p95" for run in runs)
    lines = [f"| page | {head} | p50 {runs[-1]['scale']} / {runs[0]['scale']} |",
             "|---|" + "---:|" * (2 * len(runs) + 1)]
    for name, _ in PAGES + [("all", "")]:
        cells = " | ".join(f"{run['portal'][name]['p50']:.1f} | {run['portal'][name]['p95']:.1f}"
                           for run in runs)
        ratio = runs[-1]["portal"][name]["p50"] / runs[0]["portal"][name]["p50"]
        lines.append(f"| {name} | {cells} | {ratio:.2f}× |")
    cells = " | ".join(f"{run['bare']['all']['p50']:.1f} | {run['bare']['all']['p95']:.1f}"
                       for run in runs)
    lines.append(f"| bare route | {cells} | |")
    if all(run.get("alone") for run in runs):
        head = " | ".join(f"{run['scale']} p50 alone | {run['scale']} CPU" for run in runs)
        lines += ["", f"| page, one request at a time | {head} | p50 {runs[-1]['scale']} / "
                      f"{runs[0]['scale']} |", "|---|" + "---:|" * (2 * len(runs) + 1)]
        for name, _ in PAGES:
            cells = " | ".join(f"{run['alone'][name][0]:.2f} | {run['alone'][name][1]:.2f}"
                               for run in runs)
            ratio = runs[-1]["alone"][name][0] / runs[0]["alone"][name][0]
            lines.append(f"| {name} | {cells} | {ratio:.2f}× |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("medium", "large"), default="medium")
    parser.add_argument("--users", type=int, default=90, help="customers logged in")
    parser.add_argument("--rate", type=float, default=300, help="requests per second offered")
    parser.add_argument("--duration", type=float, default=60, help="seconds of each measured run")
    parser.add_argument("--warmup", type=float, default=10, help="seconds before measuring")
    parser.add_argument("--alone", type=int, default=100,
                        help="times each page is asked alone, one request at a time")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--server-python", help="the Python of a virtualenv with "
                        "requirements.txt to serve with (default: this one)")
    parser.add_argument("--bench-dir", default=os.environ.get("BENCH_DIR", "/tmp/area-clienti-bench"))
    parser.add_argument("--database-url", help="use this database instead of a generated one")
    parser.add_argument("--files-dir", help="FILES_DIR of --database-url")
    parser.add_argument("--output", default=str(ROOT / "bench" / "RESULTS.md"))
    parser.add_argument("--compare", nargs="+", metavar="JSON",
                        help="print a table comparing saved runs and exit")
    args = parser.parse_args()
    if args.compare:
        print(compare(args.compare))
        return

    command = shown_command(sys.argv[1:])
    load_before = load_average()
    url, files_dir, export_dir, generated = prepare_data(args)
    users = sample_users(url, args.users)
    # The schedule runs in every worker as in production; a fresh "last run" in its
    # lock file keeps the bench's own readings from being acquired mid-round.
    export_dir.mkdir(parents=True, exist_ok=True)
    (export_dir / ".acquisition.lock").write_text(f"{time.time():.0f}")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "FILES_DIR": str(files_dir),
           "EXPORT_DIR": str(export_dir), "OUTBOX_DIR": str(Path(args.bench_dir) / "outbox"),
           "SECRET_KEY": secrets.token_hex(32), "PRODUCTION": "1",
           "BASE_URL": f"http://127.0.0.1:{port}"}
    logs = Path(args.bench_dir)
    steps = [name for name, _ in PAGES]
    server_command = gunicorn_command(args, port, "app:create_app()")
    print(f"Portal: {shlex.join(server_command[2:])}")
    server = Server(server_command, env, logs / "gunicorn-portal.log")
    try:
        server.wait_ready(port, "/login")
        clients, logins = [], []
        lock = threading.Lock()

        def log_in(index, user):
            address = f"127.0.0.{2 + index // LOGINS_PER_ADDRESS}"
            client = Client(port, address)
            elapsed = client.login(user["code"], common.DEMO_PASSWORD)
            with lock:
                clients.append((index, PortalUser(client, user)))
                logins.append(elapsed * 1000)

        login_threads = []
        for index, user in enumerate(users):
            thread = threading.Thread(target=log_in, args=(index, user))
            thread.start()
            login_threads.append(thread)
            if len(login_threads) % 8 == 0:
                for waiting in login_threads[-8:]:
                    waiting.join()
        for thread in login_threads:
            thread.join()
        if len(clients) != len(users):
            raise SystemExit("some logins failed")
        actors = [actor for _, actor in sorted(clients, key=lambda pair: pair[0])]
        print(f"{len(actors)} customers logged in; warming up {args.warmup:g} s...")
        run_load(actors, steps, args.rate, args.warmup, seed=1, record=False)
        print(f"One request at a time: each page {args.alone} times...")
        alone = one_at_a_time(server, actors[0], steps, args.alone)
        print(f"Portal: {args.rate:g} req/s for {args.duration:g} s...")
        cpu = (server.cpu_seconds(), time.process_time(), machine_cpu(), database_cpu(url))
        samples, wall = run_load(actors, steps, args.rate, args.duration, seed=2)
        portal_cpu = (server.cpu_seconds() - cpu[0], time.process_time() - cpu[1],
                      machine_cpu()[0] - cpu[2][0], database_cpu(url) - cpu[3])
        load_portal = load_average()
    finally:
        server.stop()
    portal = summarise(samples, wall)

    bare_command = gunicorn_command(args, port, "bench.bare_app:create_app()")
    print(f"Bare route: {shlex.join(bare_command[2:])}")
    server = Server(bare_command, env, logs / "gunicorn-bare.log")
    try:
        server.wait_ready(port, "/")
        bare_actors = [BareUser(Client(port)) for _ in users]
        run_load(bare_actors, ["bare"], args.rate, args.warmup, seed=1, record=False)
        bare_alone = one_at_a_time(server, bare_actors[0], ["bare"], args.alone)["bare"]
        print(f"Bare route: {args.rate:g} req/s for {args.duration:g} s...")
        cpu = (server.cpu_seconds(), time.process_time(), machine_cpu())
        bare_samples, bare_wall = run_load(bare_actors, ["bare"], args.rate, args.duration, seed=2)
        bare_cpu = (server.cpu_seconds() - cpu[0], time.process_time() - cpu[1],
                    machine_cpu()[0] - cpu[2][0])
        load_bare = load_average()
    finally:
        server.stop()
    bare = summarise(bare_samples, bare_wall)

    logins.sort()
    data = (f"{args.scale} demo generated {generated['generated']} "
            f"({generated['seconds']} s to generate)" if generated else url)
    run = dict(date=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), scale=args.scale,
               engine="PostgreSQL" if url.startswith("postgres") else "SQLite",
               rate=args.rate, duration=args.duration, users=args.users, command=command,
               machine=machine(), server=shlex.join(["gunicorn"] + server_command[3:]),
               server_python=server_python_version(args),
               data=data, load=dict(before=load_before, portal=load_portal, bare=load_bare),
               login=dict(p50=percentile(logins, 0.5), p99=percentile(logins, 0.99)),
               cpu=dict(portal_server=portal_cpu[0], portal_client=portal_cpu[1],
                        portal_database=portal_cpu[3],
                        portal_others=(portal_cpu[2] - portal_cpu[0] - portal_cpu[1]
                                       - portal_cpu[3]) / wall,
                        bare_server=bare_cpu[0], bare_client=bare_cpu[1],
                        bare_others=(bare_cpu[2] - bare_cpu[0] - bare_cpu[1]) / bare_wall),
               portal=portal, bare=bare, alone=alone, bare_alone=bare_alone,
               alone_repeat=args.alone)
    text = markdown(run)
    print("\n" + text)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    name = f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{args.scale}-{args.rate:g}rps-{args.duration:g}s.json"
    (results / name).write_text(json.dumps(run, indent=1))
    output = Path(args.output)
    if not output.exists():
        output.write_text("# Results of `make bench`\n\nNewest last. See bench/README.md for "
                          "what is measured and how.\n\n")
    with open(output, "a") as handle:
        handle.write(text + "\n")
    print(f"Appended to {output}; raw figures in bench/results/{name}")


if __name__ == "__main__":
    main()
