/*-------------------------------------------------------------------------
 *
 * worker_catalog.c
 *	  The streams and views a database worker serves, as it read them from
 *	  the continuous catalog, and whether that may have changed since.
 *
 * Pipeline position: beside the worker's loop (worker.c), before the
 * source.  A load reads continuous.stream_catalog into one clock per
 * stream (watermark.c), tells the decoder which tables are streams, makes
 * the Kafka consumers (worker_kafka.c), and reads continuous.view_catalog
 * into a runtime per view (batch.c), each set up as its owner from the
 * analysed SELECT of its definition view (view_definition.c), with the
 * position it counts from (view_progress.c).  A view that cannot be set up
 * is quarantined (quarantine.c) and the others go on.  Each load's memory,
 * as all the worker keeps, hangs off one context (memory.c).
 *
 * A change of the continuous catalog (a view or stream created, dropped,
 * altered, rebuilt or restored) reaches the decoding worker as the decoder
 * reads it in the WAL, which is where it must be applied; a worker that
 * does not decode learns of it by a relcache invalidation
 * (worker_catalog_invalidated()), and loads the catalog again.  The loop
 * asks at every turn (worker_catalog_news()); a decoding worker is told
 * only to check that the extension still exists, which a DROP EXTENSION's
 * invalidation says at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/qunique.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"

#include "base/extension_catalog.h"
#include "base/memory.h"
#include "base/privileges.h"
#include "base/subxact.h"
#include "ddl/view_definition.h"
#include "exec/quarantine.h"
#include "source/kafka/worker_kafka.h"
#include "state/chain_emit.h"
#include "state/group_locations.h"
#include "worker/early_aggregation.h"
#include "worker/view_progress.h"
#include "worker/worker_catalog.h"

/* after a reset of its caches, how often at most the extension is looked for */
#define EXTENSION_CHECK_MS		1000

/*
 * Where each view begins, kept across catalog reloads.  A view created while
 * the worker runs begins right after its creating transaction, which the
 * decoder reports as a catalog change; the position is written to
 * view_stats.active_from with that flush, before the slot moves past it.
 * So a view without a written position, at startup or when the catalog is
 * read again, committed after what the decoder has read (the worker may
 * lag behind the catalog), and it waits for its creating transaction to be
 * decoded: beginning earlier would count again what its backfill counted.
 */
typedef struct ViewActivation
{
	Oid			view;			/* hash key */
	XLogRecPtr	active_from;	/* InvalidXLogRecPtr: not yet known */
	bool		persisted;
} ViewActivation;

typedef struct WorkerCatalog
{
	int			index;			/* 0 .. continuous.workers - 1 */
	bool		decoding;		/* wal_level = logical */
	List	   *clocks;			/* StreamClock, one per stream */
	MemoryContext cxt;			/* holds clocks; reset at each load */
	HTAB	   *activations;	/* Oid -> ViewActivation */

	/*
	 * Set by a relcache invalidation of a catalog table, of a view or of a
	 * Kafka stream in the catalog (watched, sorted, in cxt); or, as
	 * caches_reset, of every relation: the catalog may have changed.
	 */
	bool		invalidated;
	bool		caches_reset;
	TimestampTz last_extension_check;
	Oid			stream_catalog;
	Oid			view_catalog;
	Oid		   *watched;
	int			nwatched;
} WorkerCatalog;

static WorkerCatalog wc;

static List *worker_catalog_load_streams(void);
static List *worker_catalog_load_views(MemoryContext spicxt,
									   List *kafka_streams, HTAB *previous,
									   bool at_startup, bool slot_is_new,
									   bool decoder_restarted);
static void worker_watch_catalog(void);
static void worker_catalog_invalidated(Datum arg, Oid relid);

void
worker_catalog_init(int worker, bool decoding)
{
	wc.index = worker;
	wc.decoding = decoding;
	CacheRegisterRelcacheCallback(worker_catalog_invalidated, (Datum) 0);
}

/*
 * Streams and views as the catalog has them now.  at_startup: the decoder
 * resumes at the last written position; slot_is_new: it starts from scratch;
 * decoder_restarted: at startup, or decoding again for views held back.
 */
List *
worker_catalog_load(List *views, bool at_startup, bool slot_is_new,
					bool decoder_restarted)
{
	ListCell   *lc;
	MemoryContext spicxt = CurrentMemoryContext;
	HTAB	   *previous = wc.activations;
	HASHCTL		ctl;
	List	   *kafka_streams;

	/*
	 * This transaction's snapshot sees every commit whose invalidation was
	 * processed so far; one processed from here on may be newer.
	 */
	wc.invalidated = wc.caches_reset = false;

	early_aggregation_forget();
	foreach(lc, views)
		view_runtime_destroy(lfirst(lc));
	list_free(views);

	/* consumers resume at the offsets stored with the state */
	worker_kafka_drop_sources();

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(ViewActivation);
	ctl.hcxt = continuous_memory_context();
	wc.activations = hash_create("pg_continuous view activations", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	if (wc.cxt == NULL)
		wc.cxt = AllocSetContextCreate(continuous_memory_context(),
									   "pg_continuous streams",
									   ALLOCSET_SMALL_SIZES);
	wc.watched = NULL;
	wc.nwatched = 0;
	MemoryContextReset(wc.cxt);
	wc.clocks = NIL;
	wc.stream_catalog = continuous_catalog_relid(CATALOG_STREAMS);
	wc.view_catalog = continuous_catalog_relid(CATALOG_VIEWS);

	kafka_streams = worker_catalog_load_streams();
	chain_emit_load();
	views = worker_catalog_load_views(spicxt, kafka_streams, previous,
									  at_startup, slot_is_new,
									  decoder_restarted);
	worker_kafka_create_sources(kafka_streams, views);
	if (!wc.decoding)
		worker_watch_catalog();
	return views;
}

/*
 * The streams: a clock each (in wc.cxt), and the decoder's tables.  Returns
 * the Kafka streams that have views (a List of Oid).
 */
static List *
worker_catalog_load_streams(void)
{
	Oid		   *relids;
	uint64		i;
	int			ntables = 0;
	List	   *kafka_streams = NIL;

	if (SPI_execute("SELECT c.stream, c.event_time, c.watermark_delay, s.watermark, "
					"c.kind OPERATOR(pg_catalog.=) 'kafka', "
					"EXISTS (SELECT FROM continuous.view_catalog v "
					"        WHERE v.stream OPERATOR(pg_catalog.=) c.stream "
					"          AND NOT v.restore_pending), "
					"c.max_future "
					"FROM continuous.stream_catalog c "
					"LEFT JOIN continuous.stream_stats s "
					"       ON s.stream OPERATOR(pg_catalog.=) c.stream",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.stream_catalog");
	relids = palloc(sizeof(Oid) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		no_event_time;
		bool		no_watermark;
		Datum		event_time = SPI_getbinval(row, desc, 2, &no_event_time);
		Datum		delay = SPI_getbinval(row, desc, 3, &isnull);
		Datum		watermark = SPI_getbinval(row, desc, 4, &no_watermark);
		Oid			stream = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		bool		kafka = DatumGetBool(SPI_getbinval(row, desc, 5, &isnull));
		bool		has_views = DatumGetBool(SPI_getbinval(row, desc, 6, &isnull));
		Datum		max_future = SPI_getbinval(row, desc, 7, &isnull);
		MemoryContext oldcxt;

		if (!kafka)
			relids[ntables++] = stream;
		else if (has_views)
			kafka_streams = lappend_oid(kafka_streams, stream);
		oldcxt = MemoryContextSwitchTo(wc.cxt);
		wc.clocks = lappend(wc.clocks,
							stream_clock_create(stream,
												no_event_time ? NULL : NameStr(*DatumGetName(event_time)),
												DatumGetIntervalP(delay),
												DatumGetIntervalP(max_future),
												!no_watermark,
												no_watermark ? 0 : DatumGetTimestampTz(watermark)));
		MemoryContextSwitchTo(oldcxt);
	}
	qsort(relids, ntables, sizeof(Oid), oid_cmp);
	if (wc.decoding)
		decoder_set_streams(relids, ntables, wc.stream_catalog,
							wc.view_catalog);
	return kafka_streams;
}

/*
 * The views that this worker serves, each set up as its owner, with where
 * it begins.  spicxt: the load's memory; previous: the activations as last
 * loaded (NULL: none), which go.
 */
static List *
worker_catalog_load_views(MemoryContext spicxt, List *kafka_streams,
						  HTAB *previous, bool at_startup, bool slot_is_new,
						  bool decoder_restarted)
{
	List	   *views = NIL;
	uint64		i;
	Oid			overran = quarantine_fail_overran_view();

	/*
	 * Last, the tables of its lookup joins: the tables its definition
	 * reads that are not streams.
	 */
	if (SPI_execute("SELECT v.view, v.stream, v.storage, v.query_view, c.relowner, s.active_from, "
					"v.allowed_lateness, v.late_table, v.retention, c.relname, "
					"v.search_path, v.counts_table, "
					"ARRAY(SELECT DISTINCT d.refobjid FROM pg_catalog.pg_depend d "
					"      JOIN pg_catalog.pg_rewrite r ON r.oid OPERATOR(pg_catalog.=) d.objid "
					"      JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) d.refobjid "
					"      WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass "
					"      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass "
					"      AND r.ev_class OPERATOR(pg_catalog.=) v.query_view "
					"      AND t.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog.\"char\"[]) "
					"      AND NOT EXISTS (SELECT FROM continuous.stream_catalog sc "
					"                      WHERE sc.stream OPERATOR(pg_catalog.=) d.refobjid)) "
					"FROM continuous.view_catalog v "
					"JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) v.view "
					"LEFT JOIN continuous.view_stats s ON s.view OPERATOR(pg_catalog.=) v.view "
					"WHERE (s.status OPERATOR(pg_catalog.=) 'failed') IS NOT TRUE "
					"AND NOT v.restore_pending "
					"ORDER BY v.view",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.view_catalog");

	view_progress_begin_load(decoder_restarted);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Oid			view = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		Oid			stream = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
		Oid			storage = DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull));
		Oid			query_view = DatumGetObjectId(SPI_getbinval(row, desc, 4, &isnull));
		Oid			owner = DatumGetObjectId(SPI_getbinval(row, desc, 5, &isnull));
		bool		not_written;
		Datum		written = SPI_getbinval(row, desc, 6, &not_written);
		Interval   *lateness = DatumGetIntervalP(SPI_getbinval(row, desc, 7,
																  &isnull));
		bool		no_late_table;
		Oid			late_table = DatumGetObjectId(SPI_getbinval(row, desc, 8,
																 &no_late_table));
		bool		no_retention;
		Datum		retention = SPI_getbinval(row, desc, 9, &no_retention);
		char	   *search_path = TextDatumGetCString(SPI_getbinval(row, desc, 11,
																	&isnull));
		bool		no_counts;
		Oid			counts = DatumGetObjectId(SPI_getbinval(row, desc, 12, &no_counts));
		bool		no_lookups;
		Datum		lookups = SPI_getbinval(row, desc, 13, &no_lookups);
		ResourceOwner oldowner = CurrentResourceOwner;
		bool		armed;
		ViewActivation *act;
		ViewActivation *before = NULL;
		XLogRecPtr	counts_from;
		ViewRelations relations;
		Oid			locked;
		bool		kafka = list_member_oid(kafka_streams, stream);

		/* the further workers serve only views over Kafka streams */
		if (wc.index > 0 && !kafka)
			continue;
		/* failed just now: its code did not stop when cancelled */
		if (view == overran)
		{
			view_progress_forget(view);
			continue;
		}

		act = hash_search(wc.activations, &view, HASH_ENTER, NULL);
		if (previous)
			before = hash_search(previous, &view, HASH_FIND, NULL);
		if (!not_written)
		{
			act->active_from = DatumGetLSN(written);
			act->persisted = true;
		}
		else if (before && before->active_from != InvalidXLogRecPtr)
			*act = *before;
		else
		{
			/*
			 * New to this worker, and its creation not decoded yet (that
			 * flush writes where it begins): it committed after what the
			 * decoder has read, and waits for its creating transaction.
			 * With a new slot, the views of table streams it could not
			 * decode the creation of were computed again and have their
			 * beginning (worker_start_decoder()); a view of a Kafka stream
			 * begins at the slot's start.
			 */
			act->active_from = (at_startup && slot_is_new && kafka) ?
				Max(decoder_read_position(), 1) : InvalidXLogRecPtr;
			act->persisted = false;
		}

		/*
		 * A view of a table stream counts from where it is applied; one
		 * whose relations another transaction has locked is held back.
		 */
		counts_from = act->active_from;
		relations.storage = storage;
		relations.counts = no_counts ? InvalidOid : counts;
		relations.late_table = no_late_table ? InvalidOid : late_table;
		relations.query_view = query_view;
		relations.lookups = NIL;
		if (!no_lookups)
		{
			Datum	   *oids;
			int			n;
			int			l;

			deconstruct_array(DatumGetArrayTypeP(lookups), OIDOID, sizeof(Oid),
							  true, TYPALIGN_INT, &oids, NULL, &n);
			for (l = 0; l < n; l++)
				relations.lookups = lappend_oid(relations.lookups,
												DatumGetObjectId(oids[l]));
		}
		if (kafka || (wc.decoding && act->active_from != InvalidXLogRecPtr))
		{
			if (!view_progress_load_view(view, kafka ? stream : InvalidOid,
										 act->active_from, &relations,
										 &counts_from))
				continue;
		}

		/*
		 * One whose creation is not decoded yet counts nothing until then,
		 * and has no position to be held at: if its relations are locked
		 * (an uncommitted DROP VIEW right after the CREATE) or gone, it is
		 * left for the load after that flush, which holds it back if need
		 * be.  Setting it up now would wait for the lock, and every view
		 * with it.
		 */
		else if (view_progress_lock_relations(&relations, false, false, &locked) !=
				 VIEW_RELATIONS_FREE)
			continue;

		/*
		 * A view that cannot be set up must not stop the others, nor leave
		 * its memory behind.
		 */
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(spicxt);
		continuous_memory_setup_begin();
		/* planning may run its owner's functions (constants folded) */
		armed = quarantine_limit_begin(view, false);
		PG_TRY();
		{
			SavedPrivileges saved;
			ViewRuntime *vr;

			privileges_become(owner, search_path, &saved);
			vr = view_runtime_create(view, stream, storage, owner,
									 search_path,
									 view_definition_query(query_view),
									 lateness);
			vr->active_from = counts_from;
			/* a table stream's views have this worker as their one writer */
			if (!kafka)
				group_locations_enable(vr);
			vr->late_table = no_late_table ? InvalidOid : late_table;
			if (!no_retention)
			{
				vr->retention = MemoryContextAlloc(vr->cxt, sizeof(Interval));
				*vr->retention = *DatumGetIntervalP(retention);
			}
			privileges_restore(&saved);
			(void) quarantine_limit_end(armed);
			ReleaseCurrentSubTransaction();
			continuous_memory_setup_end(true);
			MemoryContextSwitchTo(continuous_memory_context());
			views = lappend(views, vr);
		}
		PG_CATCH();
		{
			bool		out_of_time = quarantine_limit_end(armed);
			ErrorData  *edata = continuous_abort_subtransaction(spicxt);

			continuous_memory_setup_end(false);

			CurrentResourceOwner = oldowner;
			if (out_of_time)
				edata->message =
					quarantine_time_limit_message(psprintf("setting up continuous view \"%s\"",
														   SPI_getvalue(row, desc, 10)));
			else if (quarantine_rethrow(edata, view))
				ReThrowError(edata);
			quarantine_view(view, SPI_getvalue(row, desc, 10), edata->message);
			/* not maintained: nothing of it may hold back the slot */
			view_progress_forget(view);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(spicxt);
		CurrentResourceOwner = oldowner;
	}
	if (previous)
		hash_destroy(previous);
	view_progress_end_load();
	return views;
}

/*
 * Without logical decoding, invalidations tell the worker that its catalog
 * changed (worker_catalog_invalidated()).  The writers of the catalog send
 * one of view_catalog; DROP VIEW and DROP FOREIGN TABLE delete rows by the
 * extension's sql_drop event trigger instead, but drop the relation too,
 * whose invalidation reaches every backend: so the views and Kafka streams
 * of the catalog are watched, failed views included.  Table streams are
 * not, being vacuumed and analysed all the time; without decoding their
 * views are not served anyway.
 */
static void
worker_watch_catalog(void)
{
	uint64		i;

	if (SPI_execute("SELECT view FROM continuous.view_catalog "
					"UNION ALL "
					"SELECT stream FROM continuous.stream_catalog "
					"WHERE kind OPERATOR(pg_catalog.=) 'kafka'",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read the continuous catalog");
	wc.watched = MemoryContextAlloc(wc.cxt,
									sizeof(Oid) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		wc.watched[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc,
													   1, &isnull));
	}
	qsort(wc.watched, SPI_processed, sizeof(Oid), oid_cmp);
	wc.nwatched = SPI_processed;
}

/* Relcache invalidation callback: may the catalog have changed? */
static void
worker_catalog_invalidated(Datum arg, Oid relid)
{
	if (!OidIsValid(relid))
		wc.caches_reset = true;
	else if (relid == wc.stream_catalog || relid == wc.view_catalog ||
			 (wc.nwatched > 0 &&
			  bsearch(&relid, wc.watched, wc.nwatched, sizeof(Oid),
					  oid_cmp) != NULL))
		wc.invalidated = true;
}


/*
 * What the invalidations processed so far say.  A worker that does not
 * decode loads the catalog again (which forgets them).  The decoder reports
 * each change of the catalog where it is in the WAL, which is where it must
 * be applied; but a dropped extension is seen at once.  Decoding DDL
 * resets every cache often, which says nothing of the catalog: then the
 * extension is looked for once a second at most.
 */
WorkerCatalogNews
worker_catalog_news(void)
{
	if (!wc.decoding && (wc.invalidated || wc.caches_reset))
		return CATALOG_CHANGED;
	if (wc.invalidated ||
		(wc.caches_reset &&
		 TimestampDifferenceExceeds(wc.last_extension_check,
									GetCurrentTimestamp(),
									EXTENSION_CHECK_MS)))
	{
		wc.invalidated = wc.caches_reset = false;
		wc.last_extension_check = GetCurrentTimestamp();
		return CATALOG_CHECK_EXTENSION;
	}
	return CATALOG_NO_NEWS;
}

StreamClock *
worker_catalog_clock(Oid stream)
{
	ListCell   *lc;

	foreach(lc, wc.clocks)
	{
		StreamClock *clock = lfirst(lc);

		if (clock->stream == stream)
			return clock;
	}
	return NULL;
}

/* The view's activation, if it was loaded */
static ViewActivation *
worker_catalog_activation(ViewRuntime *vr)
{
	return hash_search(wc.activations, &vr->view, HASH_FIND, NULL);
}

bool
worker_catalog_activations_unwritten(List *views)
{
	ListCell   *lc;

	foreach(lc, views)
	{
		ViewActivation *act = worker_catalog_activation(lfirst(lc));

		if (act && !act->persisted && act->active_from != InvalidXLogRecPtr)
			return true;
	}
	return false;
}

bool
worker_catalog_activation_unwritten(ViewRuntime *vr)
{
	ViewActivation *act = worker_catalog_activation(vr);

	/*
	 * A decoding worker writes where a view begins with the flush of its
	 * creation, whether it is loaded or not; before that the view counts
	 * nothing, and writing its statistics would only wait for (and outlive)
	 * a DROP of it.
	 */
	if (wc.decoding && act && act->active_from == InvalidXLogRecPtr)
		return false;
	return act && !act->persisted;
}

void
worker_catalog_activations_written(List *views)
{
	ListCell   *lc;

	foreach(lc, views)
	{
		ViewActivation *act = worker_catalog_activation(lfirst(lc));

		if (act && act->active_from != InvalidXLogRecPtr)
			act->persisted = true;
	}
}
