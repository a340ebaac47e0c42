/*-------------------------------------------------------------------------
 *
 * stage_filter.c
 *	  The filter stage: a continuous view's WHERE clause.
 *
 * Pipeline position: batch, the first stage of a view with a WHERE clause
 * (stage.h).  It passes on the events for which the clause is true, in
 * their order, and drops the others; they still count as the view's
 * events, as rows its SELECT read.  An event whose clause raises an error
 * fails before any state moved, so the careful run makes it a dead letter
 * and goes on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"

#include "exec/stage.h"
#include "exec/view_input.h"

typedef struct FilterStage
{
	ExprState  *where;
} FilterStage;

static bool filter_before_commit(ContinuousPlan *plan);
static bool filter_applies(ContinuousPlan *plan);
static void *filter_create(ViewRuntime *vr);
static void filter_process(ViewRuntime *vr, void *state, StageBatch *batch);

const StageRoutine filter_stage = {
	.name = "filter",
	.applies = filter_applies,
	.create = filter_create,
	.process = filter_process,
	.before_commit = filter_before_commit,
};

static bool
filter_applies(ContinuousPlan *plan)
{
	return plan->where != NULL;
}

/* a WHERE clause looks at the event alone */
static bool
filter_before_commit(ContinuousPlan *plan)
{
	return true;
}

static void *
filter_create(ViewRuntime *vr)
{
	FilterStage *filter = palloc0(sizeof(FilterStage));

	/* default arguments, constant folding: what the planner would do */
	filter->where = ExecInitQual(make_ands_implicit(expression_planner(vr->plan->where)),
								 NULL);
	return filter;
}

static void
filter_process(ViewRuntime *vr, void *state, StageBatch *batch)
{
	FilterStage *filter = state;
	ExprContext *econtext = vr->econtext;
	MemoryContext oldcxt = CurrentMemoryContext;
	int			kept = 0;
	int			i;

	for (i = 0; i < batch->nevents; i++)
	{
		StreamEvent *event = batch->events[i];

		ResetExprContext(econtext);
		MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		(void) view_input_bind(vr, event);
		if (ExecQual(filter->where, econtext))
			batch->events[kept++] = event;
		MemoryContextSwitchTo(oldcxt);
		CHECK_FOR_INTERRUPTS();
	}
	batch->nevents = kept;
}
