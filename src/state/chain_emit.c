/*-------------------------------------------------------------------------
 *
 * chain_emit.c
 *	  Views over views: the final rows of an emit = 'window_close' view's
 *	  closed windows, appended to its emission table in the flush that
 *	  closes them.
 *
 * Pipeline position: flush, for the view read, and source, for the views
 * that read it.  A continuous view may read an emit = 'window_close' view
 * (view_chain.c): the read view then has an emission table,
 * continuous_storage.<view>_closed, with its columns, which is a table
 * stream.  In each flush, once a view's state is written and its stream's
 * watermark moved, the windows the watermark closed since the last
 * emission (close = window + size + allowed_lateness, in (emitted_upto,
 * watermark]) are read from the view itself, so that its own SELECT list
 * and HAVING make the rows, and appended; continuous.view_emissions
 * records the new emitted_upto in the same transaction.  A crash before
 * the commit loses the rows and the record together: nothing is emitted
 * twice or skipped.  The worker decodes these rows as it decodes any
 * table stream, in commit order, so the views that read the emission
 * table are ordinary views of a table stream; and a window, closed, never
 * changes (a late event of it is dropped), so a row emitted is final.
 *
 * The view's SELECT runs as its owner, with its search_path, in a
 * restricted security context (its finalize functions are its owner's
 * code); the rows are written as the extension, which owns the table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "base/memory.h"
#include "base/privileges.h"
#include "plan/plan.h"
#include "state/chain_emit.h"

/* an emitting view, as the worker loaded it */
typedef struct Emitter
{
	Oid			view;
	Oid			emission;
	AttrNumber	window_column;
	bool		owed;			/* windows closed that it has not emitted */
} Emitter;

static List *emitters = NIL;
static MemoryContext emitters_cxt = NULL;

static Datum window_bound(ContinuousKey *key, TimestampTz closes,
						  const Interval *back, const Interval *slack,
						  bool add_slack);

uint64
chain_emit_windows(const ChainSource *src, TimestampTz after, TimestampTz upto)
{
	ContinuousPlan *plan = src->plan;
	ContinuousKey *key = list_nth(plan->keys, plan->window->key);
	Interval   *back;
	Interval	slack = {0};
	Oid			argtypes[2];
	Datum		values[2];
	SavedPrivileges saved;
	Relation	emission;
	TupleDesc	desc;
	Datum	   *row_values;
	bool	   *row_nulls;
	uint64		emitted = 0;
	uint64		i;
	char	   *sql;

	if (upto <= after)
		return 0;

	/*
	 * The windows that close in (after, upto] start in (after - back, upto
	 * - back], back being size + allowed_lateness: a range of the window
	 * column the SELECT can ask for.  Calendar months and days are not
	 * inverted exactly by subtraction (nor by the worker's time zone), so
	 * the range is widened by a margin and each row's close is checked
	 * below as the worker judges it.
	 */
	back = DatumGetIntervalP(DirectFunctionCall2(interval_pl,
												 IntervalPGetDatum(plan->window->size),
												 IntervalPGetDatum(&src->lateness)));
	if (back->month != 0 || back->day != 0)
		slack.day = 3 + 4 * Abs(back->month);
	argtypes[0] = argtypes[1] = key->type;
	values[0] = window_bound(key, after, back, &slack, false);
	values[1] = window_bound(key, upto, back, &slack, true);

	sql = psprintf("SELECT * FROM %s v WHERE v.%s OPERATOR(pg_catalog.>) $1 "
				   "AND v.%s OPERATOR(pg_catalog.<=) $2",
				   quote_qualified_identifier(get_namespace_name(get_rel_namespace(src->view)),
											  get_rel_name(src->view)),
				   quote_identifier(get_attname(src->view, src->window_column, false)),
				   quote_identifier(get_attname(src->view, src->window_column, false)));

	emission = table_open(src->emission, RowExclusiveLock);
	desc = RelationGetDescr(emission);
	row_values = palloc(sizeof(Datum) * desc->natts);
	row_nulls = palloc(sizeof(bool) * desc->natts);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	privileges_become(src->owner, src->search_path, &saved);
	/* not read-only: a fresh snapshot sees the state this flush wrote */
	if (SPI_execute_with_args(sql, 2, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read the closed windows of continuous view \"%s\"",
			 get_rel_name(src->view));
	privileges_restore(&saved);

	if (SPI_tuptable->tupdesc->natts != desc->natts)
		elog(ERROR, "pg_continuous: emission table \"%s\" does not have the columns of continuous view \"%s\"",
			 RelationGetRelationName(emission), get_rel_name(src->view));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TimestampTz closes;

		heap_deform_tuple(row, SPI_tuptable->tupdesc, row_values, row_nulls);
		if (row_nulls[src->window_column - 1])
			continue;			/* a NULL event time has no window */
		closes = continuous_window_closes_at(plan,
											 row_values[src->window_column - 1],
											 &src->lateness);
		if (closes <= after || closes > upto)
			continue;
		simple_heap_insert(emission, heap_form_tuple(desc, row_values, row_nulls));
		emitted++;
	}
	SPI_finish();
	table_close(emission, NoLock);
	CommandCounterIncrement();
	return emitted;
}

/*
 * The window start whose window closes at closes, minus the margin (the
 * lower bound) or plus it (the upper), as a value of the window column's
 * type.  A timestamp without time zone is read as UTC, as the watermark.
 */
static Datum
window_bound(ContinuousKey *key, TimestampTz closes, const Interval *back,
			 const Interval *slack, bool add_slack)
{
	PGFunction	minus = key->type == TIMESTAMPOID ? timestamp_mi_interval :
		timestamptz_mi_interval;
	PGFunction	plus = key->type == TIMESTAMPOID ? timestamp_pl_interval :
		timestamptz_pl_interval;
	Datum		start;

	if (TIMESTAMP_NOT_FINITE(closes))
		return TimestampTzGetDatum(closes);
	start = DirectFunctionCall2(minus, TimestampTzGetDatum(closes),
								IntervalPGetDatum((Interval *) back));
	return DirectFunctionCall2(add_slack ? plus : minus, start,
							   IntervalPGetDatum((Interval *) slack));
}

void
chain_emit_load(void)
{
	MemoryContext oldcxt;
	uint64		i;

	if (emitters_cxt == NULL)
		emitters_cxt = AllocSetContextCreate(continuous_memory_context(),
											 "pg_continuous emitting views",
											 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(emitters_cxt);
	emitters = NIL;

	/*
	 * A view whose stream's watermark is past emitted_upto has windows to
	 * emit, whether or not events come: the reader's CREATE VIEW filled
	 * its emission table up to an older watermark, or the last flush could
	 * not lock it.
	 */
	if (SPI_execute("SELECT e.view, e.emission, e.window_column, "
					"       s.watermark OPERATOR(pg_catalog.>) e.emitted_upto "
					"FROM continuous.view_emissions e "
					"JOIN continuous.view_catalog v "
					"  ON v.view OPERATOR(pg_catalog.=) e.view "
					"LEFT JOIN continuous.stream_stats s "
					"  ON s.stream OPERATOR(pg_catalog.=) v.stream",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.view_emissions");
	oldcxt = MemoryContextSwitchTo(emitters_cxt);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Emitter    *e = palloc(sizeof(Emitter));
		bool		isnull;

		e->view = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		e->emission = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
		e->window_column = DatumGetInt16(SPI_getbinval(row, desc, 3, &isnull));
		e->owed = DatumGetBool(SPI_getbinval(row, desc, 4, &isnull)) && !isnull;
		emitters = lappend(emitters, e);
	}
	MemoryContextSwitchTo(oldcxt);
}

bool
chain_emit_closed_windows(ViewRuntime *vr)
{
	Emitter    *e = NULL;
	ListCell   *lc;
	Oid			argtypes[2] = {REGCLASSOID, REGCLASSOID};
	Datum		values[2];
	bool		isnull;
	TimestampTz watermark;
	TimestampTz emitted_upto;
	ChainSource src;

	foreach(lc, emitters)
	{
		if (((Emitter *) lfirst(lc))->view == vr->view)
			e = lfirst(lc);
	}
	if (e == NULL || vr->plan->window == NULL)
		return true;

	/* the watermark this flush wrote, and how far the view emitted */
	e->owed = false;
	values[0] = ObjectIdGetDatum(vr->view);
	values[1] = ObjectIdGetDatum(vr->stream);
	if (SPI_execute_with_args("SELECT s.watermark, e.emitted_upto "
							  "FROM continuous.view_emissions e "
							  "JOIN continuous.stream_stats s "
							  "  ON s.stream OPERATOR(pg_catalog.=) $2 "
							  "WHERE e.view OPERATOR(pg_catalog.=) $1",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.view_emissions");
	if (SPI_processed != 1)
		return true;			/* dropped meanwhile */
	watermark = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1,
												  &isnull));
	if (isnull)
		return true;
	emitted_upto = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc, 2,
													 &isnull));
	if (watermark <= emitted_upto)
		return true;

	/*
	 * Without waiting, as the flush locks the view's other relations: a
	 * CREATE VIEW backfilling from the emission table holds it until it
	 * commits.  The windows wait for a later flush.
	 */
	e->owed = true;
	if (!ConditionalLockRelationOid(e->emission, RowExclusiveLock) ||
		!ConditionalLockRelationOid(vr->view, AccessShareLock))
		return false;

	src.view = vr->view;
	src.emission = e->emission;
	src.window_column = e->window_column;
	src.plan = vr->plan;
	src.lateness = vr->allowed_lateness;
	src.owner = vr->owner;
	src.search_path = vr->search_path;
	(void) chain_emit_windows(&src, emitted_upto, watermark);

	argtypes[1] = TIMESTAMPTZOID;
	values[1] = TimestampTzGetDatum(watermark);
	if (SPI_execute_with_args("UPDATE continuous.view_emissions "
							  "SET emitted_upto = $2 "
							  "WHERE view OPERATOR(pg_catalog.=) $1",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "pg_continuous: could not write continuous.view_emissions");
	e->owed = false;
	return true;
}

bool
chain_emit_owed(List *views)
{
	ListCell   *lc;
	ListCell   *vc;

	foreach(lc, emitters)
	{
		Emitter    *e = lfirst(lc);

		if (!e->owed)
			continue;
		/* only a view this worker maintains emits (not a failed one) */
		foreach(vc, views)
		{
			ViewRuntime *vr = lfirst(vc);

			if (vr->view == e->view && !vr->failed)
				return true;
		}
	}
	return false;
}
