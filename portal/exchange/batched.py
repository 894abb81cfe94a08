"""The merge of a large file in short transactions, shown to customers all at once.

A file of millions of measurements merged in one transaction held SQLite's write
lock for longer than the portal's writers wait (10 s): readings were refused. Here
the staged file goes into the table in batches of MERGE_ROWS staged rows, each its
own short transaction, and nobody sees any of it until one last one-row commit:
1. A merge run is created; its id is the generation of the rows it writes.
2. Batch by batch, in the staging table's key order: a shown row whose values the
   file changes gets `replaced_in` = the run (it stays shown), and the file's new
   and changed rows are inserted with the run's generation (not shown yet).
3. Publishing the run (one row) shows its rows and hides the ones they replace, in
   the same instant (`Measurement.visible()`).
4. The replaced rows are deleted, batch by batch (nobody sees them any more).
A failure before step 3 undoes steps 1-2 batch by batch; a process killed meanwhile
leaves a run in "merging", undone by the next merge before it starts. Merges take
turns (a file lock beside the instance, a PostgreSQL advisory lock)."""
import contextlib
import fcntl
import logging
import time
from pathlib import Path

from flask import current_app
from peewee import JOIN, SQL, Case, Entity, NodeList, Tuple, Value, fn

import models
from models import Measurement, MergeRun
from portal.exchange.kinds import _any_differs, is_sqlite

log = logging.getLogger("area_clienti.import")

MERGE_ROWS = 5000        # staged rows per merge transaction
# After each batch the merge leaves the lock free for as long as it held it, up to
# GIVE_WAY seconds. Without a pause it took the lock again at once, while a customer
# waiting for it slept in SQLite's busy handler (which retries after 1, 2, 5 ... and
# then every 100 ms): readings waited 1-2 s although no hold lasted 0.1 s.
# PostgreSQL has no such lock: readers never wait for the merge, and a writer that
# waits for one of its rows is woken by the commit itself. There the pause only
# added the merge's own time again to every import.
GIVE_WAY = 0.1
DELETE_ROWS = 5000       # rows deleted or restored per transaction while tidying up
POSTGRES_LOCK_KEY = 20_150_216  # the advisory lock of merges (acquisition uses its own)


class WriteTimer:
    """Times every write transaction; `longest` is the longest write-lock hold."""

    def __init__(self):
        self.longest = 0.0
        self.last = 0.0
        self.transactions = 0

    @contextlib.contextmanager
    def transaction(self):
        started = time.monotonic()
        with models.db.atomic():
            yield
        self.last = time.monotonic() - started
        self.longest = max(self.longest, self.last)
        self.transactions += 1

    def give_way(self):
        """Leave the lock free for as long as the last transaction held it (at most
        GIVE_WAY): waiting customers get their turn. SQLite only (see GIVE_WAY)."""
        if is_sqlite():
            time.sleep(min(GIVE_WAY, self.last))


@contextlib.contextmanager
def _one_merge_at_a_time():
    if is_sqlite():
        path = Path(current_app.instance_path) / ".batched-merge.lock"
        with open(path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        return
    models.db.execute_sql("SELECT pg_advisory_lock(%s)", (POSTGRES_LOCK_KEY,))
    try:
        yield
    finally:
        models.db.execute_sql("SELECT pg_advisory_unlock(%s)", (POSTGRES_LOCK_KEY,))


def merge_measurements(kind, staging, counts, file_name, timer):
    """Merge the staged measurements (see the module's docstring); fill counts."""
    with _one_merge_at_a_time():
        _tidy_up(timer)
        _analyze(staging)
        with timer.transaction():
            first_id = Measurement.select(fn.COALESCE(fn.MAX(Measurement.id), 0)).scalar()
            published = MergeRun.published_generation().scalar()
            run = MergeRun.create(kind=kind.name, file_name=file_name[:255], first_id=first_id)
        try:
            for low, high in _key_ranges(staging):
                with timer.transaction():
                    _by_key_lookups()
                    changed = _mark_replaced(kind, staging, run, published, low, high)
                    inserted = _insert_new_and_changed(kind, staging, run, published, low, high)
                counts.changed += changed
                counts.new += inserted - changed
                _checkpoint()
                _after_batch(run)
                timer.give_way()
            with timer.transaction():
                (MergeRun
                 .update(state=MergeRun.PUBLISHED, finished_at=models.utcnow())
                 .where(MergeRun.id == run.id)
                 .execute())
        except BaseException:
            try:
                _undo(run, timer)
            except Exception as error:
                # The database may be what failed (a full disk): the run stays
                # "merging", never shown, and the next merge undoes it.
                log.warning("merge run %s not undone yet: %s", run.id, error)
            raise
        counts.unchanged = staging.select().count() - counts.new - counts.changed
        _delete_replaced(timer)
        _analyze(Measurement)


def _analyze(model):
    """PostgreSQL: fresh statistics of a table just filled. A temporary table never
    gets any by itself, and the measurements the last file added none until
    autovacuum comes: without them the planner drove each batch's update from a
    scan of the whole measurement table."""
    if not is_sqlite():
        models.db.execute(NodeList((SQL("ANALYZE"), Entity(model._meta.table_name))))


def _by_key_lookups():
    """PostgreSQL, for the rest of the batch's transaction: join the batch to the
    measurement table by key lookups, a few thousand of them, never by hashing or
    sorting the whole table. The planner's idea of a batch's size is rough (see
    _in_range): a batch across two points looked large enough to hash all the
    table's rows (a million: 190 ms instead of 8)."""
    if not is_sqlite():
        models.db.execute_sql("SET LOCAL enable_hashjoin = off")
        models.db.execute_sql("SET LOCAL enable_mergejoin = off")


def _checkpoint():
    """SQLite: copy the batch from the write-ahead log into the database now, without
    waiting for anybody; else the customer whose commit crosses the log's size limit
    would do the copying of the import's pages."""
    if is_sqlite():
        models.db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")


def _after_batch(run):
    """Called after each batch commits: where a test looks at what customers see."""


def _key_ranges(staging):
    """(low, high) bounds of MERGE_ROWS staged keys each, in key order: low excluded
    (None: from the start), high included (None: to the end)."""
    key = Tuple(staging.supply_point, staging.timestamp)
    low = None
    while True:
        query = staging.select(staging.supply_point, staging.timestamp).order_by(
            staging.supply_point, staging.timestamp)
        if low is not None:
            query = query.where(key > Tuple(*low))
        high = query.offset(MERGE_ROWS - 1).limit(1).tuples().first()
        yield low, high
        if high is None:
            return
        low = high


def _in_range(staging, low, high):
    key = Tuple(staging.supply_point, staging.timestamp)
    condition = staging.line > 0
    if low is not None:
        condition &= key > Tuple(*low)
    if high is not None:
        condition &= key <= Tuple(*high)
    if not is_sqlite():
        # The same range again in conditions PostgreSQL's planner can size: it sizes
        # a row comparison by its first column alone, so (point, time) > (p, t1) AND
        # <= (p, t2) looked like a quarter of the file, not one batch, and the batch
        # was not the side of the join that drives the key lookups.
        if low is not None:
            condition &= staging.supply_point >= low[0]
        if high is not None:
            condition &= staging.supply_point <= high[0]
        if low is not None and high is not None and low[0] == high[0]:
            condition &= (staging.timestamp > low[1]) & (staging.timestamp <= high[1])
    return condition


def _shown_rows(published):
    """Rows shown now and not yet replaced by anybody."""
    return (Measurement.generation <= published) & Measurement.replaced_in.is_null()


def _same_key(staging):
    return ((Measurement.supply_point == staging.supply_point)
            & (Measurement.timestamp == staging.timestamp))


def _mark_replaced(kind, staging, run, published, low, high):
    """Shown rows of this batch's keys whose values the file changes: replaced by
    the run (still shown until it is published)."""
    differs = _any_differs((Measurement._meta.fields[name], getattr(staging, name))
                           for name in kind.update_fields())
    if differs is None:
        return 0
    # UPDATE ... FROM (SQLite 3.33, PostgreSQL): driven by the batch's staged keys;
    # `id IN (subquery)` made PostgreSQL scan the whole table.
    return (Measurement
            .update(replaced_in=run.id)
            .from_(staging)
            .where(_same_key(staging) & _in_range(staging, low, high)
                   & _shown_rows(published) & differs)
            .execute())


def _insert_new_and_changed(kind, staging, run, published, low, high):
    """The batch's lines without a shown, unreplaced row of their key: new keys, and
    the keys just marked as replaced. Inserted with the run's generation; a changed
    row keeps the values of the columns the file does not have."""
    current = Measurement.alias("current")
    replaced = Measurement.alias("replaced")
    from_file = set(kind.update_fields()) | set(kind.key)
    kept = [name for name in kind.fields if name not in from_file]
    columns, targets = [], []
    for name in kind.fields:
        staged = getattr(staging, name)
        columns.append(Case(None, [(replaced.id.is_null(), staged)], getattr(replaced, name))
                       if name in kept else staged)
        targets.append(Measurement._meta.fields[name])
    columns.append(Value(run.id))
    targets.append(Measurement.generation)
    query = (staging
             .select(*columns)
             .join(current, JOIN.LEFT_OUTER, on=(
                 (current.supply_point == staging.supply_point)
                 & (current.timestamp == staging.timestamp)
                 & (current.generation <= published)
                 & current.replaced_in.is_null())))
    if kept:
        # `replaced_in + 0`, not `replaced_in`: SQLite would otherwise look the row up
        # through the index of replaced rows, a scan of the whole run per line, and
        # not through the key.
        query = query.join(replaced, JOIN.LEFT_OUTER, on=(
            (replaced.supply_point == staging.supply_point)
            & (replaced.timestamp == staging.timestamp)
            & ((replaced.replaced_in + 0) == run.id)), src=staging)
    query = query.where(_in_range(staging, low, high) & current.id.is_null())
    return Measurement.insert_from(query, targets).as_rowcount().execute()


def _undo(run, timer):
    """Take back what an unpublished run wrote, batch by batch; mark it abandoned."""
    last_id = Measurement.select(fn.COALESCE(fn.MAX(Measurement.id), 0)).scalar()
    # Its rows lie above first_id: id ranges find them without a scan.
    for first in range(run.first_id, last_id, DELETE_ROWS):
        with timer.transaction():
            (Measurement
             .delete()
             .where((Measurement.id > first) & (Measurement.id <= first + DELETE_ROWS)
                    & (Measurement.generation == run.id))
             .execute())
        timer.give_way()
    while True:
        with timer.transaction():
            restored = (Measurement
                        .update(replaced_in=None)
                        .where(Measurement.id.in_(
                            Measurement.select(Measurement.id)
                            .where(Measurement.replaced_in == run.id)
                            .limit(DELETE_ROWS)))
                        .execute())
        if restored < DELETE_ROWS:
            break
        timer.give_way()
    with timer.transaction():
        (MergeRun
         .update(state=MergeRun.ABANDONED, finished_at=models.utcnow())
         .where(MergeRun.id == run.id)
         .execute())


def _tidy_up(timer):
    """Before a merge: undo runs a killed process left half done, and delete rows
    replaced by published runs that a killed process left behind."""
    for run in list(MergeRun.select().where(MergeRun.state == MergeRun.MERGING)):
        _undo(run, timer)
    _delete_replaced(timer)


def _delete_replaced(timer):
    """Delete the rows published runs replaced (nobody sees them)."""
    published = MergeRun.published_generation().scalar()
    while True:
        with timer.transaction():
            deleted = (Measurement
                       .delete()
                       .where(Measurement.id.in_(
                           Measurement.select(Measurement.id)
                           .where(Measurement.replaced_in.is_null(False)
                                  & (Measurement.replaced_in <= published))
                           .limit(DELETE_ROWS)))
                       .execute())
        if deleted < DELETE_ROWS:
            return
        timer.give_way()
