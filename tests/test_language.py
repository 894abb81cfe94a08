"""Italian and English: the untranslated-message check, pages, mail, numbers and dates
in English, the language switch remembered for the session and the account."""
import datetime
import gettext
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import nodes

import models
from conftest import PASSWORD, make_app, release_database
from test_foundation import drop_columns, migrate_from

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po"
COMPILED = CATALOGUE.with_suffix(".mo")
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w*\}")


def extract(root, pot):
    """`pybabel extract` as the README runs it, from the sources under `root`."""
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    str(ROOT / "babel.cfg"), "-k", "_l", "--no-location", "-o", str(pot),
                    str(root)], check=True, capture_output=True, cwd=root)
    with open(pot, "rb") as file:
        return [message.id for message in read_po(file) if message.id]


def untranslated(msgids, catalogue_path=CATALOGUE):
    """The msgids the English catalogue lacks, leaves empty or marks fuzzy, or whose
    translation drops or invents a placeholder."""
    with open(catalogue_path, "rb") as file:
        catalogue = read_po(file)
    problems = []
    for msgid in msgids:
        message = catalogue.get(msgid)
        if message is None or not message.string or message.fuzzy:
            problems.append(msgid)
        elif sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(message.string)):
            problems.append(msgid)
    return problems


def test_every_message_of_the_sources_has_an_english_translation(tmp_path):
    msgids = extract(ROOT, tmp_path / "messages.pot")
    assert len(msgids) > 400  # the extraction found the customer side
    assert "Hai dimenticato la Password ?" in msgids and "Menu Generale" in msgids
    assert untranslated(msgids) == []


def test_the_check_catches_a_new_message_nobody_translated(tmp_path):
    """The same check on a copy of the sources with one more message fails."""
    for folder in ("views", "portal", "templates"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "app.py").write_text("")
    (tmp_path / "models.py").write_text("")
    page = tmp_path / "templates" / "home" / "index.html"
    page.write_text(page.read_text() + '{{ _("Una frase nuova, mai tradotta.") }}\n')
    msgids = extract(tmp_path, tmp_path / "messages.pot")
    assert untranslated(msgids) == ["Una frase nuova, mai tradotta."]
    # A translation that loses a placeholder is no translation either.
    broken = tmp_path / "broken.po"
    text = CATALOGUE.read_text()
    broken.write_text(text.replace('msgstr "Ticket no. %(number)s"', 'msgstr "Ticket"'))
    assert untranslated(["Ticket n. %(number)s"], broken) == ["Ticket n. %(number)s"]


def test_the_committed_compiled_catalogue_matches_the_po_file(tmp_path):
    """The portal reads the committed .mo: it must say what the .po says (after
    editing the .po, `pybabel compile -d translations`)."""
    with open(CATALOGUE, "rb") as file:
        catalogue = read_po(file)
    fresh = tmp_path / "messages.mo"
    with open(fresh, "wb") as file:
        write_mo(file, catalogue)
    with open(COMPILED, "rb") as committed, open(fresh, "rb") as compiled:
        assert gettext.GNUTranslations(committed)._catalog == \
            gettext.GNUTranslations(compiled)._catalog


def test_italian_is_the_default_and_stays_the_seeds_wording(client):
    for headers in ({}, {"Accept-Language": "fr-FR,fr;q=0.9"}, {"Accept-Language": "it"}):
        page = client.get("/login", headers=headers).text
        assert '<html lang="it">' in page
        assert "<h1>Autenticazione</h1>" in page
        assert ">Hai dimenticato la Password ?</a>" in page
        assert '<label for="code">User</label>' in page
        assert 'value="en" class="link-button" lang="en">English</button>' in page


def test_the_browsers_english_gives_english_pages(client):
    page = client.get("/login", headers=ENGLISH).text
    assert '<html lang="en">' in page
    assert "<h1>Log in</h1>" in page
    assert ">Forgot your password?</a>" in page
    assert ">Are you a customer and want to register?</a>" in page
    assert "The 6-digit customer code shown on your invoice." in page
    assert 'lang="it">Italiano</button>' in page
    refused = client.post("/login", data={"code": "999999", "password": "sbagliata"},
                          headers=ENGLISH)
    assert refused.status_code == 422
    assert "Invalid credentials. Check your customer code and password" in refused.text
    empty = client.post("/login", data={"code": "", "password": ""}, headers=ENGLISH)
    assert "This field is required." in empty.text
    missing = client.get("/non-esiste", headers=ENGLISH)
    assert missing.status_code == 404
    assert "<h1>Page not found</h1>" in missing.text
    assert "The page or document requested does not exist." in missing.text


def add_invoice(supply_point, **fields):
    values = dict(number="FT2024-000187", supply_point=supply_point,
                  date=datetime.date(2024, 3, 5), period_start=datetime.date(2024, 1, 1),
                  period_end=datetime.date(2024, 2, 29), amount=Decimal("1234.56"),
                  due_date=datetime.date(2024, 3, 25), paid=False)
    values.update(fields)
    return models.Invoice.create(**values)


def test_an_english_speaking_customer_sees_english_numbers_and_dates(client, factory, auth):
    person = factory.customer(code="654321", language="en")
    point = factory.supply_point(person, "gas")
    add_invoice(point)
    assert auth.login("654321").status_code == 303
    home = client.get("/home").text
    assert "<h1>Home page</h1>" in home
    assert "€1,234.56" in home
    assert "no. FT2024-000187 of 5 Mar 2024" in home
    assert "Due 25 Mar 2024" in home
    assert ">Invoices</a>" in home and ">Main menu</h2>" in home
    invoices = client.get("/fatture?anno=2024").text
    assert "<h1>Invoices</h1>" in invoices
    assert 'data-label="Amount" class="num">€1,234.56</td>' in invoices
    assert ">5 Mar 2024</td>" in invoices
    assert ">Overdue</span>" in invoices or ">To be paid</span>" in invoices
    # The same customer choosing Italian gets the portal's own formats back.
    client.post("/lingua", data={"lingua": "it"})
    italian = client.get("/fatture?anno=2024").text
    assert 'data-label="Importo" class="num">1.234,56 €</td>' in italian
    assert ">05/03/2024</td>" in italian


def test_the_switch_is_remembered_for_the_session_and_then_the_account(app, client, factory,
                                                                        auth):
    person = factory.customer(code="654321")
    factory.supply_point(person, "gas")
    # Back to the page the switch was used on, which the Referer names (after an htmx
    # navigation too); anything else goes to the start.
    switched = client.post("/lingua", data={"lingua": "en"},
                           headers={"Referer": "http://localhost/password-dimenticata?x=1"})
    assert switched.status_code == 303
    assert switched.headers["Location"] == "/password-dimenticata?x=1"
    assert "<h1>Forgot your password?</h1>" in client.get("/password-dimenticata").text
    for referrer in ("https://evil.example/x", "http://localhost//evil.example", ""):
        elsewhere = client.post("/lingua", data={"lingua": "en"}, headers={"Referer": referrer})
        assert elsewhere.headers["Location"] == "/"

    # Logging in keeps the session's choice and gives it to the account.
    assert auth.login("654321").status_code == 303
    assert "<h1>Home page</h1>" in client.get("/home").text
    assert models.Customer.get_by_id(person.id).language == "en"
    # Another browser, asking for Italian, gets the account's English.
    other = app.test_client()
    other.post("/login", data={"code": "654321", "password": PASSWORD})
    assert "<h1>Home page</h1>" in other.get("/home").text
    # Switching while logged in changes the account.
    other.post("/lingua", data={"lingua": "it"})
    assert models.Customer.get_by_id(person.id).language == "it"
    assert "<h1>Home Page</h1>" in other.get("/home").text
    # Logging out keeps the page in the language it was in.
    logout = other.post("/logout", follow_redirects=True)
    assert "Sei uscito dall&#39;Area Clienti." in logout.text


def test_an_unknown_language_is_refused_without_an_error(client):
    for value in ("fr", "", "en\x00", "x" * 5000):
        response = client.post("/lingua", data={"lingua": value})
        assert response.status_code == 400
    assert '<html lang="it">' in client.get("/login").text


def test_the_switch_needs_the_csrf_token(tmp_path):
    application = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    try:
        client = application.test_client()
        page = client.get("/login").text
        assert 'action="/lingua"' in page
        refused = client.post("/lingua", data={"lingua": "en"})
        assert refused.status_code == 400
        assert '<html lang="it">' in client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        accepted = client.post("/lingua", data={"lingua": "en", "csrf_token": token})
        assert accepted.status_code == 303
        assert '<html lang="en">' in client.get("/login").text
    finally:
        release_database()


def test_the_back_office_stays_italian(client):
    page = client.get("/operatore/login", headers=ENGLISH).text
    assert '<html lang="it">' in page and 'action="/lingua"' not in page


def test_an_english_speaking_customer_gets_mail_in_english_by_real_smtp(mail_app, smtp_server):
    with mail_app.app_context():
        models.db.connect(reuse_if_open=True)
        models.Customer.create(code="654321", name="ACQUE CHIARE S.R.L.",
                               tax_code="01234560496", email="acque@example.it",
                               registered_at=models.utcnow(), language="en",
                               password_hash="x")
        models.db.close()
    # Asked from an Italian browser: the mail follows the account's language.
    client = mail_app.test_client()
    client.post("/password-dimenticata", data={"code": "654321"},
                headers={"Accept-Language": "it"})
    assert smtp_server.wait_for(1)
    recipients, message = smtp_server.messages[0]
    assert recipients == ["acque@example.it"]
    assert message["Subject"] == "Customer Area: your new password"
    text = smtp_server.text_of(0)
    assert text.startswith("Dear ACQUE CHIARE S.R.L.,")
    assert "User (customer code): 654321" in text
    assert "The temporary password is valid for 24 hours" in text
    html = message.get_body(("html",)).get_content()
    assert '<html lang="en">' in html and "Log in to the Customer Area" in html


def test_mail_follows_the_page_for_a_customer_who_never_chose(mail_app, smtp_server):
    with mail_app.app_context():
        models.db.connect(reuse_if_open=True)
        models.Customer.create(code="654321", name="ACQUE CHIARE S.R.L.",
                               tax_code="01234560496", email="acque@example.it",
                               registered_at=models.utcnow(), password_hash="x")
        models.db.close()
    client = mail_app.test_client()
    client.post("/password-dimenticata", data={"code": "654321"}, headers=ENGLISH)
    client.post("/password-dimenticata", data={"code": "654321"})
    assert smtp_server.wait_for(2)
    subjects = sorted(message["Subject"] for _, message in smtp_server.messages)
    assert subjects == ["Area Clienti: la tua nuova password", "Customer Area: your new password"]


def test_migration_adds_the_language_keeping_customers(app, runner, factory):
    person = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.")
    [version] = [number for number, migration in models.MIGRATIONS.items()
                 if migration is models._migrate_customer_language]
    drop_columns("customer", ["language"])
    migrate_from(runner, version - 1)
    with models.db.connection_context():
        stored = models.Customer.get_by_id(person.id)
        assert stored.name == "ACQUE CHIARE S.R.L." and stored.language is None
        assert models.schema_version() == models.SCHEMA_VERSION


def test_charts_and_their_labels_follow_the_language(app):
    """The figures' names, hovers, separators and day and month names; the table's
    band hours and the resolution in the page."""
    from portal import consumption, measurements, timebands
    from test_charts import FAR_FUTURE, billed_rows, hourly_groups, quarter_hours

    first, last = datetime.date(2025, 3, 1), datetime.date(2025, 3, 31)
    with app.test_request_context(headers=ENGLISH):
        billed = consumption.billed_year(billed_rows(), 2025)
        figure = consumption.consumption_figure_data(billed)
        assert [trace["name"] for trace in figure["data"]][3:] == ["2024 (same months)",
                                                                    "Maximum power"]
        assert figure["data"][0]["x"][:2] == ["Jan", "Feb"]
        assert "Maximum power: %{y:,.1f} kW" in figure["data"][4]["hovertemplate"]
        assert figure["layout"]["separators"] == ".,"
        assert billed.change_label == "+1.4 %"
        assert consumption.period_label(datetime.date(2025, 1, 15),
                                        datetime.date(2025, 2, 14)) == "15 Jan–14 Feb"
        series = measurements.aggregate(hourly_groups(quarter_hours(first, last)), first, last,
                                        measurements.DAILY, 900, FAR_FUTURE)
        daily = measurements.measurement_figure_data(series)
        assert daily["data"][0]["customdata"][0] == "Saturday 1 March 2025"
        assert daily["data"][0]["hovertext"][0].startswith("<br>Total: 24.0 kWh")
        assert daily["data"][3]["name"] == "No data"
        assert str(series.resolution.label) == "daily"
        assert str(timebands.BAND_HOURS[timebands.F1]) == "Mon–Fri 8–19"
        monday = datetime.date(2025, 3, 3)
        quarter = measurements.aggregate(quarter_hours(monday, monday), monday, monday,
                                         measurements.QUARTER_HOUR, 900, FAR_FUTURE)
        assert quarter.buckets[32].label == "Mon 3 Mar 2025, 08:00–08:15"
    # The labels of a day are cached per language: Italian is still Italian.
    with app.test_request_context():
        quarter = measurements.aggregate(quarter_hours(monday, monday), monday, monday,
                                         measurements.QUARTER_HOUR, 900, FAR_FUTURE)
        assert quarter.buckets[32].label == "lun 3 mar 2025, 08:00–08:15"
        assert consumption.consumption_figure_data(billed)["layout"]["separators"] == ",."


def test_a_back_office_answer_reaches_an_english_speaking_customer_in_english(
        mail_app, smtp_server):
    """The operator's page is Italian; the customer's notice is in the customer's
    language, its status word too."""
    from portal import backoffice
    with mail_app.app_context():
        models.db.connect(reuse_if_open=True)
        person = models.Customer.create(code="654321", name="ACQUE CHIARE S.R.L.",
                                        tax_code="01234560496", email="acque@example.it",
                                        registered_at=models.utcnow(), language="en")
        ticket = models.Ticket.create(customer=person, category="Fatturazione",
                                      subject="Fattura di marzo")
        models.TicketMessage.create(ticket=ticket, body="La fattura è il doppio del solito.")
        backoffice.create_operator("mario.rossi", "Sportello-Prova-2015", name="Mario Rossi")
        models.db.close()
    staff = mail_app.test_client()
    staff.post("/operatore/login", data={"username": "mario.rossi",
                                         "password": "Sportello-Prova-2015"})
    page = staff.post(f"/operatore/ticket/{ticket.id}/rispondi", headers=ENGLISH,
                      data={"message": "Abbiamo ricalcolato la fattura.", "status": "Chiuso"},
                      follow_redirects=True)
    assert '<html lang="it">' in page.text
    assert smtp_server.wait_for(1)
    _, message = smtp_server.messages[0]
    code = models.Ticket.get_by_id(ticket.id).code
    assert message["Subject"] == f"Customer Area: reply to case {code}"
    text = smtp_server.text_of(0)
    assert (f"Customer service has replied to your case {code} "
            "“Fattura di marzo” (status: Closed).") in text


def test_the_switch_in_a_browser_returns_to_the_page_reached_by_htmx(page, live_server, factory,
                                                                      console_errors):
    """Without JavaScript's help: a plain form in the header. After an htmx navigation
    the switch returns to the page on screen (its Referer), not the first one loaded."""
    from playwright.sync_api import expect
    person = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.")
    factory.supply_point(person, "gas")
    page.goto(f"{live_server.url}/login")
    expect(page.get_by_role("heading", name="Autenticazione")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.get_by_label("User").fill("654321")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Home page")).to_be_visible()
    page.wait_for_load_state("load")
    page.get_by_role("navigation", name="Menu").get_by_role("link", name="Invoices").click()
    expect(page).to_have_url(re.compile(r"/fatture"))
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    page.get_by_role("button", name="Italiano").click()
    expect(page.get_by_role("heading", name="Elenco fatture")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/fatture"))
    assert models.Customer.get_by_id(person.id).language == "it"
    assert console_errors == []


def test_a_stored_word_is_translated_as_text_never_as_markup(client, logged_in):
    """Statuses and case types come from the database: translated, but escaped (an
    unknown type reads as "Other")."""
    ticket = models.Ticket.create(customer=logged_in, category="<b>Altro</b>", subject="x",
                                  status="Chiuso", kind="<b>reclamo</b>")
    models.TicketMessage.create(ticket=ticket, body="y")
    page = client.get(f"/ticket/{ticket.id}", headers=ENGLISH).text
    assert "<b>" not in page and "<dd>Other</dd>" in page
    assert ">Closed</span>" in page


def test_the_switch_with_another_customers_point_is_404(client, logged_in, other_customer):
    theirs = other_customer.supply_points_in_order().first()
    for value in ("en", "xx", ""):
        response = client.post("/lingua", data={"lingua": value, "punto": theirs.code})
        assert response.status_code == 404
        assert theirs.code not in response.text
    assert models.Customer.get_by_id(logged_in.id).language is None


# --- The pages of cases, payments, notices and readings in English ------------------------

# Italian words of those pages that must not reach an English page (case-sensitive, whole
# words; the data shown is chosen so that it holds none of them).
ITALIAN_WORDS = ("Fattura", "Fatture", "fattura", "fatture", "bolletta", "bollette", "Scadenza",
                 "scadenza", "Pagamenti", "Segnala", "Annulla", "Invia", "Salva", "Indietro",
                 "Pratica", "pratica", "Ricevuta", "ricevuta", "Oggetto", "Messaggio",
                 "Allegato", "Reclamo", "Stato", "Aperto", "Chiuso", "fornitura", "Autolettura",
                 "autolettura", "Autoletture", "Prelievi", "Domiciliazione", "Come pagare",
                 "Avvisi", "avvisi", "Gentile", "della", "delle", "degli", "il", "di", "che",
                 "una", "sono", "Scegli", "Torna", "Pagata", "Scaduta", "Da pagare",
                 "Da acquisire", "Acquisita", "In attesa", "Attivo")


def visible_text(page):
    """What a reader meets: text, labels, alternatives; not the scripts, the switch to
    Italian, nor the bank transfer's values (the causale is the utility's fixed wording)."""
    page = re.sub(r"(?s)<script.*?</script>|<style.*?</style>", " ", page)
    page = re.sub(r'(?s)<button[^>]*lang="it"[^>]*>.*?</button>', " ", page)
    page = re.sub(r'(?s)<span class="pay-value"[^>]*>.*?</span>', " ", page)
    page = re.sub(r'(?:aria-label|title|alt|placeholder)="([^"]*)"', r"> \1 <", page)
    return re.sub(r"(?s)<[^>]*>", " ", page)


def italian_left(text):
    return [word for word in ITALIAN_WORDS if re.search(rf"(?<![\w/-]){word}(?![\w/-])", text)]


def test_the_pages_of_cases_payments_notices_and_readings_speak_english(app, client, factory,
                                                                         auth):
    from portal import notices, tickets
    customer = factory.customer(language="en", name="MARY 7000061")
    gas = factory.supply_point(customer)
    electricity = factory.supply_point(customer, "electricity")
    day = datetime.date.today()
    invoice = add_invoice(gas, number="FT-7000062", date=day - datetime.timedelta(days=40),
                          due_date=day - datetime.timedelta(days=10), paid=False)
    add_invoice(gas, number="FT-7000063", date=day - datetime.timedelta(days=5),
                due_date=day + datetime.timedelta(days=15), paid=False)
    models.SelfReading.create(supply_point=gas, customer=customer, reading_date=day,
                              meter_reading=7000064, photo_path="readings/7000064.jpg")
    models.DirectDebitMandate.create(reference="MND-7000065", customer=customer,
                                     supply_point=gas, iban="IT60X0542811101000000123456",
                                     account_holder="MARY 7000061")
    with app.test_request_context():
        ticket = tickets.open_ticket(customer, gas, "reclamo", "Q 7000066", "Text 7000066")
        token = notices.unsubscribe_token(customer, notices.PAYMENTS)
    auth.login(customer.code)
    pages = ["/home", "/ticket", "/ticket/nuovo", f"/ticket/{ticket.id}",
             f"/fatture/{invoice.id}", "/pagamenti", "/pagamenti/domiciliazione",
             f"/pagamenti/fatture/{invoice.id}/segnala", "/dati-anagrafici/avvisi",
             f"/autolettura?punto={gas.code}", f"/autolettura/nuova?punto={gas.code}",
             f"/prelievi?punto={electricity.code}", f"/prelievi?punto={gas.code}"]
    pages += [f"/ticket/nuovo?tipo={kind}" for kind in tickets.KINDS]
    for url in pages:
        page = client.get(url)
        assert page.status_code == 200, url
        assert '<html lang="en">' in page.text, url
        assert italian_left(visible_text(page.text)) == [], url
    receipt = client.get(f"/ticket/{ticket.id}/ricevuta.pdf").data
    assert f"(Receipt of case {ticket.code})".encode() in receipt
    received = models.Ticket.get_by_id(ticket.id).received_at
    assert format_english_datetime(received).encode() in receipt
    assert b"Ricevuta" not in receipt and b"Risposta" not in receipt
    auth.logout()
    # Without login: the one-click unsubscribe and the complaint without access.
    for response in (client.get(f"/avvisi/disiscrizione/{token}", headers=ENGLISH),
                     client.post(f"/avvisi/disiscrizione/{token}", headers=ENGLISH),
                     client.get("/ticket/reclamo", headers=ENGLISH),
                     complaint(client, address=""),
                     complaint(client, address="VIA 7000067")):
        assert response.status_code in (200, 422), response.request.path
        assert italian_left(visible_text(response.text)) == [], response.request.path
    assert "mary@example.org" in response.text  # sent: the confirmation mail is queued
    from portal import mail
    confirmation = mail.parsed(models.OutgoingMail.select()
                               .where(models.OutgoingMail.recipient == "mary@example.org")
                               .get())
    link = re.search(r"/ticket/reclamo/conferma/\S+", confirmation.get_body(("plain",))
                     .get_content()).group(0)
    for response in (client.get(link, headers=ENGLISH), client.post(link, headers=ENGLISH)):
        assert response.status_code == 200, response.request.method
        assert italian_left(visible_text(response.text)) == [], response.request.method


def complaint(client, address):
    return client.post("/ticket/reclamo", headers=ENGLISH, data={
        "name": "MARY 7000061", "customer_code": "", "point_code": "PR7000068",
        "address": address, "email": "mary@example.org", "subject": "Q 7000067",
        "message": "Text 7000067"})


def format_english_datetime(value):
    from babel.dates import format_datetime
    local = value.replace(tzinfo=datetime.timezone.utc).astimezone(models.ROME)
    return format_datetime(local.replace(tzinfo=None), "d MMM yyyy HH:mm", locale="en")


def test_the_check_for_italian_words_finds_them():
    assert italian_left(visible_text("<p>La bolletta di marzo</p>")) == ["bolletta", "di"]
    assert italian_left(visible_text('<a href="/fatture/1">See</a> <img alt="Fattura">')) == [
        "Fattura"]


def test_no_template_filters_a_constant(app):
    """Jinja works out a filter of a constant when it compiles the template: one that
    speaks the page's language ("reclamo"|case_kind) would keep the language of the
    request that caused the compile, for every later request and, through the
    template cache, every later worker."""
    pure = {"e", "escape", "safe", "lower", "upper", "replace", "length", "join", "int",
            "string", "trim", "default", "tojson", "urlencode"}
    offenders = []
    for name in app.jinja_env.list_templates():
        source = app.jinja_env.loader.get_source(app.jinja_env, name)[0]
        for node in app.jinja_env.parse(source).find_all(nodes.Filter):
            if isinstance(node.node, nodes.Const) and node.name not in pure:
                offenders.append(f"{name}: {node.node.value!r}|{node.name}")
    assert offenders == []
