"""Operatori: the admins' page of back-office accounts (list, new operator, deactivate
and reactivate, a new password), its authorisation, its audit rows and CSRF."""
import re

import pytest

from portal import backoffice
from conftest import make_app
from models import AuditLog, Operator
from test_backoffice import (  # noqa: F401 (admin, admin_client, operator, staff are fixtures)
    ADMIN_PASSWORD, OPERATOR_PASSWORD, admin, admin_client, operator, operator_login, staff)

NEW_PASSWORD = "una-frase-nuova-e-lunga"
OWN_PASSWORD = "solo-io-la-conosco-davvero"
HTMX_FORM = {"HX-Request": "true", "HX-Target": "operator-form"}


def new_operator(**fields):
    values = {"username": "giulia.verdi", "name": "Giulia Verdi", "role": "operator",
              "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    values.update(fields)
    return values


def audit_rows(event):
    return list(AuditLog.select().where(AuditLog.event == event).order_by(AuditLog.id))


def account(username):
    return Operator.get(Operator.username == username)


def account_urls(operator_id):
    """Every route of the page, as (method, url)."""
    return [("GET", "/operatore/operatori"), ("POST", "/operatore/operatori"),
            ("GET", f"/operatore/operatori/{operator_id}/password"),
            ("POST", f"/operatore/operatori/{operator_id}/password"),
            ("POST", f"/operatore/operatori/{operator_id}/disattiva"),
            ("POST", f"/operatore/operatori/{operator_id}/riattiva")]


# --- Who may use it ---------------------------------------------------------------------

def test_plain_operators_are_refused_every_route(staff, operator, admin, admin_client):
    assert "Operatori" not in staff.get("/operatore/ticket").text  # not offered
    assert 'href="/operatore/operatori"' in admin_client.get("/operatore/ticket").text
    for method, url in account_urls(admin.id) + account_urls(operator.id):
        response = staff.open(url, method=method, data=new_operator(username="intruso"))
        assert response.status_code == 403, (method, url)
        assert "Non hai accesso a questa pagina." in response.text
    assert Operator.select().count() == 2
    assert account("capo").active and account("mario.rossi").active
    assert account("mario.rossi").session_version == operator.session_version


def test_anonymous_visitors_go_to_the_operator_login(client, admin):
    for method, url in account_urls(admin.id):
        response = client.open(url, method=method, data=new_operator())
        assert response.status_code == 303, (method, url)
        expected = f"/operatore/login?next={url}" if method == "GET" else "/operatore/login"
        assert response.headers["Location"] == expected
    assert Operator.select().count() == 1 and account("capo").active


def test_unknown_operators_are_not_found(admin_client):
    for method, url in account_urls(9999)[2:]:
        assert admin_client.open(url, method=method).status_code == 404, (method, url)


# --- The list and a new operator ----------------------------------------------------------

def test_list_shows_every_account_with_role_state_and_last_login(admin_client, operator, admin):
    backoffice.set_active(operator, False)
    page = admin_client.get("/operatore/operatori")
    assert page.status_code == 200
    rows = page.text.split("<tbody>")[1].split("</tbody>")[0]
    capo, mario = rows.split("</tr>")[:2]
    assert "capo" in capo and "Anna Capo" in capo and "Amministratore" in capo and "Attivo" in capo
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", capo)  # logged in just now
    assert "Il tuo account" in capo and "Disattiva" not in capo and "Nuova password" not in capo
    assert "mario.rossi" in mario and "Mario Rossi" in mario and ">Operatore<" in mario
    assert "Disattivato" in mario and "Riattiva" in mario and "—" in mario  # never logged in
    assert "Nuovo operatore" in page.text


def test_an_operator_created_on_the_page_can_log_in(app, admin_client, admin):
    response = admin_client.post("/operatore/operatori",
                                 data=new_operator(username=" Giulia.Verdi ", role="admin"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/operatore/operatori"
    page = admin_client.get("/operatore/operatori").text
    assert ("Operatore «giulia.verdi» creato: comunicagli la password scelta, che dovrà "
            "cambiare al primo accesso.") in page
    assert "Giulia Verdi" in page.split("<tbody>")[1]
    created = account("giulia.verdi")
    assert (created.name, created.role, created.active) == ("Giulia Verdi", "admin", True)
    assert created.password_hash.startswith("$argon2id$")
    [row] = audit_rows("operator_account_created")
    assert row.operator_id == admin.id and row.detail == "«giulia.verdi», admin"
    assert NEW_PASSWORD not in row.detail
    colleague = app.test_client()
    assert operator_login(colleague, "giulia.verdi", NEW_PASSWORD).status_code == 303
    # The admin chose the password: the colleague replaces it before anything else.
    assert colleague.get("/operatore/operatori").headers["Location"] == "/operatore/password"
    assert colleague.post("/operatore/password", data={
        "current_password": NEW_PASSWORD, "password": OWN_PASSWORD,
        "confirm": OWN_PASSWORD}).status_code == 303
    assert colleague.get("/operatore/operatori").status_code == 200  # an admin


def test_new_operator_errors_stand_beside_their_fields(admin_client):
    response = admin_client.post("/operatore/operatori", data=new_operator(
        username="A B", name="Giulia " * 20, role="root", password="corta", confirm="altra"))
    assert response.status_code == 422
    errors = dict(re.findall(r'<p class="error" id="([a-z]+)-error">([^<]+)</p>', response.text))
    assert errors["username"].startswith("Nome utente non valido: 3-32 caratteri")
    assert errors["name"] == "Nome troppo lungo: al massimo 100 caratteri."
    assert errors["role"] == "Scegli un ruolo dall&#39;elenco."
    assert "almeno 10 caratteri" in errors["password"]
    assert errors["confirm"] == "Le due password non coincidono."
    assert 'value="A B"' in response.text  # what was typed stays ...
    assert "corta" not in response.text and "altra" not in response.text  # ... but no password
    assert Operator.select().count() == 1


@pytest.mark.parametrize("fields, message", [
    ({"username": "MARIO.ROSSI"}, "Esiste già un operatore «mario.rossi»."),
    ({"password": "password123", "confirm": "password123"}, "tra le più usate"),
    ({"password": "giulia.verdi-2025", "confirm": "giulia.verdi-2025"},
     "La password non può contenere il nome utente."),
    ({"username": ""}, "Campo obbligatorio."),
    ({"confirm": ""}, "Campo obbligatorio."),
])
def test_duplicates_and_the_password_policy_are_refused(admin_client, operator, fields, message):
    response = admin_client.post("/operatore/operatori", data=new_operator(**fields),
                                 headers=HTMX_FORM)
    assert response.status_code == 422
    assert "<html" not in response.text and "<h2>Nuovo operatore</h2>" in response.text
    assert message in response.text
    assert Operator.select().count() == 2


# --- Deactivate and reactivate ------------------------------------------------------------

def test_deactivation_ends_the_sessions_and_reactivation_lets_back_in(app, admin_client, admin, staff, operator):
    assert staff.get("/operatore/ticket").status_code == 200
    response = admin_client.post(f"/operatore/operatori/{operator.id}/disattiva",
                                 headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/operatore/operatori"
    assert "Operatore «mario.rossi» disattivato: le sue sessioni sono terminate." in \
        admin_client.get("/operatore/operatori").text
    assert account("mario.rossi").active is False
    ended = staff.get("/operatore/ticket")  # the open session is over
    assert ended.status_code == 303 and ended.headers["Location"].startswith("/operatore/login")
    assert operator_login(app.test_client(), "mario.rossi", OPERATOR_PASSWORD).status_code == 422
    assert admin_client.post(f"/operatore/operatori/{operator.id}/riattiva").status_code == 303
    assert account("mario.rossi").active is True
    assert operator_login(app.test_client(), "mario.rossi", OPERATOR_PASSWORD).status_code == 303
    for event in ("operator_account_deactivated", "operator_account_reactivated"):
        [row] = audit_rows(event)
        assert (row.operator_id, row.detail) == (admin.id, "«mario.rossi»")


def test_an_admin_cannot_deactivate_themselves(admin_client, admin):
    response = admin_client.post(f"/operatore/operatori/{admin.id}/disattiva")
    assert response.status_code == 303
    page = admin_client.get("/operatore/operatori")  # still logged in
    assert page.status_code == 200
    assert "Non puoi disattivare il tuo account: chiedi a un altro amministratore." in page.text
    assert account("capo").active and account("capo").session_version == admin.session_version
    assert audit_rows("operator_account_deactivated") == []


# --- A new password -----------------------------------------------------------------------

def test_a_new_password_ends_the_colleagues_sessions(app, admin_client, admin, staff, operator):
    url = f"/operatore/operatori/{operator.id}/password"
    form = admin_client.get(url, headers={"HX-Request": "true", "HX-Target": "content"})
    assert form.status_code == 200 and "<html" not in form.text
    assert "Nuova password per «mario.rossi»" in form.text and 'class="editing"' in form.text
    mismatch = admin_client.post(url, data={"password": NEW_PASSWORD, "confirm": "diversa"},
                                 headers=HTMX_FORM)
    assert mismatch.status_code == 422 and "<html" not in mismatch.text
    assert "Le due password non coincidono." in mismatch.text and NEW_PASSWORD not in mismatch.text
    weak = admin_client.post(url, data={"password": "mario.rossi-2025", "confirm": "mario.rossi-2025"})
    assert weak.status_code == 422 and "La password non può contenere il nome utente." in weak.text
    assert staff.get("/operatore/ticket").status_code == 200  # nothing changed yet
    done = admin_client.post(url, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303
    assert "Nuova password impostata per «mario.rossi»" in admin_client.get("/operatore/operatori").text
    assert staff.get("/operatore/ticket").status_code == 303
    assert operator_login(app.test_client(), "mario.rossi", OPERATOR_PASSWORD).status_code == 422
    assert operator_login(app.test_client(), "mario.rossi", NEW_PASSWORD).status_code == 303
    [row] = audit_rows("operator_password_set")
    assert (row.operator_id, row.detail) == (admin.id, "«mario.rossi»")


def test_an_admin_cannot_set_their_own_password_here(admin_client, admin):
    url = f"/operatore/operatori/{admin.id}/password"
    for method in ("GET", "POST"):
        response = admin_client.open(url, method=method,
                                     data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert response.status_code == 303, method
    page = admin_client.get("/operatore/operatori")
    assert page.status_code == 200
    assert "La tua password non si cambia da qui" in page.text
    assert account("capo").password_hash == admin.password_hash
    assert audit_rows("operator_password_set") == []


# --- Fragments and CSRF -------------------------------------------------------------------

def test_the_page_is_a_full_page_and_an_htmx_fragment(admin_client):
    full = admin_client.get("/operatore/operatori")
    assert "<html" in full.text and "<title>Operatori · Back-office" in full.text
    fragment = admin_client.get("/operatore/operatori",
                                headers={"HX-Request": "true", "HX-Target": "content"})
    assert "<html" not in fragment.text and "<h1>Operatori</h1>" in fragment.text
    assert 'aria-current="page">Operatori</a>' in fragment.text
    assert "HX-Request" in fragment.headers.get("Vary", "")


def test_posts_without_csrf_token_are_refused(app, tmp_path):
    application = make_app(tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    backoffice.create_operator("capo", ADMIN_PASSWORD, role="admin")
    colleague = backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD)
    client = application.test_client()
    login_page = client.get("/operatore/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    operator_login(client, "capo", ADMIN_PASSWORD, headers={"X-CSRFToken": token})
    page = client.get("/operatore/operatori").text
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    posts = [("/operatore/operatori", new_operator()),
             (f"/operatore/operatori/{colleague.id}/password",
              {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
             (f"/operatore/operatori/{colleague.id}/disattiva", {})]
    for url, data in posts:
        refused = client.post(url, data=data)
        assert refused.status_code == 400, url
        assert "ricarica la pagina e riprova" in refused.text
    assert Operator.select().count() == 2
    assert account("mario.rossi").password_hash == colleague.password_hash
    assert account("mario.rossi").active
    for url, data in posts:
        assert client.post(url, data=data, headers={"X-CSRFToken": header_token}).status_code == 303
    assert not account("mario.rossi").active and Operator.select().count() == 3


# --- Passwords an admin chose are temporary; every operator's own page ---------------

def test_a_password_set_by_an_admin_must_be_changed_at_next_login(app, admin_client, operator):
    admin_client.post(f"/operatore/operatori/{operator.id}/password",
                      data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert account("mario.rossi").must_change_password
    colleague = app.test_client()
    assert operator_login(colleague, "mario.rossi", NEW_PASSWORD).status_code == 303
    for url in ("/operatore/ticket", "/operatore/clienti", "/operatore"):
        assert colleague.get(url).headers["Location"] == "/operatore/password", url
    htmx = colleague.get("/operatore/ticket", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/operatore/password"
    page = colleague.get("/operatore/password")
    assert page.status_code == 200
    assert "La tua password è stata scelta da un amministratore" in page.text
    same = colleague.post("/operatore/password", data={
        "current_password": NEW_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert same.status_code == 422 and "deve essere diversa da quella attuale" in same.text
    changed = colleague.post("/operatore/password", data={
        "current_password": NEW_PASSWORD, "password": OWN_PASSWORD, "confirm": OWN_PASSWORD})
    assert changed.status_code == 303 and changed.headers["Location"] == "/operatore/ticket"
    assert colleague.get("/operatore/ticket").status_code == 200
    assert not account("mario.rossi").must_change_password
    # The admin no longer knows a working password of the colleague.
    assert operator_login(app.test_client(), "mario.rossi", NEW_PASSWORD).status_code == 422
    assert operator_login(app.test_client(), "mario.rossi", OWN_PASSWORD).status_code == 303
    [row] = audit_rows("operator_password_changed")
    assert row.operator_id == operator.id


def test_own_password_page_checks_the_current_one_and_ends_other_sessions(app, staff, operator):
    page = staff.get("/operatore/ticket")
    assert 'href="/operatore/password"' in page.text and "La mia password" in page.text
    other_session = app.test_client()
    operator_login(other_session, "mario.rossi", OPERATOR_PASSWORD)
    wrong = staff.post("/operatore/password", headers={"HX-Request": "true",
                                                       "HX-Target": "own-password"},
                       data={"current_password": "non-e-questa", "password": OWN_PASSWORD,
                             "confirm": OWN_PASSWORD})
    assert wrong.status_code == 422 and "<html" not in wrong.text
    assert "La password attuale non è corretta." in wrong.text and OWN_PASSWORD not in wrong.text
    assert [row.detail for row in audit_rows("operator_password_change_refused")] == [
        "wrong current password"]
    assert account("mario.rossi").failed_logins == 1  # toward the lockout
    weak = staff.post("/operatore/password", data={
        "current_password": OPERATOR_PASSWORD, "password": "corta", "confirm": "corta"})
    assert weak.status_code == 422 and "almeno 10 caratteri" in weak.text
    done = staff.post("/operatore/password", headers={"HX-Request": "true"}, data={
        "current_password": OPERATOR_PASSWORD, "password": OWN_PASSWORD, "confirm": OWN_PASSWORD})
    assert done.headers["HX-Redirect"] == "/operatore/ticket"
    assert staff.get("/operatore/ticket").status_code == 200  # this session goes on
    assert other_session.get("/operatore/ticket").status_code == 303  # the other ends
    assert not account("mario.rossi").must_change_password


def test_own_password_post_without_csrf_token_is_refused(tmp_path):
    application = make_app(tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD)
    client = application.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/operatore/login").text).group(1)
    operator_login(client, "mario.rossi", OPERATOR_PASSWORD, headers={"X-CSRFToken": token})
    page = client.get("/operatore/password").text
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    data = {"current_password": OPERATOR_PASSWORD, "password": OWN_PASSWORD,
            "confirm": OWN_PASSWORD}
    refused = client.post("/operatore/password", data=data)
    assert refused.status_code == 400 and "ricarica la pagina e riprova" in refused.text
    assert backoffice.authenticate("mario.rossi", OPERATOR_PASSWORD) is not None
    assert client.post("/operatore/password", data=data,
                       headers={"X-CSRFToken": header_token}).status_code == 303
    assert backoffice.authenticate("mario.rossi", OWN_PASSWORD) is not None
