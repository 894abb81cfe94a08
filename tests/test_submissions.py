"""Creating forms act once: a repeated submission of the same form (a retry after a
lost answer, a double click) returns the first result instead of creating again."""
import io
import re
import threading
from pathlib import Path

import models
from models import FormSubmission, Ticket, TicketMessage
from portal import backoffice

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
TOKEN = re.compile(r'name="submission_token" type="hidden" value="([^"]+)"')
OPERATOR_PASSWORD = "Sportello-Prova-2015"


def token_in(page):
    return TOKEN.search(page).group(1)


def new_ticket(client, point, token, attachment=True):
    data = {"supply_point": point.code, "kind": "informazioni", "subject": "Lettura errata",
            "message": "La lettura in fattura non è quella del contatore.",
            "submission_token": token}
    if attachment:
        data["attachment"] = (io.BytesIO(PDF), "bolletta.pdf")
    return client.post("/ticket/nuovo", data=data, content_type="multipart/form-data")


def stored_files(app):
    return [path for path in Path(app.config["FILES_DIR"]).rglob("*") if path.is_file()]


def test_a_repeated_new_ticket_returns_the_first_one(app, client, logged_in):
    point = logged_in.supply_points_in_order().first()
    token = token_in(client.get("/ticket/nuovo?tipo=informazioni").text)
    first = new_ticket(client, point, token)
    again = new_ticket(client, point, token)
    assert first.status_code == again.status_code == 303
    ticket = Ticket.get()
    assert first.headers["Location"] == again.headers["Location"] == f"/ticket/{ticket.id}"
    assert Ticket.select().count() == 1 and TicketMessage.select().count() == 1
    assert len(stored_files(app)) == 1  # the repeat's attachment was never stored
    page = client.get(again.headers["Location"]).text.replace("&#39;", "'")
    assert "La richiesta era già stata inviata ed è stata registrata una volta sola" in page
    # Each empty form gets a fresh token: a second ticket on purpose is a new one.
    fresh = token_in(client.get("/ticket/nuovo?tipo=informazioni").text)
    assert fresh != token
    assert new_ticket(client, point, fresh).status_code == 303
    assert Ticket.select().count() == 2


def test_a_form_with_errors_keeps_its_token_and_creates_once_when_fixed(client, logged_in):
    point = logged_in.supply_points_in_order().first()
    token = token_in(client.get("/ticket/nuovo?tipo=informazioni").text)
    refused = client.post("/ticket/nuovo", data={"supply_point": point.code, "kind": "informazioni",
                                                 "subject": "", "message": "Testo",
                                                 "submission_token": token})
    assert refused.status_code == 422
    assert token_in(refused.text) == token
    assert new_ticket(client, point, token, attachment=False).status_code == 303
    assert new_ticket(client, point, token, attachment=False).status_code == 303
    assert Ticket.select().count() == 1


def test_a_repeated_reply_is_stored_once(client, logged_in):
    point = logged_in.supply_points_in_order().first()
    assert new_ticket(client, point, token_in(client.get("/ticket/nuovo?tipo=informazioni").text)).status_code == 303
    ticket = Ticket.get()
    token = token_in(client.get(f"/ticket/{ticket.id}").text)
    reply = {"message": "Aggiungo una foto.", "submission_token": token}
    first = client.post(f"/ticket/{ticket.id}/rispondi", data=reply)
    again = client.post(f"/ticket/{ticket.id}/rispondi", data=reply,
                        headers={"HX-Request": "true", "HX-Target": "ticket-thread"})
    assert first.status_code == 303 and again.status_code == 200
    assert "registrata una volta sola" in again.text
    assert TicketMessage.select().where(TicketMessage.body == "Aggiungo una foto.").count() == 1
    # The thread swapped in after a reply carries a new token for the next message.
    assert token_in(again.text) != token


def test_the_same_token_from_another_customer_is_theirs(app, client, logged_in, other_customer):
    point = logged_in.supply_points_in_order().first()
    token = token_in(client.get("/ticket/nuovo?tipo=informazioni").text)
    assert new_ticket(client, point, token).status_code == 303
    stranger = app.test_client()
    stranger.post("/login", data={"code": other_customer.code, "password": "una-password-sicura"})
    theirs = new_ticket(stranger, other_customer.supply_points_in_order().first(), token)
    assert theirs.status_code == 303
    assert Ticket.select().where(Ticket.customer == other_customer).count() == 1
    assert theirs.headers["Location"] != f"/ticket/{Ticket.get(Ticket.customer == logged_in).id}"


def test_back_office_reply_and_note_repeated_are_stored_once(mail_app, smtp_server, customer):
    ticket = Ticket.create(customer=customer, category="Altro", subject="Domanda")
    TicketMessage.create(ticket=ticket, body="Primo messaggio")
    backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD)
    staff = mail_app.test_client()
    staff.post("/operatore/login", data={"username": "mario.rossi", "password": OPERATOR_PASSWORD})
    page = staff.get(f"/operatore/ticket/{ticket.id}").text
    reply_token, note_token = TOKEN.findall(page)
    reply = {"message": "Abbiamo corretto la lettura.", "status": Ticket.CLOSED,
             "submission_token": reply_token}
    note = {"note": "Verificato con la distribuzione.", "submission_token": note_token}
    for _ in range(3):
        assert staff.post(f"/operatore/ticket/{ticket.id}/rispondi", data=reply).status_code == 303
        assert staff.post(f"/operatore/ticket/{ticket.id}/nota", data=note).status_code == 303
    answers = TicketMessage.select().where(~TicketMessage.from_customer)
    assert sorted(message.internal for message in answers) == [False, True]
    assert smtp_server.wait_for(1) and not smtp_server.wait_for(2, timeout=0.5)


def test_simultaneous_retries_create_one_ticket(live_server, http_session, factory):
    """Eight copies of one submission at once (a client retrying while the first is
    still running) make one ticket; every copy is sent to it."""
    customer = factory.customer(code="654321")
    point = factory.supply_point(customer)
    session = http_session()
    assert session.login("654321")[0] == 303
    status, page = session.get("/ticket/nuovo?tipo=informazioni")
    token = token_in(page)
    data = {"supply_point": point.code, "kind": "informazioni", "subject": "Doppio invio",
            "message": "Un solo ticket, per favore.", "submission_token": token}
    answers, start = [], threading.Barrier(8)

    def submit():
        start.wait()
        answers.append(session.post("/ticket/nuovo", data)[0])

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [303] * 8
    with live_server.app.app_context(), models.db.connection_context():
        assert Ticket.select().count() == 1
        assert TicketMessage.select().count() == 1
        assert FormSubmission.select().count() == 1
