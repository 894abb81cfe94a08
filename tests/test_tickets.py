"""Ticket, the customer side: list, new ticket with an attachment checked by content,
thread, reply, close and reopen; never another customer's ticket, never an internal note."""
import datetime
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models
from models import Ticket, TicketMessage

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"PE\x00\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64
HTML = b"<!doctype html><script>alert(1)</script>"
MB = 1024 * 1024


def ticket_data(supply_point, attachment=None, **fields):
    data = {"supply_point": supply_point.code, "kind": "informazioni",
            "subject": "Lettura in fattura errata",
            "message": "Nella fattura di febbraio la lettura è 45.000, ma il contatore segna 44.100."}
    if attachment is not None:
        content, name = attachment
        data["attachment"] = (io.BytesIO(content), name)
    data.update(fields)
    return data


def open_ticket(client, supply_point, attachment=None, **fields):
    return client.post("/ticket/nuovo", data=ticket_data(supply_point, attachment, **fields),
                       content_type="multipart/form-data")


def gas_point(customer):
    return customer.supply_points_in_order().where(models.SupplyPoint.commodity == "gas").first()


def stored_files(app):
    root = Path(app.config["FILES_DIR"]) / "tickets"
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def make_ticket(customer, subject="Domanda", status=Ticket.OPEN, updated_at=None, body="Primo messaggio"):
    ticket = Ticket.create(customer=customer, category="Altro", subject=subject, status=status,
                           **({"updated_at": updated_at} if updated_at else {}))
    TicketMessage.create(ticket=ticket, body=body)
    return ticket


# --- Access --------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/ticket", "/ticket/nuovo", "/ticket/1", "/ticket/1/allegati/1"])
def test_anonymous_visitors_are_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_another_customers_ticket_is_not_found_and_stays_untouched(client, logged_in, other_customer):
    theirs = make_ticket(other_customer, subject="Segreto altrui", body="Testo riservato")
    message = TicketMessage.get(TicketMessage.ticket == theirs)
    for response in (client.get(f"/ticket/{theirs.id}"),
                     client.post(f"/ticket/{theirs.id}/rispondi", data={"message": "intrusione"}),
                     client.post(f"/ticket/{theirs.id}/chiudi"),
                     client.get(f"/ticket/{theirs.id}/allegati/{message.id}")):
        assert response.status_code == 404
        assert "Segreto altrui" not in response.text
    assert Ticket.get_by_id(theirs.id).status == Ticket.OPEN
    assert TicketMessage.select().where(TicketMessage.ticket == theirs).count() == 1
    assert "Segreto altrui" not in client.get("/ticket").text


def test_an_absurd_ticket_number_is_simply_not_found(client, logged_in):
    huge = 10 ** 25
    assert client.get(f"/ticket/{huge}").status_code == 404
    assert client.post(f"/ticket/{huge}/rispondi", data={"message": "x"}).status_code == 404


# --- List ----------------------------------------------------------------------------

def test_empty_list_offers_a_new_ticket(client, logged_in):
    page = client.get("/ticket")
    assert page.status_code == 200
    assert "Non hai ancora aperto ticket." in page.text
    assert 'href="/ticket/nuovo"' in page.text
    assert 'aria-current="page">Ticket</a>' in page.text  # the menu entry is active


def test_list_shows_newest_activity_first_with_status(client, logged_in):
    now = models.utcnow()
    make_ticket(logged_in, "Vecchio", Ticket.CLOSED, now - datetime.timedelta(days=30))
    make_ticket(logged_in, "Recente", Ticket.IN_PROGRESS, now - datetime.timedelta(hours=1))
    make_ticket(logged_in, "Intermedio", Ticket.OPEN, now - datetime.timedelta(days=2))
    page = client.get("/ticket").text
    assert page.index("Recente") < page.index("Intermedio") < page.index("Vecchio")
    for status in ("Aperto", "In lavorazione", "Chiuso"):
        assert status in page


def test_list_pages_ten_at_a_time_and_htmx_gets_the_list_alone(client, logged_in):
    now = models.utcnow()
    for number in range(12):
        make_ticket(logged_in, f"Richiesta {number:02d}", updated_at=now - datetime.timedelta(hours=number))
    first = client.get("/ticket").text
    assert "Richiesta 00" in first and "Richiesta 09" in first and "Richiesta 10" not in first
    assert "pag. 1 di 2 righe 10" in first
    second = client.get("/ticket?pagina=2", headers={"HX-Request": "true", "HX-Target": "ticket-list"})
    assert second.status_code == 200
    assert "<html" not in second.text
    assert "Richiesta 11" in second.text and "Richiesta 00" not in second.text
    assert "HX-Request" in second.headers["Vary"]
    assert client.get("/ticket?pagina=abc").status_code == 200
    assert "pag. 2 di 2" in client.get("/ticket?pagina=999").text


# --- New ticket ----------------------------------------------------------------------

def test_new_ticket_form_has_the_case_types_then_the_customers_points(client, logged_in, other_customer):
    kinds = client.get("/ticket/nuovo").text
    for label in ("Reclamo", "Richiesta di informazioni", "Richiesta di rettifica di fatturazione",
                  "Doppia fatturazione", "Voltura / subentro", "Disdetta (chiusura della fornitura)",
                  "Rateizzazione di una fattura", "Altro"):
        assert f'hx-push-url="true">{label}\n' in kinds
    assert "indirizzo postale per le fatture\n" in kinds
    assert "risposta entro 15 giorni" in kinds and "risposta entro 60 giorni" in kinds
    page = client.get("/ticket/nuovo?tipo=informazioni").text
    for point in logged_in.supply_points_in_order():
        assert point.label in page
    assert "PR999001" not in page
    assert 'name="kind" type="hidden" value="informazioni"' in page
    assert 'enctype="multipart/form-data"' in page


def test_open_a_ticket_with_a_pdf(app, client, logged_in):
    point = gas_point(logged_in)
    response = open_ticket(client, point, (PDF, "bolletta febbraio.pdf"))
    assert response.status_code == 303
    ticket = Ticket.get(Ticket.customer == logged_in)
    assert response.headers["Location"] == f"/ticket/{ticket.id}"
    assert (ticket.status, ticket.kind, ticket.supply_point.code) == ("Aperto", "informazioni", point.code)
    message = TicketMessage.get(TicketMessage.ticket == ticket)
    assert message.from_customer and not message.internal
    assert (message.attachment_name, message.attachment_type) == ("bolletta febbraio.pdf", "application/pdf")
    # Stored outside static/, under a random name, in the ticket's folder.
    assert message.attachment_path.startswith(f"tickets/{ticket.id}/")
    assert "bolletta" not in message.attachment_path
    stored = Path(app.config["FILES_DIR"]) / message.attachment_path
    assert stored.read_bytes() == PDF
    page = client.get(response.headers["Location"]).text
    assert f"Richiesta registrata con il codice pratica {ticket.code}" in page
    assert "Nella fattura di febbraio la lettura è 45.000" in page
    assert "bolletta febbraio.pdf" in page
    assert "Lettura in fattura errata" in client.get("/ticket").text


@pytest.mark.parametrize("content, name, kind, shown", [
    (PNG, "foto contatore.PNG", "image/png", "foto contatore.png"),
    (JPEG, "scansione", "image/jpeg", "scansione.jpg"),
    (PDF, "../../etc/passwd", "application/pdf", "passwd.pdf"),
    (PDF, "C:/Documenti/lettera<script>.pdf", "application/pdf", "lettera_script_.pdf"),
    (JPEG, "foto.pdf", "image/jpeg", "foto.jpg"),
])
def test_attachment_kind_comes_from_content_and_name_is_sanitised(client, logged_in, content, name, kind, shown):
    assert open_ticket(client, gas_point(logged_in), (content, name)).status_code == 303
    message = TicketMessage.get()
    assert (message.attachment_type, message.attachment_name) == (kind, shown)


@pytest.mark.parametrize("content, name", [
    (WINDOWS_EXE, "fattura.pdf"),
    (WINDOWS_EXE, "foto.jpg"),
    (ELF, "contatore.png"),
    (HTML, "lettera.pdf"),
    (b"PK\x03\x04" + b"\x00" * 40, "documenti.pdf"),
    (b"GIF89a" + b"\x00" * 20, "foto.png"),
])
def test_renamed_executable_or_other_file_is_refused(app, client, logged_in, content, name):
    response = open_ticket(client, gas_point(logged_in), (content, name),
                           subject="Oggetto da non perdere")
    assert response.status_code == 422
    assert "Sono accettati solo file PDF, JPEG o PNG" in response.text
    assert 'value="Oggetto da non perdere"' in response.text  # nothing typed is lost
    assert "Se avevi scelto un file" not in response.text
    assert Ticket.select().count() == 0
    assert stored_files(app) == []


def test_attachment_limit_is_five_megabytes(app, client, logged_in):
    point = gas_point(logged_in)
    too_big = open_ticket(client, point, (PDF + b"\x00" * (5 * MB + 1 - len(PDF)), "grande.pdf"))
    assert too_big.status_code == 422
    assert "Il file supera la dimensione massima di 5 MB." in too_big.text
    assert Ticket.select().count() == 0
    exactly = open_ticket(client, point, (PDF + b"\x00" * (5 * MB - len(PDF)), "giusto.pdf"))
    assert exactly.status_code == 303
    assert (Path(app.config["FILES_DIR"]) / TicketMessage.get().attachment_path).stat().st_size == 5 * MB


def test_request_beyond_the_upload_limit_gets_413_in_italian(client, logged_in):
    response = open_ticket(client, gas_point(logged_in), (PDF + b"\x00" * (6 * MB), "enorme.pdf"))
    assert response.status_code == 413
    assert "superano la dimensione massima consentita (5 MB)" in response.text
    assert Ticket.select().count() == 0


def test_empty_file_is_refused(client, logged_in):
    response = open_ticket(client, gas_point(logged_in), (b"", "vuoto.pdf"))
    assert response.status_code == 422
    assert "Il file scelto è vuoto." in response.text


def test_missing_fields_get_messages_beside_them_and_htmx_gets_the_form_alone(client, logged_in):
    point = gas_point(logged_in)
    response = client.post("/ticket/nuovo", data={"supply_point": point.code, "kind": "",
                                                  "subject": "x", "message": "Testo scritto"},
                           headers={"HX-Request": "true", "HX-Target": "ticket-form"})
    assert response.status_code == 422
    assert "Scegli un tipo di richiesta dall" in response.text
    response = client.post("/ticket/nuovo", data={"supply_point": point.code, "kind": "reclamo",
                                                  "subject": "  ", "message": "Testo scritto"},
                           headers={"HX-Request": "true", "HX-Target": "ticket-form"})
    assert response.status_code == 422
    assert "<html" not in response.text
    assert response.text.count("Campo obbligatorio.") == 1  # the subject
    assert "Testo scritto</textarea>" in response.text
    assert 'aria-invalid="true"' in response.text
    assert Ticket.select().count() == 0


def test_another_customers_supply_point_is_refused(client, logged_in, other_customer):
    response = open_ticket(client, models.SupplyPoint.get(models.SupplyPoint.code == "PR999001"))
    assert response.status_code == 422
    assert "Scegli uno dei tuoi punti di fornitura." in response.text
    assert Ticket.select().count() == 0


def test_line_breaks_in_the_subject_cannot_reach_the_mail_headers(mail_app, smtp_server, customer):
    client = mail_app.test_client()
    client.post("/login", data={"code": customer.code, "password": "una-password-sicura"})
    response = open_ticket(client, gas_point(customer), subject="Guasto\r\nBcc: spia@example.com")
    assert response.status_code == 303
    assert Ticket.get().subject == "Guasto Bcc: spia@example.com"
    assert smtp_server.wait_for(1)
    recipients, message = smtp_server.messages[0]
    assert recipients == ["clienti@example.it"]
    assert message["Bcc"] is None


def test_a_new_ticket_notifies_the_configured_mailbox(mail_app, smtp_server, customer):
    mail_app.config["TICKET_NOTIFY_EMAIL"] = "sportello@example.it"
    client = mail_app.test_client()
    client.post("/login", data={"code": customer.code, "password": "una-password-sicura"})
    assert open_ticket(client, gas_point(customer), (PDF, "lettura.pdf")).status_code == 303
    assert smtp_server.wait_for(1)
    ticket = Ticket.get()
    recipients, message = smtp_server.messages[0]
    assert recipients == ["sportello@example.it"]
    assert message["Subject"] == f"Nuova pratica {ticket.code}: Lettura in fattura errata"
    text = smtp_server.text_of(0)
    assert "Cliente: 654321 - ACQUE CHIARE S.R.L." in text
    assert "Tipo: Richiesta di informazioni" in text
    assert f"https://area-clienti.example.it/operatore/ticket/{ticket.id}" in text
    assert "44.100" not in text  # the message itself stays in the portal
    assert [row.kind for row in models.OutgoingMail.select().order_by(models.OutgoingMail.id)] == [
        "ticket_new", "ticket_receipt"]


def test_the_ticket_stays_when_the_mailbox_cannot_be_told(app, client, logged_in):
    from conftest import deliver_mail, free_port
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nobody listens there
    response = open_ticket(client, gas_point(logged_in))
    assert response.status_code == 303
    assert Ticket.select().count() == 1
    assert deliver_mail(app)["retry"] == 2  # the mailbox's notice and the customer's receipt
    assert {row.status for row in models.OutgoingMail.select()} == {"queued"}  # tried again later


def test_a_ticket_that_fails_to_save_sends_no_notice(app, client, logged_in, monkeypatch):
    """The notice is queued in the ticket's transaction: no ticket, no mail."""
    from conftest import deliver_mail
    from portal import tickets as ticket_rules
    queue_then_fail = ticket_rules._notify_new_ticket

    def failing(*args):
        queue_then_fail(*args)
        raise RuntimeError("the database failed after the notice was queued")

    monkeypatch.setattr(ticket_rules, "_notify_new_ticket", failing)
    response = open_ticket(client, gas_point(logged_in))
    assert response.status_code == 500
    assert Ticket.select().count() == 0
    assert models.OutgoingMail.select().count() == 0
    assert deliver_mail(app) == {"sent": 0, "retry": 0, "failed": 0}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=st.text(max_size=200), message=st.text(max_size=300),
       category=st.sampled_from(["", "Letture", "Altro", "Nessuna", "\x00"]),
       point=st.sampled_from(["", "PR999001", "x" * 40]))
def test_no_input_gives_a_server_error(client, logged_in, subject, message, category, point):
    data = {"supply_point": point or gas_point(logged_in).code, "category": category,
            "subject": subject, "message": message}
    response = client.post("/ticket/nuovo", data=data)
    assert response.status_code in (303, 422)
    stored = Ticket.select().order_by(Ticket.id.desc()).first()
    if response.status_code == 303:
        assert "\x00" not in stored.subject and "\n" not in stored.subject


# --- Thread, reply, close, reopen -----------------------------------------------------

def test_reply_adds_to_the_thread_in_order(client, logged_in):
    ticket = make_ticket(logged_in, body="Primo messaggio")
    response = client.post(f"/ticket/{ticket.id}/rispondi", data={"message": "Secondo messaggio"})
    assert response.status_code == 303
    page = client.get(f"/ticket/{ticket.id}").text
    assert "Messaggio inviato." in page
    assert page.index("Primo messaggio") < page.index("Secondo messaggio")
    assert Ticket.get_by_id(ticket.id).updated_at > ticket.updated_at


def test_htmx_reply_swaps_the_thread_alone(client, logged_in):
    ticket = make_ticket(logged_in)
    response = client.post(f"/ticket/{ticket.id}/rispondi",
                           data={"message": "Allego la foto", "attachment": (io.BytesIO(PNG), "foto.png")},
                           content_type="multipart/form-data",
                           headers={"HX-Request": "true", "HX-Target": "ticket-thread"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Allego la foto" in response.text and "foto.png" in response.text
    assert "Messaggio inviato." in response.text
    empty = client.post(f"/ticket/{ticket.id}/rispondi", data={"message": " "},
                        headers={"HX-Request": "true", "HX-Target": "ticket-thread"})
    assert empty.status_code == 422
    assert "Campo obbligatorio." in empty.text and "<html" not in empty.text


def test_close_then_reply_reopens(client, logged_in):
    ticket = make_ticket(logged_in, status=Ticket.IN_PROGRESS)
    closed = client.post(f"/ticket/{ticket.id}/chiudi", headers={"HX-Request": "true", "HX-Target": "ticket-thread"})
    assert closed.status_code == 200
    assert "Il ticket è stato chiuso." in closed.text
    assert "Se scrivi un nuovo messaggio il ticket viene riaperto." in closed.text
    assert "Chiudi il ticket" not in closed.text
    assert Ticket.get_by_id(ticket.id).status == Ticket.CLOSED
    client.post(f"/ticket/{ticket.id}/rispondi", data={"message": "Il problema si è ripresentato"})
    assert Ticket.get_by_id(ticket.id).status == Ticket.OPEN
    assert "il ticket è stato riaperto" in client.get(f"/ticket/{ticket.id}").text


def test_a_customer_reply_leaves_in_progress_as_it_is(client, logged_in):
    ticket = make_ticket(logged_in, status=Ticket.IN_PROGRESS)
    client.post(f"/ticket/{ticket.id}/rispondi", data={"message": "Aggiungo un dettaglio"})
    assert Ticket.get_by_id(ticket.id).status == Ticket.IN_PROGRESS


def test_internal_notes_never_reach_the_customer(client, logged_in):
    ticket = make_ticket(logged_in)
    operator = models.Operator.create(username="mario", password_hash="x", name="Mario Bianchi")
    TicketMessage.create(ticket=ticket, operator=operator, from_customer=False, internal=True,
                         body="NOTA RISERVATA: cliente moroso", attachment_path="tickets/x/nota.pdf",
                         attachment_name="nota-interna.pdf", attachment_type="application/pdf")
    TicketMessage.create(ticket=ticket, operator=operator, from_customer=False,
                         body="Abbiamo verificato la lettura.")
    note = TicketMessage.get(TicketMessage.internal == True)  # noqa: E712
    page = client.get(f"/ticket/{ticket.id}").text
    fragment = client.get(f"/ticket/{ticket.id}", headers={"HX-Request": "true", "HX-Target": "ticket-thread"}).text
    after_reply = client.post(f"/ticket/{ticket.id}/rispondi", data={"message": "Grazie"},
                              headers={"HX-Request": "true", "HX-Target": "ticket-thread"}).text
    for text in (page, fragment, after_reply):
        assert "Abbiamo verificato la lettura." in text
        assert "Servizio clienti" in text
        assert "NOTA RISERVATA" not in text and "nota-interna.pdf" not in text
        assert "Mario Bianchi" not in text
    assert client.get(f"/ticket/{ticket.id}/allegati/{note.id}").status_code == 404


# --- Downloads -----------------------------------------------------------------------

def test_attachment_download_is_an_attachment_with_the_checked_type(client, logged_in):
    open_ticket(client, gas_point(logged_in), (PNG, "foto.png"))
    message = TicketMessage.get()
    response = client.get(f"/ticket/{message.ticket_id}/allegati/{message.id}")
    assert response.status_code == 200
    assert response.data == PNG
    assert response.mimetype == "image/png"
    assert response.headers["Content-Disposition"] == "attachment; filename=foto.png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    # The message id must belong to the ticket in the URL.
    other = make_ticket(logged_in)
    assert client.get(f"/ticket/{other.id}/allegati/{message.id}").status_code == 404


def test_missing_attachment_file_gets_a_clear_message(app, client, logged_in):
    open_ticket(client, gas_point(logged_in), (PDF, "lettera.pdf"))
    message = TicketMessage.get()
    (Path(app.config["FILES_DIR"]) / message.attachment_path).unlink()
    response = client.get(f"/ticket/{message.ticket_id}/allegati/{message.id}")
    assert response.status_code == 404
    assert "Il file allegato non è più disponibile." in response.text


def test_a_stored_path_leaving_files_dir_is_never_served(client, logged_in):
    ticket = make_ticket(logged_in)
    message = TicketMessage.create(ticket=ticket, body="x", attachment_path="../../../../etc/passwd",
                                   attachment_name="passwd.pdf", attachment_type="application/pdf")
    response = client.get(f"/ticket/{ticket.id}/allegati/{message.id}")
    assert response.status_code == 404
    assert "root:" not in response.text


# --- Abuse: message limits and the attachment quota ------------------------------------

def test_attachments_beyond_the_customers_quota_are_refused_beside_the_field(
        app, client, logged_in, other_customer):
    app.config["ATTACHMENT_QUOTA_MB"] = 1
    point = gas_point(logged_in)
    half = PDF + b"\x00" * (MB // 2 + 1000)
    assert open_ticket(client, point, (half, "prima.pdf")).status_code == 303
    refused = open_ticket(client, point, (half, "seconda.pdf"), subject="Seconda richiesta")
    assert refused.status_code == 422
    assert '<p class="error" id="attachment-error">Hai esaurito lo spazio per gli allegati (1 MB' in refused.text
    assert 'value="Seconda richiesta"' in refused.text  # what was typed stays
    assert Ticket.select().count() == 1 and len(stored_files(app)) == 1
    ticket = Ticket.get()
    reply = client.post(f"/ticket/{ticket.id}/rispondi", content_type="multipart/form-data",
                        data={"message": "Ecco il file", "attachment": (io.BytesIO(half), "b.pdf")})
    assert reply.status_code == 422 and "Hai esaurito lo spazio" in reply.text
    # Without a file the reply goes through; the quota is this customer's alone.
    assert client.post(f"/ticket/{ticket.id}/rispondi",
                       data={"message": "Senza allegato"}).status_code == 303
    stranger = app.test_client()
    stranger.post("/login", data={"code": other_customer.code, "password": "una-password-sicura"})
    assert open_ticket(stranger, gas_point(other_customer), (half, "mio.pdf")).status_code == 303


def test_new_tickets_and_replies_are_limited_per_customer(tmp_path, smtp_server, factory):
    from conftest import deliver_mail, make_app
    from views import limiter
    application = make_app(tmp_path / "limited", RATELIMIT_ENABLED=True,
                           TICKET_MESSAGE_LIMIT="3 per hour", MAIL_SERVER="127.0.0.1",
                           MAIL_PORT=smtp_server.port)
    limiter.reset()
    flooder, neighbour = factory.customer(code="654321"), factory.customer(code="654322")
    point = factory.supply_point(flooder)
    client, other = application.test_client(), application.test_client()
    client.post("/login", data={"code": flooder.code, "password": "una-password-sicura"})
    other.post("/login", data={"code": neighbour.code, "password": "una-password-sicura"})
    assert open_ticket(client, point, subject="").status_code == 422  # a typo does not count
    statuses = [open_ticket(client, point).status_code for _ in range(2)]
    ticket = Ticket.select().order_by(Ticket.id).first()
    statuses.append(client.post(f"/ticket/{ticket.id}/rispondi", data={"message": "Ancora"}).status_code)
    statuses.append(open_ticket(client, point, (PDF, "altro.pdf")).status_code)
    statuses.append(client.post(f"/ticket/{ticket.id}/rispondi", data={"message": "E ancora"}).status_code)
    assert statuses == [303, 303, 303, 429, 429]
    assert "Troppi tentativi" in open_ticket(client, point).text
    assert Ticket.select().count() == 2 and len(stored_files(application)) == 0
    deliver_mail(application)
    assert smtp_server.wait_for(4) and len(smtp_server.messages) == 4  # notice and receipt per new ticket
    assert open_ticket(other, factory.supply_point(neighbour)).status_code == 303
    limiter.reset()
