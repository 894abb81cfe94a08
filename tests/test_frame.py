"""The page frame: header, menu, supply-point picker, fragments, headers."""
from pathlib import Path

from conftest import make_app


def test_home_shows_welcome_last_access_and_picker(client, logged_in):
    page = client.get("/home")
    assert page.status_code == 200
    assert "Benvenuto <strong>ACQUE CHIARE S.R.L.</strong>" in page.text
    assert "Ultimo accesso: primo accesso" in page.text
    assert "Punto di fornitura:" in page.text
    point = logged_in.supply_points_in_order().first()
    # The address first (a narrow phone cuts the end), then the kind, code and Pdr.
    assert (f"VIA DEI POGGI 5 · Gas {point.code} · 57014 COLLESALVETTI (LI) · Pdr {point.pdr_pod}"
            in page.text)
    assert "Menu Generale" in page.text


def test_fragment_for_htmx_full_page_otherwise(client, logged_in):
    full = client.get("/home")
    fragment = client.get("/home", headers={"HX-Request": "true", "HX-Target": "content"})
    assert "<html" in full.text and "<html" not in fragment.text
    assert "Home Page" in fragment.text
    # The menu, the picker and the flash come out of band with the content.
    assert 'id="menu" class="menu" aria-label="Menu"' in fragment.text
    assert fragment.text.count('hx-swap-oob="true"') == 3
    for response in (full, fragment):
        assert "HX-Request" in response.headers["Vary"]


def test_history_restore_gets_the_full_page(client, logged_in):
    response = client.get("/home", headers={"HX-Request": "true",
                                            "HX-History-Restore-Request": "true"})
    assert "<html" in response.text


def test_supply_point_choice_is_remembered_and_checked(client, logged_in, other_customer):
    gas, electricity = logged_in.supply_points_in_order()
    page = client.get(f"/home?punto={electricity.code}")
    assert f'<option value="{electricity.code}" selected>' in page.text
    assert "Energia elettrica" in page.text and electricity.pdr_pod in page.text
    assert f'<option value="{electricity.code}" selected>' in client.get("/home").text
    assert client.get("/home?punto=PR999001").status_code == 404
    assert other_customer.name not in client.get("/home?punto=PR999001").text


def test_static_files_never_set_the_session_cookie(client, logged_in):
    """A page's stylesheets and scripts may still be loading with the cookie of before
    the customer chose another supply point; had their answers set the cookie, they
    would put the old choice back (every response refreshes the session)."""
    for path in ("/static/css/portal.css", "/static/js/portal.js", "/static/favicon.svg"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, path
    assert "Set-Cookie" in client.get("/home").headers  # pages still refresh the session


def test_security_headers_on_every_response(client, logged_in):
    for url in ("/home", "/login", "/static/css/portal.css", "/pagina-che-non-esiste"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        for directive in ("script-src 'self'", "object-src 'none'", "base-uri 'none'",
                          "frame-ancestors 'none'", "form-action 'self'"):
            assert directive in csp
        assert "unsafe-eval" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
    assert client.get("/home").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/css/portal.css").headers.get("Cache-Control", "")


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_not_found_page_is_italian(client):
    response = client.get("/pagina-che-non-esiste")
    assert response.status_code == 404
    assert "Pagina non trovata" in response.text and "Traceback" not in response.text


def test_unexpected_error_shows_an_incident_id_never_a_trace(app, client, caplog):
    @app.route("/guasto")
    def broken():
        raise ZeroDivisionError("secret detail")

    response = client.get("/guasto")
    assert response.status_code == 500
    assert "Errore del servizio" in response.text and "Codice incidente" in response.text
    assert "secret detail" not in response.text and "ZeroDivisionError" not in response.text
    incident = response.text.split('class="incident">')[1].split("<")[0]
    assert incident in caplog.text  # the log ties the page to the stack trace

    fragment = client.get("/guasto", headers={"HX-Request": "true"})
    assert fragment.status_code == 500 and "<html" not in fragment.text
    assert fragment.headers["HX-Retarget"] == "#flash"


def test_oversize_body_is_refused_with_413(client):
    response = client.post("/login", data={"code": "1" * (7 * 1024 * 1024)})
    assert response.status_code == 413
    assert "dimensione massima" in response.text


CUSTOMER_PAGES = ["/home", "/fatture", "/cambio-password", "/autolettura", "/autolettura/nuova",
                  "/dati-anagrafici", "/prelievi", "/ticket", "/ticket/nuovo", "/dati-tecnici",
                  "/dati-contrattuali", "/documenti", "/misure", "/modulistica"]


def test_any_hx_target_gets_a_page_or_a_fragment_never_an_error(app, client, logged_in):
    """HX-Target is the client's to choose: naming a block the views render only with
    more context (one row of the readings list) gets the full page, not a 500."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    blocks = sorted({block for name in app.jinja_env.list_templates() if name.endswith(".html")
                     for block in app.jinja_env.get_template(name).blocks})
    failures = [(url, block) for url in CUSTOMER_PAGES for block in blocks
                if client.get(url, headers={"HX-Request": "true",
                                            "HX-Target": block.replace("_", "-")}
                              ).status_code >= 500]
    assert failures == []
    row = client.get("/autolettura", headers={"HX-Request": "true", "HX-Target": "reading-row"})
    assert row.status_code == 200 and "<html" in row.text


def test_the_menu_marks_the_parent_entry_on_its_sub_pages(client, logged_in):
    """A sub-page lights its section's entry (aria-current="true"); the entry's own page
    says aria-current="page"; a page under no entry lights none."""
    import datetime
    import re

    from tests.test_invoices import add_invoice
    from tests.test_tickets import make_ticket

    point = logged_in.supply_points_in_order().first()
    invoice = add_invoice(point, "FT-9100001", datetime.date(2025, 3, 10))
    ticket = make_ticket(logged_in)

    def current(url, headers=None):
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200, url
        menu = response.text[response.text.index('id="menu"'):]
        menu = menu[:menu.index("</nav>")]
        return re.findall(r'aria-current="(\w+)">([^<]+)</a>', menu)

    assert current("/fatture") == [("page", "Elenco fatture")]
    assert current(f"/fatture/{invoice.id}") == [("true", "Elenco fatture")]
    assert current("/dati-anagrafici/avvisi") == [("true", "Dati Anagrafici")]
    assert current(f"/ticket/{ticket.id}") == [("true", "Ticket")]
    assert current("/ticket/nuovo") == [("true", "Ticket")]
    assert current("/pagamenti/domiciliazione") == [("true", "Pagamenti")]
    # An htmx swap of the content sends the menu out of band, marked the same way.
    assert current(f"/fatture/{invoice.id}", {"HX-Request": "true", "HX-Target": "content"}) == [
        ("true", "Elenco fatture")]
    assert current("/privacy") == []


def test_what_the_frame_keeps_between_requests_shows_nobody_else_s_data(app, customer,
                                                                          other_customer):
    """The menu's URLs, the static URLs and the catalogues are kept per process: two
    customers taking turns on the same process each see their own name, points, commodity
    entries and language, request after request."""
    import models

    models.Customer.update(language="en").where(models.Customer.id == other_customer.id).execute()
    first, second = app.test_client(), app.test_client()
    from tests.conftest import Auth
    assert Auth(first).login(customer.code).status_code == 303
    assert Auth(second).login(other_customer.code).status_code == 303
    gas = customer.supply_points_in_order().first()
    for _ in range(2):
        mine = first.get("/home").text
        theirs = second.get("/home", headers={"HX-Request": "true", "HX-Target": "content"}).text
        assert "ACQUE CHIARE S.R.L." in mine and "ALTRO CLIENTE SEGRETO" not in mine
        assert "PR999001" not in mine and gas.code in mine
        assert "Elenco fatture" in mine and "Misure elettriche" not in mine  # a gas point
        assert "PR999001" in theirs and gas.code not in theirs
        assert "Invoices" in theirs and "Elenco fatture" not in theirs
        assert 'aria-current="page">Home page</a>' in theirs
        assert 'aria-current="page">Home Page</a>' in mine


def test_home_tells_the_open_reading_window_else_the_next_one(client, logged_in):
    """One query gives both: the open window (the latest started of those open), else the
    soonest to open, else none; another point's windows do not count."""
    import datetime

    import models

    gas, electricity = logged_in.supply_points_in_order()
    url = f"/home?punto={gas.code}"
    assert "Nessun periodo di autolettura previsto." in client.get(url).text
    now = models.rome_now().replace(microsecond=0)
    models.ReadingWindow.create(supply_point=electricity, start_at=now - datetime.timedelta(days=1),
                                end_at=now + datetime.timedelta(days=1))
    models.ReadingWindow.create(start_at=datetime.datetime(2099, 3, 2, 8, 0),
                                        end_at=datetime.datetime(2099, 3, 9, 18, 0))
    models.ReadingWindow.create(start_at=datetime.datetime(2099, 5, 2, 8, 0),
                                end_at=datetime.datetime(2099, 5, 9, 18, 0))
    page = client.get(url).text
    assert "Il prossimo periodo di autolettura apre il 02/03/2099 alle 08:00." in page
    models.ReadingWindow.create(start_at=now - datetime.timedelta(days=10),
                                end_at=now + datetime.timedelta(days=30))
    models.ReadingWindow.create(start_at=now - datetime.timedelta(days=2),
                                end_at=datetime.datetime(2098, 1, 31, 23, 59))
    page = client.get(url).text
    assert "Puoi inserire l'autolettura fino al 31/01/2098 alle 23:59." in page


def test_compiled_templates_are_kept_for_the_next_process(app, client, tmp_path):
    """A worker started later loads the compiled templates instead of compiling them."""
    assert client.get("/login").status_code == 200
    kept = list((Path(app.instance_path) / "template-cache").glob("*.cache"))
    assert kept
    later = make_app(tmp_path / "later", DATABASE_URL=app.config["DATABASE_URL"])

    def no_compiling(*args, **kwargs):
        raise AssertionError("a template was compiled again")

    later.jinja_env.compile = no_compiling
    page = later.test_client().get("/login")
    assert page.status_code == 200 and "<h1>Autenticazione</h1>" in page.text
