"""How long do the new-invoice notices of a billing run take, and how long do they hold
the database's write lock? Makes `--customers` registered customers with a gas point each
in a temporary SQLite database, imports an invoice file with one new invoice each (the
notices follow the import's commit), then the same file again (nothing new, no notice).

    .venv/bin/python bench/bench_notices.py [--customers 5000]
    .venv/bin/python bench/bench_notices.py --starve [--customers 2000]

--starve instead gives every customer an overdue invoice and runs the schedule in two
threads at once (two workers' first run), with and without notices.WRITE_PAUSE, while
a customer's save (one short write, the engine's busy timeout) is tried every 50 ms: it
prints how long the saves waited and how many failed.

Mail is only queued (the sender is off): what is measured is the import, the composing
of every message in its customer's language and the records that make each notice once."""
import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import peewee  # noqa: E402

import models  # noqa: E402
from app import create_app  # noqa: E402
from portal import notices  # noqa: E402
from portal.exchange.importer import import_file  # noqa: E402

longest_batch = [0.0]


def timed_batches(items, size, batches=notices.chunked):
    """notices.chunked, timing each batch's transaction (the loop body between yields)."""
    for batch in batches(items, size):
        started = time.perf_counter()
        yield batch
        longest_batch[0] = max(longest_batch[0], time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--starve", action="store_true")
    arguments = parser.parse_args()
    count = arguments.customers
    notices.chunked = timed_batches
    folder = Path(tempfile.mkdtemp(prefix="bench-notices-"))
    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": f"sqlite:///{folder / 'portal.db'}",
                      "FILES_DIR": str(folder / "files"), "OUTBOX_DIR": str(folder / "outbox"),
                      "EXPORT_DIR": str(folder / "exports"), "ACQUISITION_INTERVAL": 0,
                      "MAIL_SENDER": False, "REFUSE_OLD_SCHEMA": False})
    with app.app_context(), models.db.connection_context():
        models.init_schema()
        now, day = models.utcnow(), models.rome_now().date()
        with models.db.atomic():
            for number in range(count):
                customer = models.Customer.create(
                    code=f"{300000 + number}", name=f"CLIENTE {number}",
                    tax_code="RSSMRA80A01H501U", email=f"cliente{number}@example.it",
                    registered_at=now, language="en" if number % 5 == 0 else None)
                models.SupplyPoint.create(code=f"PR{500000 + number}", customer=customer,
                                          commodity="gas", address="VIA DEI POGGI 5",
                                          pdr_pod=f"{3340009749000 + number:014d}")
        if arguments.starve:
            return starve(app, count, day)
        path = folder / "invoices.csv"
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("number;supply_point_code;date;period_start;period_end;amount;"
                         "due_date;paid\n")
            for number in range(count):
                handle.write(f"FT-{number:07d};PR{500000 + number};{day};"
                             f"{day - datetime.timedelta(days=60)};"
                             f"{day - datetime.timedelta(days=1)};12,34;"
                             f"{day + datetime.timedelta(days=20)};0\n")
        for run in ("new invoices", "same file again"):
            started = time.perf_counter()
            report = import_file("invoices", path)
            seconds = time.perf_counter() - started
            print(f"{run}: {seconds:.2f} s in all; {report.summary()}")
            print(f"  mails queued so far {models.OutgoingMail.select().count()}, "
                  f"notices recorded {models.Notice.select().count()}; longest transaction "
                  f"of {notices.NOTICE_BATCH} customers' notices {longest_batch[0]:.3f} s")


def starve(app, count, day):
    """Customers' saves while two schedules give `count` overdue notices each round."""
    import threading
    points = list(models.SupplyPoint.select())
    for pause in (0.0, notices.WRITE_PAUSE):
        models.Notice.delete().execute()
        models.OutgoingMail.delete().execute()
        models.Invoice.delete().execute()
        with models.db.atomic():
            for number, point in enumerate(points):
                models.Invoice.create(number=f"FT-{pause}-{number:07d}", supply_point=point,
                                      customer=point.customer_id, date=day, amount="12.34",
                                      period_start=day - datetime.timedelta(days=60),
                                      period_end=day - datetime.timedelta(days=31),
                                      due_date=day - datetime.timedelta(days=1), paid=False)
        notices.WRITE_PAUSE = pause
        running = []

        def schedule():
            with app.app_context(), models.db.connection_context():
                notices.run_schedule()

        workers = [threading.Thread(target=schedule) for _ in range(2)]
        for worker in workers:
            worker.start()
        running = workers
        waits, failed = [], 0
        customer = models.Customer.select().first()
        started = time.perf_counter()
        while any(worker.is_alive() for worker in running):
            before = time.perf_counter()
            try:
                with models.db.atomic():
                    models.Customer.update(phone=f"{before:.6f}"[-9:]).where(
                        models.Customer.id == customer.id).execute()
                waits.append(time.perf_counter() - before)
            except peewee.OperationalError:
                failed += 1
            time.sleep(0.05)
        for worker in running:
            worker.join()
        waits.sort()
        given = models.Notice.select().count()
        print(f"pause {pause * 1000:.0f} ms: {given} notices in "
              f"{time.perf_counter() - started:.1f} s; {len(waits)} saves waited p50 "
              f"{waits[len(waits) // 2] * 1000:.1f} ms, max {waits[-1] * 1000:.0f} ms; "
              f"{failed} failed" if waits else f"pause {pause}: {failed} failed, none saved")


if __name__ == "__main__":
    main()
