"""Cases (TIQV): each type's form, codice pratica and receipt (page, e-mail, PDF),
deadlines and indemnities on calendar days in Rome, the complaint without login with its
confirmation link, the back-office queue by deadline, re-typing, the register export,
and the migration of old tickets into cases."""
import datetime
import io
import re

import pytest

import models
from models import AuditLog, Invoice, OutgoingMail, PublicComplaint, Ticket, TicketMessage
from portal import backoffice, tickets as rules

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
OPERATOR_PASSWORD = "Sportello-Prova-2024"
UTC = datetime.timezone.utc


def utc(*parts):
    return datetime.datetime(*parts)


def gas_point(customer):
    return customer.supply_points_in_order().where(models.SupplyPoint.commodity == "gas").first()


def make_invoice(point, number, amount="120.00", paid=False, due=None, months=2, customer=None):
    today = models.rome_now().date()
    start = today - datetime.timedelta(days=30 * months + 20)
    return Invoice.create(number=number, supply_point=point, customer=customer, date=today,
                          period_start=start, period_end=start + datetime.timedelta(days=30 * months),
                          amount=amount, due_date=due or today + datetime.timedelta(days=20),
                          paid=paid)


def post_case(client, kind, point, attachment=None, **fields):
    data = {"kind": kind, "supply_point": point.code, "subject": "La mia richiesta",
            "message": "Testo della richiesta 4417003"}
    data.update(fields)
    if attachment is not None:
        data["attachment"] = (io.BytesIO(attachment[0]), attachment[1])
    return client.post("/ticket/nuovo", data=data, content_type="multipart/form-data")


@pytest.fixture
def staff(app):
    backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD, name="Mario Rossi")
    client = app.test_client()
    response = client.post("/operatore/login", data={"username": "mario.rossi",
                                                     "password": OPERATOR_PASSWORD})
    assert response.status_code == 303
    return client


# --- Deadline and indemnity arithmetic -------------------------------------------------

@pytest.mark.parametrize("received, kind, due", [
    # Month ends: 31 January + 30 calendar days is 2 March (28 days in February 2026).
    (utc(2026, 1, 31, 10, 0), "reclamo", datetime.date(2026, 3, 2)),
    (utc(2028, 1, 31, 10, 0), "reclamo", datetime.date(2028, 3, 1)),   # leap year
    (utc(2026, 12, 31, 12, 0), "doppia", datetime.date(2027, 1, 15)),
    (utc(2026, 11, 30, 9, 0), "rettifica", datetime.date(2027, 1, 29)),
    # 23:30 UTC on 31 March is already 1 April in Rome (summer time, UTC+2).
    (utc(2026, 3, 31, 22, 30), "reclamo", datetime.date(2026, 5, 1)),
    # The night summer time starts (29 March 2026, 02:00 -> 03:00): 00:30 in Rome.
    (utc(2026, 3, 28, 23, 30), "informazioni", datetime.date(2026, 4, 28)),
    # The night it ends (25 October 2026): 22:30 UTC on the 24th is 00:30 on the 25th.
    (utc(2026, 10, 24, 22, 30), "reclamo", datetime.date(2026, 11, 24)),
    # ... and 23:30 UTC on the 25th (winter time, UTC+1) is 00:30 on the 26th.
    (utc(2026, 10, 25, 23, 30), "reclamo", datetime.date(2026, 11, 25)),
    (utc(2026, 10, 25, 22, 59), "reclamo", datetime.date(2026, 11, 24)),
])
def test_deadline_counts_calendar_days_from_the_day_received_in_rome(app, received, kind, due):
    with app.app_context():
        assert rules.due_date(kind, received) == due


def test_types_without_regulated_deadline_have_none_and_settings_change_the_days(app):
    with app.app_context():
        assert rules.due_date("altro", utc(2026, 5, 1, 10)) is None
        app.config["CASE_DAYS_COMPLAINT"] = 20
        assert rules.due_date("reclamo", utc(2026, 5, 1, 10)) == datetime.date(2026, 5, 21)


@pytest.mark.parametrize("answer_day, owed", [
    (30, 0), (31, 30), (60, 30), (61, 60), (90, 60), (91, 90), (400, 90)])
def test_indemnity_grows_at_twice_and_three_times_the_standard(app, answer_day, owed):
    received = utc(2026, 1, 31, 10, 0)
    with app.app_context():
        due = rules.due_date("reclamo", received)
        answered = received + datetime.timedelta(days=answer_day)
        assert rules.indemnity("reclamo", received, due, answered) == owed


def test_indemnity_counts_rome_days_across_the_dst_change_and_follows_settings(app):
    # Received 00:30 in Rome on 29 March 2026 (23:30 UTC on the 28th); a 15-day standard.
    received = utc(2026, 3, 28, 23, 30)
    with app.app_context():
        due = rules.due_date("doppia", received)
        assert due == datetime.date(2026, 4, 13)
        # 23:30 Rome time on the 13th (21:30 UTC) is on time; 22:30 UTC is the 14th.
        assert rules.indemnity("doppia", received, due, utc(2026, 4, 13, 21, 30)) == 0
        assert rules.indemnity("doppia", received, due, utc(2026, 4, 13, 22, 30)) == 30
        app.config.update(CASE_INDEMNITY_BASE_EUR=25, CASE_INDEMNITY_DOUBLE_EUR=50,
                          CASE_INDEMNITY_TRIPLE_EUR=75)
        assert rules.indemnity("doppia", received, due, utc(2026, 4, 13, 22, 30)) == 25
        assert rules.indemnity("doppia", received, due, utc(2026, 4, 28, 10)) == 25  # 30 days: twice
        assert rules.indemnity("doppia", received, due, utc(2026, 4, 29, 10)) == 50
        assert rules.indemnity("doppia", received, due, utc(2026, 5, 20, 10)) == 75
        # Information requests have a deadline but no automatic indemnity.
        info_due = rules.due_date("informazioni", received)
        assert rules.indemnity("informazioni", received, info_due, utc(2026, 9, 1)) == 0


def test_four_monthly_invoice_gets_ninety_days_for_a_billing_correction(app, client, logged_in):
    point = gas_point(logged_in)
    invoice = make_invoice(point, "2026/4001", months=4)
    assert post_case(client, "rettifica", point, invoice=str(invoice.id)).status_code == 303
    ticket = Ticket.get()
    assert (ticket.due_on - rules.rome_day(ticket.received_at)).days == 90
    assert ticket.details["invoice_number"] == "2026/4001"


# --- Each type's form ------------------------------------------------------------------

def test_rettifica_names_one_of_the_customers_own_invoices(client, logged_in, other_customer):
    point = gas_point(logged_in)
    mine = make_invoice(point, "2026/1001")
    theirs = make_invoice(gas_point(other_customer), "2026/9999")
    page = client.get("/ticket/nuovo?tipo=rettifica").text
    assert "2026/1001" in page and "2026/9999" not in page
    refused = post_case(client, "rettifica", point, invoice=str(theirs.id))
    assert refused.status_code == 422
    assert "Scegli una delle tue fatture." in refused.text
    assert "Testo della richiesta 4417003</textarea>" in refused.text
    assert post_case(client, "rettifica", point, invoice="").status_code == 422
    assert Ticket.select().count() == 0
    assert post_case(client, "rettifica", point, invoice=str(mine.id)).status_code == 303
    ticket = Ticket.get()
    assert (ticket.kind, ticket.category, ticket.details["invoice_number"]) == (
        "rettifica", "Fatturazione", "2026/1001")
    assert (ticket.due_on - rules.rome_day(ticket.received_at)).days == 60


def test_doppia_fatturazione_has_fifteen_days(client, logged_in):
    point = gas_point(logged_in)
    invoice = make_invoice(point, "2026/1002")
    assert post_case(client, "doppia", point, invoice=str(invoice.id)).status_code == 303
    ticket = Ticket.get()
    assert (ticket.due_on - rules.rome_day(ticket.received_at)).days == 15


def test_rateizzazione_only_for_unpaid_invoices_within_the_rules(app, client, logged_in):
    point = gas_point(logged_in)
    today = models.rome_now().date()
    ok = make_invoice(point, "2026/2001", amount="300.00")
    paid = make_invoice(point, "2026/2002", amount="300.00", paid=True)
    small = make_invoice(point, "2026/2003", amount="20.00")
    late = make_invoice(point, "2026/2004", amount="300.00", due=today - datetime.timedelta(days=11))
    page = client.get("/ticket/nuovo?tipo=rateizzazione").text
    assert "2026/2001" in page
    for number in ("2026/2002", "2026/2003", "2026/2004"):
        assert number not in page
    for invoice in (paid, small, late):
        response = post_case(client, "rateizzazione", point, invoice=str(invoice.id), instalments="3")
        assert response.status_code == 422 and "Scegli una delle tue fatture." in response.text
    for count in ("1", "7", "tre", ""):
        response = post_case(client, "rateizzazione", point, invoice=str(ok.id), instalments=count)
        assert response.status_code == 422
        assert "Indica un numero di rate da 2 a 6." in response.text
    assert post_case(client, "rateizzazione", point, invoice=str(ok.id),
                     instalments="3").status_code == 303
    assert Ticket.get().details["instalments"] == 3


def test_voltura_needs_the_new_holder_and_an_identity_document(client, logged_in):
    point = gas_point(logged_in)
    later = (models.rome_now().date() + datetime.timedelta(days=10)).strftime("%d/%m/%Y")
    refused = post_case(client, "voltura", point, holder_name="", holder_tax_code="ABC",
                        holder_email="non-un-indirizzo", start_date="31/02/2027")
    assert refused.status_code == 422
    for message in ("Campo obbligatorio.", "Scrivi un codice fiscale di 16 caratteri",
                    "Scrivi un indirizzo e-mail valido.", "Scrivi la data come gg/mm/aaaa",
                    "Allega un documento d&#39;identità del nuovo intestatario"):
        assert message in refused.text
    assert 'value="ABC"' in refused.text
    assert post_case(client, "voltura", point, holder_name="VERDI ANNA",
                     holder_tax_code="VRDNNA80A41H501X", holder_email="anna@example.it",
                     start_date=later).status_code == 422  # still no document
    assert Ticket.select().count() == 0
    assert post_case(client, "voltura", point, (PDF, "carta identità.pdf"), holder_name="VERDI ANNA",
                     holder_tax_code="vrdnna80a41h501x", holder_email="anna@example.it",
                     start_date=later).status_code == 303
    ticket = Ticket.get()
    assert ticket.details["holder_tax_code"] == "VRDNNA80A41H501X"
    assert TicketMessage.get().attachment_name == "carta identità.pdf"


def test_disdetta_needs_a_future_date_and_a_reading_in_digits(client, logged_in):
    point = gas_point(logged_in)
    yesterday = (models.rome_now().date() - datetime.timedelta(days=1)).strftime("%d/%m/%Y")
    refused = post_case(client, "disdetta", point, end_date=yesterday, final_reading="12,5")
    assert refused.status_code == 422
    assert "La data non può essere nel passato." in refused.text
    assert "Scrivi solo le cifre del contatore" in refused.text
    later = (models.rome_now().date() + datetime.timedelta(days=5)).strftime("%d/%m/%Y")
    assert post_case(client, "disdetta", point, end_date=later, final_reading="04512").status_code == 303
    assert Ticket.get().details == {"end_date": later, "final_reading": "04512"}


def test_postal_address_change_and_a_plain_complaint(client, logged_in):
    point = gas_point(logged_in)
    assert "Campo obbligatorio." in post_case(client, "indirizzo", point, postal_address=" ").text
    assert post_case(client, "indirizzo", point,
                     postal_address="VIA ROMA 2\n57100 LIVORNO (LI)").status_code == 303
    assert Ticket.get().details["postal_address"] == "VIA ROMA 2 57100 LIVORNO (LI)"
    assert post_case(client, "reclamo", point).status_code == 303
    complaint = Ticket.select().order_by(Ticket.id.desc()).first()
    assert complaint.kind == "reclamo" and complaint.details == {}


def test_an_unknown_type_is_refused(client, logged_in):
    response = post_case(client, "inventato", gas_point(logged_in))
    assert response.status_code == 422
    assert Ticket.select().count() == 0


# --- Receipt -----------------------------------------------------------------------------

def test_every_case_gets_a_codice_pratica_and_a_receipt(mail_app, smtp_server, customer, other_customer):
    client = mail_app.test_client()
    client.post("/login", data={"code": customer.code, "password": "una-password-sicura"})
    point = gas_point(customer)
    invoice = make_invoice(point, "2026/3001")
    response = post_case(client, "rettifica", point, (PDF, "bolletta.pdf"), invoice=str(invoice.id),
                         subject="Consumi stimati troppo alti")
    assert response.status_code == 303
    ticket = Ticket.get()
    assert re.fullmatch(r"CP-\d{4}-\d{6}", ticket.code)
    page = client.get(response.headers["Location"]).text
    due = ticket.due_on.strftime("%d/%m/%Y")
    for shown in (ticket.code, "Richiesta di rettifica di fatturazione", due, "2026/3001",
                  "bolletta.pdf", "Scarica la ricevuta"):
        assert shown in page
    pdf = client.get(f"/ticket/{ticket.id}/ricevuta.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="ricevuta-{ticket.code}.pdf"'
    assert ticket.code.encode() in pdf.data and due.encode() in pdf.data
    assert smtp_server.wait_for(2)
    receipts = [(to, message) for to, message in smtp_server.messages
                if message["Subject"] == f"Ricevuta della pratica {ticket.code}"]
    assert [to for to, _ in receipts] == [[customer.email]]
    text = receipts[0][1].get_body(("plain",)).get_content()
    for shown in (ticket.code, "Richiesta di rettifica di fatturazione", f"Risposta entro il: {due}",
                  "Fattura: 2026/3001", "Allegato: bolletta.pdf", "Testo della richiesta 4417003"):
        assert shown in text
    # Nobody else's receipt.
    theirs = Ticket.create(customer=other_customer, kind="reclamo", category="Altro", subject="x")
    assert client.get(f"/ticket/{theirs.id}/ricevuta.pdf").status_code == 404


def test_the_customer_sees_status_and_deadline_in_the_list(client, logged_in):
    point = gas_point(logged_in)
    post_case(client, "reclamo", point)
    ticket = Ticket.get()
    page = client.get("/ticket").text
    assert ticket.code in page and ticket.due_on.strftime("%d/%m/%Y") in page
    assert "Reclamo" in page and "Aperto" in page


def row_of(page, subject):
    """The list's row (up to its </tr>) of the case with that subject."""
    return page[page.index(subject):].split("</tr>")[0]


def test_the_list_fits_five_columns_with_the_type_under_the_code(client, logged_in):
    post_case(client, "indirizzo", gas_point(logged_in), subject="Nuovo indirizzo 5520031",
              postal_address="Via Roma 1, 57100 Livorno")
    ticket = Ticket.get()
    page = client.get("/ticket").text
    head = page[page.index("<thead"):page.index("</thead>")]
    assert head.count("<th ") == 5 and "Codice pratica e tipo" in head
    code_cell = page[page.index(f"<strong>{ticket.code}</strong>"):].split("</td>")[0]
    assert "indirizzo postale per le fatture</span>" in code_cell
    assert f"Fornitura {ticket.supply_point.code}" in row_of(page, "Nuovo indirizzo 5520031")
    assert 'class="data data--stack tickets cases"' in page  # cards on a phone


def test_the_customer_sees_a_late_answer_and_the_indemnity_due(app, client, logged_in, other_customer):
    now = models.utcnow()
    with app.app_context():
        overdue = case(logged_in, "reclamo", now - datetime.timedelta(days=40), "Attesa 7310041")
        late = case(logged_in, "reclamo", now - datetime.timedelta(days=80), "Tardiva 7310042",
                    answered=now - datetime.timedelta(days=40))
        late_info = case(logged_in, "informazioni", now - datetime.timedelta(days=80),
                         "Informazioni 7310043", answered=now - datetime.timedelta(days=40))
        on_time = case(logged_in, "reclamo", now - datetime.timedelta(days=10), "Puntuale 7310044")
        theirs = case(other_customer, "reclamo", now - datetime.timedelta(days=80), "Altrui 7310045",
                      answered=now - datetime.timedelta(days=40))
    page = client.get("/ticket").text
    assert "Risposta in ritardo" in row_of(page, "Attesa 7310041")
    assert "Risposta in ritardo" not in row_of(page, "Puntuale 7310044")
    answered_row = row_of(page, "Tardiva 7310042")
    assert "Risposta in ritardo" not in answered_row and "Indennizzo di 30,00 €" in answered_row
    assert "Indennizzo" not in row_of(page, "Informazioni 7310043")
    assert "Altrui 7310045" not in page

    waiting = client.get(f"/ticket/{overdue.id}").text
    assert "Risposta in ritardo" in waiting and "scaduta" not in waiting
    assert "Non ti abbiamo ancora risposto entro il termine previsto" in waiting
    assert "ti dà diritto a un indennizzo automatico" in waiting
    assert "Indennizzo automatico di" not in waiting
    assert "Risposta in ritardo" not in client.get(f"/ticket/{on_time.id}").text

    answered = client.get(f"/ticket/{late.id}").text
    assert "Indennizzo automatico di 30,00 € nella prossima bolletta" in answered
    # No indemnity for a type without one, late as it was.
    info = client.get(f"/ticket/{late_info.id}").text
    assert "risposta arrivata in ritardo" in info and "Indennizzo automatico di" not in info
    # The amount is the back-office's, from the settings.
    app.config["CASE_INDEMNITY_BASE_EUR"] = 25
    assert "Indennizzo automatico di 25,00 €" in client.get(f"/ticket/{late.id}").text
    with app.app_context():
        assert rules.lateness(Ticket.get_by_id(late.id)) == ("answered-late", 25)
        assert rules.lateness(Ticket.get_by_id(overdue.id)) == ("late", 0)
        assert rules.lateness(Ticket.get_by_id(on_time.id)) == (None, 0)
    # Another customer's case stays theirs, whatever id is sent.
    assert client.get(f"/ticket/{theirs.id}").status_code == 404


# --- The complaint without login ---------------------------------------------------------

def public_data(**fields):
    data = {"name": "Acque chiare srl", "customer_code": "654321", "point_code": "",
            "address": "VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)", "email": "reclami@example.org",
            "subject": "Bolletta doppia 7310442", "message": "Mi avete addebitato due volte 7310442."}
    data.update(fields)
    return data


def confirmation_link(smtp_server):
    text = smtp_server.text_of(-1)
    return re.search(r"https?://\S+(/ticket/reclamo/conferma/\S+)", text).group(1)


def test_the_login_page_links_the_complaint_without_login(client):
    assert 'href="/ticket/reclamo"' in client.get("/login").text
    page = client.get("/ticket/reclamo")
    assert page.status_code == 200 and "Reclamo senza accesso" in page.text


def test_a_complaint_without_login_is_a_case_only_once_confirmed(mail_app, smtp_server, customer):
    client = mail_app.test_client()
    response = client.post("/ticket/reclamo", data=public_data())
    assert response.status_code == 200 and "reclami@example.org" in response.text
    assert Ticket.select().count() == 0
    assert PublicComplaint.get().status == PublicComplaint.PENDING
    assert smtp_server.wait_for(1)
    assert smtp_server.messages[0][0] == ["reclami@example.org"]
    link = confirmation_link(smtp_server)
    # Opening the link (as a mail scanner does) only asks.
    assert "Confermi di aver inviato questo reclamo?" in client.get(link).text
    assert Ticket.select().count() == 0
    done = client.post(link)
    assert done.status_code == 200
    ticket = Ticket.get()
    assert (ticket.customer_id, ticket.kind, ticket.subject) == (customer.id, "reclamo",
                                                                 "Bolletta doppia 7310442")
    assert ticket.code.startswith("CW-") and ticket.code in done.text
    assert rules.rome_day(ticket.received_at) == rules.rome_day(models.utcnow())
    assert (ticket.due_on - rules.rome_day(ticket.received_at)).days == 30
    # The confirmation page says by when the answer comes.
    assert ticket.due_on.strftime("%d/%m/%Y") in done.text and "Risposta entro il" in done.text
    assert TicketMessage.get().body == "Mi avete addebitato due volte 7310442."
    assert smtp_server.wait_for(3)
    subjects = {message["Subject"]: to for to, message in smtp_server.messages}
    assert subjects[f"Ricevuta della pratica {ticket.code}"] == ["reclami@example.org"]
    # Once only.
    assert client.post(link).status_code == 404
    assert Ticket.select().count() == 1


def test_a_complaint_whose_data_do_not_agree_waits_for_an_operator(mail_app, smtp_server, customer):
    client = mail_app.test_client()
    client.post("/ticket/reclamo", data=public_data(name="Qualcun Altro"))
    assert smtp_server.wait_for(1)
    client.post(confirmation_link(smtp_server))
    complaint = PublicComplaint.get()
    assert complaint.status == PublicComplaint.UNMATCHED and complaint.code.startswith("CW-")
    assert Ticket.select().count() == 0
    assert smtp_server.wait_for(2)
    assert "un operatore lo verificherà" in smtp_server.text_of(-1)
    backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD)
    staff = mail_app.test_client()
    staff.post("/operatore/login", data={"username": "mario.rossi", "password": OPERATOR_PASSWORD})
    assert "Reclami senza accesso da abbinare: 1" in staff.get("/operatore/ticket").text
    listing = staff.get("/operatore/ticket/reclami-senza-accesso").text
    assert complaint.code in listing and "Qualcun Altro" in listing
    wrong = staff.post(f"/operatore/ticket/reclami-senza-accesso/{complaint.id}", data={"code": "000000"})
    assert wrong.status_code == 422 and "Nessun cliente con questo codice." in wrong.text
    matched = staff.post(f"/operatore/ticket/reclami-senza-accesso/{complaint.id}",
                         data={"code": customer.code})
    assert matched.status_code == 303
    ticket = Ticket.get()
    assert (ticket.customer_id, ticket.code, ticket.received_at) == (
        customer.id, complaint.code, complaint.confirmed_at)
    assert AuditLog.get(AuditLog.event == "operator_match_complaint").detail == f"pratica {ticket.code}"
    assert smtp_server.wait_for(4)  # matched: the utility's notice and the receipt again
    assert smtp_server.messages[-1][0] == ["reclami@example.org"] or smtp_server.messages[-2][0] == [
        "reclami@example.org"]


def test_the_complaint_matches_by_pdr_and_a_name_written_differently(mail_app, smtp_server, customer):
    client = mail_app.test_client()
    pdr = gas_point(customer).pdr_pod
    client.post("/ticket/reclamo", data=public_data(name="acque chiare s.r.l.", customer_code="",
                                                   point_code=f" {pdr[:7]} {pdr[7:]} "))
    assert smtp_server.wait_for(1)
    client.post(confirmation_link(smtp_server))
    assert Ticket.get().customer_id == customer.id
    assert smtp_server.wait_for(3)  # the utility's notice and the receipt


def test_public_complaint_validation_keeps_what_was_typed(client):
    response = client.post("/ticket/reclamo", data=public_data(
        customer_code="12ab", email="non-valido", subject="", name="Nome 5500661"))
    assert response.status_code == 422
    for message in ("Il codice cliente è di 6 cifre.", "Scrivi un indirizzo e-mail valido.",
                    "Campo obbligatorio."):
        assert message in response.text
    assert 'value="Nome 5500661"' in response.text
    neither = client.post("/ticket/reclamo", data=public_data(customer_code="", point_code=""))
    assert "Indica il codice cliente oppure il codice PDR/POD." in neither.text
    assert PublicComplaint.select().count() == 0 and OutgoingMail.select().count() == 0


def test_the_same_complaint_sent_twice_is_one_and_mails_once(client):
    for _ in range(2):
        assert client.post("/ticket/reclamo", data=public_data()).status_code == 200
    assert PublicComplaint.select().count() == 1
    assert OutgoingMail.select().where(OutgoingMail.kind == "complaint_confirm").count() == 1
    client.post("/ticket/reclamo", data=public_data(message="Un altro reclamo 8120551"))
    assert PublicComplaint.select().count() == 2


def test_a_complaint_is_matched_once(app, customer, other_customer):
    with app.test_request_context():
        complaint = rules.submit_public("Chi", "", "", "", "a@example.org", "Oggetto", "Testo")
        confirmed = rules.confirm_public(complaint)
        assert confirmed.status == PublicComplaint.UNMATCHED
        assert rules.attach_public(confirmed, customer) is not None
        assert rules.attach_public(confirmed, other_customer) is None
    assert [ticket.customer_id for ticket in Ticket.select()] == [customer.id]


def test_robots_filling_the_trap_field_store_and_send_nothing(client):
    response = client.post("/ticket/reclamo", data=public_data(website="http://spam.example"))
    assert response.status_code == 200  # the robot learns nothing
    assert PublicComplaint.select().count() == 0 and OutgoingMail.select().count() == 0


def test_public_complaints_are_rate_limited(tmp_path):
    from conftest import make_app
    from views import limiter
    application = make_app(tmp_path / "limited", RATELIMIT_ENABLED=True,
                           PUBLIC_COMPLAINT_LIMIT="2 per hour")
    limiter.reset()
    client = application.test_client()
    statuses = [client.post("/ticket/reclamo", data=public_data(email=f"r{n}@example.org")).status_code
                for n in range(3)]
    assert statuses == [200, 200, 429]
    assert PublicComplaint.select().count() == 2


def test_a_forged_or_expired_link_is_refused(app, client, customer):
    assert client.get("/ticket/reclamo/conferma/falso").status_code == 404
    assert client.post("/ticket/reclamo/conferma/falso").status_code == 404
    with app.test_request_context():
        complaint = rules.submit_public("ACQUE CHIARE S.R.L.", "654321", "", "", "a@example.org",
                                        "Oggetto", "Testo")
        token = rules._public_serializer().dumps(complaint.id)
    PublicComplaint.update(expires_at=models.utcnow() - datetime.timedelta(minutes=1)).execute()
    assert client.post(f"/ticket/reclamo/conferma/{token}").status_code == 404
    assert Ticket.select().count() == 0


# --- Back-office ------------------------------------------------------------------------

def case(customer, kind, received, subject, answered=None):
    ticket = Ticket.create(customer=customer, kind=kind, category="Altro", subject=subject,
                           received_at=received, answered_at=answered,
                           due_on=rules.due_date(kind, received))
    TicketMessage.create(ticket=ticket, body="Testo")
    return ticket


def test_the_queue_puts_the_nearest_deadline_first_and_marks_overdue_and_due_soon(app, staff, customer):
    now = models.utcnow()
    with app.app_context():
        case(customer, "altro", now, "Senza termine")
        case(customer, "reclamo", now - datetime.timedelta(days=10), "Ancora tempo")
        case(customer, "doppia", now - datetime.timedelta(days=13), "Scade fra due giorni")
        case(customer, "reclamo", now - datetime.timedelta(days=40), "Scaduto da dieci giorni")
        case(customer, "reclamo", now - datetime.timedelta(days=50), "Già risposto",
             answered=now - datetime.timedelta(days=45))
    page = staff.get("/operatore/ticket").text
    order = [subject for subject in ("Scaduto da dieci giorni", "Scade fra due giorni", "Ancora tempo",
                                     "Senza termine", "Già risposto") if subject in page]
    assert sorted(order, key=page.index) == ["Scaduto da dieci giorni", "Scade fra due giorni",
                                             "Ancora tempo", "Già risposto", "Senza termine"]
    rows = {subject: page[page.index(subject):].split("</tr>")[0]
            for subject in ("Scaduto da dieci giorni", "Scade fra due giorni", "Ancora tempo")}
    assert "scaduta" in rows["Scaduto da dieci giorni"]
    assert "in scadenza" in rows["Scade fra due giorni"]
    assert "scaduta" not in rows["Ancora tempo"] and "in scadenza" not in rows["Ancora tempo"]
    overdue = staff.get("/operatore/ticket?coda=overdue").text
    assert "Scaduto da dieci giorni" in overdue and "Scade fra due giorni" not in overdue
    soon = staff.get("/operatore/ticket?coda=due-soon").text
    assert "Scade fra due giorni" in soon and "Ancora tempo" not in soon


def test_answering_sets_the_answer_date_once_and_the_indemnity_shows(app, staff, customer):
    now = models.utcnow()
    with app.app_context():
        late = case(customer, "reclamo", now - datetime.timedelta(days=45), "In ritardo")
    page = staff.get(f"/operatore/ticket/{late.id}").text
    assert "se la risposta partisse oggi: <strong>30 EUR</strong>" in page
    staff.post(f"/operatore/ticket/{late.id}/rispondi", data={
        "message": "Risposta motivata", "status": "Chiuso", "outcome": "Accolto"})
    answered = Ticket.get_by_id(late.id)
    assert answered.answered_at is not None and answered.outcome == "Accolto"
    staff.post(f"/operatore/ticket/{late.id}/rispondi", data={
        "message": "Seconda risposta", "status": "Chiuso"})
    assert Ticket.get_by_id(late.id).answered_at == answered.answered_at
    page = staff.get(f"/operatore/ticket/{late.id}").text
    assert "Indennizzo automatico: <strong>30 EUR</strong>" in page
    assert "risposta arrivata in ritardo" in page  # beside the deadline, as the customer sees it
    assert '<option selected value="Accolto">' in page  # the recorded outcome stays chosen


def test_retyping_recomputes_the_deadline_and_is_audited(app, staff, customer):
    received = models.utcnow() - datetime.timedelta(days=3)
    with app.app_context():
        ticket = case(customer, "informazioni", received, "Domanda sulla bolletta")
    response = staff.post(f"/operatore/ticket/{ticket.id}/tipo", data={"kind": "doppia"})
    assert response.status_code == 303
    retyped = Ticket.get_by_id(ticket.id)
    assert retyped.kind == "doppia"
    assert retyped.due_on == rules.rome_day(received) + datetime.timedelta(days=15)
    row = AuditLog.get(AuditLog.event == "operator_case_retype")
    assert row.detail == f"pratica {ticket.code}: informazioni -> doppia"
    # A billing correction of a four-monthly invoice named in the case gets 90 days.
    point = customer.supply_points_in_order().first()
    invoice = make_invoice(point, "2026/4077", months=4)
    Ticket.update(details={"invoice_id": invoice.id, "invoice_number": "2026/4077"}).where(
        Ticket.id == ticket.id).execute()
    staff.post(f"/operatore/ticket/{ticket.id}/tipo", data={"kind": "rettifica"})
    assert Ticket.get_by_id(ticket.id).due_on == rules.rome_day(received) + datetime.timedelta(days=90)
    refused = staff.post(f"/operatore/ticket/{ticket.id}/tipo", data={"kind": "nessuno"})
    assert refused.status_code == 422 and "Scegli un tipo dall&#39;elenco." in refused.text


def test_the_register_export_lists_dates_type_outcome_and_indemnity(app, staff, customer):
    with app.app_context():
        on_time = case(customer, "reclamo", utc(2026, 1, 31, 10), "Puntuale",
                       answered=utc(2026, 2, 20, 10))
        late = case(customer, "doppia", utc(2026, 3, 28, 23, 30), "Tardiva",
                    answered=utc(2026, 4, 30, 10))
        Ticket.update(outcome="Accolto").where(Ticket.id == late.id).execute()
        case(customer, "informazioni", utc(2026, 5, 2, 10), "Aperta")
        Customer = models.Customer
        Customer.update(name="=HYPERLINK(1)").where(Customer.id == customer.id).execute()
    response = staff.get("/operatore/ticket/registro.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    lines = response.data.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ("codice_pratica;tipo;codice_cliente;cliente;ricevuta_il;risposta_entro;"
                        "risposta_il;giorni_impiegati;esito;stato;indennizzo_eur")
    assert lines[1] == f"{on_time.code};reclamo;654321;'=HYPERLINK(1);2026-01-31;2026-03-02;2026-02-20;20;;Aperto;0"
    assert lines[2] == f"{late.code};doppia;654321;'=HYPERLINK(1);2026-03-29;2026-04-13;2026-04-30;32;Accolto;Aperto;60"
    assert lines[3].endswith(";2026-05-02;2026-06-01;;;;Aperto;")
    narrowed = staff.get("/operatore/ticket/registro.csv?dal=2026-03-01&al=2026-04-30")
    assert narrowed.data.decode("utf-8-sig").count("\r\n") == 2
    assert AuditLog.select().where(AuditLog.event == "operator_case_register").count() == 2


def test_the_register_range_is_a_form_checked_in_italian(app, staff, customer):
    with app.app_context():
        case(customer, "reclamo", utc(2026, 2, 10, 10), "Febbraio")
        case(customer, "reclamo", utc(2026, 3, 10, 10), "Marzo")
    inbox = staff.get("/operatore/ticket").text
    assert 'action="/operatore/ticket/registro.csv"' in inbox
    assert 'name="dal"' in inbox and 'name="al"' in inbox
    wrong = staff.get("/operatore/ticket/registro.csv?dal=31%2F02%2F2026&al=")
    assert wrong.status_code == 422 and wrong.headers["Content-Type"].startswith("text/html")
    assert "Data non valida: usa il formato gg/mm/aaaa." in wrong.text
    assert 'value="31/02/2026"' in wrong.text  # what was typed stays
    backwards = staff.get("/operatore/ticket/registro.csv?dal=2026-03-31&al=2026-03-01")
    assert backwards.status_code == 422
    assert "La data «al» non può precedere la data «dal»." in backwards.text
    assert staff.get("/operatore/ticket/registro.csv?dal=1999-01-01").status_code == 422
    assert AuditLog.select().where(AuditLog.event == "operator_case_register").count() == 0
    march = staff.get("/operatore/ticket/registro.csv?dal=01%2F03%2F2026&al=2026-03-31")
    assert march.status_code == 200 and march.headers["Content-Type"].startswith("text/csv")
    assert march.headers["Content-Disposition"] == (
        'attachment; filename="registro-pratiche-dal-2026-03-01-al-2026-03-31.csv"')
    body = march.data.decode("utf-8-sig")
    assert body.count("\r\n") == 2 and ";2026-03-10;" in body and ";2026-02-10;" not in body
    row = AuditLog.get(AuditLog.event == "operator_case_register")
    assert row.detail == "2026-03-01..2026-03-31"


def test_the_operator_downloads_the_receipt_and_it_is_audited(app, staff, client, logged_in, customer):
    with app.app_context():
        ticket = case(customer, "reclamo", models.utcnow(), "Ricevuta 7310046")
    page = staff.get(f"/operatore/ticket/{ticket.id}").text
    assert f'href="/operatore/ticket/{ticket.id}/ricevuta.pdf"' in page
    pdf = staff.get(f"/operatore/ticket/{ticket.id}/ricevuta.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="ricevuta-{ticket.code}.pdf"'
    assert ticket.code.encode() in pdf.data
    row = (AuditLog.select().where(AuditLog.detail == f"ricevuta della pratica {ticket.code}")
           .get())
    assert row.event == "operator_view_customer" and row.customer_id == customer.id
    assert staff.get("/operatore/ticket/9999999/ricevuta.pdf").status_code == 404
    # A customer cannot use the operator's address.
    assert client.get(f"/operatore/ticket/{ticket.id}/ricevuta.pdf").status_code == 404


def test_customers_cannot_reach_the_register_or_the_public_queue(client, logged_in):
    assert client.get("/operatore/ticket/registro.csv").status_code == 404
    assert client.get("/operatore/ticket/reclami-senza-accesso").status_code == 404


# --- Migration -------------------------------------------------------------------------

def test_old_tickets_migrate_into_cases_of_the_matching_type(app, runner, factory):
    from test_foundation import drop_columns, migrate_from
    version = next(number for number, migration in models.MIGRATIONS.items()
                   if migration is models._migrate_ticket_cases)
    person = factory.customer()
    opened = utc(2025, 12, 31, 23, 30)  # already 1 January 2026 in Rome
    billing = Ticket.create(customer=person, category="Fatturazione", subject="Vecchio 6120331",
                            created_at=opened)
    TicketMessage.create(ticket=billing, body="Domanda", created_at=opened)
    answer_at = utc(2026, 1, 5, 9)
    TicketMessage.create(ticket=billing, body="Risposta", from_customer=False, created_at=answer_at)
    TicketMessage.create(ticket=billing, body="Nota", from_customer=False, internal=True,
                         created_at=utc(2026, 1, 2, 9))
    fault = Ticket.create(customer=person, category="Guasto / tecnico", subject="Guasto",
                          created_at=opened)
    models.db.drop_tables([PublicComplaint])
    for index in ("ticket_kind", "ticket_code", "ticket_due_on"):
        models.db.execute_sql(f'DROP INDEX IF EXISTS "{index}"')
    from test_foundation import ON_POSTGRES
    if not ON_POSTGRES:  # SQLite copies the table: dropping the old one must not cascade
        models.db.execute_sql("PRAGMA foreign_keys = OFF")
    drop_columns("ticket", ["kind", "code", "received_at", "answered_at", "due_on", "details",
                            "outcome"])
    if not ON_POSTGRES:
        models.db.execute_sql("PRAGMA foreign_keys = ON")
    migrate_from(runner, version - 1)
    with models.db.connection_context():
        migrated = Ticket.get_by_id(billing.id)
        assert (migrated.kind, migrated.subject, migrated.received_at) == ("informazioni",
                                                                         "Vecchio 6120331", opened)
        assert migrated.code == f"CP-2026-{billing.id:06d}"
        assert migrated.due_on == datetime.date(2026, 1, 31)
        assert migrated.answered_at == answer_at
        other = Ticket.get_by_id(fault.id)
        assert (other.kind, other.due_on, other.answered_at) == ("altro", None, None)
        assert TicketMessage.select().count() == 3
        assert PublicComplaint.select().count() == 0
