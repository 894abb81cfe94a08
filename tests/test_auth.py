"""Accounts: login, registration, recovery, temporary passwords, change, sessions."""
import datetime
import re

import pytest
from argon2 import PasswordHasher
from markupsafe import escape

import models
from conftest import PASSWORD, deliver_mail, free_port, make_app
from portal.mail import parsed
from portal.passwords import verify_password
from views.auth import LOGIN_FAILED, RECOVERY_SENT, REGISTRATION_MISMATCH

NEW_PASSWORD = "cavallo batteria graffetta"


def audit_events(customer=None):
    query = models.AuditLog.select().order_by(models.AuditLog.id)
    if customer is not None:
        query = query.where(models.AuditLog.customer == customer)
    return [row.event for row in query]


def without_tokens(text):
    """The page minus its CSRF tokens, which are signed with the current second."""
    return re.sub(r'"X-CSRFToken": "[^"]+"|name="csrf_token" value="[^"]+"', "", text)


def parsed_file(path):
    import email
    from email import policy
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    return message.get_body(("plain",)).get_content()


def temporary_password_from(text):
    return re.search(r"Password temporanea:\s+(\S+)", text).group(1)


# --- Login -----------------------------------------------------------------------

def test_login_page_speaks_the_seed(client):
    page = client.get("/login").text
    for words in ("Autenticazione", "User", "Password", "Hai dimenticato la Password ?",
                  "Sei un cliente e vuoi registrarti ?"):
        assert words in page


@pytest.mark.parametrize("case", ["unknown code", "wrong password", "unregistered",
                                  "malformed code", "NUL in the code"])
def test_failed_logins_look_the_same(client, factory, case):
    factory.customer(code="111111")
    factory.customer(code="222222", registered=False)
    code, password = {"unknown code": ("333333", PASSWORD),
                      "wrong password": ("111111", "not the password"),
                      "unregistered": ("222222", PASSWORD),
                      "malformed code": ("12ab", PASSWORD),
                      "NUL in the code": ("111111\x00", PASSWORD)}[case]
    reference = client.post("/login", data={"code": "444444", "password": "x" * 12})
    response = client.post("/login", data={"code": code, "password": password})
    assert response.status_code == reference.status_code == 422
    assert escape(LOGIN_FAILED) in response.text
    assert without_tokens(response.text).replace(code, "") == \
        without_tokens(reference.text).replace("444444", "")


def test_login_redirects_home_and_shows_previous_access(client, customer, auth):
    response = auth.login(customer.code)
    assert response.status_code == 303 and response.headers["Location"] == "/home"
    assert "Ultimo accesso: primo accesso" in client.get("/home").text
    first = models.Customer.get_by_id(customer.id).last_login_at
    auth.logout()
    auth.login(customer.code)
    assert f"Ultimo accesso: {first:%d/%m/%y}" in client.get("/home").text
    assert audit_events(customer) == ["login_ok", "logout", "login_ok"]


def test_login_starts_a_new_session(client, customer, auth):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    auth.login(customer.code)
    with client.session_transaction() as session:
        assert "planted" not in session


@pytest.mark.parametrize("target,expected", [
    ("/cambio-password", "/cambio-password"),
    ("https://evil.example/", "/home"),
    ("//evil.example/", "/home"),
    ("/\\evil.example", "/home"),
    ("javascript:alert(1)", "/home"),
    # A line break would end the Location header: Werkzeug refuses it with a 500.
    ("/home\r\nSet-Cookie: planted=1", "/home"),
    ("/fatture\nX-Injected: 1", "/home"),
    ("/home\x00", "/home"),
    # Browsers drop tabs and line breaks from URLs: this one would become //evil.example.
    ("/\t/evil.example", "/home"),
    ("/\n/evil.example", "/home"),
    ("/home\x7f", "/home"),
])
def test_next_accepts_only_local_paths(client, customer, target, expected):
    response = client.post("/login", query_string={"next": target},
                           data={"code": customer.code, "password": PASSWORD})
    assert response.headers["Location"] == expected


def test_anonymous_is_sent_to_login(client):
    response = client.get("/home")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_lockout_after_ten_failures_then_even_the_right_password_fails(client, customer, auth):
    for _ in range(10):
        assert auth.login(customer.code, "wrong password!").status_code == 422
    locked = auth.login(customer.code)
    assert locked.status_code == 422 and escape(LOGIN_FAILED) in locked.text
    assert "account_locked" in audit_events(customer)
    models.Customer.update(locked_until=models.utcnow() - datetime.timedelta(seconds=1)).execute()
    assert auth.login(customer.code).status_code == 303


def test_recovery_requests_never_lock_the_account(client, customer, auth):
    for _ in range(12):
        client.post("/password-dimenticata", data={"code": customer.code})
    assert auth.login(customer.code).status_code == 303


def test_login_rate_limit_per_code(tmp_path, factory):
    application = make_app(tmp_path / "limited", RATELIMIT_ENABLED=True)
    from views import limiter
    limiter.reset()
    client = application.test_client()
    statuses = [client.post("/login", data={"code": "555555", "password": "x" * 10},
                            environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code
                for n in range(12)]
    assert statuses[:10] == [422] * 10
    assert statuses[10:] == [429, 429]
    assert "Troppi tentativi" in client.post(
        "/login", data={"code": "555555", "password": "x"}).text


def test_login_rate_limit_per_ip(tmp_path):
    application = make_app(tmp_path / "limited", RATELIMIT_ENABLED=True)
    from views import limiter
    limiter.reset()
    client = application.test_client()
    statuses = [client.post("/login", data={"code": f"{n:06d}", "password": "x" * 10}).status_code
                for n in range(31)]
    assert statuses.count(429) == 1 and statuses[-1] == 429


def test_argon2_hash_below_policy_is_upgraded_at_login(client, factory, auth):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    customer = factory.customer(code="777777", password_hash=weak)
    assert auth.login("777777").status_code == 303
    upgraded = models.Customer.get_by_id(customer.id).password_hash
    assert upgraded != weak and "m=19456,t=2,p=1" in upgraded
    assert verify_password(upgraded, PASSWORD)


# --- Sessions ----------------------------------------------------------------------

def test_logout_ends_every_copy_of_the_cookie(app, customer, auth, client):
    auth.login(customer.code)
    stolen = client.get_cookie("session").value
    assert client.post("/logout").status_code == 303
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/home")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_logout_is_post_only(client, logged_in):
    assert client.get("/logout").status_code == 405


def test_idle_session_expires_after_thirty_minutes(client, logged_in):
    with client.session_transaction() as session:
        session["seen"] -= 31 * 60
    response = client.get("/home")
    assert response.headers["Location"] == "/login"
    assert "La sessione è scaduta per inattività" in client.get("/login").text
    assert "session_expired" in audit_events(logged_in)


def test_session_ends_after_twelve_hours_even_when_active(client, logged_in):
    with client.session_transaction() as session:
        session["login_at"] -= 12 * 3600 + 1
    assert client.get("/home").headers["Location"] == "/login"


def test_htmx_request_of_expired_session_navigates_with_hx_redirect(client, logged_in):
    with client.session_transaction() as session:
        session["seen"] -= 31 * 60
    response = client.get("/home", headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/login"


# --- Registration ------------------------------------------------------------------

@pytest.fixture
def unregistered(factory):
    return factory.customer(code="123456", name="ROSSI MARIO", tax_code="RSSMRA80A01H501U",
                            registered=False, email="mario.rossi@example.it")


def test_registration_screens(client, unregistered):
    page = client.get("/registrazione").text
    assert "Registrazione nuovo utente" in page
    assert "Codice cliente presente in fattura" in page and "Codice fiscale o partita IVA" in page
    response = client.post("/registrazione", data={"code": "123456", "tax_code": "rssmra80a01h501u"})
    assert response.headers["Location"] == "/registrazione/conferma"
    summary = client.get("/registrazione/conferma").text
    for words in ("Conferma registrazione", "Codice cliente", "123456", "Denominazione",
                  "ROSSI MARIO", "Residenza/Sede", "VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)",
                  "E-mail in archivio", "m***@example.it",
                  "Un altro indirizzo e-mail (facoltativo)"):
        assert words in summary
    # The address on file is shown masked, never whole, and not offered for editing.
    assert "mario.rossi" not in summary


def test_registration_without_an_address_on_file_asks_for_one(client, factory):
    factory.customer(code="123456", tax_code="RSSMRA80A01H501U", registered=False, email="")
    client.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    summary = client.get("/registrazione/conferma").text
    assert "usa sempre questo indirizzo di posta elettronica" in summary
    assert "Le credenziali di accesso saranno inviate alla e-mail indicata." in summary
    empty = client.post("/registrazione/conferma", data={"email": ""})
    assert empty.status_code == 422 and "Campo obbligatorio." in empty.text


def test_registration_mismatch_reveals_nothing(client, unregistered):
    response = client.post("/registrazione", data={"code": "123456", "tax_code": "VRDGPP80A01H501U"})
    assert response.status_code == 422
    assert escape(REGISTRATION_MISMATCH) in response.text
    assert "ROSSI" not in response.text and "mario.rossi" not in response.text
    unknown = client.post("/registrazione", data={"code": "999999", "tax_code": "VRDGPP80A01H501U"})
    assert without_tokens(unknown.text).replace("999999", "123456") == without_tokens(response.text)


def test_registration_checks_the_tax_code_format(client, unregistered):
    response = client.post("/registrazione", data={"code": "12345", "tax_code": "RSSMRA80A01H501X"})
    assert response.status_code == 422
    assert "Il codice cliente è di 6 cifre" in response.text
    assert "Codice fiscale o partita IVA non valido" in response.text
    assert 'value="RSSMRA80A01H501X"' in response.text  # what was typed stays


def test_registration_confirm_needs_step_one(client, unregistered):
    response = client.get("/registrazione/conferma")
    assert response.headers["Location"] == "/registrazione"


def test_already_registered_code_is_told_to_recover(client, customer):
    response = client.post("/registrazione", data={"code": customer.code, "tax_code": customer.tax_code})
    assert "Risulti già registrato" in response.text
    assert "Hai dimenticato la Password ?" in response.text


def test_full_registration_by_real_smtp(mail_app, smtp_server, unregistered):
    client = mail_app.test_client()
    client.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    done = client.post("/registrazione/conferma", data={"email": ""})
    assert done.status_code == 200
    assert "Le credenziali di accesso sono state inviate a <strong>m***@example.it</strong>" in done.text

    assert smtp_server.wait_for(1)
    recipients, message = smtp_server.messages[0]
    assert recipients == ["mario.rossi@example.it"]  # the address on file
    assert message["Subject"] == "Area Clienti: la tua password di primo accesso"
    text = smtp_server.text_of(0)
    assert "User (codice cliente): 123456" in text
    assert "https://area-clienti.example.it/login" in text  # BASE_URL, not the Host header
    assert message.get_body(("html",)) is not None
    temporary = temporary_password_from(text)

    customer = models.Customer.get_by_id(unregistered.id)
    assert customer.registered_at and customer.email == "mario.rossi@example.it"
    assert customer.password_hash is None and customer.temp_password_hash != temporary
    assert audit_events(customer) == ["registration", "temporary_password_sent"]
    # Delivered: the queue keeps the record, not the message that held the password.
    row = models.OutgoingMail.get()
    assert row.status == "sent" and row.message is None
    assert temporary not in str(list(models.AuditLog.select().dicts()))
    assert temporary not in str(list(models.OutgoingMail.select().dicts()))

    # The temporary password opens only "Cambio Password".
    login = client.post("/login", data={"code": "123456", "password": temporary})
    assert login.status_code == 303
    for url in ("/home", "/", "/registrazione"):
        assert client.get(url).headers["Location"] == "/cambio-password"
    htmx = client.get("/home", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/cambio-password"
    page = client.get("/cambio-password").text
    assert "password temporanea" in page and "Password attuale" not in page
    assert "Annulla" not in page

    changed = client.post("/cambio-password", data={"new_password": NEW_PASSWORD,
                                                   "confirm_password": NEW_PASSWORD})
    assert changed.headers["Location"] == "/home"
    assert client.get("/home").status_code == 200
    assert smtp_server.wait_for(2)
    assert smtp_server.messages[1][1]["Subject"] == "Area Clienti: password modificata"

    client.post("/logout")
    assert client.post("/login", data={"code": "123456", "password": temporary}).status_code == 422
    assert client.post("/login", data={"code": "123456", "password": NEW_PASSWORD}).status_code == 303


def confirmation_link(text):
    return re.search(r"https://area-clienti\.example\.it(/registrazione/indirizzo/\S+)", text).group(1)


def test_registration_takeover_by_real_smtp(mail_app, smtp_server, unregistered):
    """Someone who knows the code and the codice fiscale asks for the first password at
    their own address: they get nothing, the address on file is asked, and the real
    customer can still register."""
    attacker = mail_app.test_client()
    attacker.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    answer = attacker.post("/registrazione/conferma", data={"email": "ladro@example.net"})
    assert answer.status_code == 200
    assert "Conferma dell'indirizzo richiesta" in answer.text.replace("&#39;", "'")
    assert "<strong>m***@example.it</strong>" in answer.text
    assert "mario.rossi" not in answer.text

    assert smtp_server.wait_for(1)
    assert not smtp_server.wait_for(2, timeout=1.5)  # and nothing else, ever
    recipients, message = smtp_server.messages[0]
    assert recipients == ["mario.rossi@example.it"]
    assert message["Subject"] == "Area Clienti: conferma l'indirizzo per la registrazione"
    text = smtp_server.text_of(0)
    assert "ladro@example.net" in text and "Password temporanea" not in text
    link = confirmation_link(text)
    customer = models.Customer.get_by_id(unregistered.id)
    assert customer.registered_at is None and customer.email == "mario.rossi@example.it"
    assert customer.temp_password_hash is None
    assert "registration_address_requested" in audit_events(customer)

    # The attacker cannot use the link without the mailbox; a forged one is refused.
    assert attacker.get(link + "x").status_code == 404
    assert attacker.post("/registrazione/indirizzo/1").status_code == 404

    # The real customer registers with the address on file and gets the password.
    owner = mail_app.test_client()
    owner.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    assert owner.post("/registrazione/conferma", data={"email": ""}).status_code == 200
    assert smtp_server.wait_for(2)
    assert smtp_server.messages[1][0] == ["mario.rossi@example.it"]
    temporary = temporary_password_from(smtp_server.text_of(1))
    assert owner.post("/login", data={"code": "123456", "password": temporary}).status_code == 303

    # The old request is dead: confirming it now changes nothing.
    late = mail_app.test_client().post(link)
    assert late.status_code == 409 and "Risulti già registrato" in late.text
    assert models.Customer.get_by_id(unregistered.id).email == "mario.rossi@example.it"
    assert not smtp_server.wait_for(3, timeout=1)


def test_address_on_file_confirms_a_new_address_by_real_smtp(mail_app, smtp_server, unregistered):
    client = mail_app.test_client()
    client.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    client.post("/registrazione/conferma", data={"email": "Mario@Nuovo.example.com"})
    assert smtp_server.wait_for(1)
    link = confirmation_link(smtp_server.text_of(0))

    # Opening the link (as a mail scanner does) changes nothing; the button does.
    question = mail_app.test_client().get(link)
    assert question.status_code == 200 and "Mario@nuovo.example.com" in question.text
    assert models.Customer.get_by_id(unregistered.id).registered_at is None
    confirmed = mail_app.test_client().post(link)
    assert confirmed.status_code == 200
    assert "Le credenziali di accesso sono state inviate a <strong>Mario@nuovo.example.com" \
        in confirmed.text
    assert smtp_server.wait_for(2)
    assert smtp_server.messages[1][0] == ["Mario@nuovo.example.com"]
    temporary = temporary_password_from(smtp_server.text_of(1))
    customer = models.Customer.get_by_id(unregistered.id)
    assert customer.registered_at and customer.email == "Mario@nuovo.example.com"
    assert client.post("/login", data={"code": "123456", "password": temporary}).status_code == 303
    # Once only.
    assert mail_app.test_client().post(link).status_code == 404


def test_typing_the_address_on_file_is_no_change(app, client, unregistered):
    client.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    done = client.post("/registrazione/conferma", data={"email": "Mario.Rossi@example.it"})
    assert "Registrazione completata" in done.text
    assert [row.kind for row in models.OutgoingMail.select()] == ["registration"]
    assert models.RegistrationRequest.select().count() == 0


def test_expired_confirmation_link_is_refused(app, client, unregistered, smtp_server):
    client.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    client.post("/registrazione/conferma", data={"email": "altro@example.com"})
    models.RegistrationRequest.update(expires_at=models.utcnow()).execute()
    text = parsed(models.OutgoingMail.get()).get_body(("plain",)).get_content()
    response = client.post(confirmation_link(text))
    assert response.status_code == 404 and "scaduto" in response.text
    assert models.Customer.get_by_id(unregistered.id).registered_at is None


def test_registration_attempts_are_limited_per_tax_code(tmp_path, factory):
    """Changing IP address does not help: the tax code has its own budget."""
    from views import limiter
    application = make_app(tmp_path, RATELIMIT_ENABLED=True,
                           REGISTRATION_LIMIT_PER_ADDRESS="100 per minute",
                           REGISTRATION_LIMIT_PER_TAX_CODE="3 per hour")
    limiter.reset()
    factory.customer(code="123456", tax_code="RSSMRA80A01H501U", registered=False)
    client = application.test_client()
    answers = [client.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"},
                           environ_base={"REMOTE_ADDR": f"10.0.0.{number}"}).status_code
               for number in range(4)]
    assert answers == [303, 303, 303, 429]
    other = client.post("/registrazione", data={"code": "123456", "tax_code": "VRDGPP80A01H501U"},
                        environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 422  # another tax code still has its budget
    limiter.reset()


def test_registration_attempts_are_limited_per_address(tmp_path, factory):
    from views import limiter
    application = make_app(tmp_path, RATELIMIT_ENABLED=True,
                           REGISTRATION_LIMIT_PER_ADDRESS="2 per minute")
    limiter.reset()
    client = application.test_client()
    answers = [client.post("/registrazione", data={"code": "123456", "tax_code": code}).status_code
               for code in ("RSSMRA80A01H501U", "VRDGPP80A01H501U", "BNCLRA80A41H501X")]
    assert answers == [422, 422, 429]
    limiter.reset()


@pytest.mark.parametrize("on_file", ["mario.rossi@example.it", ""])
def test_second_registration_of_the_same_code_is_refused(mail_app, smtp_server, factory, on_file):
    """Two sessions on the confirmation screen: the second is refused, whatever it types,
    and the first one's new address does not count as "on file" for it."""
    customer = factory.customer(code="123456", tax_code="RSSMRA80A01H501U", registered=False,
                                email=on_file)
    first, second = mail_app.test_client(), mail_app.test_client()
    for client in (first, second):
        client.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    assert first.post("/registrazione/conferma",
                      data={"email": "" if on_file else "a@example.com"}).status_code == 200
    refused = second.post("/registrazione/conferma", data={"email": "b@example.com"})
    assert refused.status_code == 422 and "Risulti già registrato" in refused.text
    assert "a***@example.com" not in refused.text
    assert models.RegistrationRequest.select().count() == 0
    assert smtp_server.wait_for(1) and not smtp_server.wait_for(2, timeout=1)
    assert models.Customer.get_by_id(customer.id).email == (on_file or "a@example.com")


def test_registration_answers_while_the_mail_server_is_down(tmp_path, factory):
    """The page only queues the mail: the registration stands, and the sender retries."""
    application = make_app(tmp_path / "nomail", MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(),
                           MAIL_TIMEOUT=2)
    customer = factory.customer(code="123456", tax_code="RSSMRA80A01H501U", registered=False)
    client = application.test_client()
    client.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    response = client.post("/registrazione/conferma", data={"email": ""})
    assert response.status_code == 200 and "Registrazione completata" in response.text
    assert models.Customer.get_by_id(customer.id).registered_at is not None
    assert deliver_mail(application) == {"sent": 0, "retry": 1, "failed": 0}
    row = models.OutgoingMail.get()
    assert row.status == "queued" and row.attempts == 1 and row.message
    assert row.next_attempt_at > models.utcnow()


def test_registration_without_mail_server_writes_the_outbox(app, client, unregistered, tmp_path):
    client.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    client.post("/registrazione/conferma", data={"email": ""})
    assert not (tmp_path / "outbox").exists()  # queued, not written by the page
    deliver_mail(app)
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    assert "Password temporanea:" in parsed_file(files[0])
    assert models.OutgoingMail.get().status == "outbox"


def test_registration_rejects_a_bad_email(client, unregistered):
    client.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    response = client.post("/registrazione/conferma", data={"email": "mario@@example"})
    assert response.status_code == 422
    assert "Indirizzo e-mail non valido." in response.text
    assert models.Customer.get_by_id(unregistered.id).registered_at is None


# --- Recovery -------------------------------------------------------------------------

def test_recovery_answer_is_the_same_whether_or_not_the_code_exists(mail_app, smtp_server, factory):
    factory.customer(code="654321", email="ufficio@example.com")
    factory.customer(code="222222", registered=False)
    client = mail_app.test_client()
    answers = [without_tokens(client.post("/password-dimenticata", data={"code": code}).text)
               .replace(code, "CODE") for code in ("654321", "999999", "222222")]
    assert answers[0] == answers[1] == answers[2]
    assert escape(RECOVERY_SENT) in answers[0]
    assert smtp_server.wait_for(1)
    assert not smtp_server.wait_for(2, timeout=1)
    assert smtp_server.messages[0][0] == ["ufficio@example.com"]
    # Each request leaves one audit row and queues at most one message: the same work
    # either way (bench/bench_mail_timing.py measures the two answers).
    assert audit_events() == ["temporary_password_sent", "recovery_without_account",
                              "recovery_without_account"]
    assert models.OutgoingMail.select().count() == 1


def test_recovery_changes_nothing_until_the_temporary_password_is_used(mail_app, smtp_server, factory):
    customer = factory.customer(code="654321")
    client = mail_app.test_client()
    client.post("/password-dimenticata", data={"code": "654321"})
    assert smtp_server.wait_for(1)
    temporary = temporary_password_from(smtp_server.text_of(0))
    assert "la tua password attuale resta valida" in smtp_server.text_of(0)

    # The old password still works and the temporary one is still pending.
    assert client.post("/login", data={"code": "654321", "password": PASSWORD}).status_code == 303
    assert client.get("/home").status_code == 200
    client.post("/logout")

    assert client.post("/login", data={"code": "654321", "password": temporary}).status_code == 303
    assert client.get("/home").headers["Location"] == "/cambio-password"
    assert "login_temporary_password" in audit_events(customer)
    client.post("/logout")
    # Single use: the same temporary password is refused the second time.
    assert client.post("/login", data={"code": "654321", "password": temporary}).status_code == 422


def test_expired_temporary_password_is_refused(mail_app, smtp_server, factory):
    customer = factory.customer(code="654321")
    client = mail_app.test_client()
    client.post("/password-dimenticata", data={"code": "654321"})
    assert smtp_server.wait_for(1)
    temporary = temporary_password_from(smtp_server.text_of(0))
    models.Customer.update(temp_password_expires_at=models.utcnow() - datetime.timedelta(minutes=1)
                           ).where(models.Customer.id == customer.id).execute()
    assert client.post("/login", data={"code": "654321", "password": temporary}).status_code == 422


def test_recovery_form_checks_the_code_format(client):
    response = client.post("/password-dimenticata", data={"code": "abc"})
    assert response.status_code == 422
    assert "Il codice cliente è di 6 cifre" in response.text
    assert 'value="abc"' in response.text


# --- Change password -----------------------------------------------------------------

def test_change_password_needs_the_current_one(client, logged_in):
    response = client.post("/cambio-password", data={
        "current_password": "wrong", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 422
    assert "La password attuale non è corretta." in response.text
    assert verify_password(models.Customer.get_by_id(logged_in.id).password_hash, PASSWORD)


def _wrong_current_password(client):
    return client.post("/cambio-password", data={
        "current_password": "indovino-a-caso", "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})


def test_wrong_current_passwords_are_audited_and_lock_the_account(client, logged_in, auth):
    """A stolen session guessing the current password: each guess is audited, and ten
    lock the account as ten failed logins do (even the right password then fails)."""
    statuses = [_wrong_current_password(client).status_code for _ in range(10)]
    assert statuses == [422] * 10
    assert audit_events(logged_in).count("password_change_refused") == 10
    assert "account_locked" in audit_events(logged_in)
    right = client.post("/cambio-password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD})
    assert right.status_code == 422 and "La password attuale non è corretta." in right.text
    assert verify_password(models.Customer.get_by_id(logged_in.id).password_hash, PASSWORD)
    assert auth.logout().status_code == 303
    assert auth.login(logged_in.code).status_code == 422  # locked for 15 minutes


def test_wrong_current_passwords_are_rate_limited_per_customer(tmp_path, factory):
    application = make_app(tmp_path / "limited", RATELIMIT_ENABLED=True,
                           CURRENT_PASSWORD_LIMIT="3 per hour")
    from views import limiter
    limiter.reset()
    thief, neighbour = factory.customer(code="654321"), factory.customer(code="654322")
    stolen, other = application.test_client(), application.test_client()
    stolen.post("/login", data={"code": thief.code, "password": PASSWORD})
    other.post("/login", data={"code": neighbour.code, "password": PASSWORD})
    # A too-short new password is the customer's typo, not a guess: it does not count.
    typo = stolen.post("/cambio-password", data={
        "current_password": "x", "new_password": "corta", "confirm_password": "corta"})
    assert typo.status_code == 422
    statuses = [_wrong_current_password(stolen).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]
    assert "Troppi tentativi" in _wrong_current_password(stolen).text
    # The limit is this customer's: the neighbour on the same address is not stopped.
    assert _wrong_current_password(other).status_code == 422
    limiter.reset()


@pytest.mark.parametrize("new,message", [
    ("corta", "almeno 10 caratteri"),
    ("x" * 129, "al massimo 128 caratteri"),
    ("password123", "tra le più usate"),
    ("qwertyuiop", "tra le più usate"),
    ("mio654321codice", "non può contenere il codice cliente"),
])
def test_password_policy(client, logged_in, new, message):
    response = client.post("/cambio-password", data={
        "current_password": PASSWORD, "new_password": new, "confirm_password": new})
    assert response.status_code == 422 and message in response.text


def test_long_passwords_without_composition_rules_are_accepted(client, logged_in):
    new = "tutto minuscolo e abbastanza lungo " * 3 + "x" * 23  # 128 characters
    assert len(new) == 128
    response = client.post("/cambio-password", data={
        "current_password": PASSWORD, "new_password": new, "confirm_password": new})
    assert response.status_code == 303


def test_repeat_must_match(client, logged_in):
    response = client.post("/cambio-password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": "altro"})
    assert "Le due password non coincidono." in response.text


def test_change_password_ends_other_sessions_keeps_this_one(app, client, logged_in):
    other = app.test_client()
    other.post("/login", data={"code": logged_in.code, "password": PASSWORD})
    assert other.get("/home").status_code == 200
    response = client.post("/cambio-password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 303
    assert "La password è stata modificata." in client.get("/home").text
    assert other.get("/home").status_code == 302
    assert "password_changed" in audit_events(logged_in)


def test_change_password_page_locks_the_menu(client, logged_in):
    page = client.get("/cambio-password").text
    assert 'class="menu-item disabled"' in page
    assert 'href="/home"' not in page.split('id="content"')[0]  # no menu link before the content
    assert "Annulla" in page and "Conferma" in page
    assert '<select id="punto" name="punto" disabled' in page


def test_change_password_htmx_errors_come_as_a_fragment(client, logged_in):
    response = client.post("/cambio-password", headers={"HX-Request": "true", "HX-Target": "content"},
                           data={"current_password": PASSWORD, "new_password": "corta",
                                 "confirm_password": "corta"})
    assert response.status_code == 422
    assert "<html" not in response.text and "almeno 10 caratteri" in response.text
    success = client.post("/cambio-password", headers={"HX-Request": "true", "HX-Target": "content"},
                          data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                "confirm_password": NEW_PASSWORD})
    assert success.headers["HX-Redirect"] == "/home"


# --- CSRF --------------------------------------------------------------------------

def test_posts_without_csrf_token_are_refused_kindly(tmp_path, factory):
    application = make_app(tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    factory.customer(code="654321")
    client = application.test_client()
    response = client.post("/login", data={"code": "654321", "password": PASSWORD})
    assert response.status_code == 400
    assert "ricarica la pagina e riprova" in response.text
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    ok = client.post("/login", data={"code": "654321", "password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 303
    # htmx requests carry the token in a header: without it a POST is refused.
    assert client.post("/logout", headers={"HX-Request": "true"}).status_code == 400
    home = client.get("/home").text
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', home).group(1)
    assert client.post("/logout", headers={"X-CSRFToken": header_token}).status_code == 303
