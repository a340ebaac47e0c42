/*-------------------------------------------------------------------------
 *
 * stage_append.c
 *	  The append stage: a continuous transform's output rows, appended to
 *	  its storage at flush.
 *
 * Pipeline position: batch and flush, the last stage of a transform: a view
 * with no aggregate, GROUP BY or HAVING (ContinuousPlan.transform), in
 * place of the partial aggregate stage (stage.h).  For each event the
 * filter let through: one projection of the SELECT list (and of the
 * event's time, which storage keeps beside it for retention), once per
 * window of the event if a hop fans it out (window_hop.c), as in the
 * SELECT's CROSS JOIN LATERAL continuous.hop().  The rows are kept in a
 * tuplestore in the batch's memory (vr->state_cxt) and written at flush
 * with table_multi_insert(), in the flush transaction with the decoder
 * position: an event's rows appear once, exactly once across crashes, and
 * are never changed afterwards.  A transform has no windows that close:
 * every event's rows are appended, however late it is.
 *
 * An event whose expressions fail is a dead letter (batch.c): a row is kept
 * only once all its columns are computed, and an event that fails after
 * some of its windows' rows were kept is dropped from the careful run by
 * state_moved (a hop's later window may fail where an earlier did not).
 *
 * Memory: a batch's rows are about as many bytes as its events (times a
 * hop's windows per event), and the batch's events are bounded by
 * continuous.state_memory (decoder.c, worker.c).  The worker decides to
 * flush before it processes a batch, so a stage cannot ask for an early
 * flush once its rows grow; instead the tuplestore keeps up to
 * continuous.state_memory of them in memory and the rest in a temporary
 * file.  The file is not tied to the (sub)transactions a batch runs in
 * (interXact), and goes at reset like the memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "base/guc.h"
#include "exec/stage.h"
#include "exec/view_input.h"
#include "state/storage_layout.h"
#include "window/window_kind.h"
#include "window/window_registry.h"

/* How many rows go to table_multi_insert() at a time. */
#define APPEND_INSERT_ROWS 1000

typedef struct AppendStage
{
	ProjectionInfo *project;	/* the output columns, then the event time */
	TupleDesc	desc;			/* of the rows: the storage table's columns */

	/* the plan's windows: only a hop's fan-out matters to a transform */
	int			nwindows;
	WindowRuntime *windows;
	WindowRuntime *fanout;

	/* the batch's rows, made in vr->state_cxt; NULL: none yet */
	Tuplestorestate *rows;
	int64		nrows;
} AppendStage;

static bool append_applies(ContinuousPlan *plan);
static void *append_create(ViewRuntime *vr);
static void append_destroy(ViewRuntime *vr, void *state);
static void append_process(ViewRuntime *vr, void *state, StageBatch *batch);
static void append_flush(ViewRuntime *vr, void *state);
static void append_reset(ViewRuntime *vr, void *state, bool committed);
static void append_row(ViewRuntime *vr, AppendStage *app, StageBatch *batch);

const StageRoutine append_stage = {
	.name = "append",
	.applies = append_applies,
	.create = append_create,
	.destroy = append_destroy,
	.process = append_process,
	.flush = append_flush,
	.reset = append_reset,
};

static bool
append_applies(ContinuousPlan *plan)
{
	return plan->transform;
}

static void *
append_create(ViewRuntime *vr)
{
	AppendStage *app = palloc0(sizeof(AppendStage));
	ContinuousPlan *plan = vr->plan;
	List	   *tlist = NIL;
	AttrNumber	resno = 1;
	ListCell   *lc;

	foreach(lc, plan->outputs)
	{
		ContinuousOutput *output = lfirst(lc);
		Node	   *expr = window_registry_bind_expr(plan, (Node *) output->expr);

		tlist = lappend(tlist, makeTargetEntry(expression_planner((Expr *) expr),
											   resno++, NULL, false));
	}
	if (plan->event_time_column != NULL)
	{
		Oid			type;
		int32		typmod;
		Oid			collation;

		get_atttypetypmodcoll(plan->stream, plan->event_time_attnum,
							  &type, &typmod, &collation);
		tlist = lappend(tlist,
						makeTargetEntry((Expr *) makeVar(1, plan->event_time_attnum,
														 type, typmod, collation, 0),
										resno++, NULL, false));
	}
	app->desc = ExecTypeFromTL(tlist);
	app->project = ExecBuildProjectionInfo(tlist, vr->econtext,
										   MakeSingleTupleTableSlot(app->desc, &TTSOpsVirtual),
										   NULL, vr->input_desc);

	app->nwindows = list_length(plan->windows);
	app->windows = window_registry_runtimes_create(vr, &app->fanout);
	return app;
}

static void
append_destroy(ViewRuntime *vr, void *state)
{
	AppendStage *app = state;

	if (app->rows != NULL)
		tuplestore_end(app->rows);
	ExecDropSingleTupleTableSlot(app->project->pi_state.resultslot);
	window_registry_runtimes_destroy(app->windows, app->nwindows);
}

static void
append_process(ViewRuntime *vr, void *state, StageBatch *batch)
{
	AppendStage *app = state;
	ExprContext *econtext = vr->econtext;
	MemoryContext oldcxt = CurrentMemoryContext;
	int			i;

	for (i = 0; i < batch->nevents; i++)
	{
		ResetExprContext(econtext);
		MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		(void) view_input_bind(vr, batch->events[i]);
		if (app->fanout == NULL)
			append_row(vr, app, batch);
		else
		{
			WindowRuntime *fanout = app->fanout;
			int			windows = fanout->kind->event_windows(fanout, econtext);
			int			w;

			/* an event in no window has no row, as in the SELECT */
			for (w = 0; w < windows; w++)
			{
				fanout->kind->bind_window(fanout, econtext, w);
				append_row(vr, app, batch);
			}
		}
		/* the event is in: nothing of it is left half done */
		batch->state_moved = false;
		MemoryContextSwitchTo(oldcxt);
		CHECK_FOR_INTERRUPTS();
	}
	/* appended or dead letters: none goes further */
	batch->nevents = 0;
}

/* The row of the event (and window) in econtext, kept for the flush. */
static void
append_row(ViewRuntime *vr, AppendStage *app, StageBatch *batch)
{
	TupleTableSlot *proj = ExecProject(app->project);

	slot_getallattrs(proj);
	if (app->rows == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(vr->state_cxt);

		app->rows = tuplestore_begin_heap(false, true,
										  continuous_state_memory_kb);
		MemoryContextSwitchTo(oldcxt);
	}
	tuplestore_putvalues(app->rows, app->desc, proj->tts_values,
						 proj->tts_isnull);
	vr->batch_rows = ++app->nrows;
	/* another window of the event may still fail after this row */
	batch->state_moved = true;
}

/*
 * The batch's rows, appended to storage in chunks through the table AM
 * (heap_multi_insert: one WAL record per page's worth of rows), with the
 * storage's indexes (the event-time index of a view with retention).  No
 * user code runs: the storage table has no triggers, and its index's
 * operator class is built in.
 */
static void
append_flush(ViewRuntime *vr, void *state)
{
	AppendStage *app = state;
	StorageTarget target;
	BulkInsertState bistate;
	TupleTableSlot *slots[APPEND_INSERT_ROWS];
	TupleTableSlot *row;
	CommandId	cid = GetCurrentCommandId(true);
	MemoryContext chunk_cxt;
	MemoryContext oldcxt;
	int			n;
	int			i;

	if (app->nrows == 0 || !storage_target_open(vr, &target))
		return;
	bistate = GetBulkInsertState();
	row = MakeSingleTupleTableSlot(app->desc, &TTSOpsMinimalTuple);
	for (i = 0; i < APPEND_INSERT_ROWS; i++)
		slots[i] = MakeSingleTupleTableSlot(RelationGetDescr(target.rel),
											&TTSOpsHeapTuple);
	/* each chunk's heap tuples, made once from the tuplestore's rows */
	chunk_cxt = AllocSetContextCreate(CurrentMemoryContext,
									  "pg_continuous append rows",
									  ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContextReset(chunk_cxt);
		oldcxt = MemoryContextSwitchTo(chunk_cxt);
		for (n = 0; n < APPEND_INSERT_ROWS; n++)
		{
			HeapTuple	tuple;
			bool		should_free;

			if (!tuplestore_gettupleslot(app->rows, true, false, row))
				break;
			/* a copy the slot owns, which heap_multi_insert() then fills in */
			tuple = ExecFetchSlotHeapTuple(row, false, &should_free);
			ExecStoreHeapTuple(tuple, slots[n], should_free);
		}
		ExecClearTuple(row);
		if (n == 0)
		{
			MemoryContextSwitchTo(oldcxt);
			break;
		}
		table_multi_insert(target.rel, slots, n, cid, 0, bistate);
		if (target.rri->ri_NumIndices > 0)
		{
			for (i = 0; i < n; i++)
			{
				ResetPerTupleExprContext(target.estate);
				(void) ExecInsertIndexTuples(target.rri, slots[i], target.estate,
											 false, false, NULL, NIL);
			}
		}
		for (i = 0; i < n; i++)
			ExecClearTuple(slots[i]);
		MemoryContextSwitchTo(oldcxt);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(chunk_cxt);
	ExecDropSingleTupleTableSlot(row);
	for (i = 0; i < APPEND_INSERT_ROWS; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	FreeBulkInsertState(bistate);
	storage_target_close(&target);
	CommandCounterIncrement();
}

static void
append_reset(ViewRuntime *vr, void *state, bool committed)
{
	AppendStage *app = state;

	/* its memory is in vr->state_cxt, which batch.c resets next */
	if (app->rows != NULL)
		tuplestore_end(app->rows);
	app->rows = NULL;
	app->nrows = 0;
	vr->batch_rows = 0;
}
