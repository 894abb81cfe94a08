"""What the frame every page shares costs, layer by layer, against a bare Flask route:
in process (Flask's test client), on the medium bench data, CPU time per request.

    .venv/bin/python bench/bench_frame.py [--bench-dir BENCH_DIR] [--requests 1000]

Rows: a bare Flask app's route; the portal's /healthz with a logged-in session cookie
(the portal's hooks: database connection, session, user, limits, security headers);
a logged-in route answering text (adds the login check); the same route rendering an
empty page in base.html (header, picker, menu, footer) and as an htmx fragment (the
content block plus the menu, picker and flash out of band); then three real pages.
Issue 21 asks a page for at most 3 times the bare route: the rows above the real pages
show how much of that the frame alone takes. `make bench` makes the data the first time.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Collesalvetti-2015"  # the scale demo's (portal/demo/common.py)
FRAGMENT = {"HX-Request": "true", "HX-Target": "content"}


def per_request(client, url, headers, requests):
    """(mean CPU ms, median wall ms) of `requests` requests after a warm-up."""
    for _ in range(50):
        client.get(url, headers=headers)
    cpu, wall = [], []
    for _ in range(requests):
        started, ticks = time.perf_counter(), time.process_time()
        response = client.get(url, headers=headers)
        response.get_data()
        cpu.append(time.process_time() - ticks)
        wall.append(time.perf_counter() - started)
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code}")
    return statistics.mean(cpu) * 1000, statistics.median(wall) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-dir", type=Path,
                        default=Path(os.environ.get("BENCH_DIR", "/tmp/area-clienti-bench")))
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    data = args.bench_dir / "medium"
    os.environ.update(DATABASE_URL=f"sqlite:///{data / 'portal.db'}",
                      FILES_DIR=str(data / "files"), SECRET_KEY="bench",
                      ACQUISITION_INTERVAL="0", NOTICE_INTERVAL="0", MAIL_SENDER="0")
    sys.path.insert(0, str(ROOT))
    from flask import Flask

    import models
    import views
    from app import create_app

    bare = Flask("bare")
    bare.add_url_rule("/", "bare", lambda: "ok")
    app = create_app({"WTF_CSRF_ENABLED": False})
    app.add_url_rule("/bench-text", "bench_text", views.customer_required(lambda: "ok"))
    app.add_url_rule("/bench-empty", "bench_empty",
                     views.customer_required(lambda: views.render_page("base.html")))
    with app.app_context(), models.db.connection_context():
        gas = (models.SupplyPoint.select().join(models.Customer)
               .where(models.Customer.password_hash.is_null(False)
                      & (models.SupplyPoint.commodity == models.SupplyPoint.GAS))
               .first())
    client = app.test_client()
    login = client.post("/login", data={"code": gas.customer.code, "password": PASSWORD})
    if login.status_code not in (302, 303):
        raise SystemExit("login failed")
    rows = [
        ("bare Flask route", bare.test_client(), "/", {}),
        ("portal /healthz, logged-in cookie", client, "/healthz", {}),
        ("logged-in route answering text", client, "/bench-text", {}),
        ("empty page in base.html", client, "/bench-empty", {}),
        ("empty page, htmx fragment", client, "/bench-empty", FRAGMENT),
        ("home (page)", client, "/home", {}),
        ("documents (fragment)", client, "/documenti", FRAGMENT),
        ("invoices (fragment)", client, "/fatture", FRAGMENT),
        ("readings (page)", client, f"/autolettura?punto={gas.code}", {}),
    ]
    print(f"Load average before: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| what | CPU ms per request | × bare | wall p50 ms |")
    print("|---|---:|---:|---:|")
    base = None
    for name, who, url, headers in rows:
        cpu, wall = per_request(who, url, headers, args.requests)
        base = base or cpu
        print(f"| {name} | {cpu:.3f} | {cpu / base:.1f}× | {wall:.3f} |")


if __name__ == "__main__":
    main()
