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

#include "decoder.h"
#include "view_groups.h"
#include "view_runtime.h"
#include "watermark.h"

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
