"""Notices to customers: new invoices after an import, reading windows opening and about
to close, rejected self-readings, invoices falling due and overdue, ticket answers; each
given once (re-imports, re-runs, two processes at once), only of the kinds the customer
wants, with a one-click unsubscribe that needs no login; bolletta web."""
import datetime
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import models
from conftest import (PASSWORD, Factory, background_sender, deliver_mail, make_app,
                      release_database)
from portal import notices

ROOT = Path(__file__).resolve().parent.parent
INVOICE_HEADER = ["number", "supply_point_code", "date", "period_start", "period_end", "amount",
                  "due_date", "paid"]


def today():
    return models.rome_now().date()


def write_csv(path, header, rows):
    path.write_text("\n".join(";".join(str(cell) for cell in row)
                              for row in [header, *rows]) + "\n", encoding="utf-8")
    return path


def invoice_row(number, point, amount="123,45", due_in=20, paid=0):
    day = today()
    return [number, point.code, day.isoformat(), (day - datetime.timedelta(days=60)).isoformat(),
            (day - datetime.timedelta(days=1)).isoformat(), amount,
            (day + datetime.timedelta(days=due_in)).isoformat(), paid]


def import_invoices(runner, path):
    result = runner.invoke(args=["import", "invoices", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def smtp_app(tmp_path, smtp_server):
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    yield application
    release_database()


def delivered(application, smtp_server, count):
    deliver_mail(application)
    assert smtp_server.wait_for(count)
    return smtp_server.messages


def test_an_invoice_import_gives_one_notice_per_customer_listing_the_new_ones(
        smtp_app, smtp_server, factory, tmp_path):
    first, second = factory.customer(code="123457"), factory.customer(code="765432")
    gas, electricity = factory.supply_point(first), factory.supply_point(first, "electricity")
    other = factory.supply_point(second)
    runner = smtp_app.test_cli_runner()
    path = write_csv(tmp_path / "invoices.csv", INVOICE_HEADER,
                     [invoice_row("FT-7000001", gas), invoice_row("FT-7000002", electricity,
                                                                  "88,10"),
                      invoice_row("FT-7000003", other)])
    import_invoices(runner, path)
    messages = delivered(smtp_app, smtp_server, 2)
    assert len(messages) == 2
    by_recipient = {recipients[0]: message for recipients, message in messages}
    mine = by_recipient[first.email]
    text = mine.get_body(("plain",)).get_content()
    assert "sono disponibili 2 nuove bollette" in text
    assert "FT-7000001" in text and "FT-7000002" in text and "88,10" in text
    assert "FT-7000003" not in text
    assert f"https://area-clienti.example.it/fatture?punto={gas.code}" in text
    html = mine.get_body(("html",)).get_content()
    assert "FT-7000002" in html and 'href="https://area-clienti.example.it/fatture' in html
    assert mine["List-Unsubscribe"].startswith(
        "<https://area-clienti.example.it/avvisi/disiscrizione/")
    assert mine["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "FT-7000003" in by_recipient[second.email].get_body(("plain",)).get_content()
    # The same file again, and a file adding one more: only the new one is announced.
    import_invoices(runner, path)
    write_csv(path, INVOICE_HEADER, [invoice_row("FT-7000001", gas),
                                     invoice_row("FT-7000004", gas, "10,00")])
    import_invoices(runner, path)
    messages = delivered(smtp_app, smtp_server, 3)
    assert len(messages) == 3
    text = messages[-1][1].get_body(("plain",)).get_content()
    assert "è disponibile una nuova bolletta" in text
    assert "FT-7000004" in text and "FT-7000001" not in text
    # One new bill: the link is that bill's page; in the HTML part each listed bill links
    # to its own page.
    single = models.Invoice.get(models.Invoice.number == "FT-7000004")
    assert f"https://area-clienti.example.it/fatture/{single.id}?punto={gas.code}" in text
    listed = models.Invoice.get(models.Invoice.number == "FT-7000002")
    assert (f'href="https://area-clienti.example.it/fatture/{listed.id}?punto={electricity.code}"'
            in html)


def test_invoices_an_import_did_not_announce_are_announced_by_the_schedule(
        smtp_app, smtp_server, factory):
    """Should the process stop between an import's commit and its notices, the schedule
    gives them: recent invoices without a notice, one mail per customer; old ones never."""
    customer = factory.customer()
    point = factory.supply_point(customer)
    for number, days_ago in (("FT-7000041", 1), ("FT-7000042", 0), ("FT-7000043", 40)):
        day = today() - datetime.timedelta(days=days_ago)
        models.Invoice.create(number=number, supply_point=point, date=day, period_start=day,
                              period_end=day, amount=10, due_date=day + datetime.timedelta(days=60))
    with smtp_app.app_context():
        assert notices.run_schedule()["new_invoice"] == 1
        assert notices.run_schedule()["new_invoice"] == 0
    messages = delivered(smtp_app, smtp_server, 1)
    assert len(messages) == 1
    text = messages[0][1].get_body(("plain",)).get_content()
    assert "sono disponibili 2 nuove bollette" in text
    assert "FT-7000041" in text and "FT-7000042" in text and "FT-7000043" not in text


def test_a_rolled_back_import_gives_no_notice(app, factory, tmp_path):
    """A file with a bad line imports nothing and announces nothing."""
    customer = factory.customer()
    point = factory.supply_point(customer)
    path = write_csv(tmp_path / "invoices.csv", INVOICE_HEADER,
                     [invoice_row("FT-7000011", point),
                      ["FT-7000012", point.code, "not-a-date", "", "", "1", "", 0]])
    result = app.test_cli_runner().invoke(args=["import", "invoices", str(path), "--quiet"])
    assert "REJECTED" in result.output
    assert models.Notice.select().count() == 0
    assert models.OutgoingMail.select().count() == 0


def test_a_rejected_reading_is_told_once_with_its_reason(smtp_app, smtp_server, factory,
                                                         tmp_path):
    customer = factory.customer(language="en")
    point = factory.supply_point(customer)
    day = today() - datetime.timedelta(days=3)
    models.SelfReading.create(supply_point=point, reading_date=day, meter_reading=4321,
                              status=models.SelfReading.ACQUIRED)
    path = write_csv(tmp_path / "reading_outcomes.csv",
                     ["supply_point_code", "reading_date", "outcome", "reason"],
                     [[point.code, day.isoformat(), "scartata",
                       "Lettura inferiore alla precedente"]])
    runner = smtp_app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["import", "reading_outcomes", str(path), "--quiet"])
        assert result.exit_code == 0, result.output
    messages = delivered(smtp_app, smtp_server, 1)
    assert len(messages) == 1
    message = messages[0][1]
    text = message.get_body(("plain",)).get_content()
    # In the customer's language, with the billing system's reason as it came.
    assert message["Subject"] == "Customer Area: self-reading not accepted"
    assert "4321" in text and "Lettura inferiore alla precedente" in text
    assert f"/autolettura?punto={point.code}" in text


def open_window(point=None, opened_days_ago=1, closes_in_days=10):
    now = models.rome_now()
    return models.ReadingWindow.create(
        supply_point=point, start_at=now - datetime.timedelta(days=opened_days_ago),
        end_at=(now + datetime.timedelta(days=closes_in_days)).replace(hour=22, minute=0,
                                                                       second=0, microsecond=0))


def test_a_reading_window_opening_and_the_reminder_before_it_closes(smtp_app, smtp_server,
                                                                    factory):
    reader, forgetful = factory.customer(), factory.customer()
    read_point, forgotten_point = factory.supply_point(reader), factory.supply_point(forgetful)
    factory.supply_point(forgetful, "electricity")
    window = open_window(closes_in_days=2)
    # Long ago: never announced (a new installation does not mail about the past).
    open_window(opened_days_ago=3000, closes_in_days=30000)
    with smtp_app.app_context():
        counts = notices.run_schedule()
    assert counts["window_open"] == 2 and counts["window_closing"] == 0
    messages = delivered(smtp_app, smtp_server, 2)
    text = messages[0][1].get_body(("plain",)).get_content()
    assert "puoi comunicare l'autolettura del contatore gas" in text
    assert f"{window.end_at:%d/%m/%Y} 22:00" in text
    assert "/autolettura/nuova?punto=" in text
    models.SelfReading.create(supply_point=read_point, reading_date=today(), meter_reading=100)
    # The day before it closes: only the customer without a reading is reminded, once.
    the_day_before = window.end_at - datetime.timedelta(days=1, hours=10)
    with smtp_app.app_context():
        assert notices.run_schedule(now=the_day_before)["window_closing"] == 1
        assert notices.run_schedule(now=the_day_before)["window_closing"] == 0
        assert notices.run_schedule()["window_open"] == 0
    messages = delivered(smtp_app, smtp_server, 3)
    assert len(messages) == 3
    recipients, reminder = messages[-1]
    assert recipients == [forgetful.email]
    assert "si chiude il" in reminder.get_body(("plain",)).get_content()
    assert forgotten_point.code in reminder.get_body(("plain",)).get_content()


def test_invoices_falling_due_and_overdue_are_told_once_each(smtp_app, smtp_server, factory):
    customer = factory.customer()
    point = factory.supply_point(customer)
    day = today()
    issued = day - datetime.timedelta(days=30)  # long announced: no new-invoice notice
    soon = models.Invoice.create(number="FT-7000021", supply_point=point, date=issued,
                                 period_start=issued, period_end=issued, amount=50,
                                 due_date=day + datetime.timedelta(days=3))
    models.Invoice.create(number="FT-7000022", supply_point=point, date=issued,
                          period_start=issued, period_end=issued, amount=60,
                          due_date=day + datetime.timedelta(days=3), paid=True)
    models.Invoice.create(number="FT-7000023", supply_point=point, date=issued,
                          period_start=issued, period_end=issued, amount=70,
                          due_date=day + datetime.timedelta(days=30))
    with smtp_app.app_context():
        assert notices.run_schedule()["due_soon"] == 1
        assert notices.run_schedule()["due_soon"] == 0
        # Four days later it is overdue: told once, never as "due soon" again.
        later = models.rome_now() + datetime.timedelta(days=4)
        assert notices.run_schedule(now=later)["overdue"] == 1
        assert notices.run_schedule(now=later) == {"new_invoice": 0, "window_open": 0,
                                                   "window_closing": 0, "due_soon": 0,
                                                   "overdue": 0}
    messages = delivered(smtp_app, smtp_server, 2)
    assert len(messages) == 2
    due_text = messages[0][1].get_body(("plain",)).get_content()
    assert "FT-7000021" in due_text and "scade il" in due_text and "50,00" in due_text
    overdue_text = messages[1][1].get_body(("plain",)).get_content()
    assert "FT-7000021" in overdue_text and "è scaduta il" in overdue_text
    assert all(soon.number in message.get_body(("html",)).get_content()
               for _, message in messages)
    # Both lead to the bill's own page, with Come pagare, on its supply point.
    link = f"https://area-clienti.example.it/fatture/{soon.id}?punto={point.code}"
    for _, message in messages:
        assert link in message.get_body(("plain",)).get_content()
        assert f'href="{link}"' in message.get_body(("html",)).get_content()
    assert "/fatture?punto" not in due_text + overdue_text


def test_a_bill_on_direct_debit_gets_no_reminder_before_it_falls_due(app, factory):
    customer = factory.customer()
    point = factory.supply_point(customer)
    day = today()
    issued = day - datetime.timedelta(days=30)
    debited = models.Invoice.create(number="FT-7000071", supply_point=point, date=issued,
                                    period_start=issued, period_end=issued, amount=50,
                                    due_date=day + datetime.timedelta(days=2),
                                    direct_debit_iban="IT60X0542811101000000123456")
    models.Invoice.create(number="FT-7000072", supply_point=point, date=issued,
                          period_start=issued, period_end=issued, amount=60,
                          due_date=day + datetime.timedelta(days=2), direct_debit_iban="")
    with app.app_context():
        assert notices.run_schedule()["due_soon"] == 1
        # The debit failed: still unpaid after its due date, it is told as overdue.
        later = models.rome_now() + datetime.timedelta(days=4)
        assert notices.run_schedule(now=later)["overdue"] == 2
    told = {(row.kind, row.about) for row in models.Notice.select()}
    assert ("due_soon", f"invoice:{debited.id}") not in told
    assert ("overdue", f"invoice:{debited.id}") in told


def test_a_kind_turned_off_is_recorded_but_not_sent(app, factory):
    customer = factory.customer()
    point = factory.supply_point(customer)
    notices.set_wanted(customer, [kind for kind in notices.KINDS if kind != notices.PAYMENTS])
    day = today()
    issued = day - datetime.timedelta(days=30)
    models.Invoice.create(number="FT-7000031", supply_point=point, date=issued,
                          period_start=issued, period_end=issued, amount=50,
                          due_date=day + datetime.timedelta(days=1))
    with app.app_context():
        assert notices.run_schedule()["due_soon"] == 1
    assert models.OutgoingMail.select().count() == 0
    # Turned on again later, the past is not sent.
    notices.set_wanted(customer, list(notices.KINDS))
    with app.app_context():
        assert notices.run_schedule()["due_soon"] == 0
    assert models.OutgoingMail.select().count() == 0


def test_two_threads_running_the_schedule_give_each_notice_once(app, factory):
    for _ in range(6):
        factory.supply_point(factory.customer())
    open_window()
    start = threading.Barrier(2)
    totals = []

    def run():
        start.wait()
        with app.app_context(), models.db.connection_context():
            totals.append(notices.run_schedule()["window_open"])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(totals) == 2 and sum(totals) == 6
    assert models.OutgoingMail.select().count() == 6
    assert models.Notice.select().count() == 6


def test_two_processes_running_the_schedule_give_each_notice_once(tmp_path, smtp_server):
    """`flask mail notices` twice at once, as two workers' schedules (or cron beside
    them): every customer gets one mail."""
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    factory = Factory()
    for _ in range(20):
        factory.supply_point(factory.customer())
    open_window()
    models.db.close_all()
    environment = {**os.environ, "DATABASE_URL": application.config["DATABASE_URL"],
                   "SECRET_KEY": "x", "MAIL_SERVER": "127.0.0.1",
                   "MAIL_PORT": str(smtp_server.port), "OUTBOX_DIR": str(tmp_path / "outbox")}
    command = [sys.executable, "-m", "flask", "--app", "app", "mail", "notices"]
    processes = [subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    opened = [int(output.split("aperti ")[1].split(",")[0]) for output in outputs]
    assert sum(opened) == 20, outputs
    messages = delivered(application, smtp_server, 20)
    assert len(messages) == 20
    assert len({recipient for (recipient,), _ in messages}) == 20


def test_the_schedule_rides_on_the_background_sender(tmp_path, smtp_server):
    """With NOTICE_INTERVAL set, the serving process's sender gives the notices and
    delivers them without any command."""
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port,
                           MAIL_POLL_SECONDS=1, NOTICE_INTERVAL=60)
    factory = Factory()
    customer = factory.customer()
    factory.supply_point(customer)
    open_window()
    with background_sender(application):
        assert smtp_server.wait_for(1, timeout=10)
    assert smtp_server.messages[0][0] == [customer.email]
    release_database()


# --- Preferences, unsubscribe, bolletta web ------------------------------------------------

def test_preferences_page_saves_the_kinds_and_bolletta_web(client, logged_in):
    page = client.get("/dati-anagrafici/avvisi")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Avvisi e bolletta web" in body and "Nuove bollette" in body
    assert "sempre" in body  # security and credential mails always go
    response = client.post("/dati-anagrafici/avvisi",
                           data={"notice_invoices": "y", "notice_tickets": "y", "paperless": "y"})
    assert response.status_code == 303
    assert set(notices.wanted_kinds(logged_in)) == {notices.INVOICES, notices.TICKETS}
    customer = models.Customer.get_by_id(logged_in.id)
    assert customer.paperless and customer.paperless_changed_at is not None
    page = client.get("/dati-anagrafici/avvisi").get_data(as_text=True)
    assert "Preferenze salvate." in page and "Bolletta web attivata" in page
    assert "Attiva dal" in page
    # htmx: the form block alone.
    response = client.post("/dati-anagrafici/avvisi", data={"notice_payments": "y"},
                           headers={"HX-Request": "true", "HX-Target": "notice-form"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body and "Bolletta web disattivata" in body
    assert notices.wanted_kinds(logged_in) == [notices.PAYMENTS]
    assert not models.Customer.get_by_id(logged_in.id).paperless


def test_preferences_need_a_login(client):
    response = client.get("/dati-anagrafici/avvisi")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_preferences_of_a_customer_never_touch_another(client, logged_in, other_customer):
    client.post("/dati-anagrafici/avvisi", data={"customer": other_customer.id,
                                                 "customer_id": other_customer.id})
    assert notices.wanted_kinds(logged_in) == []
    assert len(notices.wanted_kinds(other_customer)) == len(notices.KINDS)


def test_one_click_unsubscribe_needs_no_login_and_no_csrf_token(tmp_path):
    application = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    customer = Factory().customer(code="765431")
    with application.test_request_context():
        url = notices.unsubscribe_url(customer, notices.PAYMENTS)
    path = url.removeprefix("https://area-clienti.example.it")
    client = application.test_client()
    page = client.get(path)
    assert page.status_code == 200
    assert "Scadenze di pagamento" in page.get_data(as_text=True)
    assert notices.wants(customer, notices.PAYMENTS)  # a GET changes nothing
    # A mail client's one-click POST (RFC 8058): no cookie, no CSRF token.
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "non riceverai più" in response.get_data(as_text=True)
    # The way back is one click away: the preferences page (after the login).
    assert 'href="/dati-anagrafici/avvisi"' in response.get_data(as_text=True)
    assert client.get("/dati-anagrafici/avvisi").headers["Location"] == (
        "/login?next=%2Fdati-anagrafici%2Favvisi")
    assert not notices.wants(customer, notices.PAYMENTS)
    assert notices.wants(customer, notices.INVOICES)
    assert client.post(path).status_code == 200  # twice: still off, no error
    # A token altered or signed with another key is refused.
    assert client.get(path[:-3] + "abc").status_code == 404
    assert client.post(path[:-3] + "abc").status_code == 404
    assert client.get("/avvisi/disiscrizione/nonsense").status_code == 404
    release_database()


@pytest.mark.parametrize("token", ["%00", "a" * 5000, "WzEsImludm9pY2VzIl0", "é.è.à",
                                   "WzEsImludm9pY2VzIl0.AAAA", "..", "x.y.z"])
def test_a_bad_unsubscribe_token_is_a_404_never_a_500(client, customer, token):
    assert client.get(f"/avvisi/disiscrizione/{token}").status_code == 404
    assert client.post(f"/avvisi/disiscrizione/{token}").status_code == 404
    assert notices.wanted_kinds(customer) == list(notices.KINDS)


def test_a_signed_token_of_another_shape_is_refused(app, customer):
    from itsdangerous import URLSafeSerializer
    signer = URLSafeSerializer(app.config["SECRET_KEY"], salt="notice-unsubscribe")
    client = app.test_client()
    for payload in ([customer.id], {"c": customer.id}, 5, [customer.id, "security"],
                    [str(customer.id), "invoices"], [9999999, "invoices"]):
        assert client.post(f"/avvisi/disiscrizione/{signer.dumps(payload)}").status_code == 404
    assert notices.wanted_kinds(customer) == list(notices.KINDS)


def test_ticket_answer_follows_the_preference(mail_app, smtp_server, factory):
    from portal import tickets
    customer = factory.customer()
    operator = models.Operator.create(username="op", name="Operatore", password_hash="x")
    with mail_app.test_request_context():
        ticket = tickets.open_ticket(customer, None, "altro", "Domanda", "Una domanda")
    assert smtp_server.wait_for(2)  # the utility's mailbox and the customer's receipt
    with mail_app.test_request_context():
        tickets.operator_reply(ticket, operator, "La risposta", models.Ticket.IN_PROGRESS)
    assert smtp_server.wait_for(3)
    answer = smtp_server.messages[-1][1]
    assert answer["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/avvisi/disiscrizione/" in answer.get_body(("plain",)).get_content()
    notices.turn_off(customer, notices.TICKETS)
    with mail_app.test_request_context():
        tickets.operator_reply(ticket, operator, "Un'altra risposta", models.Ticket.IN_PROGRESS)
    assert not smtp_server.wait_for(4, timeout=2)


def test_migration_adds_notices_and_bolletta_web_keeping_customers(app, runner, factory):
    from test_foundation import migrate_from
    version = next(number for number, migration in models.MIGRATIONS.items()
                   if migration is models._migrate_notices)
    customer = factory.customer(code="246810")
    point = factory.supply_point(customer)
    models.db.drop_tables([models.NoticeOptOut, models.Notice])
    for column in ("paperless", "paperless_changed_at"):
        models.db.execute_sql(f'ALTER TABLE "customer" DROP COLUMN "{column}"')
    migrate_from(runner, version - 1)
    with models.db.connection_context():
        stored = models.Customer.get(models.Customer.code == "246810")
        assert stored.name == customer.name and stored.paperless is False
        assert stored.paperless_changed_at is None
        # The customer table is altered in place: its supply points are still there.
        assert models.SupplyPoint.get_by_id(point.id).customer_id == stored.id
        assert models.Notice.select().count() == 0
        notices.turn_off(stored, notices.INVOICES)
        assert not notices.wants(stored, notices.INVOICES)


def test_bolletta_web_choices_are_exported_for_billing(client, logged_in, other_customer,
                                                      runner, tmp_path):
    client.post("/dati-anagrafici/avvisi", data={"paperless": "y"})
    result = runner.invoke(args=["export-paperless", "--export-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out" / "paperless_billing.csv").read_text(encoding="utf-8").splitlines()
    changed_at = models.Customer.get_by_id(logged_in.id).paperless_changed_at
    from portal.formatting import local_datetime
    # Only customers who chose; the other one keeps what billing has.
    assert lines == ["customer_code;paperless;changed_at",
                     f"{logged_in.code};1;{local_datetime(changed_at):%Y-%m-%d %H:%M}"]
    client.post("/dati-anagrafici/avvisi", data={})
    runner.invoke(args=["export-paperless", "--export-dir", str(tmp_path / "out")])
    lines = (tmp_path / "out" / "paperless_billing.csv").read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith(f"{logged_in.code};0;")
    # The sample of docs/data-exchange.md has the columns the export writes.
    sample = (ROOT / "samples" / "paperless_billing.csv").read_text(encoding="utf-8")
    assert sample.splitlines()[0] == lines[0]


def test_security_mails_go_whatever_the_notices_turned_off(mail_app, smtp_server, factory):
    """With every kind of notice off, the e-mail change still tells both addresses, and
    carries no unsubscribe header (nothing to unsubscribe from)."""
    customer = factory.customer(email="vecchio@example.it")
    notices.set_wanted(customer, [])
    client = mail_app.test_client()
    client.post("/login", data={"code": customer.code, "password": PASSWORD})
    response = client.post("/dati-anagrafici", data={"phone": customer.phone, "fax": "",
                                                     "email": "nuovo@example.it",
                                                     "current_password": PASSWORD})
    assert response.status_code == 303
    assert smtp_server.wait_for(2)
    assert [recipients for recipients, _ in smtp_server.messages] == [["vecchio@example.it"],
                                                                      ["nuovo@example.it"]]
    assert all(message["List-Unsubscribe"] is None for _, message in smtp_server.messages)


def test_retention_removes_old_notice_records_only(app, runner, factory):
    customer = factory.customer()
    old = models.Notice.create(customer=customer, kind="due_soon", about="invoice:1",
                               created_at=models.utcnow() - datetime.timedelta(days=400))
    recent = models.Notice.create(customer=customer, kind="due_soon", about="invoice:2")
    result = runner.invoke(args=["retention"])
    assert result.exit_code == 0, result.output
    assert "1 notice records" in result.output
    assert [row.id for row in models.Notice.select()] == [recent.id]
    assert old.id != recent.id


def test_the_operator_is_told_when_the_customer_turned_ticket_answers_off(app, factory):
    from portal import backoffice
    customer = factory.customer()
    notices.turn_off(customer, notices.TICKETS)
    ticket = models.Ticket.create(customer=customer, subject="Domanda", category="Altro")
    models.TicketMessage.create(ticket=ticket, body="Una domanda")
    backoffice.create_demo_operators()
    staff = app.test_client()
    staff.post("/operatore/login", data={"username": "operatore",
                                         "password": backoffice.DEMO_OPERATOR_PASSWORD})
    response = staff.post(f"/operatore/ticket/{ticket.id}/rispondi",
                          data={"message": "Risposta", "status": "In lavorazione"})
    page = staff.get(response.headers["Location"]).text
    assert "ha scelto di non ricevere questi avvisi" in page
    assert models.OutgoingMail.select().count() == 0


def test_the_personal_data_export_holds_the_choices_and_the_notices(client, logged_in):
    client.post("/dati-anagrafici/avvisi", data={"notice_invoices": "y", "paperless": "y"})
    models.Notice.create(customer=logged_in, kind="due_soon", about="invoice:7000051")
    data = client.get("/dati-anagrafici/esporta").get_json()
    assert data["customer"]["paperless"] is True and data["customer"]["paperless_changed_at"]
    assert data["notices_turned_off"] == sorted(set(notices.KINDS) - {notices.INVOICES})
    # The choices read on their own: every kind, named as on the preferences page, on or off.
    assert data["notice_choices"][0] == {"kind": "invoices", "name": "Nuove bollette", "on": True}
    assert [(row["kind"], row["on"]) for row in data["notice_choices"]] == [
        (kind, kind == notices.INVOICES) for kind in notices.KINDS]
    assert [(row["kind"], row["about"]) for row in data["notices_given"]] == [
        ("due_soon", "invoice:7000051")]


# Italian words of the notices that an English reader must not meet (links aside, which
# keep the portal's Italian paths).
ITALIAN_IN_NOTICES = ("Gentile", "bolletta", "bollette", "fornitura", "scade", "scaduta",
                      "autolettura", "Comunica", "Vedi", "Servizio clienti", "avviso",
                      "pratica", "Come pagare", "Motivo", "Ricevi", "della", "del", "il",
                      "di", "non")


def english_leftovers(text):
    import re
    text = re.sub(r'https?://\S+|href="[^"]*"', " ", text)
    return [word for word in ITALIAN_IN_NOTICES if re.search(rf"\b{word}\b", text)]


def test_every_notice_speaks_english_to_an_english_speaking_customer(app, factory):
    customer = factory.customer(language="en", name="MARY 7000041")
    point = factory.supply_point(customer)
    day = today()
    issued = day - datetime.timedelta(days=30)
    for number, due in (("FT-7000042", 3), ("FT-7000043", -2)):
        models.Invoice.create(number=number, supply_point=point, date=issued,
                              period_start=issued, period_end=issued, amount=50,
                              due_date=day + datetime.timedelta(days=due))
    models.Invoice.create(number="FT-7000044", supply_point=point, date=day,
                          period_start=issued, period_end=day, amount=1234.5,
                          due_date=day + datetime.timedelta(days=20))
    open_window(closes_in_days=0)
    reading = models.SelfReading.create(supply_point=point, customer=customer,
                                        reading_date=day - datetime.timedelta(days=40),
                                        meter_reading=7000045, outcome="scartata",
                                        outcome_reason="E-7000046")
    ticket = models.Ticket.create(customer=customer, category="Altro", subject="Q 7000047",
                                  status="Chiuso", code="CP-2026-7000047")
    with app.test_request_context():
        notices.run_schedule()
        notices.rejected_readings([reading.id], set())
        notices.ticket_answered(customer, ticket)
    from portal import mail
    rows = list(models.OutgoingMail.select().where(models.OutgoingMail.customer == customer))
    assert sorted(row.kind for row in rows) == sorted(
        ["new_invoice", "due_soon", "overdue", "window_open", "window_closing",
         "reading_rejected", "ticket_answer"])
    for row in rows:
        message = mail.parsed(row)
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert message["Subject"].startswith("Customer Area: "), row.kind
        assert text.startswith("Dear MARY 7000041,"), row.kind
        assert english_leftovers(message["Subject"] + text) == [], (row.kind, text)
        assert english_leftovers(html) == [], (row.kind, html)
        # Readable on a phone: the page scales to the screen, one column of at most 600 px.
        assert '<html lang="en">' in html and 'name="viewport"' in html, row.kind
        assert "max-width: 600px" in html, row.kind
    by_kind = {row.kind: mail.parsed(row).get_body(("plain",)).get_content() for row in rows}
    assert "€1,234.50" in by_kind["new_invoice"]
    assert "Bill no. FT-7000042 for €50.00" in by_kind["due_soon"]
    assert "Bill no. FT-7000043 for €50.00" in by_kind["overdue"]
    assert "How to pay this bill" in by_kind["overdue"]
    assert point.code in by_kind["window_closing"] and "closes on" in by_kind["window_closing"]
    assert "Reason: E-7000046" in by_kind["reading_rejected"]


def test_a_notices_link_lands_on_the_bill_and_its_point_for_its_holder_only(
        app, factory, client, auth, other_customer):
    customer = factory.customer()
    factory.supply_point(customer)
    point = factory.supply_point(customer)
    day = today()
    invoice = models.Invoice.create(number="FT-7000051", supply_point=point, date=day,
                                    period_start=day, period_end=day, amount=50,
                                    due_date=day + datetime.timedelta(days=2))
    with app.test_request_context():
        assert notices.run_schedule()["due_soon"] == 1
    from portal import mail
    row = models.OutgoingMail.get(models.OutgoingMail.kind == "due_soon")
    link = next(line for line in mail.parsed(row).get_body(("plain",)).get_content().splitlines()
                if "/fatture/" in line)
    path = link.replace("https://area-clienti.example.it", "")
    auth.login(customer.code)
    page = client.get(path)
    assert page.status_code == 200
    assert "FT-7000051" in page.text and "Come pagare" in page.text
    assert f'value="{point.code}" selected' in page.text
    auth.logout()
    auth.login(other_customer.code)
    assert client.get(path).status_code == 404
