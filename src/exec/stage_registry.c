/*-------------------------------------------------------------------------
 *
 * stage_registry.c
 *	  The operator stages of continuous views, in pipeline order.
 *
 * Pipeline position: batch.  This is the one file that names every stage
 * (stage.h says what a stage is).  As a view is loaded, batch.c asks the
 * registry for the view's pipeline: each stage below whose applies()
 * accepts the view's plan, in the order listed, with its private state.
 *
 * A new stage is a file that defines its StageRoutine, and a line below
 * at its place in the pipeline: the deduplication first, on the stream's
 * own rows; then the joins (of a second stream, or lookups of tables), for
 * WHERE may read the joined rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "exec/stage_registry.h"

extern const StageRoutine dedup_stage; /* stage_dedup.c */
extern const StageRoutine interval_join_stage;	/* stage_interval_join.c */
extern const StageRoutine lookup_join_stage;	/* stage_lookup_join.c */
extern const StageRoutine filter_stage; /* stage_filter.c */
extern const StageRoutine aggregate_stage;	/* stage_aggregate.c */
extern const StageRoutine append_stage; /* stage_append.c: transforms */

/* In the order events pass through them. */
static const StageRoutine *const stage_routines[] = {
	&dedup_stage,
	&interval_join_stage,
	&lookup_join_stage,
	&filter_stage,
	&aggregate_stage,
	&append_stage,
};

List *
stage_registry_compose(ViewRuntime *vr)
{
	List	   *stages = NIL;
	int			i;

	for (i = 0; i < lengthof(stage_routines); i++)
	{
		const StageRoutine *routine = stage_routines[i];
		Stage	   *stage;

		if (routine->applies != NULL && !routine->applies(vr->plan))
			continue;
		stage = palloc0(sizeof(Stage));
		stage->routine = routine;
		if (routine->create != NULL)
			stage->state = routine->create(vr);
		stages = lappend(stages, stage);
	}
	return stages;
}

char *
stage_registry_describe(List *stages)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, stages)
	{
		Stage	   *stage = lfirst(lc);

		appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 stage->routine->name);
	}
	return buf.data;
}
