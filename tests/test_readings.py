"""Autolettura Contatore: the page, its fragments, the rules of a reading, the delete."""
import datetime
import html

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models
from portal import readings
from conftest import PASSWORD
from models import ROME, ReadingWindow, SelfReading

HTMX = {"HX-Request": "true"}
ONE_A_DAY = "è possibile inserire una sola lettura al giorno"


def htmx(target):
    return {**HTMX, "HX-Target": target}


def rome(*parts):
    """A Rome wall-clock moment, for time_machine."""
    return datetime.datetime(*parts, tzinfo=ROME)


@pytest.fixture
def gas_point(customer):
    """The customer's gas point, with a corrector (selected first: codes sort it first)."""
    return customer.supply_points_in_order().where(models.SupplyPoint.commodity == "gas").get()


@pytest.fixture
def electricity_point(customer):
    return customer.supply_points_in_order().where(
        models.SupplyPoint.commodity == "electricity").get()


@pytest.fixture
def always_open(app):
    """The seed's window, open from 2010 to 2099."""
    return ReadingWindow.create(start_at=datetime.datetime(2010, 2, 11, 8, 0),
                                end_at=datetime.datetime(2099, 2, 14, 22, 0))


def acquired(point, day, meter, corrector=None, **fields):
    return SelfReading.create(supply_point=point, reading_date=day, meter_reading=meter,
                              corrector_reading=corrector, status=SelfReading.ACQUIRED,
                              acquired_at=models.utcnow(), **fields)


def save(client, point, meter, corrector=None, **extra):
    data = {"punto": point.code, "meter_reading": meter}
    if corrector is not None:
        data["corrector_reading"] = corrector
    data.update(extra)
    return client.post("/autolettura", data=data, headers=htmx("reading-form"))


def login(client, customer):
    """Log in afresh at the (travelled) time: jumping hours ahead ends an idle session."""
    client.post("/logout")
    response = client.post("/login", data={"code": customer.code, "password": PASSWORD})
    assert response.status_code == 303


# --- The page -------------------------------------------------------------------------

def test_anonymous_is_sent_to_login(client):
    response = client.get("/autolettura")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_page_has_the_seed_list_windows_and_notes(client, logged_in, gas_point, always_open):
    acquired(gas_point, datetime.date(2015, 2, 15), 45000, 1)
    page = client.get("/autolettura")
    assert page.status_code == 200
    text = page.text
    for words in ("Elenco Autoletture", "Data Lettura", "Letture Contatore", "Letture Correttore",
                  "Letture Acquisite", "Cancella", "Informazioni", "Aggiungi",
                  "L'inserimento delle autoletture è consentito nei seguenti periodi:",
                  "Dal", "A partire dalle ore", "Al", "Fino alle ore",
                  "E' possibile inserire una sola lettura al giorno;",
                  "indicativamente ogni mezz'ora"):
        assert words in text, words
    assert "15/02/2015" in text and "45.000" in text and "Acquisita" in text
    assert "11/02/2010" in text and "08:00" in text and "14/02/2099" in text and "22:00" in text
    assert text.count("pag. 1 di 1") == 2
    assert '<option value="5" selected>' in text and '<option value="10" selected>' in text


def test_electricity_point_explains_the_remote_read_meter(client, logged_in, electricity_point):
    page = client.get(f"/autolettura?punto={electricity_point.code}")
    assert page.status_code == 200
    assert "contatore elettronico telegestito" in page.text
    assert "Elenco Autoletture" not in page.text
    assert client.post("/autolettura", data={"punto": electricity_point.code,
                                             "meter_reading": "1"}).status_code == 404


def test_another_customers_point_is_not_found(client, logged_in, other_customer, always_open):
    assert client.get("/autolettura?punto=PR999001").status_code == 404
    response = client.post("/autolettura", data={"punto": "PR999001", "meter_reading": "1"})
    assert response.status_code == 404
    assert SelfReading.select().count() == 0


def test_list_is_newest_first_with_italian_numbers_and_outcomes(client, logged_in, gas_point,
                                                                always_open):
    acquired(gas_point, datetime.date(2015, 1, 10), 44000, 900, outcome="validata")
    acquired(gas_point, datetime.date(2015, 2, 15), 1234567, 1000, outcome="scartata",
             outcome_reason="Lettura inferiore alla precedente")
    page = client.get("/autolettura", headers=htmx("reading-list"))
    assert page.status_code == 200
    assert "<html" not in page.text
    assert page.text.index("15/02/2015") < page.text.index("10/01/2015")
    assert "1.234.567" in page.text and "44.000" in page.text
    assert "Validata" in page.text
    assert "Scartata</span>: Lettura inferiore alla precedente" in page.text
    assert "Vary" in page.headers and "HX-Request" in page.headers["Vary"]


def test_pagination_five_readings_by_default_and_a_rows_choice(client, logged_in, gas_point,
                                                                always_open):
    for day in range(1, 13):
        acquired(gas_point, datetime.date(2015, 3, day), 1000 + day)
    first = client.get("/autolettura", headers=htmx("reading-list")).text
    assert "pag. 1 di 3" in first
    assert first.count('<tr id="reading-') == 5
    assert "12/03/2015" in first and "07/03/2015" not in first
    last = client.get("/autolettura?pagina=3", headers=htmx("reading-list")).text
    assert "pag. 3 di 3" in last and last.count('<tr id="reading-') == 2
    assert "01/03/2015" in last
    ten = client.get("/autolettura?righe=10", headers=htmx("reading-list")).text
    assert "pag. 1 di 2" in ten and ten.count('<tr id="reading-') == 10
    odd = client.get("/autolettura?righe=7&pagina=99", headers=htmx("reading-list")).text
    assert "pag. 3 di 3" in odd  # an unknown choice is 5 rows; a page past the end the last
    for junk in ("pagina=%C2%B2", "righe=%C2%B2", "pagina=0&pagina_periodi=0", "pagina=-1", "righe=99999999999",
                 "righe=" + "1" * 5000):
        response = client.get(f"/autolettura?{junk}", headers=htmx("reading-list"))
        assert response.status_code == 200 and "pag. 1 di 3" in response.text, junk


def test_windows_table_ten_per_page_only_those_not_over(client, logged_in, gas_point):
    with time_machine.travel(rome(2025, 1, 1, 12, 0), tick=False):
        login(client, logged_in)
        ReadingWindow.create(start_at=datetime.datetime(2024, 12, 1, 8),
                             end_at=datetime.datetime(2024, 12, 5, 22))
        for month in range(1, 13):
            ReadingWindow.create(start_at=datetime.datetime(2025, month, 25, 8),
                                 end_at=datetime.datetime(2025, month, 28, 22))
        page = client.get("/autolettura", headers=htmx("window-list")).text
        assert "<html" not in page
        assert "pag. 1 di 2" in page
        assert "05/12/2024" not in page  # over: no longer a period in which to read
        assert "25/01/2025" in page and "25/10/2025" in page and "25/11/2025" not in page
        second = client.get("/autolettura?pagina_periodi=2", headers=htmx("window-list")).text
        assert "25/11/2025" in second and "25/12/2025" in second


def test_poll_only_while_a_pending_reading_is_on_screen(app, client, logged_in, gas_point,
                                                        always_open):
    idle = client.get("/autolettura", headers=htmx("reading-list")).text
    assert 'hx-trigger="readingsChanged from:body"' in idle
    assert "every" not in idle
    waiting = SelfReading.create(supply_point=gas_point, reading_date=datetime.date(2015, 2, 15),
                                 meter_reading=45000, corrector_reading=1)
    polling = client.get("/autolettura", headers=htmx("reading-list")).text
    assert "readingsChanged from:body, every 60s, focus from:window" in polling
    app.config["READINGS_POLL_SECONDS"] = 2
    assert "every 2s" in client.get("/autolettura", headers=htmx("reading-list")).text
    waiting.status = SelfReading.ACQUIRED
    waiting.save()
    refreshed = client.get("/autolettura", headers=htmx("reading-list")).text
    assert "Acquisita" in refreshed and "reading-delete" not in refreshed and "every" not in refreshed


# --- The form -------------------------------------------------------------------------

def test_aggiungi_opens_the_form_in_place_and_annulla_closes_it(client, logged_in, gas_point,
                                                                always_open):
    opened = client.get(f"/autolettura/nuova?punto={gas_point.code}", headers=htmx("reading-form"))
    assert opened.status_code == 200
    assert "<html" not in opened.text
    assert "Lettura contatore" in opened.text and "Lettura correttore" in opened.text
    assert "Salva" in opened.text and "Annulla" in opened.text
    closed = client.get(f"/autolettura?punto={gas_point.code}", headers=htmx("reading-form"))
    assert "Aggiungi" in closed.text and "Lettura contatore" not in closed.text


def test_no_corrector_field_without_a_corrector(client, factory, always_open):
    person = factory.customer(code="222333")
    point = factory.supply_point(person, "gas", has_corrector=False)
    login(client, person)
    opened = client.get("/autolettura/nuova", headers=htmx("reading-form")).text
    assert "Lettura contatore" in opened and "Lettura correttore" not in opened
    response = save(client, point, "1234", corrector="999")
    assert response.status_code == 200
    reading = SelfReading.get()
    assert reading.meter_reading == 1234 and reading.corrector_reading is None


def test_form_works_without_javascript(client, logged_in, gas_point, always_open):
    page = client.get("/autolettura/nuova")
    assert page.status_code == 200 and "<html" in page.text
    assert 'method="post" action="/autolettura"' in page.text
    response = client.post("/autolettura", data={"punto": gas_point.code,
                                                 "meter_reading": "45000",
                                                 "corrector_reading": "1"})
    assert response.status_code == 303
    listing = client.get(response.headers["Location"]).text
    assert "salvata" in listing and "Da acquisire" in listing and "45.000" in listing


def test_salva_adds_the_row_on_top_da_acquisire_with_the_delete_symbol(client, logged_in, gas_point,
                                                                        always_open):
    acquired(gas_point, datetime.date(2015, 1, 15), 44900, 1)
    with time_machine.travel(rome(2015, 2, 15, 10, 0), tick=False):
        login(client, logged_in)
        response = save(client, gas_point, "45000", "1")
    assert response.status_code == 200
    assert "<html" not in response.text
    form_part, list_part = response.text.split('<div id="reading-list"', 1)
    assert "Aggiungi" in form_part and "salvata" in form_part
    assert 'hx-swap-oob="true"' in list_part
    assert list_part.index("15/02/2015") < list_part.index("15/01/2015")
    assert "Da acquisire" in list_part
    assert 'hx-confirm="Confermi la cancellazione della lettura del 15/02/2015 ?"' in list_part
    reading = SelfReading.get(SelfReading.reading_date == datetime.date(2015, 2, 15))
    assert (reading.meter_reading, reading.corrector_reading) == (45000, 1)
    assert reading.status == "Da acquisire"


def test_one_reading_a_day_keeps_the_typed_values(client, logged_in, gas_point, always_open):
    assert save(client, gas_point, "45000", "1").status_code == 200
    again = save(client, gas_point, "45010", "2")
    assert again.status_code == 422
    assert ONE_A_DAY in again.text
    assert 'value="45010"' in again.text and 'value="2"' in again.text
    assert SelfReading.select().count() == 1
    # The form already says so when it opens.
    opened = client.get("/autolettura/nuova", headers=htmx("reading-form")).text
    assert ONE_A_DAY in opened


def test_the_unique_index_decides_when_the_check_is_raced(client, logged_in, gas_point,
                                                         always_open, monkeypatch):
    """A submission that passed the check while another was being stored gets the
    rule's message from the IntegrityError, not a 500."""
    assert save(client, gas_point, "45000", "1").status_code == 200
    monkeypatch.setattr(readings, "read_today", lambda supply_point, today: False)
    raced = save(client, gas_point, "45001", "1")
    assert raced.status_code == 422
    assert ONE_A_DAY in raced.text
    assert SelfReading.select().count() == 1


@pytest.mark.parametrize("typed, message", [
    ("", "Inserisci la lettura del contatore."),
    ("abc", "Inserisci solo cifre"),
    ("-5", "non può essere negativa"),
    ("4500,5", "senza decimali"),
    ("45.00", "senza decimali"),
    ("100000", "la lettura può arrivare al massimo a 99.999"),
    ("9" * 5000, "la lettura può arrivare al massimo a 99.999"),
])
def test_meter_reading_must_be_a_whole_number_within_the_digits(client, logged_in, gas_point,
                                                                 always_open, typed, message):
    response = save(client, gas_point, typed, "1")
    assert response.status_code == 422
    assert message in response.text
    assert 'id="meter_reading-error"' in response.text  # beside its field
    assert SelfReading.select().count() == 0


@pytest.mark.parametrize("typed, stored", [("0", 0), ("99999", 99999), ("45.000", 45000),
                                           (" 00123 ", 123)])
def test_valid_meter_readings(client, logged_in, gas_point, always_open, typed, stored):
    assert save(client, gas_point, typed, "1").status_code == 200
    assert SelfReading.get().meter_reading == stored


def test_corrector_reading_is_required_with_a_corrector(client, logged_in, gas_point, always_open):
    response = save(client, gas_point, "45000", "")
    assert response.status_code == 422
    assert "Inserisci la lettura del correttore." in response.text
    assert 'id="corrector_reading-error"' in response.text


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(meter=st.text(max_size=40), corrector=st.text(max_size=40), confirm=st.text(max_size=20))
def test_any_input_gets_an_answer_never_a_server_error(client, logged_in, gas_point, always_open,
                                                       meter, corrector, confirm):
    response = save(client, gas_point, meter, corrector, conferma=confirm)
    assert response.status_code in (200, 422)
    SelfReading.delete().execute()


# --- Reading windows, frozen in time (Europe/Rome) -------------------------------------

def test_window_edges(client, customer, gas_point):
    ReadingWindow.create(start_at=datetime.datetime(2025, 2, 11, 8, 0),
                         end_at=datetime.datetime(2025, 2, 14, 22, 0))
    with time_machine.travel(rome(2025, 2, 11, 7, 59, 59), tick=False) as traveller:
        login(client, customer)
        early = save(client, gas_point, "45000", "1")
        assert early.status_code == 422
        assert "il prossimo periodo inizia il 11/02/2025 alle ore 08:00" in early.text
        assert 'value="45000"' in early.text
        traveller.move_to(rome(2025, 2, 11, 8, 0, 0))
        assert save(client, gas_point, "45000", "1").status_code == 200
    with time_machine.travel(rome(2025, 2, 14, 22, 0, 0), tick=False) as traveller:
        login(client, customer)
        assert save(client, gas_point, "45010", "2").status_code == 200
        traveller.move_to(rome(2025, 2, 14, 22, 0, 1))
        SelfReading.delete().where(SelfReading.reading_date == datetime.date(2025, 2, 14)).execute()
        late = save(client, gas_point, "45010", "2")
        assert late.status_code == 422
        assert "non sono previsti nuovi periodi" in late.text
    assert [reading.reading_date for reading in SelfReading.select().order_by(SelfReading.id)] == [
        datetime.date(2025, 2, 11)]


def test_dst_spring_forward_window_and_rome_day(client, customer, gas_point):
    """30/03/2025: at 02:00 CET the clocks jump to 03:00 CEST."""
    ReadingWindow.create(start_at=datetime.datetime(2025, 3, 29, 8, 0),
                         end_at=datetime.datetime(2025, 3, 29, 23, 59, 59))
    ReadingWindow.create(start_at=datetime.datetime(2025, 3, 30, 3, 0),
                         end_at=datetime.datetime(2025, 3, 30, 22, 0))
    utc = datetime.timezone.utc
    # 22:59:59 UTC on the 29th is 23:59:59 in Rome: still the 29th.
    start = datetime.datetime(2025, 3, 29, 22, 59, 59, tzinfo=utc)
    with time_machine.travel(start, tick=False) as traveller:
        login(client, customer)
        assert save(client, gas_point, "45000", "1").status_code == 200
        # 00:59:59 UTC is 01:59:59 CET: the window opening at 03:00 is not open yet...
        traveller.move_to(datetime.datetime(2025, 3, 30, 0, 59, 59, tzinfo=utc))
        login(client, customer)
        closed = save(client, gas_point, "45001", "1")
        assert closed.status_code == 422
        assert "il prossimo periodo inizia il 30/03/2025 alle ore 08:00" not in closed.text
        assert "il prossimo periodo inizia il 30/03/2025 alle ore 03:00" in closed.text
        # ...one second later it is 03:00 CEST, and a new Rome day has a new reading.
        traveller.move_to(datetime.datetime(2025, 3, 30, 1, 0, 0, tzinfo=utc))
        assert save(client, gas_point, "45001", "1").status_code == 200
    days = [reading.reading_date for reading in SelfReading.select().order_by(SelfReading.id)]
    assert days == [datetime.date(2025, 3, 29), datetime.date(2025, 3, 30)]


def test_dst_fall_back_day(client, customer, gas_point):
    """26/10/2025: 02:00-03:00 happens twice; a window ending at 02:30 ends at the
    second 02:30 in wall-clock terms, and the reading date is Rome's."""
    ReadingWindow.create(start_at=datetime.datetime(2025, 10, 25, 8, 0),
                         end_at=datetime.datetime(2025, 10, 26, 2, 30))
    utc = datetime.timezone.utc
    # 22:30 UTC on the 25th is 00:30 CEST on the 26th in Rome.
    start = datetime.datetime(2025, 10, 25, 22, 30, tzinfo=utc)
    with time_machine.travel(start, tick=False) as traveller:
        login(client, customer)
        assert save(client, gas_point, "45000", "1").status_code == 200
        assert SelfReading.get().reading_date == datetime.date(2025, 10, 26)
        SelfReading.delete().execute()
        # 01:15 UTC is 02:15 CET, the second 02:15: still inside the window.
        traveller.move_to(datetime.datetime(2025, 10, 26, 1, 15, tzinfo=utc))
        login(client, customer)
        assert save(client, gas_point, "45000", "1").status_code == 200
        SelfReading.delete().execute()
        # 01:45 UTC is 02:45 CET: over.
        traveller.move_to(datetime.datetime(2025, 10, 26, 1, 45, tzinfo=utc))
        login(client, customer)
        assert save(client, gas_point, "45000", "1").status_code == 422


# --- Roll-over and plausibility --------------------------------------------------------

@pytest.fixture
def frozen_day(client, customer):
    """15/03/2025 at noon in Rome, logged in."""
    with time_machine.travel(rome(2025, 3, 15, 12, 0), tick=False):
        login(client, customer)
        yield datetime.date(2025, 3, 15)


def days_before(day, count):
    return day - datetime.timedelta(days=count)


def test_roll_over_needs_confirmation_and_is_recorded(client, gas_point, always_open, frozen_day):
    acquired(gas_point, days_before(frozen_day, 30), 99950, 5000)
    first = save(client, gas_point, "20", "5050")
    assert first.status_code == 422
    assert "È possibile solo se il contatore ha superato 99.999 ed è ripartito da zero" in first.text
    assert "99.950 del 13/02/2025" in first.text
    assert 'name="conferma" value="20|5050"' in first.text
    assert "Confermo la lettura" in first.text
    assert SelfReading.select().count() == 1
    # A confirmation given for other values does not count for these.
    changed = save(client, gas_point, "30", "5050", conferma="20|5050")
    assert changed.status_code == 422 and 'value="30|5050"' in changed.text
    confirmed = save(client, gas_point, "30", "5050", conferma="30|5050")
    assert confirmed.status_code == 200
    reading = SelfReading.get(SelfReading.reading_date == frozen_day)
    assert reading.meter_reading == 30
    assert reading.info == "Giro contatore confermato"
    assert "Giro contatore confermato" in confirmed.text


def test_rejected_and_pending_readings_are_not_the_reference(client, gas_point, always_open,
                                                             frozen_day):
    acquired(gas_point, days_before(frozen_day, 60), 40000, 5000)
    acquired(gas_point, days_before(frozen_day, 30), 50000, 5100, outcome="scartata",
             outcome_reason="Lettura fuori scala")
    SelfReading.create(supply_point=gas_point, reading_date=days_before(frozen_day, 1),
                       meter_reading=60000, corrector_reading=5200)
    response = save(client, gas_point, "40100", "5100")
    assert response.status_code == 200, response.text


def test_far_above_the_expected_consumption_asks_why(client, gas_point, always_open, frozen_day):
    # 1200 m³ a year: in 60 days about 197 m³; three times that is about 592.
    acquired(gas_point, days_before(frozen_day, 60), 10000, 5000)
    assert save(client, gas_point, "10500", "5500").status_code == 200
    SelfReading.delete().where(SelfReading.reading_date == frozen_day).execute()
    high = save(client, gas_point, "10700", "5100")
    assert high.status_code == 422
    assert ("risulterebbe un consumo di 700 m³, più di 3 volte quello previsto in 60 giorni "
            "(circa 197 m³)") in high.text
    assert 'id="meter_reading-error"' in high.text
    assert 'id="corrector_reading-error"' not in high.text
    assert save(client, gas_point, "10700", "5100", conferma="10700|5100").status_code == 200
    assert SelfReading.get(SelfReading.reading_date == frozen_day).info == \
        "Consumo elevato (contatore) confermato"


def test_short_periods_are_prorated_on_at_least_thirty_days(client, gas_point, always_open,
                                                            frozen_day):
    # 2 days ago: 1200 * 30 / 365 * 3 is about 296 m³ before asking.
    acquired(gas_point, days_before(frozen_day, 2), 10000, 5000)
    assert save(client, gas_point, "10250", "5250").status_code == 200


def test_zero_consumption_after_months_asks_but_not_after_days(client, gas_point, always_open,
                                                               frozen_day):
    acquired(gas_point, days_before(frozen_day, 10), 10000, 5000)
    assert save(client, gas_point, "10000", "5000").status_code == 200
    SelfReading.delete().execute()
    acquired(gas_point, days_before(frozen_day, 90), 10000, 5000)
    zero = save(client, gas_point, "10000", "5000")
    assert zero.status_code == 422
    assert "in 90 giorni non risulterebbe alcun consumo" in zero.text
    assert 'id="meter_reading-error"' in zero.text and 'id="corrector_reading-error"' in zero.text


def test_corrector_is_checked_against_its_own_history(client, gas_point, always_open, frozen_day):
    acquired(gas_point, days_before(frozen_day, 60), 10000, 5000)
    lower = save(client, gas_point, "10100", "4000")
    assert lower.status_code == 422
    assert ("inferiore all'ultima lettura acquisita del correttore (5.000 del"
            in html.unescape(lower.text))
    assert 'id="meter_reading-error"' not in lower.text
    high = save(client, gas_point, "10100", "8000")
    assert high.status_code == 422
    assert "risulterebbe un consumo di 3.000 Smc" in high.text
    assert save(client, gas_point, "10100", "5100").status_code == 200


def test_a_register_missing_from_the_last_reading_is_checked_against_its_own_last_value(
        client, gas_point, always_open, frozen_day):
    # The last acquired reading has the meter only: the corrector's reference is older.
    acquired(gas_point, days_before(frozen_day, 60), 10000, 5000)
    acquired(gas_point, days_before(frozen_day, 30), 10050)
    lower = save(client, gas_point, "10100", "4000")
    assert lower.status_code == 422
    text = html.unescape(lower.text)
    assert f"inferiore all'ultima lettura acquisita del correttore (5.000 del " \
           f"{days_before(frozen_day, 60):%d/%m/%Y}" in text
    assert 'id="meter_reading-error"' not in lower.text
    # The meter is compared with the last reading: 10.050, 30 days ago.
    high = save(client, gas_point, "11000", "5100")
    assert high.status_code == 422
    assert "Rispetto all'ultima lettura acquisita (10.050 del" in html.unescape(high.text)
    assert save(client, gas_point, "10100", "5100").status_code == 200


def test_without_expected_consumption_only_the_roll_over_is_asked(client, factory, frozen_day,
                                                                  always_open):
    person = factory.customer(code="333444")
    point = factory.supply_point(person, "gas", expected_annual_consumption=None)
    login(client, person)
    acquired(point, days_before(frozen_day, 60), 100)
    assert save(client, point, "90000").status_code == 200


# --- Delete ---------------------------------------------------------------------------

def pending(point, day=datetime.date(2015, 2, 15), meter=45000):
    return SelfReading.create(supply_point=point, reading_date=day, meter_reading=meter,
                              corrector_reading=1)


def test_delete_a_pending_reading_with_htmx(client, logged_in, gas_point):
    reading = pending(gas_point)
    response = client.post(f"/autolettura/{reading.id}/cancella", headers=htmx(f"reading-{reading.id}"))
    assert response.status_code == 200
    assert response.text == ""
    assert response.headers["HX-Trigger"] == "readingsChanged"
    assert SelfReading.get_or_none(SelfReading.id == reading.id) is None


def test_an_acquired_reading_stays_and_the_row_shows_the_truth(client, logged_in, gas_point):
    reading = pending(gas_point)
    SelfReading.update(status=SelfReading.ACQUIRED).execute()
    response = client.post(f"/autolettura/{reading.id}/cancella", headers=htmx(f"reading-{reading.id}"))
    assert response.status_code == 200
    assert f'<tr id="reading-{reading.id}"' in response.text
    assert "Acquisita" in response.text and "reading-delete" not in response.text
    assert "già stata acquisita e non può più essere cancellata" in response.text
    assert 'id="flash"' in response.text and 'hx-swap-oob="true"' in response.text
    assert SelfReading.get_by_id(reading.id).status == SelfReading.ACQUIRED


def test_another_customers_reading_cannot_be_deleted(client, logged_in, other_customer):
    theirs = pending(other_customer.supply_points_in_order().get())
    assert client.post(f"/autolettura/{theirs.id}/cancella", headers=HTMX).status_code == 404
    assert client.get(f"/autolettura/{theirs.id}/cancella").status_code == 404
    assert client.post("/autolettura/999999/cancella").status_code == 404
    # Beyond a 64-bit id no route matches: Werkzeug answers a POST with 405, a GET with 404.
    assert client.post("/autolettura/99999999999999999999999/cancella").status_code in (404, 405)
    assert client.get("/autolettura/99999999999999999999999/cancella").status_code == 404
    assert SelfReading.get_by_id(theirs.id).status == SelfReading.PENDING


def test_delete_without_javascript_asks_the_seed_question(client, logged_in, gas_point):
    reading = pending(gas_point)
    listing = client.get("/autolettura").text
    assert f'href="/autolettura/{reading.id}/cancella"' in listing
    question = client.get(f"/autolettura/{reading.id}/cancella")
    assert question.status_code == 200
    assert "Confermi la cancellazione della lettura del 15/02/2015 ?" in question.text
    assert 'method="post"' in question.text
    response = client.post(f"/autolettura/{reading.id}/cancella")
    assert response.status_code == 303
    assert "Lettura del 15/02/2015 cancellata." in client.get(response.headers["Location"]).text
    assert SelfReading.select().count() == 0


def test_delete_without_javascript_of_an_acquired_reading(client, logged_in, gas_point):
    reading = pending(gas_point)
    SelfReading.update(status=SelfReading.ACQUIRED).execute()
    question = client.get(f"/autolettura/{reading.id}/cancella").text
    assert "già stata acquisita" in question and "Confermi" not in question
    response = client.post(f"/autolettura/{reading.id}/cancella")
    assert response.status_code == 303
    assert "già stata acquisita" in client.get(response.headers["Location"]).text
    assert SelfReading.select().count() == 1
