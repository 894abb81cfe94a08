"""Races through a real threaded HTTP server: accounts stay consistent."""
from concurrent.futures import ThreadPoolExecutor

import models
from conftest import PASSWORD
from portal.passwords import verify_password


def test_double_registration_of_one_code(live_server, smtp_server, factory, http_session):
    # No address on file: each registrant's typed address would get the password.
    customer = factory.customer(code="123456", tax_code="RSSMRA80A01H501U", registered=False,
                                email="")
    sessions = [http_session() for _ in range(8)]
    for session in sessions:
        session.get("/registrazione")
        status, _ = session.post("/registrazione", {"code": "123456", "tax_code": "RSSMRA80A01H501U"})
        assert status == 303
        session.get("/registrazione/conferma")

    def confirm(pair):
        number, session = pair
        return session.post("/registrazione/conferma", {"email": f"persona{number}@example.com"})

    with ThreadPoolExecutor(len(sessions)) as pool:
        answers = list(pool.map(confirm, enumerate(sessions)))
    winners = [text for status, text in answers if status == 200]
    assert len(winners) == 1
    assert all("Risulti già registrato" in text for status, text in answers if status != 200)
    assert smtp_server.wait_for(1)
    email = models.Customer.get_by_id(customer.id).email
    assert smtp_server.messages[0][0] == [email] and len(smtp_server.messages) == 1
    assert models.AuditLog.select().where(models.AuditLog.event == "registration").count() == 1


def test_simultaneous_password_changes(live_server, smtp_server, factory, http_session):
    customer = factory.customer(code="654321")
    factory.supply_point(customer, "gas")
    sessions = [http_session() for _ in range(6)]
    for session in sessions:
        assert session.login("654321")[0] == 303
        session.get("/cambio-password")
    candidates = [f"nuova password numero {n}" for n in range(len(sessions))]

    def change(pair):
        session, new = pair
        return session.post("/cambio-password", {"current_password": PASSWORD,
                                                  "new_password": new, "confirm_password": new})

    with ThreadPoolExecutor(len(sessions)) as pool:
        statuses = [status for status, _ in pool.map(change, zip(sessions, candidates))]
    # Each change ends the other sessions: at least one wins, none crashes, and the
    # stored hash is exactly one of the submitted passwords.
    assert all(status < 500 for status in statuses) and 303 in statuses
    stored = models.Customer.get_by_id(customer.id).password_hash
    assert sum(verify_password(stored, new) for new in candidates) == 1
    assert not verify_password(stored, PASSWORD)
