/*-------------------------------------------------------------------------
 *
 * worker_process.h
 *	  Each view's batch, run through its stages in a flush
 *	  (worker_process.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WORKER_PROCESS_H
#define CONTINUOUS_WORKER_PROCESS_H

#include "exec/batch.h"

/*
 * A stream's batch (with the dead letters its decoding made): its clock
 * advances, and every view of views (ViewRuntime) over it processes it.
 */
extern void worker_process_stream(List *views, StreamEvents *stream,
								  List *dead_letters);

/*
 * The views over stream process its batch by clock (with only_windowed,
 * the views that judge lateness do so again, from the beginning).
 */
extern void worker_process_views(List *views, StreamEvents *stream,
								 StreamClock *clock, bool only_windowed);

/*
 * Every interval join view's batch, once both streams' clocks advanced.
 * batches: every stream's events (StreamEvents).
 */
extern void worker_process_join_views(List *views, List *batches);

/*
 * Between flushes, when decoded events fill the worker's memory: can every
 * view over the decoded streams run them now (worker_can_fold), each
 * stream's events through its views (worker_fold_stream, in a
 * transaction), and what the views keep of them (worker_folded_memory).
 */
extern bool worker_can_fold(List *views);
extern void worker_fold_stream(List *views, StreamEvents *stream);
extern Size worker_folded_memory(List *views);

/* One view's batch again, from the beginning. */
extern void worker_process_view_again(ViewRuntime *vr, List *batches);

#endif							/* CONTINUOUS_WORKER_PROCESS_H */
