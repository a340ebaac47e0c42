/*-------------------------------------------------------------------------
 *
 * rebuild.c
 *	  A view of a table stream computed again from the table's rows, in
 *	  one transaction: on a user's request, after a restore, and by the
 *	  worker after a gap in its WAL.
 *
 * Pipeline position: a second source, for whole views (backfill.c does the
 * reading).  The storage (and the counts of a count window) is emptied row
 * by row, so that readers see the old contents until the rebuild commits;
 * the view's dead letters and counters start again; backfill.c fills the
 * storage from the table.  The callers lock the stream and make sure that
 * nothing of it is left unapplied before the rebuild's start:
 * continuous.rebuild() by waiting for the worker (ddl/rebuild_request.c), a
 * restore because the worker never loaded the view (ddl/restore.c), and
 * the worker itself because it has not decoded yet
 * (rebuild_table_stream_views()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "base/extension_catalog.h"
#include "base/privileges.h"
#include "base/shmem.h"
#include "base/subxact.h"
#include "ddl/ddl_catalog.h"
#include "exec/quarantine.h"
#include "source/kafka/kafka_options.h"
#include "state/backfill.h"
#include "state/rebuild.h"
#include "window/window_registry.h"

/* what rebuild_table_stream_views() did, for its log line */
typedef struct RebuildTally
{
	char	   *why;
	int			rebuilt;
	int			failed;
	int			late_readers;	/* rebuild_add_readers() found them */
	int64		rows;
} RebuildTally;

static List *rebuild_views_not_reading(List *views, RebuildTally *tally,
									   MemoryContext keep, List **transforms);
static List *rebuild_add_readers(List *later, List *transforms,
								 bool unstarted_only, RebuildTally *tally,
								 MemoryContext keep);
static void empty_table(Oid relid);
static void restart_view_bookkeeping(Oid view, XLogRecPtr active_from);

int64
rebuild_restored_view(Oid view, Oid storage, Oid stream)
{
	/*
	 * The worker has never loaded the view, so it holds nothing of it: no
	 * waiting for it (its new slot may be waiting for this transaction).
	 * As for CREATE VIEW, the rows this transaction wrote are read (a
	 * restore in one transaction wrote them all), and the view begins
	 * after this transaction: its start is left for the worker to write
	 * when it decodes this change of the view's catalog row.
	 */
	(void) backfill_lock_stream(stream);
	if (OidIsValid(ddl_catalog_join_stream_of_view(view)))
		(void) backfill_lock_stream(ddl_catalog_join_stream_of_view(view));
	return rebuild_view(view, storage, InvalidXLogRecPtr, BACKFILL_RESTORE);
}

/*
 * With its stream locked and nothing of it unapplied before active_from:
 * empty the view, start its bookkeeping again from active_from (none yet:
 * InvalidXLogRecPtr), and fill it from the table.
 */
int64
rebuild_view(Oid view, Oid storage, XLogRecPtr active_from,
			 BackfillKind kind)
{
	Oid			counts;

	/* the worker's flushes of this view wait for the rebuild; readers not */
	LockRelationOid(storage, ShareRowExclusiveLock);
	counts = window_registry_side_table(storage);
	if (OidIsValid(counts))
		LockRelationOid(counts, ShareRowExclusiveLock);
	empty_table(storage);
	if (OidIsValid(counts))
		empty_table(counts);
	restart_view_bookkeeping(view, active_from);
	CommandCounterIncrement();

	return backfill_view(view, kind);
}

/*
 * The worker (worker.c) found that it cannot decode everything since the
 * position stored with the views: its replication slot is gone (a promoted
 * standby, pg_upgrade, a restored dump, a dropped slot) or was
 * invalidated.  Every view of a table stream is computed again from its
 * table, in the worker's transaction, before decoding starts.  The new
 * slot decodes transactions that committed before the streams were locked
 * here, and the rows are read from a snapshot that sees them: the views
 * begin after the lock.  A view that cannot be rebuilt by its own fault is
 * marked failed; the others are not held up by it.  A view that a restore
 * still builds is left to the restore, which computes it when its last
 * part is in (restore.c): its storage may lack its index yet, and locking
 * it here would wait for, or deadlock with, the restore's sessions.
 * unstarted_only: only the views whose beginning the worker has not
 * written, which committed before a new slot's start (worker.c).
 *
 * A view over a continuous transform reads the transform's storage as its
 * stream, and the transform computed again appends all its rows anew, in
 * this transaction, which commits after the views' beginning: the new
 * slot decodes those rows, and a reader computed in the same transaction
 * (whose backfill sees only what committed before it) would count the
 * rows the transform had before on top of them all.  So such a reader is
 * computed in a later transaction, begun by next_transaction once the
 * transform's new rows have committed, and begins after them; a reader of
 * that reader, if it is a transform too, one transaction later again.
 * next_transaction makes sure that a crash in between computes every view
 * again when the worker starts.
 *
 * The readers of a transform are looked for again once its new rows have
 * committed: a restore may bring one back, or a CREATE VIEW make one,
 * after the views to compute were read and before those rows commit (the
 * transform's rebuild waits for the reader's lock on its storage).  Such
 * a reader was computed from the rows the transform had, and begins at
 * its own commit, before the new rows: it would count them on top.  So it
 * is computed again with the others, after the new rows.
 */
void
rebuild_table_stream_views(const char *why, bool unstarted_only,
						   void (*next_transaction) (void))
{
	List	   *views = NIL;
	MemoryContext keep;
	MemoryContext oldcxt;
	ListCell   *lc;
	RebuildTally tally = {0};

	/* the views still to compute live across the transactions */
	keep = AllocSetContextCreate(TopMemoryContext,
								 "pg_continuous views computed again",
								 ALLOCSET_SMALL_SIZES);
	foreach(lc, ddl_catalog_all_streams())
	{
		StreamCatalogEntry *entry = lfirst(lc);
		List	   *of_stream;

		if (entry->kafka)
			continue;
		of_stream = ddl_catalog_restored_views_of_stream(entry->stream, unstarted_only);
		oldcxt = MemoryContextSwitchTo(keep);
		/* an interval join reads two streams */
		views = list_concat_unique_oid(views, of_stream);
		MemoryContextSwitchTo(oldcxt);
	}
	oldcxt = MemoryContextSwitchTo(keep);
	tally.why = pstrdup(why);
	MemoryContextSwitchTo(oldcxt);
	/* one whose code went on after its cancel last time fails instead */
	views = list_delete_oid(views, quarantine_fail_overran_view());

	while (views != NIL)
	{
		List	   *transforms = NIL;
		List	   *later = rebuild_views_not_reading(views, &tally, keep,
													  &transforms);

		if (later != NIL || transforms != NIL)
		{
			next_transaction();
			later = rebuild_add_readers(later, transforms, unstarted_only,
										&tally, keep);
		}
		views = later;
	}
	if (tally.rebuilt + tally.failed > 0)
	{
		StringInfoData detail;

		initStringInfo(&detail);
		if (tally.failed > 0)
			appendStringInfo(&detail, "%d views could not be computed again and are marked failed (continuous.views.last_error).",
							 tally.failed);
		if (tally.late_readers > 0)
			appendStringInfo(&detail, "%sOf them, %d read a transform and came back, or were created, while it was computed; they were computed after it.",
							 detail.len > 0 ? " " : "", tally.late_readers);
		ereport(LOG,
				(errmsg("pg_continuous: computed %d continuous views again from their stream tables (%lld rows) after %s",
						tally.rebuilt, (long long) tally.rows, tally.why),
				 detail.len > 0 ? errdetail_internal("%s", detail.data) : 0));
	}
	MemoryContextDelete(keep);
}

/*
 * One transaction's share of rebuild_table_stream_views(): of views, those
 * that do not read the storage of a transform among them are computed
 * again; the others are returned, in keep, for the next transaction.  The
 * storages of the transforms computed go to *transforms, in keep.
 */
static List *
rebuild_views_not_reading(List *views, RebuildTally *tally, MemoryContext keep,
						  List **transforms)
{
	List	   *now = NIL;
	List	   *later = NIL;
	List	   *storages = NIL;
	List	   *streams = NIL;
	XLogRecPtr	active_from;
	ListCell   *lc;

	/* a transform read by continuous views: its storage is their stream */
	foreach(lc, views)
		storages = lappend_oid(storages, ddl_catalog_storage_of_view(lfirst_oid(lc)));
	foreach(lc, views)
	{
		Oid			view = lfirst_oid(lc);
		Oid			stream = ddl_catalog_stream_of_view(view);

		if (list_member_oid(storages, stream) ||
			list_member_oid(storages, ddl_catalog_join_stream_of_view(view)))
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(keep);

			later = lappend_oid(later, view);
			MemoryContextSwitchTo(oldcxt);
		}
		else
		{
			now = lappend_oid(now, view);
			streams = list_append_unique_oid(streams, stream);
		}
	}
	/* never so: no view reads itself, nor views one another in a circle */
	if (now == NIL)
		elog(ERROR, "pg_continuous: continuous views that read each other's storage");

	/* an interval join's second stream is read too */
	foreach(lc, now)
	{
		Oid			join = ddl_catalog_join_stream_of_view(lfirst_oid(lc));

		if (OidIsValid(join))
			streams = list_append_unique_oid(streams, join);
	}

	list_sort(streams, list_oid_cmp);
	foreach(lc, streams)
		(void) backfill_lock_stream(lfirst_oid(lc));
	active_from = GetXLogInsertRecPtr();

	foreach(lc, now)
	{
		Oid			view = lfirst_oid(lc);
		char	   *name = get_rel_name(view);
		MemoryContext cxt = CurrentMemoryContext;
		ResourceOwner owner = CurrentResourceOwner;
		/* the view's code runs over its stream's rows, as at its flushes */
		bool		armed = quarantine_limit_begin(view, false);

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		PG_TRY();
		{
			Oid			storage = ddl_catalog_storage_of_view(view);

			tally->rows += rebuild_view(view, storage, active_from, BACKFILL_REBUILD);
			(void) quarantine_limit_end(armed);
			ReleaseCurrentSubTransaction();
			tally->rebuilt++;
			if (ddl_catalog_view_is_transform(view))
			{
				MemoryContext oldcxt = MemoryContextSwitchTo(keep);

				*transforms = lappend_oid(*transforms, storage);
				MemoryContextSwitchTo(oldcxt);
			}
		}
		PG_CATCH();
		{
			bool		out_of_time = quarantine_limit_end(armed);
			ErrorData  *edata = continuous_abort_subtransaction(cxt);

			CurrentResourceOwner = owner;
			if (out_of_time)
				edata->message = quarantine_time_limit_message("computing it");
			else if (quarantine_error_is_transient(edata))
				ReThrowError(edata);
			quarantine_view(view, name,
							psprintf("it could not be computed again from its stream table after %s: %s",
									 tally->why, edata->message));
			tally->failed++;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	return later;
}

/*
 * In the transaction after the one that computed transforms (their
 * storages), with their new rows committed: later, with the readers of
 * those storages not in it yet, those that came back or were made while
 * the transforms were computed (see rebuild_table_stream_views()).  One
 * computed in an earlier transaction, from the rows a transform that came
 * back late had before, is computed again.
 */
static List *
rebuild_add_readers(List *later, List *transforms, bool unstarted_only,
					RebuildTally *tally, MemoryContext keep)
{
	ListCell   *lc;
	ListCell   *lr;

	foreach(lc, transforms)
	{
		foreach(lr, ddl_catalog_restored_views_of_stream(lfirst_oid(lc), unstarted_only))
		{
			MemoryContext oldcxt;

			if (list_member_oid(later, lfirst_oid(lr)))
				continue;
			oldcxt = MemoryContextSwitchTo(keep);
			later = lappend_oid(later, lfirst_oid(lr));
			MemoryContextSwitchTo(oldcxt);
			tally->late_readers++;
		}
	}
	return later;
}

/*
 * Delete every row, as of now: a rebuild may follow another one that
 * committed after this transaction's snapshot was taken.
 */
static void
empty_table(Oid relid)
{
	Relation	rel = table_open(relid, NoLock);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	HeapTuple	tuple;

	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
		simple_heap_delete(rel, &tuple->t_self);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
}

/*
 * The view's dead letters, counters, seen keys (stage_dedup.c) and rows
 * an interval join keeps (backfill.c fills them again) start again with
 * the rebuild, and the view is active again; the change of its
 * catalog row makes the worker load it anew.
 */
static void
restart_view_bookkeeping(Oid view, XLogRecPtr active_from)
{
	ExtensionPrivileges saved;
	Oid			argtypes[2] = {OIDOID, PG_LSNOID};
	Datum		args[2] = {ObjectIdGetDatum(view), LSNGetDatum(active_from)};
	char		nulls[2] = {' ', active_from == InvalidXLogRecPtr ? 'n' : ' '};

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("DELETE FROM continuous.dead_letters "
							  "WHERE view OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("DELETE FROM continuous.dedup_keys "
							  "WHERE view OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("DELETE FROM continuous.interval_join_rows "
							  "WHERE view OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("INSERT INTO continuous.view_stats AS s (view, active_from) "
							  "VALUES ($1, $2) "
							  "ON CONFLICT (view) DO UPDATE SET active_from = $2, "
							  "events = 0, late_events = 0, errors = 0, groups_in_memory = 0, "
							  "duplicates = 0, "
							  "status = 'active', last_error = NULL, failed_at = NULL",
							  2, argtypes, args, nulls, false, 0) != SPI_OK_INSERT ||
		SPI_execute_with_args("UPDATE continuous.view_catalog SET rebuilt_at = pg_catalog.now() "
							  "WHERE view OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "pg_continuous: could not reset the statistics of continuous view %u",
			 view);
	SPI_finish();
	privileges_leave_extension(&saved);
	continuous_catalog_changed();
}
