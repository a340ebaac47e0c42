/*-------------------------------------------------------------------------
 *
 * batch.h
 *	  A continuous view at run time, and partial aggregation of a batch of
 *	  stream events into it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_BATCH_H
#define CONTINUOUS_BATCH_H

#include "executor/executor.h"
#include "nodes/execnodes.h"

#include "agg_support.h"
#include "decoder.h"
#include "group_table.h"
#include "plan.h"
#include "watermark.h"
#include "window_count.h"
#include "window_hop.h"

/* Partial aggregate states of one group, for one batch. */
typedef struct GroupStates
{
	Datum	   *values;			/* one transition state per aggregate */
	bool	   *isnull;
} GroupStates;

/* An event that could not be evaluated; written at flush. */
typedef struct DeadLetter
{
	XLogRecPtr	commit_lsn;		/* table streams */
	int32		partition;		/* Kafka streams; -1 for table streams */
	int64		offset;
	char	   *payload;
	char	   *error;
} DeadLetter;

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
	 * knows where the view begins (see worker.c).
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

	/* evaluation of one event */
	TupleDesc	input_desc;		/* the stream's current row type */
	TupleTableSlot *input_slot;
	TupleDesc	seen_desc;		/* an event descriptor compared already, */
	bool		seen_desc_matches;	/* and whether it equals input_desc */
	ExprContext *econtext;		/* per-event memory */
	ExprState  *where;
	ProjectionInfo *project;	/* keys, then every aggregate's arguments */
	struct StorageKeyCheck *key_check;	/* do the keys fit storage? NULL:
										 * always */
	TupleDesc	key_desc;		/* the group keys, as a row */
	AggSupport **aggs;
	int		   *arg_offset;		/* of each aggregate's args in the projection */
	HopRuntime *hop;			/* one projection per window; NULL: none */
	CountWindowRuntime *counts; /* running counts per key; NULL: none */

	/* the batch */
	GroupTable *groups;			/* keys -> GroupStates; NULL without keys */
	GroupStates *global;		/* the one group without GROUP BY */
	int64		events;
	int64		late_events;	/* their window had closed */
	Oid			late_table;		/* where late events go; InvalidOid: dropped */
	List	   *late_rows;		/* StreamEvent: this batch's, for late_table */
	Interval   *retention;		/* closed windows older go; NULL: kept */
	bool		retention_applied;	/* for watermarks up to this one: */
	TimestampTz retention_watermark;
	List	   *dead_letters;

	/* an event is late if its window closes at or before this; per batch */
	bool		judge_lateness;
	TimestampTz watermark_before;
	struct SessionProbe *session_probe; /* session windows: window_session.c */
} ViewRuntime;

/*
 * Build from a view_catalog row's analysed query, as the owner with the
 * view's search_path; in CurrentMemoryContext.
 */
extern ViewRuntime *view_runtime_create(Oid view, Oid stream, Oid storage,
										Oid owner, const char *search_path,
										Query *query,
										Interval *allowed_lateness);
extern void view_runtime_destroy(ViewRuntime *vr);

/*
 * Partial-aggregate a stream's events into the view's batch state.  An event
 * whose evaluation fails becomes a dead letter; an event whose window the
 * stream's clock (NULL: none) had closed before the batch is late, dropped
 * and counted; the others count.  Runs in the flush transaction.
 */
extern void view_process_events(ViewRuntime *vr, StreamEvents *events,
								StreamClock *clock);

/*
 * A hash table over the view's group keys, as the batch groups use: in the
 * view's memory, its entries in the batch state's.
 */
extern TupleHashTable view_key_hash_table(ViewRuntime *vr);

/* Iterate the groups of the batch: returns false when done. */
extern void view_groups_begin(ViewRuntime *vr, GroupTableIterator *iter);
extern bool view_groups_next(ViewRuntime *vr, GroupTableIterator *iter,
							 TupleTableSlot **keys, GroupStates **states);

/*
 * An event's row (decoder.h), however it is held: attribute attnum
 * (1-based); all of them into values[]/isnull[] (event->desc->natts); as
 * a heap tuple, formed in CurrentMemoryContext if the event has none.
 */
extern Datum stream_event_getattr(StreamEvent *event, int attnum, bool *isnull);
extern void stream_event_deform(StreamEvent *event, Datum *values, bool *isnull);
extern HeapTuple stream_event_tuple(StreamEvent *event);

/* The event as a dead letter with this error; in CurrentMemoryContext. */
extern DeadLetter *stream_event_dead_letter(StreamEvent *event,
											const char *error);

/* Forget the batch state after its flush (or its failure). */
extern void view_batch_reset(ViewRuntime *vr);

/* How many groups the batch holds in memory (continuous.views.groups_in_memory). */
extern int64 view_batch_groups(ViewRuntime *vr);

#endif							/* CONTINUOUS_BATCH_H */
