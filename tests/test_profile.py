"""Dati Anagrafici: the record read-only, Telefono / FAX / E-Mail editable."""
import datetime
import re

import pytest
from markupsafe import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models
from conftest import PASSWORD, deliver_mail, free_port, make_app

HTMX = {"HX-Request": "true", "HX-Target": "contact-form"}


def contacts(person, /, **changes):
    values = dict(phone=person.phone, fax=person.fax, email=person.email,
                  current_password="")
    values.update(changes)
    return values


def input_value(html, name):
    """The value attribute of the input named `name` (as HTML source, escaped)."""
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html).group(0)
    return re.search(r'\bvalue="([^"]*)"', tag).group(1)


def reload(customer):
    return models.Customer.get_by_id(customer.id)


def contact_events(customer):
    return list(models.AuditLog
                .select()
                .where((models.AuditLog.customer == customer)
                       & (models.AuditLog.event.startswith("contact_")))
                .order_by(models.AuditLog.id))


def test_page_shows_the_record_and_the_company_contacts(app, client, logged_in):
    app.config.update(COMPANY_PHONE="0586 999111", COMPANY_EMAIL="assistenza@colline.example",
                      COMPANY_ADDRESS="Piazza Grande 3 - 57123 Livorno (LI)")
    models.Customer.update(fax="0586 123457").where(models.Customer.id == logged_in.id).execute()

    page = client.get("/dati-anagrafici")

    assert page.status_code == 200
    for label, value in (("Codice cliente", "654321"), ("Denominazione", "ACQUE CHIARE S.R.L."),
                         ("Codice fiscale / Partita IVA", logged_in.tax_code),
                         ("Residenza/Sede", "VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)")):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in page.text
    assert input_value(page.text, "phone") == "0586 123456"
    assert input_value(page.text, "fax") == "0586 123457"
    assert input_value(page.text, "email") == logged_in.email
    assert "contatta la società" in page.text
    for company_detail in ("0586 999111", "assistenza@colline.example",
                           "Piazza Grande 3 - 57123 Livorno (LI)"):
        assert company_detail in page.text


def test_phone_and_fax_change_in_place_and_are_audited(client, logged_in):
    response = client.post("/dati-anagrafici", headers=HTMX,
                           data=contacts(logged_in, phone="+39 333 1234567", fax="0586/765432"))

    assert response.status_code == 200
    assert "<html" not in response.text and 'id="menu"' not in response.text
    assert "Recapiti aggiornati: Telefono, FAX." in response.text
    assert input_value(response.text, "phone") == "+39 333 1234567"
    assert input_value(response.text, "current_password") == ""
    customer = reload(logged_in)
    assert (customer.phone, customer.fax, customer.email) == ("+39 333 1234567", "0586/765432",
                                                              logged_in.email)
    [event] = contact_events(logged_in)
    assert event.event == "contact_changed"
    assert event.detail == "fields: phone, fax"
    assert "333" not in event.detail and event.ip == "127.0.0.1"


def test_without_javascript_the_form_redirects_and_flashes(client, logged_in):
    response = client.post("/dati-anagrafici", data=contacts(logged_in, phone="0586 111222"))

    assert response.status_code == 303
    assert response.headers["Location"] == "/dati-anagrafici"
    page = client.get("/dati-anagrafici")
    assert "Recapiti aggiornati: Telefono." in page.text
    assert reload(logged_in).phone == "0586 111222"


def test_saving_unchanged_values_changes_and_audits_nothing(client, logged_in):
    response = client.post("/dati-anagrafici", headers=HTMX, data=contacts(logged_in))
    assert response.status_code == 200
    assert "Nessuna modifica" in response.text
    assert contact_events(logged_in) == []


@pytest.mark.parametrize("field, value", [
    ("phone", "abc"),
    ("phone", "12345"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "0586 1234567890123"),
    ("phone", "0586\x00123456"),
    ("fax", "fax: 0586 12"),
    ("fax", "٠٥٨٦١٢٣٤٥٦"),  # Arabic-Indic digits are digits to Python, not to a phone
])
def test_bad_numbers_get_a_message_beside_the_field_and_keep_the_typed_value(client, logged_in,
                                                                             field, value):
    response = client.post("/dati-anagrafici", headers=HTMX,
                           data=contacts(logged_in, **{field: value}))

    assert response.status_code == 422
    assert "<html" not in response.text
    kind = "telefono" if field == "phone" else "fax"
    assert f'<p class="error" id="{field}-error">Numero di {kind} non valido.' in response.text
    assert f'aria-describedby="{field}-hint {field}-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert input_value(response.text, field) == escape(value)
    customer = reload(logged_in)
    assert (customer.phone, customer.fax) == (logged_in.phone, logged_in.fax)
    assert contact_events(logged_in) == []


def test_typed_values_are_kept_exactly(client, logged_in):
    response = client.post("/dati-anagrafici", headers=HTMX,
                           data=contacts(logged_in, phone="12 34", fax="0586 777888"))
    assert response.status_code == 422
    assert input_value(response.text, "phone") == "12 34"
    assert input_value(response.text, "fax") == "0586 777888"


@pytest.mark.parametrize("phone, stored", [
    ("0586 123456", "0586 123456"),
    ("  +39   333 123 4567 ", "+39 333 123 4567"),
    ("0039 0586 123456", "0039 0586 123456"),
    ("333-1234567", "333-1234567"),
    ("0586.123456", "0586.123456"),
    ("", ""),
])
def test_italian_numbers_are_accepted(client, logged_in, phone, stored):
    response = client.post("/dati-anagrafici", headers=HTMX, data=contacts(logged_in, phone=phone))
    assert response.status_code == 200
    assert reload(logged_in).phone == stored


def test_fax_may_be_emptied(client, logged_in):
    models.Customer.update(fax="0586 123457").where(models.Customer.id == logged_in.id).execute()
    response = client.post("/dati-anagrafici", headers=HTMX, data=contacts(logged_in, fax=""))
    assert response.status_code == 200
    assert reload(logged_in).fax == ""


@pytest.mark.parametrize("email, message", [
    ("", "Campo obbligatorio."),
    ("non-una-mail", "Indirizzo e-mail non valido"),
    ("mario@", "Indirizzo e-mail non valido"),
    ("mario rossi@example.it", "Indirizzo e-mail non valido"),
])
def test_bad_email_gets_a_message(client, logged_in, email, message):
    response = client.post("/dati-anagrafici", headers=HTMX,
                           data=contacts(logged_in, email=email, current_password=PASSWORD))
    assert response.status_code == 422
    assert f'<p class="error" id="email-error">{message}' in response.text
    assert reload(logged_in).email == logged_in.email


def test_only_phone_fax_and_email_can_change_whatever_is_posted(client, logged_in):
    before = reload(logged_in)
    response = client.post("/dati-anagrafici", headers=HTMX, data=contacts(
        logged_in, phone="0586 222333", name="HACKER S.P.A.", code="000001",
        tax_code="RSSMRA80A01H501U", address="VIA FALSA 1", is_company="0",
        password_hash="x", must_change_password="1", session_version="99", id="1",
        registered_at="", customer="2"))

    assert response.status_code == 200
    after = reload(logged_in)
    assert after.phone == "0586 222333"
    for name in ("name", "code", "tax_code", "address", "is_company", "password_hash",
                 "must_change_password", "session_version", "registered_at", "email", "fax"):
        assert getattr(after, name) == getattr(before, name), name


def test_email_change_needs_the_current_password(client, logged_in):
    missing = client.post("/dati-anagrafici", headers=HTMX,
                          data=contacts(logged_in, email="nuovo@example.it"))
    assert missing.status_code == 422
    assert ('<p class="error" id="current_password-error">Per cambiare l\'indirizzo e-mail '
            "inserisci la password attuale.") in missing.text.replace("&#39;", "'")
    assert input_value(missing.text, "email") == "nuovo@example.it"

    wrong = client.post("/dati-anagrafici", headers=HTMX,
                        data=contacts(logged_in, email="nuovo@example.it",
                                      current_password="non-la-password"))
    assert wrong.status_code == 422
    assert "La password attuale non è corretta." in wrong.text
    assert "non-la-password" not in wrong.text
    assert reload(logged_in).email == logged_in.email
    assert [event.event for event in contact_events(logged_in)] == ["contact_change_refused"]


def test_wrong_passwords_for_an_email_change_count_toward_the_lockout(client, logged_in):
    wrong = contacts(logged_in, email="nuovo@example.it", current_password="non-la-password")
    for _ in range(10):
        assert client.post("/dati-anagrafici", headers=HTMX, data=wrong).status_code == 422
    assert reload(logged_in).is_locked(models.utcnow())
    right = client.post("/dati-anagrafici", headers=HTMX,
                        data=contacts(logged_in, email="nuovo@example.it",
                                      current_password=PASSWORD))
    assert right.status_code == 422 and reload(logged_in).email == logged_in.email


def test_email_changes_are_capped_per_day(app, client, logged_in):
    app.config["EMAIL_CHANGES_PER_DAY"] = 2
    for number in (1, 2):
        response = client.post("/dati-anagrafici", headers=HTMX, data=contacts(
            logged_in, email=f"nuovo{number}@example.it", current_password=PASSWORD))
        assert response.status_code == 200 and "Recapiti aggiornati" in response.text
    third = client.post("/dati-anagrafici", headers=HTMX, data=contacts(
        logged_in, email="vittima@example.it", current_password=PASSWORD))
    assert third.status_code == 422
    assert ('<p class="error" id="email-error">Hai già cambiato l\'indirizzo e-mail 2 volte '
            "nelle ultime 24 ore") in third.text.replace("&#39;", "'")
    assert input_value(third.text, "email") == "vittima@example.it"
    assert reload(logged_in).email == "nuovo2@example.it"
    # Phone and fax still change, and a day later the address may change again.
    phone = client.post("/dati-anagrafici", headers=HTMX,
                        data=contacts(reload(logged_in), phone="0586 999999"))
    assert phone.status_code == 200 and reload(logged_in).phone == "0586 999999"
    (models.AuditLog.update(at=models.utcnow() - datetime.timedelta(hours=25))
     .where(models.AuditLog.event == "contact_changed").execute())
    later = client.post("/dati-anagrafici", headers=HTMX, data=contacts(
        reload(logged_in), email="vittima@example.it", current_password=PASSWORD))
    assert later.status_code == 200 and reload(logged_in).email == "vittima@example.it"


def test_email_change_ends_other_sessions_keeps_this_one(app, client, logged_in):
    other = app.test_client()
    other.post("/login", data={"code": logged_in.code, "password": PASSWORD})
    assert other.get("/dati-anagrafici").status_code == 200

    phone_only = client.post("/dati-anagrafici", headers=HTMX,
                             data=contacts(logged_in, phone="0586 444555"))
    assert phone_only.status_code == 200
    assert other.get("/dati-anagrafici").status_code == 200  # a phone number ends nothing

    response = client.post("/dati-anagrafici", headers=HTMX,
                           data=contacts(logged_in, phone="0586 444555", email="nuovo@example.it",
                                         current_password=PASSWORD))
    assert response.status_code == 200
    assert reload(logged_in).email == "nuovo@example.it"
    assert "nuovo@example.it" in client.get("/dati-anagrafici").text
    assert other.get("/dati-anagrafici").status_code == 302


def test_phone_change_does_not_need_the_password(client, logged_in):
    response = client.post("/dati-anagrafici", headers=HTMX,
                           data=contacts(logged_in, phone="0586 444555",
                                         email=logged_in.email.upper()))
    assert response.status_code == 200
    assert reload(logged_in).email == logged_in.email


def test_email_change_notifies_the_old_address_by_real_smtp(mail_app, smtp_server, factory):
    customer = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.",
                                email="vecchio@example.it")
    factory.supply_point(customer)
    client = mail_app.test_client()
    client.post("/login", data={"code": "654321", "password": PASSWORD})

    response = client.post("/dati-anagrafici", headers=HTMX,
                           data=contacts(customer, email="Nuovo@Example.IT",
                                         current_password=PASSWORD))

    assert response.status_code == 200
    assert "Recapiti aggiornati: E-Mail." in response.text
    assert "Abbiamo inviato un avviso al precedente indirizzo e-mail." in response.text
    assert reload(customer).email == "Nuovo@example.it"
    assert smtp_server.wait_for(2)
    recipients = [message[0] for message in smtp_server.messages]
    assert recipients == [["vecchio@example.it"], ["Nuovo@example.it"]]
    old_notice = smtp_server.text_of(0)
    assert "codice cliente 654321 è stato sostituito" in old_notice
    assert "Se non sei stato tu, contatta subito il servizio clienti" in old_notice
    assert "Nuovo@example.it" not in old_notice and PASSWORD not in old_notice
    assert smtp_server.messages[0][1]["Subject"] == "Area Clienti: indirizzo e-mail modificato"
    [event] = contact_events(customer)
    assert event.detail == "fields: email"
    kinds = [mail.kind for mail in models.OutgoingMail.select()]
    assert kinds == ["contact_changed", "contact_changed"]


def test_email_change_stands_while_the_mail_server_is_down(tmp_path, factory):
    application = make_app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(),
                           MAIL_TIMEOUT=2)
    customer = factory.customer(code="654321", email="vecchio@example.it")
    client = application.test_client()
    client.post("/login", data={"code": "654321", "password": PASSWORD})

    response = client.post("/dati-anagrafici", headers=HTMX,
                           data=contacts(customer, email="nuovo@example.it",
                                         current_password=PASSWORD))

    assert response.status_code == 200
    assert "Recapiti aggiornati: E-Mail." in response.text
    assert reload(customer).email == "nuovo@example.it"
    # Both notices wait in the queue; the sender tries again later.
    assert deliver_mail(application) == {"sent": 0, "retry": 2, "failed": 0}
    assert sorted(mail.recipient for mail in models.OutgoingMail.select()
                  .where(models.OutgoingMail.status == "queued")) == \
        ["nuovo@example.it", "vecchio@example.it"]


def test_repeated_wrong_passwords_are_rate_limited(tmp_path, factory):
    from views import limiter
    application = make_app(tmp_path, RATELIMIT_ENABLED=True)
    limiter.reset()
    customer = factory.customer(code="654321")
    client = application.test_client()
    client.post("/login", data={"code": "654321", "password": PASSWORD})
    wrong = contacts(customer, email="nuovo@example.it", current_password="sbagliata")

    statuses = [client.post("/dati-anagrafici", headers=HTMX, data=wrong).status_code
                for _ in range(21)]

    assert statuses[:20] == [422] * 20
    assert statuses[20] == 429
    limiter.reset()


texts = st.text(st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(phone=texts, fax=texts, email=texts)
def test_no_input_gives_a_server_error(client, logged_in, phone, fax, email):
    response = client.post("/dati-anagrafici", headers=HTMX,
                           data=dict(phone=phone, fax=fax, email=email))
    assert response.status_code in (200, 422)
