"""Hostile input never yields a 5xx.

The forms are not listed by hand: every page a customer (or a back-office admin) can
open is crawled, every `<form>` on it is collected (action, method, field names), and
Hypothesis fills them with codes, dates, numbers, NUL bytes, unicode and huge values.
The normal suite runs a few examples per form; `make fuzz` runs FUZZ_EXAMPLES (1,000)
per form."""
import os
from html.parser import HTMLParser
from urllib.parse import urlsplit

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import backoffice
from models import ReadingWindow, Ticket, TicketMessage

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("FUZZ_EXAMPLES"),
                suppress_health_check=list(HealthCheck))

# Values a hostile or clumsy user sends: each field draws from all of them.
VALUES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
    st.sampled_from(["", " ", "\x00", "0", "-1", "1e309", "NaN", "999999999999999999999999",
                     "45.000", "45,5", "2015-02-15", "15/02/2015", "31/02/2015", "2015-13-45",
                     "00:00", "24:61", "654321", "999888", "PR999001", "../../etc/passwd",
                     "<script>alert(1)</script>", "' OR 1=1 --", "=cmd|' /C calc'!A0",
                     "x" * 10_000, "true", "on", "gas", "electricity"]),
    st.integers(min_value=-10**20, max_value=10**20).map(str),
    st.dates().map(lambda day: day.isoformat()),
)


class FormCollector(HTMLParser):
    """Every <form>: its action, method and the names of its fields."""

    def __init__(self):
        super().__init__()
        self.forms, self.links = [], set()
        self._current = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._current = {"action": attrs.get("action") or "", "method":
                             (attrs.get("method") or "get").lower(), "fields": set()}
            self.forms.append(self._current)
        elif tag in ("input", "select", "textarea", "button") and self._current is not None:
            if attrs.get("name") and attrs.get("name") != "csrf_token":
                self._current["fields"].add(attrs["name"])
        elif tag == "a" and (attrs.get("href") or "").startswith("/"):
            self.links.add(attrs["href"])
        if (attrs.get("hx-get") or "").startswith("/"):
            self.links.add(attrs["hx-get"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def crawl(client, start="/home", limit=200):
    """Pages reachable by links from `start` (GET, same site, no logout) and their forms."""
    seen, queue, forms = set(), [start], {}
    while queue and len(seen) < limit:
        url = queue.pop()
        path = urlsplit(url).path
        if url in seen or path.endswith((".pdf", ".csv", ".js", ".css", ".svg")):
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        collector = FormCollector()
        collector.feed(response.text)
        for form in collector.forms:
            action = form["action"] or path
            key = (urlsplit(action).path, form["method"])
            forms.setdefault(key, set()).update(form["fields"])
        queue.extend(link for link in collector.links if link not in seen)
    return seen, forms


@pytest.fixture
def portal(client, factory, other_customer):
    """A logged-in customer with both commodities, and the forms of every page."""
    person = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.")
    factory.supply_point(person, "gas", has_corrector=True)
    factory.supply_point(person, "electricity")
    anonymous_pages, anonymous_forms = crawl(client, "/login")
    client.post("/login", data={"code": "654321", "password": "una-password-sicura"})
    pages, forms = crawl(client, "/home")
    # Logging out or changing the password would end the crawl's session: fuzzed apart.
    forms.pop(("/logout", "post"), None)
    return client, pages | anonymous_pages, {**anonymous_forms, **forms}


@pytest.fixture
def backoffice_portal(app, factory):
    """An admin logged in to the back-office, with a ticket, a reading window and a
    customer to find, and the forms of every back-office page."""
    person = factory.customer(code="654321", name="ACQUE CHIARE S.R.L.")
    point = factory.supply_point(person, "gas", has_corrector=True)
    ticket = Ticket.create(customer=person, supply_point=point, category="Letture",
                           subject="Lettura errata")
    TicketMessage.create(ticket=ticket, body="Il contatore segna 44.100.")
    ReadingWindow.create(start_at=datetime.datetime(2030, 2, 11, 8, 0),
                         end_at=datetime.datetime(2030, 2, 14, 22, 0))
    backoffice.create_operator("capo", "sportello-collesalvetti-2015", role="admin", name="Anna Capo")
    # A colleague, so that the Operatori page offers its per-account forms (the admin's
    # own row offers none: those would end the crawl's session).
    backoffice.create_operator("mario.rossi", "sportello-di-collesalvetti", name="Mario Rossi")
    client = app.test_client()
    client.post("/operatore/login", data={"username": "capo", "password": "sportello-collesalvetti-2015"})
    pages, forms = crawl(client, "/operatore/ticket")
    pages |= {"/operatore/clienti/654321", f"/operatore/ticket/{ticket.id}"}
    forms.pop(("/operatore/logout", "post"), None)
    return client, pages, forms


def test_crawl_finds_the_forms(portal):
    client, pages, forms = portal
    assert ("/login", "post") in forms and {"code", "password"} <= forms[("/login", "post")]
    assert ("/cambio-password", "post") in forms
    assert "/home" in pages


def test_every_form_survives_hostile_input(portal):
    client, pages, forms = portal
    failures = []
    for (action, method), fields in sorted(forms.items()):
        names = sorted(fields | {"punto"})

        @FUZZ
        @given(values=st.fixed_dictionaries({name: VALUES for name in names}))
        def send(values):
            response = (client.post(action, data=values) if method == "post"
                        else client.get(action, query_string=values))
            if response.status_code >= 500:
                failures.append((action, method, values, response.status_code))
            assert response.status_code < 500

        send()
    assert failures == []


def test_every_back_office_form_and_page_survives_hostile_input(backoffice_portal):
    client, pages, forms = backoffice_portal
    assert ("/operatore/finestre", "post") in forms and "/operatore/ticket" in pages
    assert any(action.endswith("/rispondi") for action, _ in forms)
    assert ("/operatore/operatori", "post") in forms
    assert any(action.endswith("/disattiva") for action, _ in forms)
    assert any(action.endswith("/password") for action, _ in forms)
    for (action, method), fields in sorted(forms.items()):
        names = sorted(fields)

        @FUZZ
        @given(values=st.fixed_dictionaries({name: VALUES for name in names}))
        def send(values):
            response = (client.post(action, data=values) if method == "post"
                        else client.get(action, query_string=values))
            assert response.status_code < 500, (action, method, values)

        send()
    names = ["q", "stato", "categoria", "pagina", "righe", "evento", "cliente", "operatore", "dal",
             "al"]

    @FUZZ
    @given(values=st.fixed_dictionaries({name: VALUES for name in names}),
           page=st.sampled_from(sorted(pages)))
    def visit(values, page):
        response = client.get(urlsplit(page).path, query_string=values)
        assert response.status_code < 500, (page, values)

    visit()


def test_every_page_survives_hostile_query_strings(portal):
    client, pages, forms = portal
    names = ["punto", "page", "pagina", "anno", "year", "dal", "al", "righe", "per_page",
             "vista", "next", "q", "stato", "categoria"]

    @FUZZ
    @given(values=st.fixed_dictionaries({name: VALUES for name in names}),
           page=st.sampled_from(sorted(pages)))
    def visit(values, page):
        response = client.get(urlsplit(page).path, query_string=values,
                              headers={"HX-Request": "true"} if len(values["q"]) % 2 else {})
        assert response.status_code < 500, (page, values)

    visit()


@pytest.mark.parametrize("body", [b"code=%FF%FE&password=%C3%28", b"\xff\xfe\x00\x01",
                                  b"code=" + b"%00" * 100 + b"&password=x"])
def test_invalid_utf8_and_nul_bytes(portal, body):
    client, pages, forms = portal
    for action, method in forms:
        if method == "post":
            response = client.post(action, data=body,
                                   content_type="application/x-www-form-urlencoded")
            assert response.status_code < 500, action


def test_wrong_methods_are_refused_not_crashed(portal):
    client, pages, forms = portal
    for page in pages:
        for method in ("put", "patch", "delete"):
            response = getattr(client, method)(urlsplit(page).path)
            assert response.status_code in (302, 400, 404, 405), (method, page)
