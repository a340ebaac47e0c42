/*-------------------------------------------------------------------------
 *
 * view_runtime.h
 *	  A continuous view at run time: what its stages (stage.h) aggregate
 *	  into, what flush.c writes and what the window kinds keep beside it.
 *
 * The types stand apart from batch.c so that the modules the batch and the
 * flush use (the stages, view_groups.c, storage_layout.c, the window
 * kinds) can read a view without depending on the batch's code.  What only
 * one stage reads is that stage's private state, not a field here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_VIEW_RUNTIME_H
#define CONTINUOUS_VIEW_RUNTIME_H

#include "access/xlogdefs.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"

#include "exec/group_table.h"
#include "plan/agg_support.h"
#include "plan/plan_types.h"

/* Partial aggregate states of one group, for one batch. */
typedef struct GroupStates
{
	Datum	   *values;			/* one transition state per aggregate */
	bool	   *isnull;
} GroupStates;

typedef struct ViewRuntime
{
	Oid			view;
	Oid			stream;
	Oid			storage;
	Oid			owner;			/* expressions run with its privileges */
	char	   *search_path;	/* and the search_path the view was created
								 * with */

	/*
	 * Transactions committing before this position are not the view's: they
	 * precede the one that created it.  InvalidXLogRecPtr until the worker
	 * knows where the view begins (see worker_catalog.c).
	 */
	XLogRecPtr	active_from;
	char	   *name;			/* for messages */
	bool		failed;			/* quarantined (quarantine.c): not maintained */
	ContinuousPlan *plan;
	Interval	allowed_lateness;	/* of its window, if it has one */
	int			nkeys;
	int			naggs;

	MemoryContext cxt;			/* lives as long as the definition */
	MemoryContext state_cxt;	/* partial states of the current batch */
	Size		setup_memory;	/* of cxt, once the view was loaded */

	/* the stages events pass through, in order (Stage, stage.h) */
	List	   *stages;

	/* evaluation of one event, shared by the stages */
	TupleDesc	input_desc;		/* the stream's current row type */
	TupleTableSlot *input_slot;
	TupleDesc	seen_desc;		/* an event descriptor compared already, */
	bool		seen_desc_matches;	/* and whether it equals input_desc */
	ExprContext *econtext;		/* per-event memory */

	/*
	 * Made and filled by the partial aggregate stage (stage_aggregate.c),
	 * read by the window kinds and flush.c.
	 */
	TupleDesc	key_desc;		/* the group keys, as a row */
	AggSupport **aggs;

	/* groups known absent from storage (group_locations.c); NULL: none */
	struct GroupLocations *locations;

	/* the batch */
	GroupTable *groups;			/* keys -> GroupStates; NULL without keys */
	GroupStates *global;		/* the one group without GROUP BY */
	int64		events;
	int64		events_before_commit;	/* of them, aggregated before their
										 * transaction committed (batch.c) */
	int64		batch_rows;		/* a transform's rows (stage_append.c) */
	int64		late_events;	/* their window had closed */
	Oid			late_table;		/* where late events go; InvalidOid: dropped */
	List	   *late_rows;		/* StreamEvent: this batch's, for late_table */
	Interval   *retention;		/* closed windows older go; NULL: kept */
	bool		retention_applied;	/* for watermarks up to this one: */
	TimestampTz retention_watermark;
	List	   *dead_letters;	/* DeadLetter (stream_event.h) */

	/*
	 * The batch's events that ran already, before the flush, to give their
	 * memory back (batch.c's view_fold_events): their groups and dead
	 * letters, taken into the batch as it is processed at the flush, and
	 * how many they were.  NULL: none.
	 */
	struct EarlyBatch *folded;
	int64		folded_events;

	/*
	 * The stream's watermark before the batch, for stages that expire state
	 * by it (stage_dedup.c), whether or not the view has a window.
	 */
	bool		had_stream_watermark;
	TimestampTz stream_watermark;

	/*
	 * An interval join's second stream (stage_interval_join.c), and its
	 * watermark before the batch, set by the worker with each batch of the
	 * two streams' events; InvalidOid: the view reads one stream.
	 */
	Oid			join_stream;
	bool		had_join_watermark;
	TimestampTz join_watermark;

	/* an event is late if its window closes at or before this; per batch */
	bool		judge_lateness;
	TimestampTz watermark_before;
} ViewRuntime;

/* A window of the view at run time: its kind's state for the view. */
typedef struct WindowRuntime
{
	const struct WindowKind *kind;
	PlanWindow *window;			/* in the view's plan */
	void	   *state;			/* the kind's own; NULL: none */
} WindowRuntime;

#endif							/* CONTINUOUS_VIEW_RUNTIME_H */
