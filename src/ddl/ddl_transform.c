/*-------------------------------------------------------------------------
 *
 * ddl_transform.c
 *	  CREATE VIEW of a continuous transform: its options, its storage's
 *	  index and its read view.
 *
 * Pipeline position: DDL.  A transform is a continuous view with no
 * aggregate, GROUP BY or HAVING (plan_types.h): it keeps each event's
 * output rows (stage_append.c) in a storage table with the SELECT's
 * columns and the event's time (storage_layout.c), an ordinary logged,
 * append-only heap with no unique index.  ddl_view.c creates it as it
 * creates any view's storage and calls in here for what differs: the
 * options that mean nothing without windows are refused, a view with
 * retention gets a BRIN index on the event time (cheap to keep up as
 * rows are appended roughly in event-time order, and what the retention's
 * DELETE reads by), and the read view selects the output columns as they
 * are.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "base/privileges.h"
#include "ddl/ddl_catalog.h"
#include "ddl/ddl_transform.h"

void
ddl_transform_check(ParseState *pstate, ContinuousPlan *plan,
					ContinuousOptions *opts)
{
	Interval	zero = {0};
	ListCell   *lc;

	if (strcmp(opts->emit, "window_close") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("emit = 'window_close' is not supported for continuous transforms"),
				 errdetail("A continuous view without aggregates keeps each event's rows, which are final once they appear; it has no windows to close."),
				 errhint("Leave out the emit option.")));
	if (!DatumGetBool(DirectFunctionCall2(interval_eq,
										  IntervalPGetDatum(opts->allowed_lateness),
										  IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("option \"allowed_lateness\" is not supported for continuous transforms"),
				 errdetail("A continuous view without aggregates has no lateness: every event's rows are appended, however late the event is."),
				 errhint("Leave out the allowed_lateness option.")));
	if (strcmp(opts->late_events, "drop") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("option \"late_events\" is not supported for continuous transforms"),
				 errdetail("A continuous view without aggregates has no late events: every event's rows are appended, however late the event is."),
				 errhint("Leave out the late_events option.")));
	if (opts->retention != NULL && plan->event_time == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("option \"retention\" requires a stream with an event time"),
				 errdetail("Retention deletes a transform's rows by the event time of their event, and stream %s has no event_time column.",
						   ddl_relation_display_name(plan->stream)),
				 errhint("Create the stream with continuous.create_stream(stream, event_time => 'column').")));

	foreach(lc, plan->outputs)
	{
		ContinuousOutput *output = lfirst(lc);

		if (get_typtype(output->type) == TYPTYPE_PSEUDO)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of type %s is not supported in continuous views",
							output->name, format_type_be(output->type)),
					 errdetail("A continuous view without aggregates stores its columns in a table, and a table column cannot have a pseudo-type."),
					 errhint("Cast the expression to a type such as text, or select its fields as columns of their own.")));
	}
}

void
ddl_transform_create_index(ContinuousPlan *plan, Oid storage,
						   const char *storage_name, ContinuousOptions *opts)
{
	IndexStmt  *index;
	IndexElem  *elem;
	ExtensionPrivileges saved;
	Oid			namespace = get_rel_namespace(storage);

	if (opts->retention == NULL || plan->event_time_column == NULL)
		return;

	elem = makeNode(IndexElem);
	elem->name = plan->event_time_column;
	elem->ordering = SORTBY_DEFAULT;
	elem->nulls_ordering = SORTBY_NULLS_DEFAULT;

	index = makeNode(IndexStmt);
	index->idxname = ChooseRelationName(storage_name, NULL, "event_time",
										namespace, false);
	index->relation = makeRangeVar(get_namespace_name(namespace),
								   pstrdup(storage_name), -1);
	index->accessMethod = "brin";
	index->indexParams = list_make1(elem);
	index->transformed = true;

	/* the table is empty: building the index runs nothing of the user's */
	privileges_become_extension(&saved);
	(void) DefineIndex(storage, index, InvalidOid, InvalidOid, InvalidOid,
					   false, false, false, false, true);
	privileges_leave_extension(&saved);
}

/*
 * SELECT "c1" AS "name1", ... FROM continuous_storage."v_state": the
 * columns the SELECT computes, without the event time kept beside them.
 */
char *
ddl_transform_read_select(ContinuousPlan *plan, Oid storage)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	foreach(lc, plan->outputs)
	{
		ContinuousOutput *output = lfirst(lc);

		appendStringInfo(&sql, "%s%s AS %s",
						 foreach_current_index(lc) > 0 ? ", " : "",
						 quote_identifier(output->column),
						 quote_identifier(output->name));
	}
	appendStringInfo(&sql, " FROM %s",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(storage)),
												get_rel_name(storage)));
	return sql.data;
}
