"""What the accessibility work promises in the markup: the footer and its pages whose
text the utility sets, the login hint, one id per control, the picker's landmark, the
live region outside the swapped areas, the deletion's announcement."""
import json
import re
from collections import Counter

import models
from portal import backoffice
from conftest import make_app

OPERATOR_PASSWORD = "Sportello-di-prova-2015"


def ids_of(html):
    return Counter(re.findall(r'\sid="([^"]+)"', html))


def test_the_footer_names_the_utility_and_links_its_pages(client, auth, customer, app):
    app.config["COMPANY_VAT_NUMBER"] = "01234567890"
    pages = [client.get(url).text for url in ("/login", "/privacy", "/operatore/login")]
    auth.login(customer.code)
    pages += [client.get(url).text for url in ("/home", "/accessibilita")]
    for page in pages:
        footer = page.split('<footer class="bottom">', 1)[1]
        assert "P. IVA 01234567890" in footer
        assert 'href="/privacy">Informativa privacy</a>' in footer
        assert 'href="/accessibilita">Dichiarazione di accessibilità</a>' in footer
        assert 'href="/accessibilita#feedback">Segnala un problema di accessibilità</a>' in footer


def test_footer_pages_show_the_default_text_to_anybody(client, app):
    privacy = client.get("/privacy")
    assert privacy.status_code == 200
    assert "<h1>Informativa privacy</h1>" in privacy.text
    assert f"{app.config['COMPANY_NAME']}, {app.config['COMPANY_ADDRESS']}" in privacy.text
    statement = client.get("/accessibilita")
    assert statement.status_code == 200
    assert "legge 9 gennaio 2004, n. 4" in statement.text
    feedback = statement.text.split('<h2 id="feedback">', 1)[1]
    assert f'href="mailto:{app.config["COMPANY_EMAIL"]}?subject=' in feedback
    assert "form.agid.gov.it" in feedback


def test_the_utility_sets_the_text_of_its_footer_pages(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "accessibilita.txt").write_text(
        "La nostra dichiarazione.\nSu due righe.\n\n## Stato di conformità\n\n"
        "Parzialmente conforme <script>alert(1)</script>\n", encoding="utf-8")
    application = make_app(tmp_path / "app", INFO_PAGES_DIR=str(pages))
    client = application.test_client()
    page = client.get("/accessibilita").text
    assert "<p>La nostra dichiarazione. Su due righe.</p>" in page
    assert "<h2>Stato di conformità</h2>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "legge 9 gennaio 2004" not in page  # the default text gave way
    assert '<h2 id="feedback">' in page  # the feedback channel stays
    # The privacy notice has no file: its default text.
    assert "Titolare del trattamento" in client.get("/privacy").text
    models.db.close_all()


def test_the_login_code_field_says_it_is_the_six_digit_customer_code(client):
    page = client.get("/login").text
    assert '<label for="code">User</label>' in page
    field = re.search(r"<input[^>]*\bid=\"code\"[^>]*>", page).group(0)
    assert 'aria-describedby="code-hint"' in field
    assert re.search(r'<p class="hint" id="code-hint">[^<]*codice cliente di 6 cifre', page)


def test_back_office_header_says_back_office(client, app):
    assert 'class="brand-area">Back-office<' in client.get("/operatore/login").text
    assert 'class="brand-area">Area Clienti<' in client.get("/login").text


def test_operator_ticket_page_has_one_id_per_control(client, app, customer):
    backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD, name="Mario Rossi")
    client.post("/operatore/login", data={"username": "mario.rossi", "password": OPERATOR_PASSWORD})
    ticket = models.Ticket.create(customer=customer, subject="Bolletta", category="fatturazione")
    models.TicketMessage.create(ticket=ticket, body="Non mi torna.")
    page = client.get(f"/operatore/ticket/{ticket.id}").text
    assert [name for name, count in ids_of(page).items() if count > 1] == []
    # Both selects keep the name their views read.
    assert re.search(r'<select[^>]*id="reply-status"[^>]*name="status"', page)
    assert re.search(r'<select[^>]*id="status"[^>]*name="status"', page)
    assert '<label for="reply-status">Stato dopo la risposta</label>' in page


def test_picker_is_a_landmark_that_changes_only_on_submit(client, logged_in):
    page = client.get("/home").text
    picker = re.search(r'<form id="supply-picker"[^>]*>', page).group(0)
    assert 'aria-label="Scelta del punto di fornitura"' in picker
    assert "hx-trigger" not in picker  # htmx submits the form: no request per arrow key
    assert '<button type="submit" class="button button--secondary" >Cambia punto</button>' in page


def test_one_live_region_outside_the_swapped_areas(client, logged_in):
    page = client.get("/home").text
    assert page.count('aria-live=') == 1
    region = re.search(r'<div id="announcer"[^>]*>', page).group(0)
    assert 'role="status"' in region and 'aria-live="polite"' in region
    # Not inside #content, the menu, the picker or #flash (each replaced by swaps).
    assert page.index('id="announcer"') > page.index("</main>")
    assert page.index('id="announcer"') > page.index("</footer>")
    fragment = client.get("/home", headers={"HX-Request": "true", "HX-Target": "content"}).text
    assert 'id="announcer"' not in fragment


def test_a_deleted_reading_is_announced(client, logged_in):
    gas = logged_in.supply_points_in_order().first()
    reading = models.SelfReading.create(supply_point=gas, reading_date="2015-02-15",
                                        meter_reading=45000, corrector_reading=1)
    response = client.post(f"/autolettura/{reading.id}/cancella",
                           headers={"HX-Request": "true", "HX-Target": f"reading-{reading.id}"})
    assert response.status_code == 200 and response.text == ""
    assert json.loads(response.headers["HX-Trigger-After-Settle"]) == {
        "announce": "Lettura del 15/02/2015 cancellata."}


def test_form_errors_and_flash_messages_are_marked_to_be_announced(client, logged_in):
    gas = logged_in.supply_points_in_order().first()
    refused = client.post("/autolettura", data={"punto": gas.code, "meter_reading": "abc"},
                          headers={"HX-Request": "true", "HX-Target": "reading-form"})
    assert refused.status_code == 422
    # portal.js reads out every field error (templates/_form.html) as it appears.
    assert re.search(r'<p class="error" id="meter_reading-error">', refused.text)
    reading = models.SelfReading.create(supply_point=gas, reading_date="2015-02-16",
                                        meter_reading=45000, corrector_reading=1)
    client.post(f"/autolettura/{reading.id}/cancella")
    page = client.get(f"/autolettura?punto={gas.code}").text
    assert '<p class="notice notice--success" data-announce>Lettura del 16/02/2015 cancellata.</p>' in page
