"""Readings from every channel: a meter photo with a self-reading (checked, shrunk,
EXIF stripped, shown only to its owner), readings an operator enters for a customer,
and whether each billed period was read, self-read or estimated."""
import datetime
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from werkzeug.datastructures import FileStorage

import models
from conftest import PASSWORD
from models import AuditLog, BilledConsumption, ReadingWindow, SelfReading, SupplyPoint
from portal import acquisition, attachments, backoffice

HTMX = {"HX-Request": "true", "HX-Target": "reading-form"}
OPERATOR_PASSWORD = "sportello-di-collesalvetti"


def gps_jpeg(size=(3000, 2000)):
    """A camera-like JPEG: EXIF with GPS coordinates, a maker, and 'rotate 90°'."""
    image = Image.new("RGB", size, (40, 90, 140))
    exif = Image.Exif()
    exif[0x010F] = "TelefonoCheSpia"   # Make
    exif[0x0112] = 6                   # Orientation: the phone was held upright
    exif[0x8825] = {1: "N", 2: (43.0, 34.0, 12.0), 3: "E", 4: (10.0, 27.0, 5.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the test's own premise
    return data


def png_bytes(size=(800, 600)):
    buffer = io.BytesIO()
    Image.new("RGBA", size, (200, 10, 10, 255)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def gas_point(customer):
    return customer.supply_points_in_order().where(SupplyPoint.commodity == "gas").get()


@pytest.fixture
def always_open(app):
    return ReadingWindow.create(start_at=datetime.datetime(2010, 2, 11, 8, 0),
                                end_at=datetime.datetime(2099, 2, 14, 22, 0))


def post_reading(client, point, meter, photo=None, headers=HTMX, **extra):
    data = {"punto": point.code, "meter_reading": str(meter), "corrector_reading": "10",
            **extra}
    if photo is not None:
        data["photo"] = (io.BytesIO(photo[1]), photo[0])
    return client.post("/autolettura", data=data, headers=headers,
                       content_type="multipart/form-data")


def stored_photo(app, reading):
    return Path(app.config["FILES_DIR"]) / reading.photo_path


# --- The meter photo ------------------------------------------------------------------

def test_photo_comes_back_shrunk_upright_and_without_exif(app, client, logged_in, gas_point,
                                                           always_open):
    response = post_reading(client, gas_point, 45000, photo=("IMG_2041.HEIC.jpg", gps_jpeg()))
    assert response.status_code == 200, response.text
    reading = SelfReading.get()
    assert reading.photo_path.startswith("readings/") and reading.photo_path.endswith(".jpg")
    with Image.open(stored_photo(app, reading)) as stored:
        assert stored.format == "JPEG"
        # 3000 x 2000 turned upright by its orientation, then shrunk to the setting.
        assert stored.size == (1067, app.config["READING_PHOTO_LONG_SIDE"])
        assert not stored.getexif()          # no GPS, no maker, no orientation
        assert "exif" not in stored.info
    raw = stored_photo(app, reading).read_bytes()
    assert b"TelefonoCheSpia" not in raw and b"Exif" not in raw
    served = client.get(f"/autolettura/{reading.id}/foto")
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert served.data == raw
    assert "Exif" not in served.data.decode("latin-1")


def test_photo_thumbnail_shows_in_informazioni(client, logged_in, gas_point, always_open):
    post_reading(client, gas_point, 45000, photo=("meter.png", png_bytes()))
    reading = SelfReading.get()
    page = client.get("/autolettura").text
    assert f'src="/autolettura/{reading.id}/foto"' in page
    assert "Foto del contatore della lettura del" in page
    with Image.open(io.BytesIO(client.get(f"/autolettura/{reading.id}/foto").data)) as image:
        assert image.format == "PNG"


@pytest.mark.parametrize("name, content", [
    ("contatore.jpg", b"%PDF-1.4\n1 0 obj\n<< >>\nendobj\n%%EOF\n"),
    ("contatore.jpg", b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 20),
    ("contatore.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
    ("contatore.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
])
def test_a_file_that_is_no_jpeg_or_png_is_refused_beside_the_field(client, logged_in, gas_point,
                                                                  always_open, name, content):
    response = post_reading(client, gas_point, 45000, photo=(name, content))
    assert response.status_code == 422
    assert "Sono accettate solo foto JPEG o PNG" in response.text
    assert 'id="photo-error"' in response.text
    assert 'value="45000"' in response.text          # what was typed stays
    assert SelfReading.select().count() == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(head=st.sampled_from([b"", b"\xff\xd8\xff", b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00",
                             b"\x89PNG\r\n\x1a\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"]),
       body=st.binary(max_size=2000), cut=st.integers(min_value=0, max_value=4000))
def test_any_bytes_are_a_clean_photo_or_a_clear_refusal(head, body, cut):
    """Crafted, truncated or random bytes: either a JPEG/PNG re-encoded by the portal or
    the refusal the form shows, never another exception (a 500)."""
    valid = png_bytes((40, 30))[:cut] if cut % 2 else gps_jpeg((40, 30))[:cut]
    for data in (head + body, valid, valid + body):
        try:
            upload = attachments.meter_photo(FileStorage(io.BytesIO(data), "x.jpg"), 1600)
        except attachments.AttachmentError:
            continue
        with Image.open(io.BytesIO(upload.data)) as image:
            assert image.format in ("JPEG", "PNG") and not image.getexif()


def test_photo_required_only_for_a_confirmation_when_the_setting_is_on(app, client, logged_in,
                                                                     gas_point, always_open):
    app.config["READING_PHOTO_REQUIRED"] = True
    SelfReading.create(supply_point=gas_point, reading_date=datetime.date(2015, 2, 15),
                       meter_reading=45000, corrector_reading=10, status=SelfReading.ACQUIRED)
    # Lower than the last acquired reading: a roll-over the customer must confirm.
    first = post_reading(client, gas_point, 100)
    assert first.status_code == 422
    assert "Per confermare questa lettura serve una foto del contatore" in first.text
    fingerprint = first.text.split('name="conferma" value="')[1].split('"')[0]
    without = post_reading(client, gas_point, 100, conferma=fingerprint)
    assert without.status_code == 422
    assert "allega una foto del contatore" in without.text
    assert 'name="conferma"' in without.text          # still confirmable
    assert SelfReading.select().count() == 1
    with_photo = post_reading(client, gas_point, 100, photo=("m.jpg", gps_jpeg((640, 480))),
                              conferma=fingerprint)
    assert with_photo.status_code == 200
    saved = SelfReading.get(SelfReading.meter_reading == 100)
    assert saved.photo_path and "Giro contatore confermato" in saved.info


def test_plausible_reading_needs_no_photo_even_with_the_setting_on(app, client, logged_in,
                                                                  gas_point, always_open):
    app.config["READING_PHOTO_REQUIRED"] = True
    assert post_reading(client, gas_point, 45000).status_code == 200
    assert SelfReading.get().photo_path is None


def test_deleting_a_pending_reading_deletes_its_photo(app, client, logged_in, gas_point,
                                                     always_open):
    post_reading(client, gas_point, 45000, photo=("m.png", png_bytes()))
    reading = SelfReading.get()
    path = stored_photo(app, reading)
    assert path.is_file()
    response = client.post(f"/autolettura/{reading.id}/cancella", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert not path.exists()
    assert client.get(f"/autolettura/{reading.id}/foto").status_code == 404


def test_an_acquired_reading_keeps_its_photo(app, client, logged_in, gas_point, always_open):
    post_reading(client, gas_point, 45000, photo=("m.png", png_bytes()))
    reading = SelfReading.get()
    acquisition.acquire(app.config["EXPORT_DIR"])
    client.post(f"/autolettura/{reading.id}/cancella", headers={"HX-Request": "true"})
    assert stored_photo(app, reading).is_file()


def test_another_customers_photo_is_not_found(app, client, logged_in, other_customer, factory):
    theirs = SelfReading.create(supply_point=other_customer.supply_points_in_order().get(),
                                reading_date=datetime.date(2015, 2, 15), meter_reading=4444444,
                                photo_path="readings/2015/theirs.jpg")
    folder = Path(app.config["FILES_DIR"]) / "readings" / "2015"
    folder.mkdir(parents=True)
    (folder / "theirs.jpg").write_bytes(gps_jpeg((64, 64)))
    assert client.get(f"/autolettura/{theirs.id}/foto").status_code == 404
    assert client.get("/autolettura/99999999/foto").status_code == 404
    client.post("/logout")
    assert client.get(f"/autolettura/{theirs.id}/foto").status_code == 302  # to the login


def test_double_submit_with_one_token_creates_one_reading(client, logged_in, gas_point,
                                                          always_open):
    form = client.get(f"/autolettura/nuova?punto={gas_point.code}").text
    token = form.split('name="submission_token" type="hidden" value="')[1].split('"')[0]
    first = post_reading(client, gas_point, 45000, headers={}, submission_token=token)
    second = post_reading(client, gas_point, 45000, headers={}, submission_token=token)
    assert first.status_code == 303 and second.status_code == 303
    assert "Hai già inserito" not in client.get(second.headers["Location"]).text
    assert SelfReading.select().count() == 1


def test_export_names_the_photo_and_the_channel(app, client, logged_in, gas_point, always_open):
    post_reading(client, gas_point, 45000, photo=("m.png", png_bytes()))
    reading = SelfReading.get()
    run = acquisition.acquire(app.config["EXPORT_DIR"])
    lines = (Path(app.config["EXPORT_DIR"]) / run.file_path).read_text().splitlines()
    assert lines[0].endswith(";channel;operator;photo")
    assert lines[1].endswith(f";portale;;{reading.photo_path}")


# --- Readings entered by an operator --------------------------------------------------

@pytest.fixture
def staff(app):
    backoffice.create_operator("mario.rossi", OPERATOR_PASSWORD, name="Mario Rossi")
    staff_client = app.test_client()
    response = staff_client.post("/operatore/login", data={"username": "mario.rossi",
                                                           "password": OPERATOR_PASSWORD})
    assert response.status_code == 303
    return staff_client


def operator_token(staff, customer):
    page = staff.get(f"/operatore/clienti/{customer.code}/autoletture/nuova").text
    return page.split('name="submission_token" type="hidden" value="')[1].split('"')[0]


def enter(staff, customer, point, meter, channel="telefono", photo=None, **extra):
    data = {"supply_point": point.code, "channel": channel, "meter_reading": str(meter),
            "corrector_reading": "10", "submission_token": operator_token(staff, customer),
            **extra}
    if photo is not None:
        data["photo"] = (io.BytesIO(photo[1]), photo[0])
    return staff.post(f"/operatore/clienti/{customer.code}/autoletture/nuova", data=data,
                      content_type="multipart/form-data")


def test_operator_enters_a_reading_by_phone_audited_and_shown_to_the_customer(
        app, staff, client, customer, gas_point, always_open):
    response = enter(staff, customer, gas_point, 45000)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/clienti/{customer.code}/autoletture")
    reading = SelfReading.get()
    assert (reading.channel, reading.operator, reading.customer_id) == (
        "telefono", "mario.rossi", customer.id)
    assert reading.status == SelfReading.PENDING
    event = AuditLog.get(AuditLog.event == "operator_reading_created")
    assert event.customer_id == customer.id and gas_point.code in event.detail
    listing = staff.get(response.headers["Location"]).text
    assert "Telefono (mario.rossi)" in listing
    # The customer sees it marked, and may delete it until it is acquired.
    client.post("/login", data={"code": customer.code, "password": PASSWORD})
    page = client.get(f"/autolettura?punto={gas_point.code}").text
    assert "inserita dal servizio clienti (per telefono)" in page
    assert f'hx-post="/autolettura/{reading.id}/cancella"' in page
    deleted = client.post(f"/autolettura/{reading.id}/cancella", headers={"HX-Request": "true"})
    assert deleted.status_code == 200 and SelfReading.select().count() == 0


def test_operator_reading_follows_the_customers_rules(app, staff, customer, gas_point):
    # No window open: refused with the rule's message, nothing saved.
    closed = enter(staff, customer, gas_point, 45000)
    assert closed.status_code == 422
    assert "non è consentito" in closed.text
    ReadingWindow.create(start_at=datetime.datetime(2010, 1, 1), end_at=datetime.datetime(2099, 1, 1))
    assert enter(staff, customer, gas_point, 45000).status_code == 303
    # One a day, whoever enters it.
    again = enter(staff, customer, gas_point, 45001, channel="email")
    assert again.status_code == 422 and "una sola lettura al giorno" in again.text
    assert SelfReading.select().count() == 1


def test_operator_confirms_an_implausible_reading(app, staff, customer, gas_point, always_open):
    SelfReading.create(supply_point=gas_point, reading_date=datetime.date(2015, 2, 15),
                       meter_reading=45000, corrector_reading=10, status=SelfReading.ACQUIRED)
    asked = enter(staff, customer, gas_point, 100, channel="posta")
    assert asked.status_code == 422 and "Il cliente conferma la lettura" in asked.text
    fingerprint = asked.text.split('name="conferma" value="')[1].split('"')[0]
    saved = enter(staff, customer, gas_point, 100, channel="posta", conferma=fingerprint,
                  photo=("scan.jpg", gps_jpeg((500, 400))))
    assert saved.status_code == 303
    reading = SelfReading.get(SelfReading.meter_reading == 100)
    assert reading.channel == "posta" and reading.photo_path
    photo = staff.get(f"/operatore/clienti/{customer.code}/autoletture/{reading.id}/foto")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert not Image.open(io.BytesIO(photo.data)).getexif()


@pytest.mark.parametrize("channel", ["", "fax", "telefono\x00"])
def test_operator_must_say_the_channel(staff, customer, gas_point, always_open, channel):
    response = enter(staff, customer, gas_point, 45000, channel=channel)
    assert response.status_code == 422
    assert "Indica come è arrivata la lettura." in response.text
    assert SelfReading.select().count() == 0


def test_operator_cannot_enter_a_reading_on_another_customers_point(
        staff, customer, other_customer, always_open):
    theirs = other_customer.supply_points_in_order().get()
    response = enter(staff, customer, theirs, 4444444)
    assert response.status_code == 404
    assert SelfReading.select().count() == 0
    assert staff.get(f"/operatore/clienti/{customer.code}/autoletture/999999/foto").status_code == 404


def test_customer_cannot_use_the_operator_form(client, logged_in, gas_point, always_open):
    response = client.post(f"/operatore/clienti/{logged_in.code}/autoletture/nuova",
                           data={"supply_point": gas_point.code, "channel": "telefono",
                                 "meter_reading": "45000"})
    assert response.status_code == 404
    assert client.get(f"/operatore/clienti/{logged_in.code}/autoletture/nuova").status_code == 404


def test_export_names_the_operator_and_channel(app, staff, customer, gas_point, always_open):
    enter(staff, customer, gas_point, 45000, channel="sportello")
    run = acquisition.acquire(app.config["EXPORT_DIR"])
    lines = (Path(app.config["EXPORT_DIR"]) / run.file_path).read_text().splitlines()
    assert lines[1].endswith(";sportello;mario.rossi;")


# --- Read, self-read or estimated -----------------------------------------------------

def bill_gas(point, kinds):
    for month, kind in enumerate(kinds, start=1):
        start = datetime.date(2025, month, 1)
        BilledConsumption.create(supply_point=point, period_start=start,
                                 period_end=start + datetime.timedelta(days=27),
                                 energy_total=100.0 * month, unit="Smc", reading_kind=kind)


def test_table_says_letta_autolettura_stimata(client, logged_in, gas_point):
    bill_gas(gas_point, ["letta", "autolettura", "stimata", None])
    page = client.get(f"/prelievi?punto={gas_point.code}&anno=2025&vista=tabella").text
    cells = [part.split("</span>")[0].split(">")[-1]
             for part in page.split('class="reading-kind')[1:]]
    assert cells == ["Letta", "Autolettura", "Stimata", "—"]
    assert "reading-kind--estimated" in page
    assert "I periodi con lettura stimata sono tratteggiati" in page


def test_chart_hatches_estimated_periods_with_a_legend_entry(client, logged_in, gas_point):
    bill_gas(gas_point, ["letta", "stimata", "letta"])
    page = client.get(f"/prelievi?punto={gas_point.code}&anno=2025&vista=grafico").text
    figure = json.loads(page.split('data-figure="')[1].split('"')[0].replace("&#34;", '"')
                        .replace("&quot;", '"').replace("&amp;", "&"))
    energy = figure["data"][0]
    assert energy["marker"]["pattern"]["shape"] == ["", "/", ""]
    # The hatching lies on the bar's own colour (plotly.js draws none otherwise).
    assert energy["marker"]["pattern"]["bgcolor"] == energy["marker"]["color"]
    legend = [trace for trace in figure["data"] if trace["name"] == "Periodo con lettura stimata"]
    assert len(legend) == 1 and legend[0]["marker"]["pattern"]["shape"] == "/"
    assert legend[0]["y"] == [0] and legend[0]["showlegend"] is True


def test_every_band_of_an_estimated_electricity_period_is_hatched(client, logged_in):
    electricity = logged_in.supply_points_in_order().where(
        SupplyPoint.commodity == "electricity").get()
    for month, kind in ((1, "letta"), (2, "stimata")):
        BilledConsumption.create(supply_point=electricity, period_start=datetime.date(2025, month, 1),
                                 period_end=datetime.date(2025, month, 28), energy_f1=1,
                                 energy_f2=2, energy_f3=3, energy_total=6, unit="kWh",
                                 reading_kind=kind)
    page = client.get(f"/prelievi?punto={electricity.code}&anno=2025").text
    figure = json.loads(page.split('data-figure="')[1].split('"')[0].replace("&#34;", '"')
                        .replace("&quot;", '"').replace("&amp;", "&"))
    bands = [trace for trace in figure["data"] if trace["name"] in ("F1", "F2", "F3")]
    assert len(bands) == 3
    assert all(trace["marker"]["pattern"]["shape"] == ["", "/"] for trace in bands)
    assert "I periodi con lettura stimata sono tratteggiati." in page  # the chart's label


def test_chart_without_estimates_has_no_hatching(client, logged_in, gas_point):
    bill_gas(gas_point, ["letta", "autolettura"])
    page = client.get(f"/prelievi?punto={gas_point.code}&anno=2025").text
    assert "pattern" not in page and "Periodo con lettura stimata" not in page


def test_csv_has_the_reading_kind(client, logged_in, gas_point):
    bill_gas(gas_point, ["letta", "stimata"])
    text = client.get(f"/prelievi/csv?punto={gas_point.code}&anno=2025").data.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0].endswith(";Lettura")
    assert lines[1].endswith(";Letta") and lines[2].endswith(";Stimata")


def test_home_says_when_the_last_bill_rests_on_an_estimate(client, logged_in, gas_point):
    bill_gas(gas_point, ["letta", "stimata"])
    page = client.get(f"/home?punto={gas_point.code}").text
    assert "si basa su una lettura stimata" in page
    assert f'href="/autolettura/nuova?punto={gas_point.code}"' in page
    BilledConsumption.create(supply_point=gas_point, period_start=datetime.date(2025, 3, 1),
                             period_end=datetime.date(2025, 3, 31), energy_total=50,
                             unit="Smc", reading_kind="letta")
    assert "si basa su una lettura stimata" not in client.get(f"/home?punto={gas_point.code}").text


def test_consumption_import_reads_the_reading_kind(app, runner, tmp_path, customer, gas_point):
    path = tmp_path / "consumption.csv"
    path.write_text("supply_point_code;period_start;period_end;energy_total;unit;reading_kind\n"
                    f"{gas_point.code};2025-01-01;2025-01-31;120;Smc;stimata\n"
                    f"{gas_point.code};2025-02-01;2025-02-28;110;Smc;LETTA\n"
                    f"{gas_point.code};2025-03-01;2025-03-31;100;Smc;\n", encoding="utf-8")
    result = runner.invoke(args=["import", "consumption", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    kinds = [row.reading_kind for row in BilledConsumption.select()
             .order_by(BilledConsumption.period_start)]
    assert kinds == ["stimata", "letta", None]
    # A file without the column leaves the kinds as they are.
    path.write_text("supply_point_code;period_start;period_end;energy_total;unit\n"
                    f"{gas_point.code};2025-01-01;2025-01-31;125;Smc\n", encoding="utf-8")
    assert runner.invoke(args=["import", "consumption", str(path), "--quiet"]).exit_code == 0
    assert BilledConsumption.get(BilledConsumption.period_start == datetime.date(2025, 1, 1)
                                 ).reading_kind == "stimata"


def test_consumption_import_refuses_an_unknown_reading_kind(app, runner, tmp_path, gas_point):
    path = tmp_path / "consumption.csv"
    path.write_text("supply_point_code;period_start;period_end;energy_total;unit;reading_kind\n"
                    f"{gas_point.code};2025-01-01;2025-01-31;120;Smc;indovinata\n",
                    encoding="utf-8")
    result = runner.invoke(args=["import", "consumption", str(path)])
    assert result.exit_code != 0
    assert "'indovinata' is not one of: letta, autolettura, stimata" in result.output
    assert BilledConsumption.select().count() == 0


# --- The schema ----------------------------------------------------------------------

def test_migration_keeps_readings_and_periods(app, runner, factory):
    from test_foundation import drop_columns, migrate_from
    point = factory.supply_point(factory.customer())
    reading = SelfReading.create(supply_point=point, reading_date=datetime.date(2015, 2, 15),
                                 meter_reading=4512345)
    BilledConsumption.create(supply_point=point, period_start=datetime.date(2025, 1, 1),
                             period_end=datetime.date(2025, 1, 31), energy_total=123,
                             unit="Smc")
    version = next(number for number, migration in models.MIGRATIONS.items()
                   if migration is models._migrate_readings_from_every_channel)
    drop_columns("self_reading", ["photo_path", "channel", "operator"])
    drop_columns("billed_consumption", ["reading_kind"])
    migrate_from(runner, version - 1)
    with models.db.connection_context():
        stored = SelfReading.get_by_id(reading.id)
        assert stored.meter_reading == 4512345
        assert (stored.photo_path, stored.channel, stored.operator) == (None, None, None)
        period = BilledConsumption.get()
        assert period.energy_total == 123 and period.reading_kind is None
        assert models.schema_version() == models.SCHEMA_VERSION


def test_the_customers_data_export_says_channel_and_reading_kind(client, logged_in, gas_point):
    SelfReading.create(supply_point=gas_point, reading_date=datetime.date(2025, 3, 3),
                       meter_reading=4512345, channel="posta", operator="mario.rossi")
    bill_gas(gas_point, ["stimata"])
    exported = client.get("/dati-anagrafici/esporta").get_json()
    point = next(point for point in exported["supply_points"] if point["code"] == gas_point.code)
    assert point["self_readings"][0]["channel"] == "posta"
    assert "operator" not in point["self_readings"][0]   # the staff's names are not the customer's data
    assert point["billed_consumption"][0]["reading_kind"] == "stimata"


def test_operator_form_warns_of_todays_reading_in_the_operators_words(staff, customer, gas_point,
                                                                      always_open):
    assert "ha già una lettura di oggi" not in staff.get(
        f"/operatore/clienti/{customer.code}/autoletture/nuova").text
    enter(staff, customer, gas_point, 45000)
    page = staff.get(f"/operatore/clienti/{customer.code}/autoletture/nuova").text
    assert f"Il punto {gas_point.code} ha già una lettura di oggi" in page
    assert "Hai già inserito" not in page
