/*-------------------------------------------------------------------------
 *
 * window_expiry.c
 *	  After a window closes: late events' rows into the view's late-events
 *	  table, and closed windows past retention out of storage.
 *
 * Pipeline position: flush, after the view's state is merged (flush.c), in
 * the same transaction.  So a late event's row lands in its table exactly
 * once, with the batch that judged it late, and a window deleted by
 * retention cannot come back: its events are judged late from then on
 * (batch.c), since retention only deletes windows the watermark has closed.
 *
 * Late rows go into the table by column name, as the view's owner in a
 * restricted security context, like the view's own expressions: the
 * table's triggers and defaults run with the owner's rights, not the
 * worker's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "base/privileges.h"
#include "window/window_expiry.h"

static void write_late_rows_of(ViewRuntime *vr, Oid stream);

/*
 * The late events' rows into the view's late-events table, by column name:
 * each event's columns of its own stream (an interval join's events come
 * from two).
 */
void
window_expiry_write_late_rows(ViewRuntime *vr)
{
	if (vr->late_rows == NIL)
		return;
	write_late_rows_of(vr, vr->stream);
	if (OidIsValid(vr->join_stream))
		write_late_rows_of(vr, vr->join_stream);
}

/* an event of an interval join knows its stream; others are the view's */
static inline Oid
late_row_stream(ViewRuntime *vr, StreamEvent *event)
{
	return OidIsValid(event->relid) ? event->relid : vr->stream;
}

static void
write_late_rows_of(ViewRuntime *vr, Oid stream)
{
	Relation	late;
	TupleDesc	late_desc;
	StringInfoData sql;
	StringInfoData params;
	AttrNumber *source;			/* the stream's attnum for each parameter */
	Oid		   *types;
	int			nparams = 0;
	SPIPlanPtr	plan;
	Datum	   *values;
	char	   *nulls;
	ListCell   *lc;
	SavedPrivileges saved;
	bool		any = false;
	int			i;

	foreach(lc, vr->late_rows)
		any = any || late_row_stream(vr, lfirst(lc)) == stream;
	if (!any)
		return;

	late = table_open(vr->late_table, RowExclusiveLock);
	late_desc = RelationGetDescr(late);
	source = palloc(sizeof(AttrNumber) * late_desc->natts);
	types = palloc(sizeof(Oid) * late_desc->natts);
	initStringInfo(&sql);
	initStringInfo(&params);
	appendStringInfo(&sql, "INSERT INTO %s (",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(late)),
												RelationGetRelationName(late)));
	for (i = 0; i < late_desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(late_desc, i);
		AttrNumber	attnum;

		if (att->attisdropped || att->attgenerated)
			continue;
		attnum = get_attnum(stream, NameStr(att->attname));
		if (attnum <= 0)
			continue;
		source[nparams] = attnum;
		types[nparams] = get_atttype(stream, attnum);
		appendStringInfo(&sql, "%s%s", nparams > 0 ? ", " : "",
						 quote_identifier(NameStr(att->attname)));
		appendStringInfo(&params, "%s$%d", nparams > 0 ? ", " : "", nparams + 1);
		nparams++;
	}
	table_close(late, NoLock);
	if (nparams == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("late-events table of continuous view \"%s\" has no column named like a column of stream %s",
						vr->name, get_rel_name(stream))));
	appendStringInfo(&sql, ") VALUES (%s)", params.data);

	privileges_become(vr->owner, vr->search_path, &saved);
	plan = SPI_prepare(sql.data, nparams, types);
	if (plan == NULL)
		elog(ERROR, "pg_continuous: could not prepare \"%s\": %s", sql.data,
			 SPI_result_code_string(SPI_result));

	values = palloc(sizeof(Datum) * nparams);
	nulls = palloc(sizeof(char) * nparams);
	foreach(lc, vr->late_rows)
	{
		StreamEvent *event = lfirst(lc);

		if (late_row_stream(vr, event) != stream)
			continue;
		for (i = 0; i < nparams; i++)
		{
			bool		isnull = true;

			/* a row decoded before the column existed has none */
			if (source[i] <= event->desc->natts)
				values[i] = stream_event_getattr(event, source[i], &isnull);
			nulls[i] = isnull ? 'n' : ' ';
		}
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "pg_continuous: could not write a late event of continuous view \"%s\"",
				 vr->name);
	}
	SPI_freeplan(plan);
	privileges_restore(&saved);
}

/*
 * A transform's rows whose event time is older than the watermark minus
 * the retention; a row without an event time is kept.  A transform has no
 * lateness: an event older than that still has its rows appended, and they
 * go at the next flush that moves the watermark.
 */
static void
transform_apply_retention(ViewRuntime *vr, StreamClock *clock)
{
	ContinuousPlan *plan = vr->plan;
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	char	   *column;

	if (plan->event_time_column == NULL)
		return;
	values[0] = DirectFunctionCall2(timestamptz_mi_interval,
									TimestampTzGetDatum(clock->watermark),
									IntervalPGetDatum(vr->retention));
	column = pstrdup(quote_identifier(plan->event_time_column));
	/* a timestamp without time zone is read as UTC, as the watermark is */
	if (get_atttype(plan->stream, plan->event_time_attnum) == TIMESTAMPOID)
		column = psprintf("pg_catalog.timezone('UTC', %s)", column);
	if (SPI_execute_with_args(psprintf("DELETE FROM %s WHERE %s OPERATOR(pg_catalog.<) $1",
									   quote_qualified_identifier(get_namespace_name(get_rel_namespace(vr->storage)),
																  get_rel_name(vr->storage)),
									   column),
							  1, argtypes, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "pg_continuous: could not apply the retention of continuous view \"%s\"",
			 vr->name);
	vr->retention_applied = true;
	vr->retention_watermark = clock->watermark;
}

void
window_expiry_apply_retention(ViewRuntime *vr, StreamClock *clock)
{
	ContinuousPlan *plan = vr->plan;
	PlanWindow *window = plan->window;
	ContinuousKey *key;
	TimestampTz threshold;
	TimestampTz closed;
	StringInfoData sql;
	Oid			argtypes[2] = {TIMESTAMPTZOID, INTERVALOID};
	Datum		values[2];
	char	   *end;

	if (vr->retention == NULL || clock == NULL || !clock->has_watermark ||
		(window == NULL && !plan->transform))
		return;
	if (vr->retention_applied && clock->watermark <= vr->retention_watermark)
		return;
	if (plan->transform)
	{
		transform_apply_retention(vr, clock);
		return;
	}

	/* closed (end + lateness <= watermark), and older than the retention */
	threshold = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
														TimestampTzGetDatum(clock->watermark),
														IntervalPGetDatum(vr->retention)));
	closed = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													 TimestampTzGetDatum(clock->watermark),
													 IntervalPGetDatum(&vr->allowed_lateness)));
	values[0] = TimestampTzGetDatum(Min(threshold, closed));

	key = list_nth(plan->keys, window->key);
	if (window->end_column != NULL)
		end = pstrdup(quote_identifier(window->end_column));
	else
	{
		end = psprintf("%s OPERATOR(pg_catalog.+) $2", quote_identifier(key->column));
		values[1] = IntervalPGetDatum(window->size);
	}
	/* a timestamp without time zone is read as UTC, as the watermark is */
	if (key->type == TIMESTAMPOID)
		end = psprintf("pg_catalog.timezone('UTC', %s)", end);

	initStringInfo(&sql);
	appendStringInfo(&sql, "DELETE FROM %s WHERE %s OPERATOR(pg_catalog.<=) $1",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(vr->storage)),
												get_rel_name(vr->storage)),
					 end);
	if (SPI_execute_with_args(sql.data, window->end_column ? 1 : 2, argtypes, values,
							  NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "pg_continuous: could not apply the retention of continuous view \"%s\"",
			 vr->name);
	vr->retention_applied = true;
	vr->retention_watermark = clock->watermark;
}
