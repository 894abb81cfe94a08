"""GDPR: the customer's own data export, and the retention job."""
import datetime
import json
import os

import models


def test_export_holds_my_data_and_nobody_elses(client, logged_in, other_customer):
    point = logged_in.supply_points_in_order().first()
    models.Invoice.create(number="FT2024-000001", supply_point=point, date="2024-03-15",
                          period_start="2024-01-01", period_end="2024-02-29", amount="1234.56",
                          due_date="2024-04-04", paid=True)
    models.SelfReading.create(supply_point=point, reading_date="2024-02-15", meter_reading=45000)
    ticket = models.Ticket.create(customer=logged_in, supply_point=point, category="Letture",
                                  subject="Lettura stimata")
    models.TicketMessage.create(ticket=ticket, body="La lettura è sbagliata")
    models.TicketMessage.create(ticket=ticket, body="nota interna segreta", internal=True,
                                from_customer=False)
    page = client.get("/dati-anagrafici")
    assert "Scarica tutti i miei dati" in page.text

    response = client.get("/dati-anagrafici/esporta")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=dati-personali-654321.json"
    data = json.loads(response.data)
    assert data["customer"]["code"] == "654321" and data["customer"]["email"] == logged_in.email
    assert "password_hash" not in response.text and "temp_password" not in response.text
    (gas, electricity) = data["supply_points"]
    assert gas["invoices"][0] == {"number": "FT2024-000001", "date": "2024-03-15",
                                  "period_start": "2024-01-01", "period_end": "2024-02-29",
                                  "amount": "1234.56", "due_date": "2024-04-04", "paid": True}
    assert gas["self_readings"][0]["meter_reading"] == 45000
    assert data["tickets"][0]["messages"][0]["body"] == "La lettura è sbagliata"
    assert data["tickets"][0]["case_code"] == models.Ticket.get_by_id(ticket.id).code
    assert "nota interna segreta" not in response.text
    assert other_customer.name not in response.text and "PR999001" not in response.text
    assert any(event["event"] == "login_ok" for event in data["security_events"])
    assert models.AuditLog.select().where(models.AuditLog.event == "gdpr_export").count() == 1


def test_export_needs_login(client):
    assert client.get("/dati-anagrafici/esporta").status_code == 302


def test_retention_removes_only_what_is_old(app, runner, customer, tmp_path):
    now = models.utcnow()
    models.audit("login_ok", customer=customer)
    old = models.audit("login_ok", customer=customer)
    models.AuditLog.update(at=now - datetime.timedelta(days=731)).where(
        models.AuditLog.id == old.id).execute()
    models.OutgoingMail.create(recipient="a@example.it", subject="x", kind="k", status="sent",
                               created_at=now - datetime.timedelta(days=400))
    models.OutgoingMail.create(recipient="b@example.it", subject="y", kind="k", status="sent")
    # Still waiting for the sender (a stuck queue): kept, however old.
    models.OutgoingMail.create(recipient="c@example.it", subject="z", kind="k", status="queued",
                               created_at=now - datetime.timedelta(days=400))
    for days in (400, 1):
        models.RegistrationRequest.create(customer=customer, email=f"r{days}@example.it",
                                          created_at=now - datetime.timedelta(days=days),
                                          expires_at=now - datetime.timedelta(days=days - 1))
    for days in (31, 29):
        models.FormSubmission.create(owner=f"c:{customer.id}", token=f"token-{days:02d}" * 2,
                                     result_url="/ticket/1",
                                     created_at=now - datetime.timedelta(days=days))
    exports = tmp_path / "exports"
    exports.mkdir(exist_ok=True)
    stale, fresh = exports / "readings-20200101-000000-1.csv", exports / "readings-new.csv"
    stale.write_text("x")
    fresh.write_text("y")
    year_and_a_half_ago = (now - datetime.timedelta(days=550)).replace(
        tzinfo=datetime.timezone.utc).timestamp()
    os.utime(stale, (year_and_a_half_ago, year_and_a_half_ago))

    result = runner.invoke(args=["retention"])
    assert result.exit_code == 0, result.output
    assert ("1 audit rows, 1 mail records, 1 export files, 1 registration requests, "
            "1 form tokens") in result.output
    assert [row.token for row in models.FormSubmission.select()] == ["token-29token-29"]
    assert models.AuditLog.select().count() == 1
    assert sorted(mail.recipient for mail in models.OutgoingMail.select()) == \
        ["b@example.it", "c@example.it"]
    assert [request.email for request in models.RegistrationRequest.select()] == ["r1@example.it"]
    assert not stale.exists() and fresh.exists()
