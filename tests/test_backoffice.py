"""The operator back-office: accounts and login, authorisation both ways, ticket
answers and notes, the audited customer view, reading windows, documents,
acquisition and the audit log."""
import datetime
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import backoffice
import models
from models import AuditLog, Operator, ReadingWindow, Ticket, TicketMessage
from portal.backoffice import create_demo_operators

OPERATOR_PASSWORD = "sportello-di-collesalvetti"
ADMIN_PASSWORD = "amministrazione-del-portale"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"PE\x00\x00"


@pytest.fixture
def operator(app):
    return backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD, name="Mario Rossi")


@pytest.fixture
def admin(app):
    return backoffice.create_operator("capo", ADMIN_PASSWORD, role="admin", name="Anna Capo")


def operator_login(client, username, password, **extra):
    return client.post("/operatore/login", data={"username": username, "password": password}, **extra)


@pytest.fixture
def staff(app, operator):
    """A client logged in as a plain operator."""
    staff_client = app.test_client()
    assert operator_login(staff_client, "mario.rossi", OPERATOR_PASSWORD).status_code == 303
    return staff_client


@pytest.fixture
def admin_client(app, admin):
    admin_client = app.test_client()
    assert operator_login(admin_client, "capo", ADMIN_PASSWORD).status_code == 303
    return admin_client


@pytest.fixture
def ticket(customer):
    """A ticket of customer 654321 on its gas point, with a PDF attachment."""
    point = customer.supply_points_in_order().first()
    opened = Ticket.create(customer=customer, supply_point=point, category="Fatturazione",
                           subject="Importo troppo alto")
    TicketMessage.create(ticket=opened, body="La fattura di marzo è il doppio del solito.")
    return opened


def without_token(html):
    """The page without its CSRF token, which differs from session to session."""
    return re.sub(r'"X-CSRFToken": "[^"]*"', "", html)


def audit_rows(event):
    return list(AuditLog.select().where(AuditLog.event == event).order_by(AuditLog.id))


def sample_url(app, rule):
    values = {"ticket_id": 1, "message_id": 1, "code": "654321", "invoice_id": 1,
              "window_id": 1, "record_id": 1, "operator_id": 1, "mail_id": 1, "request_id": 1, "kind": "documento", "section": "fatture",
              "complaint_id": 1, "report_id": 1, "reading_id": 1}
    adapter = app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, {name: values[name] for name in rule.arguments})


def operator_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("backoffice.")]


# --- Accounts (flask operator ...) ------------------------------------------------------

def test_create_command_prompts_twice_and_stores_argon2id(runner):
    result = runner.invoke(args=["operator", "create", "Giulia.Verdi", "--role", "admin",
                                 "--name", "Giulia Verdi"],
                           input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Operatore «giulia.verdi» creato (ruolo admin)." in result.output
    assert ADMIN_PASSWORD not in result.output  # hidden input
    account = Operator.get(Operator.username == "giulia.verdi")
    assert (account.role, account.name, account.active) == ("admin", "Giulia Verdi", True)
    assert account.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize("password, message", [
    ("corta", "almeno 10 caratteri"),
    ("password123", "tra le più usate"),
    ("mario.rossi-2025", "non può contenere il nome utente"),
])
def test_create_command_applies_the_password_policy(runner, password, message):
    result = runner.invoke(args=["operator", "create", "mario.rossi"], input=f"{password}\n{password}\n")
    assert result.exit_code == 1
    assert message in result.output
    assert Operator.select().count() == 0


def test_create_command_refuses_mismatch_duplicates_and_bad_names(runner, operator):
    mismatch = runner.invoke(args=["operator", "create", "nuovo"], input=f"{OPERATOR_PASSWORD}\naltro\n")
    assert mismatch.exit_code != 0
    duplicate = runner.invoke(args=["operator", "create", "MARIO.ROSSI"],
                              input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    assert duplicate.exit_code == 1 and "Esiste già un operatore «mario.rossi»" in duplicate.output
    bad = runner.invoke(args=["operator", "create", "a b"], input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    assert bad.exit_code == 1 and "Nome utente non valido" in bad.output
    long_name = runner.invoke(args=["operator", "create", "nuovo", "--name", "Maria " * 50],
                              input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n")
    assert long_name.exit_code == 1 and "Nome troppo lungo: al massimo 100 caratteri" in long_name.output
    assert [account.username for account in Operator.select()] == ["mario.rossi"]


def test_list_set_password_and_deactivate(app, runner, staff, operator):
    listed = runner.invoke(args=["operator", "list"])
    assert "mario.rossi\toperator\tattivo\tMario Rossi" in listed.output
    changed = runner.invoke(args=["operator", "set-password", "mario.rossi"],
                            input="una-nuova-frase-lunga\nuna-nuova-frase-lunga\n")
    assert changed.exit_code == 0, changed.output
    # The new password ends the sessions of the account.
    assert staff.get("/operatore/ticket").status_code == 303
    assert operator_login(app.test_client(), "mario.rossi", "una-nuova-frase-lunga").status_code == 303
    assert runner.invoke(args=["operator", "deactivate", "mario.rossi"]).exit_code == 0
    assert operator_login(app.test_client(), "mario.rossi", "una-nuova-frase-lunga").status_code == 422
    assert runner.invoke(args=["operator", "deactivate", "nessuno"]).exit_code == 1


def test_demo_operators_are_created_once_and_can_log_in(app):
    first = create_demo_operators()
    again = create_demo_operators()
    assert [account.id for account in first] == [account.id for account in again]
    assert [(account.username, account.role) for account in first] == [("operatore", "operator"),
                                                                         ("admin", "admin")]
    for username, password in ((backoffice.DEMO_OPERATOR_USERNAME, backoffice.DEMO_OPERATOR_PASSWORD),
                               (backoffice.DEMO_ADMIN_USERNAME, backoffice.DEMO_ADMIN_PASSWORD)):
        assert operator_login(app.test_client(), username, password).status_code == 303


# --- Login and logout -------------------------------------------------------------------

def test_login_starts_a_fresh_session_and_is_audited(app, operator):
    client = app.test_client()
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    response = operator_login(client, " Mario.Rossi ", OPERATOR_PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/operatore"
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == f"o:{operator.id}:1"
        assert session["login_at"] == session["seen"]
    [row] = audit_rows("operator_login_ok")
    assert (row.operator_id, row.customer_id) == (operator.id, None)
    assert client.get("/operatore").headers["Location"] == "/operatore/ticket"
    # Logged in, the login page sends to the back-office.
    assert client.get("/operatore/login").status_code == 302


@pytest.mark.parametrize("username, password", [
    ("mario.rossi", "password-sbagliata"),
    ("nessuno", OPERATOR_PASSWORD),
    ("inattivo", OPERATOR_PASSWORD),
    ("mario.rossi\x00", OPERATOR_PASSWORD),
])
def test_every_login_failure_looks_the_same(app, operator, username, password):
    backoffice.create_operator("inattivo", OPERATOR_PASSWORD)
    Operator.update(active=False).where(Operator.username == "inattivo").execute()
    response = operator_login(app.test_client(), username, password)
    reference = operator_login(app.test_client(), "mario.rossi", "ancora-sbagliata")
    assert response.status_code == reference.status_code == 422
    assert without_token(response.text).replace(f'value="{username}"', "") == \
        without_token(reference.text).replace('value="mario.rossi"', "")
    assert "Credenziali non valide. Controlla nome utente e password" in response.text
    assert len(audit_rows("operator_login_failed")) == 2


def test_ten_failures_lock_the_account_for_fifteen_minutes(app, operator, time_machine):
    time_machine.move_to(datetime.datetime(2025, 3, 1, 9, 0, tzinfo=datetime.timezone.utc), tick=False)
    client = app.test_client()
    for _ in range(10):
        assert operator_login(client, "mario.rossi", "password-sbagliata").status_code == 422
    assert len(audit_rows("operator_account_locked")) == 1
    # Locked: even the right password fails, with the same message.
    locked = operator_login(client, "mario.rossi", OPERATOR_PASSWORD)
    assert locked.status_code == 422 and "Credenziali non valide" in locked.text
    time_machine.move_to(datetime.datetime(2025, 3, 1, 9, 16, tzinfo=datetime.timezone.utc), tick=False)
    assert operator_login(client, "mario.rossi", OPERATOR_PASSWORD).status_code == 303


def test_login_is_rate_limited_per_username(tmp_path):
    from views import limiter
    from conftest import make_app
    application = make_app(tmp_path / "limited", RATELIMIT_ENABLED=True)
    limiter.reset()
    client = application.test_client()
    statuses = [operator_login(client, "qualcuno", "x" * 10,
                               environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code
                for n in range(12)]
    assert statuses == [422] * 10 + [429, 429]
    assert "Troppi tentativi" in operator_login(client, "QUALCUNO", "x").text
    limiter.reset()


def test_login_follows_only_a_local_back_office_next(app, operator):
    assert operator_login(app.test_client(), "mario.rossi", OPERATOR_PASSWORD,
                          query_string={"next": "/operatore/clienti?q=rossi"}).headers["Location"] == "/operatore/clienti?q=rossi"
    for target in ("https://evil.example/", "//evil.example/", "/home",
                   "/operatore/ticket\r\nSet-Cookie: planted=1", "/operatore\nX: 1"):
        response = operator_login(app.test_client(), "mario.rossi", OPERATOR_PASSWORD,
                                  query_string={"next": target})
        assert response.status_code == 303
        assert response.headers["Location"] == "/operatore"


def test_logout_ends_every_copy_of_the_session(app, staff, operator):
    with staff.session_transaction() as session:
        stolen = dict(session)
    response = staff.post("/operatore/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/operatore/login"
    assert Operator.get_by_id(operator.id).session_version == 2
    assert audit_rows("operator_logout")[0].operator_id == operator.id
    replay = app.test_client()
    with replay.session_transaction() as session:
        session.update(stolen)
    assert replay.get("/operatore/ticket").status_code == 303


def test_idle_operator_sessions_expire(staff, time_machine):
    time_machine.move_to(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=31))
    response = staff.get("/operatore/ticket")
    assert response.status_code in (302, 303)
    assert staff.get("/operatore/ticket").status_code == 303


def test_a_deactivated_operator_is_logged_out_at_the_next_request(staff, operator):
    Operator.update(active=False).where(Operator.id == operator.id).execute()
    response = staff.get("/operatore/ticket")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/operatore/login")


# --- Authorisation both ways ------------------------------------------------------------

def test_anonymous_visitors_go_to_the_operator_login(app, client):
    for rule in operator_rules(app):
        if "GET" not in rule.methods or rule.endpoint == "backoffice.login":
            continue
        url = sample_url(app, rule)
        response = client.get(url)
        assert response.status_code == 303, url
        assert response.headers["Location"].startswith("/operatore/login?next=/operatore"), url
    assert client.post("/operatore/ticket/1/rispondi").headers["Location"] == "/operatore/login"


def test_customer_sessions_cannot_reach_any_operator_page(app, client, logged_in, ticket, operator):
    """Every /operatore URL, login included, answers 404 to a customer, whatever the method."""
    checked = 0
    for rule in operator_rules(app):
        url = sample_url(app, rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method, data={"message": "x", "note": "x",
                                                              "status": "Chiuso"})
            assert response.status_code == 404, (method, url)
            assert "Back-office" not in response.text
            checked += 1
    assert checked >= 25
    assert TicketMessage.select().count() == 1
    assert Ticket.get_by_id(ticket.id).status == Ticket.OPEN


def customer_page_urls(app):
    """The argument-free pages of the customer areas, plus the ticket pages (the
    footer's pages, info, and the complaint without login are public)."""
    urls = [sample_url(app, rule) for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and not rule.arguments
            and rule.endpoint.split(".")[0] not in ("backoffice", "auth", "static", "health", "info")
            and rule.endpoint not in ("home.root", "tickets.public_complaint")]
    return urls + ["/ticket/1", "/ticket/1/allegati/1"]


def test_operator_sessions_cannot_act_as_a_customer(app, staff, ticket):
    urls = customer_page_urls(app)
    assert {"/home", "/ticket", "/ticket/nuovo"} <= set(urls)
    for url in urls:
        response = staff.get(url)
        assert response.status_code == 404, url
    point = ticket.supply_point
    assert staff.post("/ticket/nuovo", data={"supply_point": point.code, "kind": "altro",
                                             "subject": "x", "message": "x"}).status_code == 404
    assert staff.post(f"/ticket/{ticket.id}/rispondi", data={"message": "x"}).status_code == 404
    assert staff.post(f"/ticket/{ticket.id}/chiudi").status_code == 404
    assert Ticket.select().count() == 1 and TicketMessage.select().count() == 1


def test_operator_cannot_open_the_customer_password_page(staff):
    assert staff.get("/cambio-password").status_code == 404


def test_operator_cannot_log_out_a_customer(staff, operator, factory):
    namesake = factory.customer(code="100100")
    assert namesake.id == operator.id  # same number, different table
    staff.post("/logout")
    assert models.Customer.get_by_id(namesake.id).session_version == 1


def test_plain_operators_are_refused_admin_pages(staff, admin_client):
    refused = staff.get("/operatore/registro")
    assert refused.status_code == 403
    assert "Non hai accesso a questa pagina." in refused.text
    assert "Registro eventi" not in staff.get("/operatore/ticket").text  # not offered either
    assert admin_client.get("/operatore/registro").status_code == 200
    assert "Registro eventi" in admin_client.get("/operatore/ticket").text


# --- Tickets ----------------------------------------------------------------------------

def test_inbox_filters_by_status_category_and_search(staff, ticket, other_customer):
    Ticket.create(customer=other_customer, category="Guasto / tecnico", subject="Contatore fermo",
                  status=Ticket.IN_PROGRESS)
    Ticket.create(customer=other_customer, category="Altro", subject="Cambio intestatario",
                  status=Ticket.CLOSED)
    every = staff.get("/operatore/ticket").text
    assert all(subject in every for subject in ("Importo troppo alto", "Contatore fermo", "Cambio intestatario"))
    assert "da rispondere" in every  # the customer wrote last on ticket 1

    def subjects(**query):
        page = staff.get("/operatore/ticket", query_string=query,
                         headers={"HX-Request": "true", "HX-Target": "ticket-inbox"})
        assert page.status_code == 200 and "<html" not in page.text
        return [s for s in ("Importo troppo alto", "Contatore fermo", "Cambio intestatario") if s in page.text]

    assert subjects(stato="In lavorazione") == ["Contatore fermo"]
    assert subjects(categoria="Fatturazione") == ["Importo troppo alto"]
    assert subjects(q="contatore") == ["Contatore fermo"]
    assert subjects(q="654321") == ["Importo troppo alto"]
    assert subjects(q="ALTRO CLIENTE") == ["Contatore fermo", "Cambio intestatario"]
    assert subjects(q=f"n. {ticket.id}") == ["Importo troppo alto"]
    assert subjects(q="%") == []
    assert subjects(stato="Inventato", categoria="Nessuna") == ["Importo troppo alto", "Contatore fermo",
                                                                "Cambio intestatario"]


def test_ticket_page_shows_the_thread_and_is_audited(staff, operator, ticket, customer):
    page = staff.get(f"/operatore/ticket/{ticket.id}")
    assert page.status_code == 200
    assert "La fattura di marzo è il doppio del solito." in page.text
    assert "ACQUE CHIARE S.R.L." in page.text
    [row] = audit_rows("operator_view_customer")
    assert (row.operator_id, row.customer_id, row.detail) == (operator.id, customer.id, f"ticket n. {ticket.id}")
    assert row.ip == "127.0.0.1"
    assert staff.get("/operatore/ticket/999").status_code == 404


def test_reply_reaches_the_customer_by_email(mail_app, smtp_server, customer, ticket):
    backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD, name="Mario Rossi")
    staff = mail_app.test_client()
    operator_login(staff, "mario.rossi", OPERATOR_PASSWORD)
    response = staff.post(f"/operatore/ticket/{ticket.id}/rispondi",
                          data={"message": "Abbiamo ricalcolato la fattura.", "status": "Chiuso",
                                "attachment": (io.BytesIO(PDF), "nota di credito.pdf")},
                          content_type="multipart/form-data",
                          headers={"HX-Request": "true", "HX-Target": "operator-ticket"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Risposta inviata: il cliente riceverà un avviso per e-mail." in response.text
    assert "Abbiamo ricalcolato la fattura." in response.text
    answer = TicketMessage.select().order_by(TicketMessage.id.desc()).first()
    assert (answer.from_customer, answer.internal, answer.operator.username) == (False, False, "mario.rossi")
    assert answer.attachment_name == "nota di credito.pdf"
    assert Ticket.get_by_id(ticket.id).status == Ticket.CLOSED
    assert smtp_server.wait_for(1)
    recipients, message = smtp_server.messages[0]
    assert recipients == [customer.email]
    assert message["Subject"] == f"Area Clienti: risposta alla pratica {Ticket.get_by_id(ticket.id).code}"
    text = smtp_server.text_of(0)
    assert "il servizio clienti ha risposto alla tua pratica CP-" in text
    assert f"https://area-clienti.example.it/ticket/{ticket.id}" in text
    assert "ricalcolato" not in text  # the answer is read in the portal
    assert audit_rows("operator_ticket_reply")[0].customer_id == customer.id
    # The customer sees the answer and its attachment, signed by the service, not the person.
    customer_client = mail_app.test_client()
    customer_client.post("/login", data={"code": customer.code, "password": "una-password-sicura"})
    thread = customer_client.get(f"/ticket/{ticket.id}").text
    assert "Abbiamo ricalcolato la fattura." in thread and "nota di credito.pdf" in thread
    assert "Mario Rossi" not in thread
    download = customer_client.get(f"/ticket/{ticket.id}/allegati/{answer.id}")
    assert download.status_code == 200 and download.data == PDF


def test_internal_notes_send_nothing_and_stay_internal(mail_app, smtp_server, customer, ticket):
    backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD)
    staff = mail_app.test_client()
    operator_login(staff, "mario.rossi", OPERATOR_PASSWORD)
    before = Ticket.get_by_id(ticket.id).updated_at
    response = staff.post(f"/operatore/ticket/{ticket.id}/nota", data={"note": "Verificare con la lettura di aprile"})
    assert response.status_code == 303
    page = staff.get(f"/operatore/ticket/{ticket.id}").text
    assert "Nota interna aggiunta." in page and "Verificare con la lettura di aprile" in page
    note = TicketMessage.get(TicketMessage.internal == True)  # noqa: E712
    assert note.operator.username == "mario.rossi"
    assert Ticket.get_by_id(ticket.id).updated_at == before
    assert not smtp_server.wait_for(1, timeout=0.5)
    customer_client = mail_app.test_client()
    customer_client.post("/login", data={"code": customer.code, "password": "una-password-sicura"})
    assert "Verificare con la lettura" not in customer_client.get(f"/ticket/{ticket.id}").text


def test_reply_is_queued_while_the_mail_server_is_down(app, staff, ticket):
    from conftest import deliver_mail, free_port
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    response = staff.post(f"/operatore/ticket/{ticket.id}/rispondi",
                          data={"message": "Risposta importante", "status": "In lavorazione"})
    assert response.status_code == 303
    page = staff.get(response.headers["Location"]).text
    assert "il cliente riceverà un avviso per e-mail" in page
    assert TicketMessage.select().where(TicketMessage.body == "Risposta importante").count() == 1
    assert Ticket.get_by_id(ticket.id).status == Ticket.IN_PROGRESS
    assert deliver_mail(app)["retry"] == 1
    assert models.OutgoingMail.get().status == "queued"


def test_reply_to_a_customer_without_email_says_so(app, staff, ticket):
    models.Customer.update(email="").where(models.Customer.id == ticket.customer_id).execute()
    response = staff.post(f"/operatore/ticket/{ticket.id}/rispondi",
                          data={"message": "Risposta", "status": "In lavorazione"})
    page = staff.get(response.headers["Location"]).text
    assert "il cliente non ha un indirizzo e-mail" in page
    assert models.OutgoingMail.select().count() == 0


def test_reply_validation_and_attachment_checks(app, staff, ticket):
    empty = staff.post(f"/operatore/ticket/{ticket.id}/rispondi", data={"message": "", "status": "Chiuso"})
    assert empty.status_code == 422 and "Campo obbligatorio." in empty.text
    exe = staff.post(f"/operatore/ticket/{ticket.id}/rispondi",
                     data={"message": "Ecco il file", "status": "Aperto",
                           "attachment": (io.BytesIO(EXE), "modulo.pdf")},
                     content_type="multipart/form-data")
    assert exe.status_code == 422 and "Sono accettati solo file PDF, JPEG o PNG" in exe.text
    wrong = staff.post(f"/operatore/ticket/{ticket.id}/stato", data={"status": "Perso"})
    assert wrong.status_code == 422 and "Scegli uno stato dall&#39;elenco." in wrong.text
    assert TicketMessage.select().count() == 1 and Ticket.get_by_id(ticket.id).status == Ticket.OPEN


def test_status_change_is_recorded(staff, ticket):
    response = staff.post(f"/operatore/ticket/{ticket.id}/stato", data={"status": "In lavorazione"},
                          headers={"HX-Request": "true", "HX-Target": "operator-ticket"})
    assert response.status_code == 200 and "Stato del ticket: In lavorazione." in response.text
    assert Ticket.get_by_id(ticket.id).status == Ticket.IN_PROGRESS
    assert audit_rows("operator_ticket_status")[0].detail == f"ticket n. {ticket.id}: In lavorazione"


def test_operators_download_attachments_audited(app, staff, operator, ticket, customer):
    folder = Path(app.config["FILES_DIR"]) / "tickets" / str(ticket.id)
    folder.mkdir(parents=True)
    (folder / "abc.pdf").write_bytes(PDF)
    message = TicketMessage.create(ticket=ticket, body="allego", attachment_path=f"tickets/{ticket.id}/abc.pdf",
                                   attachment_name="lettera.pdf", attachment_type="application/pdf")
    response = staff.get(f"/operatore/ticket/{ticket.id}/allegati/{message.id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"] == "attachment; filename=lettera.pdf"
    assert audit_rows("operator_view_customer")[-1].detail == f"allegato del ticket n. {ticket.id}"
    assert staff.get(f"/operatore/ticket/{ticket.id + 1}/allegati/{message.id}").status_code == 404


# --- Customers ----------------------------------------------------------------------------

@pytest.mark.parametrize("term", ["654321", "6543", "acque chiare", "partita IVA"])
def test_customer_search_by_code_name_and_tax_code(staff, customer, other_customer, term):
    term = customer.tax_code if term == "partita IVA" else term
    page = staff.get("/operatore/clienti", query_string={"q": term}).text
    assert "ACQUE CHIARE S.R.L." in page
    assert "ALTRO CLIENTE SEGRETO" not in page
    [row] = audit_rows("operator_search_customers")
    assert term in row.detail and row.operator_id is not None


def test_customer_search_by_codice_fiscale(staff, factory):
    factory.customer(code="222333", name="ROSSI MARIO", tax_code="RSSMRA80A01H501U")
    page = staff.get("/operatore/clienti?q=rssmra80a01h501u").text
    assert "ROSSI MARIO" in page and "222333" in page
    assert "Nessun cliente trovato" in staff.get("/operatore/clienti?q=zzz").text


@pytest.mark.parametrize("section, detail, expected", [
    ("", "dati e punti di fornitura", "Correttore"),
    ("/fatture", "fatture", "2024/0042"),
    ("/autoletture", "autoletture", "45.000"),
    ("/ticket", "ticket", "Importo troppo alto"),
    ("/documenti", "documenti", "Contratto firmato"),
])
def test_every_section_of_a_customer_is_audited(app, staff, operator, customer, ticket, section, detail, expected):
    point = customer.supply_points_in_order().first()
    models.Invoice.create(number="2024/0042", supply_point=point, date=datetime.date(2024, 3, 1),
                          period_start=datetime.date(2024, 1, 1), period_end=datetime.date(2024, 2, 29),
                          amount=123.45, due_date=datetime.date(2024, 3, 31))
    models.SelfReading.create(supply_point=point, reading_date=datetime.date(2024, 2, 15), meter_reading=45000)
    models.Document.create(customer=customer, title="Contratto firmato", date=datetime.date(2024, 1, 10),
                           file_path="documents/654321/contratto.pdf")
    page = staff.get(f"/operatore/clienti/654321{section}")
    assert page.status_code == 200
    assert expected in page.text
    assert 'id="supply-picker"' not in page.text  # the customer frame stays out
    [row] = audit_rows("operator_view_customer")
    assert (row.operator_id, row.customer_id, row.detail) == (operator.id, customer.id, detail)
    fragment = staff.get(f"/operatore/clienti/654321{section}",
                         headers={"HX-Request": "true", "HX-Target": "customer-section"})
    assert "<html" not in fragment.text and expected in fragment.text
    assert len(audit_rows("operator_view_customer")) == 2


def test_unknown_customer_is_not_found(staff):
    assert staff.get("/operatore/clienti/000000").status_code == 404
    assert staff.get("/operatore/clienti/654321/segreti").status_code == 404
    assert staff.get("/operatore/clienti/654321%00").status_code == 404
    assert staff.get("/operatore/clienti/%00/fatture").status_code == 404


def test_invoice_pdf_download_is_audited_and_checked(app, staff, customer, other_customer):
    point = customer.supply_points_in_order().first()
    (Path(app.config["FILES_DIR"]) / "invoices").mkdir(parents=True)
    (Path(app.config["FILES_DIR"]) / "invoices" / "f42.pdf").write_bytes(PDF)
    invoice = models.Invoice.create(number="2024/0042", supply_point=point, date=datetime.date(2024, 3, 1),
                                    period_start=datetime.date(2024, 1, 1), period_end=datetime.date(2024, 2, 29),
                                    amount=10, due_date=datetime.date(2024, 3, 31), pdf_path="invoices/f42.pdf")
    response = staff.get(f"/operatore/clienti/654321/fatture/{invoice.id}/pdf")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert audit_rows("operator_view_customer")[-1].detail == "PDF fattura 2024/0042"
    # The invoice must belong to the customer in the URL.
    assert staff.get(f"/operatore/clienti/999888/fatture/{invoice.id}/pdf").status_code == 404


# --- Reading windows ----------------------------------------------------------------------

def window_form(**fields):
    data = {"supply_point": "", "start_date": "2099-02-11", "start_time": "08:00",
            "end_date": "2099-02-14", "end_time": "22:00"}
    data.update(fields)
    return data


def test_create_global_and_per_point_windows(staff, customer):
    gas = customer.supply_points_in_order().where(models.SupplyPoint.commodity == "gas").first()
    assert staff.post("/operatore/finestre", data=window_form()).status_code == 303
    assert staff.post("/operatore/finestre", data=window_form(supply_point=gas.code.lower(),
                                                              start_date="11/03/2099",
                                                              end_date="20/03/2099")).status_code == 303
    windows = list(ReadingWindow.select().order_by(ReadingWindow.id))
    assert windows[0].supply_point is None
    assert windows[0].start_at == datetime.datetime(2099, 2, 11, 8, 0)
    assert windows[0].end_at == datetime.datetime(2099, 2, 14, 22, 0)
    assert windows[1].supply_point.code == gas.code
    page = staff.get("/operatore/finestre").text
    assert "Periodo di autolettura aggiunto." in page
    assert "Tutti i punti gas" in page and "11/02/2099" in page and "22:00" in page
    assert len(audit_rows("reading_window_created")) == 2


@pytest.mark.parametrize("fields, message", [
    (dict(end_date="2099-02-10"), "La fine del periodo deve venire dopo l&#39;inizio."),
    (dict(end_date="2099-02-11", end_time="08:00"), "La fine del periodo deve venire dopo l&#39;inizio."),
    (dict(start_date="1900-01-01"), "L&#39;anno deve essere tra 2000 e 2099."),
    (dict(end_date="9999-12-31"), "L&#39;anno deve essere tra 2000 e 2099."),
    (dict(start_date="31/02/2099"), "Data non valida"),
    (dict(start_date="domani"), "Data non valida"),
    (dict(start_time="25:00"), "Ora non valida"),
    (dict(end_date=""), "Campo obbligatorio."),
    (dict(start_date=" "), "Campo obbligatorio."),
    (dict(start_time="  "), "Campo obbligatorio."),
    (dict(start_date="2001-01-01", end_date="2001-02-01"), "Il periodo è già concluso"),
    (dict(supply_point="PR000000"), "Nessun punto di fornitura con questo codice."),
])
def test_window_validation(staff, fields, message):
    response = staff.post("/operatore/finestre", data=window_form(**fields),
                          headers={"HX-Request": "true", "HX-Target": "window-form"})
    assert response.status_code == 422
    assert message in response.text
    assert "<html" not in response.text
    assert ReadingWindow.select().count() == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(point=st.text(max_size=40), start_date=st.text(max_size=12), start_time=st.text(max_size=6),
       end_date=st.sampled_from(["2099-02-14", "14/02/2099", "", "0000-00-00", "2099-13-40"]),
       end_time=st.sampled_from(["22:00", "24:00", "", "7"]))
def test_window_form_never_gives_a_server_error(staff, point, start_date, start_time, end_date, end_time):
    response = staff.post("/operatore/finestre", data=dict(
        supply_point=point, start_date=start_date, start_time=start_time, end_date=end_date,
        end_time=end_time))
    assert response.status_code in (303, 422)


def test_windows_are_for_gas_points_only(staff, customer):
    electricity = customer.supply_points_in_order().where(models.SupplyPoint.commodity == "electricity").first()
    response = staff.post("/operatore/finestre", data=window_form(supply_point=electricity.code))
    assert response.status_code == 422 and "solo i punti gas" in response.text


def test_edit_and_delete_a_window(staff):
    window = ReadingWindow.create(start_at=datetime.datetime(2099, 1, 1, 8), end_at=datetime.datetime(2099, 1, 5, 22))
    form = staff.get(f"/operatore/finestre/{window.id}").text
    assert 'value="2099-01-01"' in form and 'value="08:00"' in form and "Salva le modifiche" in form
    assert staff.post(f"/operatore/finestre/{window.id}", data=window_form(start_date="2099-01-01", end_date="2099-01-20")).status_code == 303
    assert ReadingWindow.get_by_id(window.id).end_at == datetime.datetime(2099, 1, 20, 22)
    deleted = staff.post(f"/operatore/finestre/{window.id}/elimina",
                         headers={"HX-Request": "true", "HX-Target": "closest tr"})
    assert deleted.status_code == 200 and deleted.text == ""
    assert deleted.headers["HX-Trigger"] == "windowsChanged"
    assert ReadingWindow.select().count() == 0
    assert staff.post(f"/operatore/finestre/{window.id}/elimina").status_code == 404
    other = ReadingWindow.create(start_at=datetime.datetime(2099, 1, 1, 8), end_at=datetime.datetime(2099, 1, 5, 22))
    plain = staff.post(f"/operatore/finestre/{other.id}/elimina")
    assert plain.status_code == 303 and plain.headers["Location"] == "/operatore/finestre"
    assert [row.event for row in AuditLog.select().where(AuditLog.event.startswith("reading_window"))] == [
        "reading_window_updated", "reading_window_deleted", "reading_window_deleted"]


# --- Documents ----------------------------------------------------------------------------

def publish(client, **fields):
    data = {"audience": "customer", "customer_code": "654321", "title": "Contratto 2025",
            "date": "2025-01-15", "file": (io.BytesIO(PDF), "contratto.pdf")}
    data.update(fields)
    return client.post("/operatore/documenti", data=data, content_type="multipart/form-data")


def test_publish_to_one_customer_and_withdraw(app, staff, customer):
    response = publish(staff)
    assert response.status_code == 303
    assert response.headers["Location"] == "/operatore/clienti/654321/documenti"
    document = models.Document.get()
    assert (document.customer_id, document.title, document.date) == (customer.id, "Contratto 2025", datetime.date(2025, 1, 15))
    stored = Path(app.config["FILES_DIR"]) / document.file_path
    assert document.file_path.startswith("documents/654321/") and document.file_path.endswith(".pdf")
    assert stored.read_bytes() == PDF
    assert audit_rows("document_published")[0].customer_id == customer.id
    download = staff.get(f"/operatore/documenti/documento/{document.id}/file")
    assert download.status_code == 200 and download.data == PDF
    withdrawn = staff.post(f"/operatore/documenti/documento/{document.id}/ritira",
                           headers={"HX-Request": "true", "HX-Target": "closest tr"})
    assert withdrawn.status_code == 200 and withdrawn.headers["HX-Trigger"] == "documentsChanged"
    assert models.Document.select().count() == 0 and not stored.exists()
    assert audit_rows("document_withdrawn")[0].customer_id == customer.id


def test_publish_to_everybody_and_withdraw(app, staff):
    response = publish(staff, audience="everybody", customer_code="", title="Modulo di voltura",
                       file=(io.BytesIO(PDF), "voltura.pdf"))
    assert response.status_code == 303 and response.headers["Location"] == "/operatore/documenti"
    form = models.Form.get()
    assert form.title == "Modulo di voltura" and form.file_path.startswith("forms/")
    page = staff.get("/operatore/documenti").text
    assert "Modulo «Modulo di voltura» pubblicato in Modulistica." in page
    assert "Modulo di voltura" in page
    response = staff.post(f"/operatore/documenti/modulo/{form.id}/ritira")
    assert response.status_code == 303
    assert models.Form.select().count() == 0
    assert not (Path(app.config["FILES_DIR"]) / form.file_path).exists()


@pytest.mark.parametrize("fields, message", [
    (dict(customer_code=""), "Indica il codice cliente del destinatario."),
    (dict(customer_code="000000"), "Nessun cliente con questo codice."),
    (dict(title=""), "Campo obbligatorio."),
    (dict(date="30/02/2025"), "Data non valida"),
    (dict(file=(io.BytesIO(EXE), "contratto.pdf")), "Sono accettati solo file PDF, JPEG o PNG"),
    (dict(file=(io.BytesIO(b""), "")), "Scegli il file da pubblicare."),
    (dict(audience="qualcuno"), "Scegli a chi pubblicare il documento."),
])
def test_publish_validation(app, staff, customer, fields, message):
    response = publish(staff, **fields)
    assert response.status_code == 422
    assert message in response.text
    assert models.Document.select().count() == 0 and models.Form.select().count() == 0
    files = Path(app.config["FILES_DIR"])
    assert not files.exists() or not any(path.is_file() for path in files.rglob("*"))


# --- Acquisition --------------------------------------------------------------------------

def test_acquire_now_exports_pending_readings(app, staff, customer):
    point = customer.supply_points_in_order().first()
    models.SelfReading.create(supply_point=point, reading_date=datetime.date(2025, 2, 15), meter_reading=45000)
    page = staff.get("/operatore/acquisizione").text
    assert "Nessuna acquisizione eseguita finora." in page
    assert '<p class="big">1 <span' in page
    response = staff.post("/operatore/acquisizione/avvia")
    assert response.status_code == 303
    run = models.AcquisitionRun.get()
    assert (run.trigger, run.reading_count) == ("operator", 1)
    assert (Path(app.config["EXPORT_DIR"]) / run.file_path).exists()
    assert models.SelfReading.get().status == "Acquisita"
    page = staff.get("/operatore/acquisizione").text
    assert f"Esportate 1 autoletture in {run.file_path}." in page
    assert "operatore" in page
    assert audit_rows("acquisition_started")[0].detail == "1 letture, 0 richieste di domiciliazione"
    again = staff.post("/operatore/acquisizione/avvia", headers={"HX-Request": "true"})
    assert again.headers["HX-Redirect"] == "/operatore/acquisizione"
    assert ("Nessuna autolettura da acquisire e nessuna richiesta di domiciliazione da "
            "esportare: nessun file scritto.") in staff.get("/operatore/acquisizione").text
    assert models.AcquisitionRun.select().count() == 1


# --- Audit log ----------------------------------------------------------------------------

def test_audit_log_filters_by_customer_operator_and_event(admin_client, staff, operator, customer, other_customer):
    staff.get("/operatore/clienti/654321")
    staff.get("/operatore/clienti/999888/fatture")
    by_customer = admin_client.get("/operatore/registro?cliente=999888",
                                   headers={"HX-Request": "true", "HX-Target": "audit-list"})
    assert by_customer.status_code == 200 and "<html" not in by_customer.text
    assert "ALTRO CLIENTE SEGRETO" in by_customer.text and "ACQUE CHIARE" not in by_customer.text
    by_operator = admin_client.get("/operatore/registro?operatore=mario.rossi").text
    assert "operator_view_customer" in by_operator and "operator_login_ok" in by_operator
    assert "capo" not in by_operator.split("<tbody>")[1]
    by_event = admin_client.get("/operatore/registro?evento=operator_login_ok").text.split("<tbody>")[1]
    assert by_event.count("<tr>") == 2 and "operator_view_customer" not in by_event
    assert admin_client.get("/operatore/registro?evento=inventato").status_code == 200


def test_an_operator_confirms_a_registrants_new_address(app, staff, factory):
    """The address on file is lost: after checking who asks, the operator confirms the
    new address from the customer page and the first password goes there."""
    from conftest import deliver_mail
    factory.customer(code="123456", tax_code="RSSMRA80A01H501U", registered=False,
                     email="vecchio@example.it")
    registrant = app.test_client()
    registrant.post("/registrazione", data={"code": "123456", "tax_code": "RSSMRA80A01H501U"})
    registrant.post("/registrazione/conferma", data={"email": "nuovo@example.it"})
    pending = models.RegistrationRequest.get()

    page = staff.get("/operatore/clienti/123456").text
    assert "nuovo@example.it" in page and "Conferma l'indirizzo" in page
    # Another customer's code with this request's id: not found, nothing confirmed.
    factory.customer(code="222222")
    assert staff.post(f"/operatore/clienti/222222/registrazione/{pending.id}/conferma"
                      ).status_code == 404
    confirmed = staff.post(f"/operatore/clienti/123456/registrazione/{pending.id}/conferma")
    assert confirmed.status_code == 303
    assert "nuovo@example.it confermato" in staff.get(confirmed.headers["Location"]).text
    customer = models.Customer.get(models.Customer.code == "123456")
    assert customer.registered_at and customer.email == "nuovo@example.it"
    assert models.RegistrationRequest.get_by_id(pending.id).confirmed_by_id is not None
    assert [row.recipient for row in models.OutgoingMail.select().order_by(models.OutgoingMail.id)
            ] == ["vecchio@example.it", "nuovo@example.it"]
    assert models.OutgoingMail.select().where(models.OutgoingMail.kind == "registration").get() \
        .recipient == "nuovo@example.it"
    assert deliver_mail(app)["sent"] == 2
    event = models.AuditLog.get(models.AuditLog.event == "registration")
    assert event.operator_id is not None and "nuovo@example.it" in event.detail
    # Once only.
    again = staff.post(f"/operatore/clienti/123456/registrazione/{pending.id}/conferma")
    assert "non più valida" in staff.get(again.headers["Location"]).text
