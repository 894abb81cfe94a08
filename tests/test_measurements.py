"""Misure elettriche: the page and its fragment, the Dal/Al filter, the CSV export,
plotly.js, and who may see what."""
import datetime
import gzip
import html
import importlib.resources
import json
import re
from pathlib import Path

import pytest
import time_machine

from portal import charts, timebands
import models
from portal.measurements import (hourly_rows, hourly_rows_prepared, interval_rows,
                                 interval_rows_prepared, stream_batches)

ROOT = Path(__file__).resolve().parent.parent

# Thursday 13 March 2025, 10:00 in Rome: the default range is 07/03 - 13/03.
NOW = datetime.datetime(2025, 3, 13, 10, 0, tzinfo=models.ROME)
HTMX = {"HX-Request": "true", "HX-Target": "measurements-data"}


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def points(customer):
    gas, electricity = customer.supply_points_in_order()
    return gas, electricity


def add_intervals(supply_point, first_day, last_day, kwh=0.25, power=1.0, skip=()):
    start = timebands.midnight_timestamp(first_day)
    end = timebands.midnight_timestamp(last_day + datetime.timedelta(days=1))
    rows = [dict(supply_point=supply_point, timestamp=moment, active_energy_kwh=kwh, power_kw=power)
            for moment in range(start, end, 900) if moment not in skip]
    with models.db.atomic():
        for offset in range(0, len(rows), 2000):
            models.Measurement.insert_many(rows[offset:offset + 2000]).execute()
    return len(rows)


def figure_of(page):
    """The Plotly figure in the page's data-figure attribute."""
    match = re.search(r'data-figure="([^"]*)"', page)
    assert match, "no chart in the page"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture
def metered(frozen, logged_in):
    """The logged-in customer's electricity point with 15-minute data from
    1 March 2025 to 12 March 2025 (today's data are not in yet)."""
    _, electricity = points(logged_in)
    add_intervals(electricity, datetime.date(2025, 3, 1), datetime.date(2025, 3, 12))
    return electricity


def test_full_page_without_htmx(client, metered):
    response = client.get(f"/misure?punto={metered.code}")
    assert response.status_code == 200
    assert "<html" in response.text
    assert "HX-Request" in response.headers["Vary"]
    assert "<h1>Misure elettriche</h1>" in response.text
    assert 'aria-current="page">Misure elettriche</a>' in response.text
    # The default range is the last 7 days, at 15-minute resolution.
    assert 'value="2025-03-07"' in response.text and 'value="2025-03-13"' in response.text
    assert ("Dal <strong>07/03/2025</strong> al <strong>13/03/2025</strong> · dettaglio 15 minuti"
            in response.text)
    assert f'data-plotly-src="/grafici/plotly-{charts.PLOTLY_JS_VERSION}.min.js"' in response.text
    assert "<script>" not in response.text  # nothing inline: the CSP forbids it


def test_fragment_with_htmx(client, metered):
    response = client.get(f"/misure?punto={metered.code}&dal=2025-03-01&al=2025-03-12", headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "HX-Request" in response.headers["Vary"]
    assert response.text.lstrip().startswith("<form class=\"period-form\"")
    assert "dettaglio orario" in response.text
    figure = figure_of(response.text)
    assert figure["layout"]["separators"] == ",."
    assert [trace["name"] for trace in figure["data"]] == ["F1", "F2", "F3", "Senza dati"]


def test_menu_swap_of_the_whole_content(client, metered):
    response = client.get(f"/misure?punto={metered.code}",
                          headers={"HX-Request": "true", "HX-Target": "content"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="measurements-data"' in response.text
    assert 'hx-swap-oob="true"' in response.text  # menu and picker follow


def test_band_totals_of_a_week(client, metered):
    # Monday 3 - Sunday 9 March 2025 at 0,25 kWh a quarter hour: 24 kWh a day.
    response = client.get(f"/misure?punto={metered.code}&dal=2025-03-03&al=2025-03-09", headers=HTMX)
    text = response.text
    assert "totale <strong>168,00 kWh</strong>" in text
    rows = re.findall(r'<th scope="row">.*?(F[123]).*?</th>\s*<td class="num">([^<]*)</td>\s*'
                      r'<td class="num">([^<]*)</td>', text, re.S)
    assert rows == [("F1", "55,00", "32,7 %"), ("F2", "41,00", "24,4 %"), ("F3", "72,00", "42,9 %")]
    assert "Mancano" not in text


@pytest.mark.parametrize("first, last, resolution, days", [
    ("2025-03-06", "2025-03-12", "15 minuti", 7),
    ("2025-03-05", "2025-03-12", "orario", 8),
    ("2025-02-10", "2025-03-12", "orario", 12),
    ("2025-02-09", "2025-03-12", "giornaliero", 12),
    ("2023-03-13", "2025-03-12", "giornaliero", 12),
    ("2023-03-12", "2025-03-12", "mensile", 12),
    ("2000-01-01", "2099-12-31", "mensile", 12),
])
def test_the_range_picks_the_resolution_and_is_never_refused(client, metered, first, last,
                                                             resolution, days):
    response = client.get(f"/misure?punto={metered.code}&dal={first}&al={last}", headers=HTMX)
    assert response.status_code == 200
    assert f"dettaglio {resolution}" in response.text
    # 24 kWh for each day with data in the range, whatever the resolution.
    assert f"totale <strong>{days * 24},00 kWh</strong>" in response.text
    figure = figure_of(response.text)
    assert sum(sum(trace["y"]) for trace in figure["data"][:3]) == pytest.approx(days * 24.0)


def test_gaps_are_shown_as_gaps(client, frozen, logged_in):
    _, electricity = points(logged_in)
    add_intervals(electricity, datetime.date(2025, 3, 3), datetime.date(2025, 3, 4))
    add_intervals(electricity, datetime.date(2025, 3, 6), datetime.date(2025, 3, 9))
    response = client.get(f"/misure?punto={electricity.code}&dal=2025-03-03&al=2025-03-09", headers=HTMX)
    assert "Mancano 96 misure su 672 attese" in response.text
    figure = figure_of(response.text)
    gap = figure["data"][3]
    assert gap["name"] == "Senza dati" and gap["showlegend"] is True
    assert gap["x"] == [f"2025-03-05 {hour:02d}:{minute:02d}"
                        for hour in range(24) for minute in (0, 15, 30, 45)]
    for trace in figure["data"][:3]:
        assert not any(x.startswith("2025-03-05") for x in trace["x"])
        assert 0 not in trace["y"]


def test_a_period_without_data(client, metered):
    response = client.get(f"/misure?punto={metered.code}&dal=2024-01-01&al=2024-01-07", headers=HTMX)
    assert response.status_code == 200
    assert "Non ci sono misure in questo periodo." in response.text
    assert figure_of(response.text)["layout"]["annotations"][0]["text"] == "Nessuna misura nel periodo scelto"


@pytest.mark.parametrize("query, field, message", [
    ("dal=2025-02-30&al=2025-03-12", "dal", "Data non valida"),
    ("dal=ieri&al=2025-03-12", "dal", "Data non valida"),
    ("dal=2025-03-01&al=12-03", "al", "Data non valida"),
    ("dal=1999-12-31&al=2025-03-12", "dal", "Indica una data tra il 01/01/2000 e il 31/12/2099."),
    ("dal=2025-03-01&al=2100-01-01", "al", "Indica una data tra il 01/01/2000 e il 31/12/2099."),
    ("dal=2025-03-10&al=2025-03-01", "al", "La data «Al» non può precedere la data «Dal»."),
    ("dal=%00%00&al=2025-03-12", "dal", "Data non valida"),
    ("dal=2025-03-01&dal=2025-03-02&al=2025-03-12", "dal", "Data non valida"),
    ("dal=" + "9" * 5000 + "&al=2025-03-12", "dal", "Data non valida"),
])
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_invalid_or_inverted_dates_get_a_message(client, metered, query, field, message, headers):
    response = client.get(f"/misure?punto={metered.code}&{query}", headers=headers)
    assert response.status_code == 422
    assert ("<html" in response.text) == (not headers)
    assert f'<p class="error" id="{field}-error">{html.escape(message, quote=False)}' in response.text
    assert f'aria-describedby="{field}-error"' in response.text
    assert "data-figure" not in response.text


def test_dates_typed_the_italian_way_are_accepted(client, metered):
    response = client.get(f"/misure?punto={metered.code}&dal=01/03/2025&al=12/03/2025", headers=HTMX)
    assert response.status_code == 200
    assert "Dal <strong>01/03/2025</strong> al <strong>12/03/2025</strong>" in response.text


def test_csv_export_of_the_range(client, metered, factory, other_customer):
    # Somebody else's data in the same range must not leak into the file.
    stranger = factory.supply_point(other_customer, "electricity")
    add_intervals(stranger, datetime.date(2025, 3, 1), datetime.date(2025, 3, 12), kwh=9.999)
    response = client.get(f"/misure/csv?punto={metered.code}&dal=2025-03-03&al=2025-03-04")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="misure-{metered.pdr_pod}-20250303-20250304.csv"')
    lines = response.get_data(as_text=True).split("\r\n")
    assert lines[0] == "\ufeffData e ora inizio;Fuso orario;Fascia;Energia attiva (kWh);Potenza (kW)"
    assert len(lines) == 1 + 2 * 96 + 1 and lines[-1] == ""
    assert lines[1] == "03/03/2025 00:00;UTC+01:00;F3;0,250;1,000"
    assert lines[33] == "03/03/2025 08:00;UTC+01:00;F1;0,250;1,000"
    assert lines[-2] == "04/03/2025 23:45;UTC+01:00;F3;0,250;1,000"
    assert "9,999" not in response.get_data(as_text=True)
    assert models.db.is_closed()  # the stream's own connection was closed at its end


def test_csv_rows_stream_from_the_database(app, metered):
    """The export never holds the range in memory: on PostgreSQL, whose driver would
    read the whole result first, the rows come through a server-side cursor."""
    query = interval_rows(metered, 0, 10 ** 10)
    with app.app_context():
        batches = stream_batches(query, batch=100)
        first = next(batches)
        if not isinstance(models.db.obj, models.SqliteDatabase):
            assert models.db.execute_sql("SELECT count(*) FROM pg_cursors").fetchone()[0] == 1
        assert len(first) == 100
        rest = list(batches)
        assert [len(batch) for batch in rest] == [100] * 10 + [52]  # 12 days of 96
        assert [tuple(row) for batch in (first, *rest) for row in batch] == \
            [tuple(row) for row in models.db.execute(query)]
        assert first[0][0] == timebands.midnight_timestamp(datetime.date(2025, 3, 1))


def test_csv_export_across_the_summer_time_change(client, frozen, logged_in):
    _, electricity = points(logged_in)
    add_intervals(electricity, datetime.date(2024, 10, 26), datetime.date(2024, 10, 27))
    response = client.get(f"/misure/csv?punto={electricity.code}&dal=2024-10-27&al=2024-10-27")
    text = response.get_data(as_text=True)
    lines = text.split("\r\n")[1:-1]
    assert len(lines) == 100  # a 25-hour day
    stamps = [line.rsplit(";", 3)[0] for line in lines]
    assert stamps[8:13] == ["27/10/2024 02:00;UTC+02:00", "27/10/2024 02:15;UTC+02:00",
                            "27/10/2024 02:30;UTC+02:00", "27/10/2024 02:45;UTC+02:00",
                            "27/10/2024 02:00;UTC+01:00"]


def test_csv_export_with_invalid_dates_shows_the_message(client, metered):
    response = client.get(f"/misure/csv?punto={metered.code}&dal=2025-03-10&al=2025-03-01")
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "La data «Al» non può precedere la data «Dal»." in response.text


def test_gas_point_has_no_measurements(client, logged_in):
    gas, electricity = points(logged_in)
    response = client.get(f"/misure?punto={gas.code}")
    assert response.status_code == 404
    assert "disponibili solo per i punti di fornitura di energia elettrica" in response.text
    assert ">Misure elettriche</a>" not in response.text  # no menu entry for a gas point
    assert client.get(f"/misure/csv?punto={gas.code}").status_code == 404
    home = client.get(f"/home?punto={electricity.code}")
    assert ">Misure elettriche</a>" in home.text


@pytest.mark.parametrize("url", ["/misure", "/misure/csv"])
def test_another_customers_point_is_404(client, logged_in, factory, other_customer, url):
    stranger = factory.supply_point(other_customer, "electricity", pdr_pod="IT001E99999999")
    add_intervals(stranger, datetime.date(2025, 3, 1), datetime.date(2025, 3, 2))
    response = client.get(f"{url}?punto={stranger.code}&dal=2025-03-01&al=2025-03-02")
    assert response.status_code == 404
    assert "IT001E99999999" not in response.text
    assert "ALTRO CLIENTE SEGRETO" not in response.text
    assert "0,250" not in response.text


@pytest.mark.parametrize("url", ["/misure", "/misure/csv", "/prelievi", "/prelievi/csv"])
def test_anonymous_visitors_go_to_login(client, url):
    response = client.get(url)
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


def test_queries_read_only_the_points_range_through_the_index(app, logged_in):
    """The chart and the export must not grow with other points and years: both
    queries are range searches of the (supply_point, timestamp) index."""
    _, electricity = points(logged_in)
    with app.app_context():
        for query in (interval_rows(electricity, 0, 10 ** 10), hourly_rows(electricity, 0, 10 ** 10)):
            sql, params = query.sql()
            if isinstance(models.db.obj, models.SqliteDatabase):
                plan = " ".join(str(row) for row in models.db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params))
                assert "USING INDEX measurement_supply_point_id_timestamp" in plan
                assert "timestamp>? AND timestamp<?" in plan
                assert "SCAN" not in plan
                continue
            # PostgreSQL would rightly scan a table this small: told not to, it still
            # must when no index serves the query.
            with models.db.atomic():
                models.db.execute_sql("SET LOCAL enable_seqscan = off")
                plan = " ".join(row[0] for row in models.db.execute_sql(f"EXPLAIN {sql}", params))
            assert "Index Scan using measurement_supply_point_id_timestamp" in plan
            # The index's third column, the generation of batched merges, may serve
            # the visibility condition too.
            assert re.search(r"Index Cond: \(\(supply_point_id = \S+\) AND \(\"timestamp\" >= \S+\) "
                             r"AND \(\"timestamp\" < \S+\)(?: AND \(generation <= \S+\))?\)",
                             plan), plan
            assert "Seq Scan" not in plan


def test_prepared_range_queries_are_peewee_s_own_with_each_request_s_values(
        app, logged_in, factory, other_customer):
    """The SQL text is built once per engine; the point and the range are each
    request's own, so another point's rows never come back."""
    _, electricity = points(logged_in)
    stranger = factory.supply_point(other_customer, "electricity", pdr_pod="IT001E99999999")
    add_intervals(electricity, datetime.date(2025, 3, 1), datetime.date(2025, 3, 2), kwh=0.25)
    add_intervals(stranger, datetime.date(2025, 3, 1), datetime.date(2025, 3, 2), kwh=0.5)
    start = timebands.midnight_timestamp(datetime.date(2025, 3, 2))
    end = timebands.midnight_timestamp(datetime.date(2025, 3, 3))
    with app.app_context():
        context = models.db.get_sql_context
        for query_of, prepared in ((interval_rows, interval_rows_prepared),
                                   (hourly_rows, hourly_rows_prepared)):
            for point in (electricity, stranger):
                ours = context().sql(prepared.node(point.id, start, end)).query()
                assert ours == context().sql(query_of(point, start, end)).query()
        rows = {point.pdr_pod: list(interval_rows_prepared.cursor(point.id, start, end))
                for point in (stranger, electricity)}
    assert [row[1] for row in rows["IT001E99999999"]] == [0.5] * 96
    assert [row[1] for row in rows[electricity.pdr_pod]] == [0.25] * 96
    assert rows[electricity.pdr_pod][0][0] == start


# --- plotly.js -----------------------------------------------------------------------------

PLOTLY_URL = f"/grafici/plotly-{charts.PLOTLY_JS_VERSION}.min.js"


def plotly_source():
    return (ROOT / "static" / "js" / f"plotly-basic-{charts.PLOTLY_JS_VERSION}.min.js").read_bytes()


def test_the_vendored_plotly_js_is_the_basic_bundle_of_the_python_packages_version():
    """plotly.py writes figures for one plotly.js version: the vendored partial bundle
    must be that version, with its licence beside it, and a quarter of the full one."""
    header = plotly_source()[:200].decode()
    assert f"plotly.js (basic - minified) v{charts.PLOTLY_JS_VERSION}" in header
    licence = ROOT / "static" / "js" / f"plotly-basic-{charts.PLOTLY_JS_VERSION}.LICENSE.txt"
    assert "MIT License" in licence.read_text()
    full = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    assert len(plotly_source()) < len(full) / 3


def test_plotly_js_is_served_gzipped_with_a_long_cache_lifetime(client):
    response = client.get(PLOTLY_URL, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.mimetype == "text/javascript"
    assert len(response.data) < len(plotly_source()) / 2
    assert gzip.decompress(response.data) == plotly_source()


def test_plotly_js_never_carries_the_session_cookie(client, logged_in):
    """A response any cache may keep must not hand out someone's session."""
    response = client.get(PLOTLY_URL, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert "Set-Cookie" in client.get("/home").headers  # pages still refresh the session


def test_plotly_js_plain_for_clients_without_gzip(client):
    response = client.get(PLOTLY_URL, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert response.data == plotly_source()
    again = client.get(PLOTLY_URL, headers={"If-None-Match": response.headers["ETag"],
                                            "Accept-Encoding": "identity"})
    assert again.status_code == 304


def test_plotly_js_of_another_version_does_not_exist(client):
    assert client.get("/grafici/plotly-0.0.1.min.js").status_code == 404
