"""Behind the documented reverse proxy (TRUSTED_PROXIES): per-address limits count each
client apart and the audit log records the client; without it the headers are ignored."""
import pytest

import models
from conftest import make_app
from views import limiter


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
