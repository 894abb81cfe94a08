"""What a change costs per page: the same customer pages through Flask's test client,
in process, for two or more checkouts of the portal in turn, on the medium bench data.

    .venv/bin/python bench/bench_trees.py OLD_CHECKOUT NEW_CHECKOUT [--rounds 3]

Each checkout runs in a process of its own (its modules, the same virtualenv), rounds
alternate between them so that a busy moment of the machine weighs on all alike, and
the median of 300 requests per page is printed. No server and no network: the figure
is the portal's own cost (routing, session, queries, templates), which is what a
refactoring can change. `make bench` makes the data (BENCH_DIR/medium) the first time.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# The scale demo's password (portal/demo/common.py DEMO_PASSWORD), written out: a
# checkout from before the house plan keeps it in another module. For the same reason
# the customer is found with models alone, not portal.demo.scale.sample_customers().
PASSWORD = "Collesalvetti-2015"
REQUESTS = 300
WARM_UP = 30


def measure(checkout, data_dir):
    """Runs inside the checkout: {page: median ms}."""
    sys.path.insert(0, str(checkout))
    os.chdir(checkout)
    os.environ.update(DATABASE_URL=f"sqlite:///{data_dir / 'portal.db'}",
                      FILES_DIR=str(data_dir / "files"), SECRET_KEY="bench",
                      ACQUISITION_INTERVAL="0")
    from app import create_app
    import models

    app = create_app({"WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    with app.app_context(), models.db.connection_context():
        measured = models.Measurement.select(models.Measurement.supply_point).distinct()
        point = (models.SupplyPoint
                 .select()
                 .join(models.Customer)
                 .where(models.SupplyPoint.id.in_(measured)
                        & models.Customer.password_hash.is_null(False))
                 .first())
        code, point_code = point.customer.code, point.code
        last_day = (models.Measurement
                    .select(models.fn.MAX(models.Measurement.timestamp))
                    .where(models.Measurement.supply_point == point)
                    .scalar())
    client = app.test_client()
    login = client.post("/login", data={"code": code, "password": PASSWORD})
    assert login.status_code in (302, 303), login.status_code
    day = datetime.datetime.fromtimestamp(last_day, models.ROME).date()
    week = day - datetime.timedelta(days=6)
    fragment = {"HX-Request": "true", "HX-Target": "content"}
    pages = {
        "home (page)": ("/home", {}),
        "invoices (fragment)": (f"/fatture?punto={point_code}", fragment),
        "prelievi (fragment)": (f"/prelievi?punto={point_code}", fragment),
        "misure week (fragment)": (f"/misure?punto={point_code}&dal={week}&al={day}",
                                   {"HX-Request": "true", "HX-Target": "measurements-data"}),
        "misure week (CSV)": (f"/misure/csv?punto={point_code}&dal={week}&al={day}", {}),
        "documents (fragment)": ("/documenti", fragment),
    }
    medians = {}
    for name, (url, headers) in pages.items():
        for _ in range(WARM_UP):
            assert client.get(url, headers=headers).status_code == 200, url
        times = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            client.get(url, headers=headers).get_data()
            times.append(time.perf_counter() - started)
        medians[name] = statistics.median(times) * 1000
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bench-dir", type=Path,
                        default=Path(os.environ.get("BENCH_DIR", "/tmp/area-clienti-bench")))
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    data_dir = args.bench_dir / "medium"
    if args.measure:
        print(json.dumps(measure(args.measure.resolve(), data_dir)))
        return
    if not args.checkouts:
        parser.error("name at least one checkout")
    if not (data_dir / "ready.json").exists():
        sys.exit(f"no medium bench data in {data_dir}: run `make bench` once first")
    results = {checkout: [] for checkout in args.checkouts}
    for _ in range(args.rounds):
        for checkout in args.checkouts:
            output = subprocess.run([sys.executable, __file__, "--measure", str(checkout),
                                     "--bench-dir", str(args.bench_dir)],
                                    capture_output=True, text=True, check=True).stdout
            results[checkout].append(json.loads(output.strip().splitlines()[-1]))
    pages = list(results[args.checkouts[0]][0])
    print("| page | " + " | ".join(f"{checkout.resolve().name} ms" for checkout in args.checkouts) + " |")
    print("|---|" + "---:|" * len(args.checkouts))
    for page in pages:
        cells = [statistics.median(run[page] for run in results[checkout])
                 for checkout in args.checkouts]
        print(f"| {page} | " + " | ".join(f"{cell:.2f}" for cell in cells) + " |")


if __name__ == "__main__":
    main()
