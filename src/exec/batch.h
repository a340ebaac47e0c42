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

#include "exec/view_groups.h"
#include "exec/view_runtime.h"
#include "source/decoder.h"
#include "source/stream_event.h"
#include "source/watermark.h"

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

/* Forget the batch state after its flush (or its failure). */
extern void view_batch_reset(ViewRuntime *vr);

#endif							/* CONTINUOUS_BATCH_H */
