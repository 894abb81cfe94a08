"""Behind the documented reverse proxy: per-address limits count each client apart and
the audit log records the client (TRUSTED_PROXIES; without it the headers are
ignored); the README's nginx block (buffering, short timeouts) holds together; the
demo server's limits keep trickling connections from stalling anyone."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import models
from conftest import free_port, make_app
from views import limiter

ROOT = Path(__file__).resolve().parent.parent


def _failed_login(client, client_address, code="555555"):
    return client.post("/login", data={"code": code, "password": "x" * 10},
                       headers={"X-Forwarded-For": client_address},
                       environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code


@pytest.fixture
def limited(tmp_path):
    def make(**config):
        application = make_app(tmp_path / "limited", RATELIMIT_ENABLED=True, **config)
        limiter.reset()
        return application
    yield make
    limiter.reset()


def test_behind_one_proxy_an_attackers_failures_do_not_block_other_clients(limited):
    client = limited(TRUSTED_PROXIES=1).test_client()
    attacker = [_failed_login(client, "203.0.113.7", f"{n:06d}") for n in range(31)]
    assert attacker.count(429) == 1 and attacker[-1] == 429
    # Another customer behind the same proxy still gets an answer to a login.
    assert _failed_login(client, "198.51.100.20") == 422


def test_behind_one_proxy_recovery_limits_count_per_client(limited, factory):
    client = limited(TRUSTED_PROXIES=1).test_client()
    statuses = [client.post("/password-dimenticata", data={"code": f"{n:06d}"},
                            headers={"X-Forwarded-For": "203.0.113.7"}).status_code
                for n in range(11)]
    assert statuses[-1] == 429
    assert client.post("/password-dimenticata", data={"code": "000100"},
                       headers={"X-Forwarded-For": "198.51.100.20"}).status_code == 200


def test_a_forged_header_cannot_hide_the_address_the_proxy_saw(limited):
    """The proxy appends the address it saw; only that last hop is believed."""
    client = limited(TRUSTED_PROXIES=1).test_client()
    statuses = [_failed_login(client, f"10.9.9.{n}, 203.0.113.7", f"{n:06d}")
                for n in range(31)]
    assert statuses[-1] == 429


def test_without_trusted_proxies_the_header_is_ignored(limited):
    client = limited().test_client()
    statuses = [_failed_login(client, f"203.0.113.{n}", f"{n:06d}") for n in range(31)]
    assert statuses[-1] == 429  # every request is 127.0.0.1, whatever it claims


def test_audit_records_the_client_behind_the_proxy(tmp_path, factory):
    application = make_app(tmp_path / "proxied", TRUSTED_PROXIES=1)
    customer = factory.customer(code="654321")
    response = application.test_client().post(
        "/login", data={"code": "654321", "password": "sbagliata!!"},
        headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert response.status_code == 422
    assert [row.ip for row in models.AuditLog.select()
            .where(models.AuditLog.customer == customer)] == ["203.0.113.7"]


def test_audit_ignores_the_header_without_trusted_proxies(app, client, factory):
    customer = factory.customer(code="654321")
    client.post("/login", data={"code": "654321", "password": "sbagliata!!"},
                headers={"X-Forwarded-For": "203.0.113.7"})
    assert [row.ip for row in models.AuditLog.select()
            .where(models.AuditLog.customer == customer)] == ["127.0.0.1"]


def test_forwarded_https_turns_on_hsts_behind_the_proxy(tmp_path):
    application = make_app(tmp_path / "proxied", TRUSTED_PROXIES=1,
                           BASE_URL="http://127.0.0.1:5000")
    plain = application.test_client().get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    proxied = application.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in proxied.headers



def readme_nginx_block():
    readme = (ROOT / "README.md").read_text()
    [block] = re.findall(r"```nginx\n(.*?)```", readme, re.S)
    return block


def parse_nginx(text):
    """[(directive, [arguments], children or None)] of an nginx configuration: every
    statement must end in `;` or open a `{` block, and every block must close."""
    tokens = re.findall(r'"[^"]*"|[{};]|[^\s{};"]+', re.sub(r"#[^\n]*", "", text))
    position = 0

    def block():
        nonlocal position
        statements, words = [], []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                assert words, "an empty statement"
                statements.append((words[0], words[1:], None))
                words = []
            elif token == "{":
                assert words, "a block without a name"
                statements.append((words[0], words[1:], block()))
                words = []
            elif token == "}":
                assert not words, f"{words} lacks its ';'"
                return statements
            else:
                words.append(token)
        assert not words, f"{words} lacks its ';'"
        return statements

    parsed = block()
    assert position == len(tokens), "a '}' too many"
    return parsed


def directives(statements, name):
    return [arguments for directive, arguments, _ in statements if directive == name]


def seconds(value):
    return int(value[:-1]) if value.endswith("s") else int(value)


def test_the_readme_nginx_block_buffers_and_times_out_slow_clients(app):
    block = readme_nginx_block()
    parsed = parse_nginx(block)
    [(_, upstream_name, upstream)] = [s for s in parsed if s[0] == "upstream"]
    [(_, _, server)] = [s for s in parsed if s[0] == "server"]
    # The upstream is the address of the README's gunicorn command.
    assert directives(upstream, "server") == [["127.0.0.1:8000"]]
    assert "--bind 127.0.0.1:8000" in (ROOT / "README.md").read_text()
    assert seconds(directives(server, "client_header_timeout")[0][0]) <= 10
    assert seconds(directives(server, "client_body_timeout")[0][0]) <= 10
    # The body limit is the portal's own, so a too-big upload gets the portal's 413 page.
    [[body_limit]] = directives(server, "client_max_body_size")
    assert int(body_limit[:-1]) * 1024 * 1024 == app.config["MAX_CONTENT_LENGTH"]
    locations = {tuple(arguments): children for name, arguments, children in server
                 if name == "location"}
    main = locations[("/",)]
    assert directives(main, "proxy_pass") == [[f"http://{upstream_name[0]}"]]
    assert directives(main, "proxy_request_buffering") == [["on"]]
    assert directives(main, "proxy_buffering") == [["on"]]
    headers = {arguments[0]: arguments[1] for arguments in directives(main, "proxy_set_header")}
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert ("=", "/healthz") in locations


@pytest.mark.skipif(shutil.which("nginx") is None and not os.environ.get("CI"),
                    reason="nginx is not installed (CI installs it: there this test must run)")
def test_nginx_accepts_the_readme_block(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=area-clienti.example.it", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    block = (readme_nginx_block()
             .replace("/etc/ssl/area-clienti/fullchain.pem", str(tmp_path / "cert.pem"))
             .replace("/etc/ssl/area-clienti/privkey.pem", str(tmp_path / "key.pem")))
    config = tmp_path / "nginx.conf"
    config.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
                      f"events {{}}\nhttp {{\naccess_log off;\n{block}\n}}\n")
    checked = subprocess.run(["nginx", "-t", "-c", str(config), "-p", str(tmp_path)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("hops, seen", [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_forwarded_addresses_are_believed_only_behind_our_proxies(tmp_path, factory, hops, seen):
    application = make_app(tmp_path / "app", TRUSTED_PROXIES=hops)
    client = application.test_client()
    client.post("/login", data={"code": "123123", "password": "sbagliata-1234"},
                headers={"X-Forwarded-For": "203.0.113.7"})
    assert models.AuditLog.get(models.AuditLog.event == "login_failed").ip == seen


def makefile_waitress_limits():
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^WAITRESS_LIMITS \?= (.*?[^\\])$", makefile, re.M | re.S)
    return match.group(1).replace("\\\n", " ").split()


def test_trickling_clients_do_not_stall_the_demo_server(tmp_path):
    """Eight connections sending a header line every second (the attack that stalled
    gunicorn for 5 s) while others are served at once, under `make run`'s limits."""
    limits = makefile_waitress_limits()
    assert "--channel-timeout=20" in limits and "--connection-limit=200" in limits
    database_url = make_app(tmp_path).config["DATABASE_URL"]
    models.db.close()
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "proxy-test",
                   "FILES_DIR": str(tmp_path / "files"), "OUTBOX_DIR": str(tmp_path / "outbox"),
                   "EXPORT_DIR": str(tmp_path / "exports"), "ACQUISITION_INTERVAL": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "waitress", "--host=127.0.0.1", f"--port={port}", "--threads=8",
         *limits, "--call", "app:create_app"],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    slow = []
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "the demo server did not start"
                time.sleep(0.1)
        for _ in range(8):
            connection = socket.create_connection(("127.0.0.1", port))
            connection.sendall(b"GET /login HTTP/1.1\r\nHost: localhost\r\n")
            slow.append(connection)
        waits = []
        for round_number in range(4):
            for connection in slow:
                connection.sendall(f"X-Slow-{round_number}: a\r\n".encode())
            for path in ("/login", "/healthz"):
                started = time.monotonic()
                with urllib.request.urlopen(url + path, timeout=10) as response:
                    assert response.status == 200
                waits.append(time.monotonic() - started)
            time.sleep(1)
        assert max(waits) < 1.0, waits
    finally:
        for connection in slow:
            connection.close()
        server.terminate()
        server.wait(10)
