"""Weight of the customer pages on a phone: bytes of a full page and of the first chart
(raw, gzipped, and what really crossed the wire), and first-load timings through a
throttled "slow 4G" connection in Chromium.

    .venv/bin/python bench/bench_weight.py [--runs 5] [--rtt 150] [--down-kbps 1600]

It builds a temporary SQLite database through the app's own schema (one customer with
an electricity point: two years of billed consumption, 40 days of 15-minute data, 24
invoices), serves it with waitress as `make run` does (the app's default settings),
logs in with Chromium (Playwright) and then, for every run, in a fresh browser
context with an empty cache:

- GET /home, the full page, and waits for its `load` event;
- GET /prelievi, the full page of the first chart, and waits for the chart to be
  drawn (`data-drawn="true"`, which charts.js sets once plotly.js has drawn it);
- GET /home again in the same context (a repeat visit: what the cache saves).

The connection is throttled through the Chrome DevTools Protocol
(`Network.emulateNetworkConditions`): `--rtt` ms added to every request and
`--down-kbps` / `--up-kbps` of bandwidth (defaults: 150 ms, 1.6 Mbps down, 750 kbps
up, Lighthouse's "slow 4G"). Prints Markdown tables to paste into bench/RESULTS.md:
per page the bytes of each resource (raw body, its gzip at level 6, transferred with
headers as the browser saw it) and the median and worst of the timings.
"""
import argparse
import datetime
import gzip
import shutil
import statistics
import sys
import tempfile
import threading
import urllib.request
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402
from waitress.server import create_server  # noqa: E402

import models  # noqa: E402
from app import create_app  # noqa: E402
from portal import timebands  # noqa: E402
from portal.passwords import hash_password  # noqa: E402

PASSWORD = "benchmark-password"
CODE = "765432"


def make_app(directory):
    application = create_app({
        "SECRET_KEY": "bench",
        "DATABASE_URL": f"sqlite:///{directory / 'bench.db'}",
        "FILES_DIR": str(directory / "files"),
        "OUTBOX_DIR": str(directory / "outbox"),
        "EXPORT_DIR": str(directory / "exports"),
        "RATELIMIT_ENABLED": False,
        "MAIL_SENDER": False,
        "ACQUISITION_INTERVAL": 0,
        "REFUSE_OLD_SCHEMA": False,
        "BASE_URL": "http://127.0.0.1",
    })
    with application.app_context():
        models.db.connect(reuse_if_open=True)
        models.init_schema()
        fill(application)
        models.db.close()
    return application


def fill(application):
    """One customer, an electricity point with a chart's worth of data, 24 invoices."""
    customer = models.Customer.create(
        code=CODE, name="LUCE E GAS S.R.L.", tax_code="01234560496", is_company=True,
        address="VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)", email="cliente@example.it",
        registered_at=models.utcnow(), password_hash=hash_password(PASSWORD))
    point = models.SupplyPoint.create(
        code="PR765432", customer=customer, commodity="electricity", pdr_pod="IT001E76543210",
        address="VIA DEI POGGI 5 - 57014 COLLESALVETTI (LI)", meter_serial="M7654321",
        expected_annual_consumption=2700)
    today = models.rome_now().date()
    start = timebands.midnight_timestamp(today - datetime.timedelta(days=40))
    end = timebands.midnight_timestamp(today)
    rows = [dict(supply_point=point, timestamp=moment, power_kw=1.0,
                 active_energy_kwh=0.1 + (moment // 3600 % 24) / 40)
            for moment in range(start, end, 900)]
    with models.db.atomic():
        for offset in range(0, len(rows), 2000):
            models.Measurement.insert_many(rows[offset:offset + 2000]).execute()
        for year in (today.year - 1, today.year):
            for month in range(1, 13):
                period_start = datetime.date(year, month, 1)
                period_end = timebands.next_month(period_start) - datetime.timedelta(days=1)
                models.BilledConsumption.create(
                    supply_point=point, period_start=period_start, period_end=period_end,
                    energy_f1=1500.0 + 10 * month, energy_f2=600.0, energy_f3=450.0,
                    energy_total=2550.0 + 10 * month, max_power=5.5, unit="kWh")
                models.Invoice.create(
                    number=f"FT{year}{month:02d}", supply_point=point, date=period_end,
                    period_start=period_start, period_end=period_end,
                    amount=Decimal("84.30") + month, due_date=period_end + datetime.timedelta(days=20),
                    paid=month % 3 != 0)


def serve(application):
    server = create_server(application, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


def throttle(context, page, args):
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    session.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": args.rtt,
        "downloadThroughput": args.down_kbps * 1000 / 8,
        "uploadThroughput": args.up_kbps * 1000 / 8})
    return session


class Resources:
    """Every response of a page load: URL and bytes transferred (headers included)."""

    def __init__(self, page):
        self.seen = []
        page.on("requestfinished", self.finished)

    def finished(self, request):
        sizes = request.sizes()
        response = request.response()
        self.seen.append((request.url, response.status if response else 0,
                          sizes["responseBodySize"] + sizes["responseHeadersSize"]))

    def take(self, page):
        page.wait_for_timeout(500)  # the last events of the load come in
        seen, self.seen = self.seen, []
        return seen


def cookies_header(context):
    return "; ".join(f"{cookie['name']}={cookie['value']}" for cookie in context.cookies())


def body_sizes(url, cookie):
    """The body as the server sends it to a client that takes no compression, and its
    gzip (level 6, what nginx and the portal use)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie, "Accept-Encoding": "identity"})
    with urllib.request.urlopen(request, timeout=60) as response:  # nosec B310: our own server
        body = response.read()
    return len(body), len(gzip.compress(body, 6))


def login(page, base_url):
    page.goto(f"{base_url}/login")
    page.fill("#code", CODE)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def timed_load(page, url, chart=False):
    page.goto(url, wait_until="load")
    if chart:
        page.wait_for_selector(".chart[data-drawn=true]", timeout=120_000)
    return page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " const fcp = performance.getEntriesByName('first-contentful-paint')[0];"
        " return {load: n.loadEventEnd, fcp: fcp ? fcp.startTime : null, now: performance.now()}; }")


def short(url, base_url):
    path = url[len(base_url):]
    return path.split("?")[0] + ("?v=..." if "?v=" in path else "")


def run(args):
    directory = Path(tempfile.mkdtemp(prefix="bench-weight-"))
    try:
        application = make_app(directory)
        server, base_url = serve(application)
        results = {"home": [], "chart": [], "repeat": []}
        inventory = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"),
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            for number in range(args.runs):
                context = browser.new_context(viewport={"width": 375, "height": 812},
                                              device_scale_factor=2, is_mobile=True, has_touch=True)
                page = context.new_page()
                login(page, base_url)
                session = throttle(context, page, args)
                session.send("Network.clearBrowserCache")
                resources = Resources(page)
                page.goto("about:blank")
                results["home"].append(timed_load(page, f"{base_url}/home"))
                inventory["home"] = resources.take(page)
                page.goto("about:blank")
                session.send("Network.clearBrowserCache")
                resources.take(page)
                results["chart"].append(timed_load(page, f"{base_url}/prelievi", chart=True))
                inventory["chart"] = resources.take(page)
                page.goto("about:blank")
                resources.take(page)
                results["repeat"].append(timed_load(page, f"{base_url}/home"))
                inventory["repeat"] = resources.take(page)
                cookie = cookies_header(context)
                context.close()
            browser.close()
        report(args, base_url, results, inventory, cookie)
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)


def report(args, base_url, results, inventory, cookie):
    print(f"Throttled: {args.rtt} ms RTT, {args.down_kbps} kbps down, {args.up_kbps} kbps up; "
          f"375x812 phone viewport; {args.runs} runs, each in a new context with an empty cache.\n")
    titles = {"home": "/home, first load", "chart": "/prelievi (first chart), first load",
              "repeat": "/home, repeat visit (cache kept)"}
    for key, title in titles.items():
        print(f"### {title}\n")
        print("| resource | status | raw bytes | gzip -6 bytes | transferred (with headers) |")
        print("|---|---:|---:|---:|---:|")
        raw_total = gzip_total = wire_total = 0
        for url, status, transferred in inventory[key]:
            # Nothing crossed the wire: the browser's cache answered.
            cached = status == 200 and transferred == 0
            raw, zipped = body_sizes(url, cookie) if status == 200 and not cached else (0, 0)
            raw_total, gzip_total, wire_total = raw_total + raw, gzip_total + zipped, wire_total + transferred
            print(f"| `{short(url, base_url)}` | {'cache' if cached else status} | {raw:,} | {zipped:,} "
                  f"| {transferred:,} |")
        print(f"| **total** ({len(inventory[key])} requests) | | **{raw_total:,}** | **{gzip_total:,}** "
              f"| **{wire_total:,}** |\n")
    print("| load | first contentful paint: median (worst) | load event: median (worst) | chart drawn: median (worst) |")
    print("|---|---:|---:|---:|")
    for key, title in titles.items():
        fcp = [result["fcp"] for result in results[key] if result["fcp"] is not None]
        load = [result["load"] for result in results[key]]
        drawn = [result["now"] for result in results[key]] if key == "chart" else []
        cells = [f"{statistics.median(values) / 1000:.2f} s ({max(values) / 1000:.2f} s)" if values else "—"
                 for values in (fcp, load, drawn)]
        print(f"| {title} | {' | '.join(cells)} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rtt", type=int, default=150, help="added round-trip time, ms")
    parser.add_argument("--down-kbps", type=int, default=1600)
    parser.add_argument("--up-kbps", type=int, default=750)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
