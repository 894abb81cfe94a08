"""Weight of a page: one stylesheet and one script, both the committed concatenation of
their sources; versioned static URLs cached for a year; gzip of text answers."""
import datetime
import gzip
import re
import shutil
from pathlib import Path

import pytest

import models
from portal import assets, timebands

ROOT = Path(__file__).resolve().parent.parent
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.mark.parametrize("bundle", sorted(assets.BUNDLES))
def test_the_committed_bundle_is_the_concatenation_of_its_sources(bundle):
    """Edit a source without running `flask assets` and this fails."""
    committed = (ROOT / "static" / bundle).read_bytes()
    assert committed == assets.concatenation(ROOT / "static", bundle)
    for source in assets.BUNDLES[bundle]:
        assert (ROOT / "static" / source).read_text().strip()[-200:] in committed.decode()


def test_flask_assets_writes_the_bundles_again(app, runner, tmp_path):
    static = tmp_path / "static"
    shutil.copytree(ROOT / "static", static)
    app.static_folder = str(static)
    last_source = assets.BUNDLES["bundle/portal.css"][-1]
    (static / last_source).write_text(".nuova-regola { color: red; }\n")
    result = runner.invoke(args=["assets"])
    assert result.exit_code == 0 and "bundle/portal.css" in result.output
    assert "bundle/portal.js" not in result.output
    assert (static / "bundle" / "portal.css").read_text().rstrip().endswith(".nuova-regola { color: red; }")
    assert runner.invoke(args=["assets"]).output == "The bundles are up to date.\n"


def links(page):
    return (re.findall(r'<link rel="stylesheet" href="([^"]+)"', page),
            re.findall(r'<script src="([^"]+)"', page))


@pytest.mark.parametrize("path", ["/login", "/home", "/fatture", "/prelievi", "/operatore/login"])
def test_every_page_loads_one_stylesheet_and_one_script(client, logged_in, path):
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    stylesheets, scripts = links(page)
    assert len(stylesheets) == 1 and stylesheets[0].startswith("/static/bundle/portal.css?v=")
    assert len(scripts) == 1 and scripts[0].startswith("/static/bundle/portal.js?v=")


def test_static_files_are_cached_for_a_year_under_their_versioned_url(client):
    stylesheets, scripts = links(client.get("/login").get_data(as_text=True))
    for url, name in ((stylesheets[0], "portal.css"), (scripts[0], "portal.js")):
        version = url.split("?v=")[1]
        assert version == assets.content_hash(ROOT / "static" / "bundle" / name)
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.data == (ROOT / "static" / "bundle" / name).read_bytes()
        assert "Set-Cookie" not in response.headers
        # Another version (a page still open after a deploy) is never kept as if current.
        stale = client.get(url.replace(version, "0" * 12))
        assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"
        assert client.get(url.split("?")[0]).headers["Cache-Control"] == "no-cache"


def test_a_new_content_gets_a_new_url(app, tmp_path):
    static = tmp_path / "static"
    shutil.copytree(ROOT / "static", static)
    app.static_folder = str(static)
    with app.test_request_context():
        from views.assets import static_url
        before = static_url("bundle/portal.css")
        target = static / "bundle" / "portal.css"
        target.write_text(target.read_text() + "\n.nuova-regola { color: red; }\n")
        after = static_url("bundle/portal.css")
    assert before != after and after.endswith(assets.content_hash(target))


def test_pages_and_static_files_are_gzipped_for_browsers_that_accept_it(client, logged_in):
    page = client.get("/home", headers=GZIP)
    assert page.status_code == 200
    assert page.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in page.headers["Vary"] and "HX-Request" in page.headers["Vary"]
    assert page.headers["Cache-Control"] == "no-store"
    text = gzip.decompress(page.data).decode()
    assert "<h1>Home Page</h1>" in text
    assert int(page.headers["Content-Length"]) == len(page.data) < len(text.encode()) / 2

    stylesheets, scripts = links(text)
    for url, name in ((stylesheets[0], "portal.css"), (scripts[0], "portal.js")):
        response = client.get(url, headers=GZIP)
        assert response.headers["Content-Encoding"] == "gzip"
        plain = (ROOT / "static" / "bundle" / name).read_bytes()
        assert gzip.decompress(response.data) == plain
        assert len(response.data) < len(plain) / 2
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        # The compressed copy has a weak tag, which still revalidates.
        assert response.headers["ETag"].startswith('W/"')
        again = client.get(url, headers={**GZIP, "If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304


def test_clients_without_gzip_get_plain_answers(client, logged_in):
    page = client.get("/home", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in page.headers
    assert "<h1>Home Page</h1>" in page.get_data(as_text=True)
    assert "Accept-Encoding" in page.headers["Vary"]


def test_images_and_tiny_answers_are_not_compressed(client):
    assert "Content-Encoding" not in client.get("/static/favicon.svg", headers=GZIP).headers
    health = client.get("/healthz", headers=GZIP)
    assert health.status_code == 200 and "Content-Encoding" not in health.headers


def test_the_csv_export_streams_gzipped(client, logged_in):
    _, electricity = logged_in.supply_points_in_order()
    day = models.rome_now().date() - datetime.timedelta(days=2)
    start = timebands.midnight_timestamp(day)
    models.Measurement.insert_many(
        [dict(supply_point=electricity, timestamp=moment, active_energy_kwh=0.25, power_kw=1.0)
         for moment in range(start, start + 86400, 900)]).execute()
    url = f"/misure/csv?punto={electricity.code}&dal={day:%Y-%m-%d}&al={day:%Y-%m-%d}"
    response = client.get(url, headers=GZIP)
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Content-Length" not in response.headers
    lines = gzip.decompress(response.get_data()).decode().split("\r\n")
    assert len(lines) == 1 + 96 + 1 and lines[1].endswith(";0,250;1,000")
    assert models.db.is_closed()  # the stream still closes its connection at its end
    plain = client.get(url).get_data()
    assert gzip.decompress(response.get_data()) == plain


def test_compression_off_where_the_proxy_does_it(tmp_path):
    from conftest import make_app
    application = make_app(tmp_path, COMPRESS_RESPONSES=False)
    try:
        response = application.test_client().get("/login", headers=GZIP)
        assert response.status_code == 200
        assert "Content-Encoding" not in response.headers
        assert "Area Clienti" in response.get_data(as_text=True)
    finally:
        models.db.close_all()


def test_the_database_error_page_links_the_bundle(app):
    with app.test_request_context():
        from views.assets import static_url
        page = app.jinja_env.get_template("error_database.html").render(
            config=app.config, url_for=lambda *a, **k: "/", incident="X", message="m", title="t")
        assert f'href="{static_url("bundle/portal.css")}"' in page
