/*-------------------------------------------------------------------------
 *
 * flush.h
 *	  Writing a batch: view state, decoder position, statistics and dead
 *	  letters, all in the caller's transaction.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_FLUSH_H
#define CONTINUOUS_FLUSH_H

#include "access/xlogdefs.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"

#include "exec/view_runtime.h"
#include "plan/agg_support.h"
#include "source/decoder.h"
#include "source/stream_event.h"
#include "source/watermark.h"
#include "state/storage_layout.h"

/*
 * Merge the view's batch groups into its storage table, and write what its
 * windows (the partial aggregate stage's) keep beside them.
 */
extern void flush_view_state(ViewRuntime *vr, WindowRuntime *windows,
							 int nwindows);

/*
 * The most that the arrays a view's groups were sorted in took, in any
 * flush_view_state() since the last call (worker_memory.c counts it).
 */
extern Size flush_memory_peak_take(void);

/*
 * The one row of a view without GROUP BY, with every aggregate's initial
 * state: its storage holds it from the start.
 */
extern void flush_insert_global_row(Oid storage, AggSupport **supports,
									int naggs);

/* The view's dead letters and counters. */
extern void flush_view_bookkeeping(ViewRuntime *vr, double flush_ms,
								   double latency_ms);

/* A stream's counters, watermark and dead letters for the batch. */
extern void flush_stream_stats(StreamEvents *stream, StreamClock *clock);

/* One dead letter; view is InvalidOid for those of the stream itself. */
extern void flush_dead_letter(Oid stream, Oid view, DeadLetter *dl);

/* Views created in the batch begin at lsn, the position written with it. */
extern void flush_write_view_starts(List *views, XLogRecPtr lsn);

/*
 * Where the decoder stands (view_progress.c): decoding resumes at restart;
 * every view is applied up to frontier, except the views behind it, each
 * up to its own position.
 */
typedef struct DecoderProgress
{
	XLogRecPtr	restart;
	XLogRecPtr	frontier;
	int			nbehind;
	Oid		   *behind_views;
	XLogRecPtr *behind_lsns;
	XLogRecPtr *behind_parts;	/* InvalidXLogRecPtr: none (below) */

	/*
	 * A large transaction flushed in parts: part_xid (top level) is applied
	 * up to the rows of its WAL record at part_lsn by the views that stand
	 * in it: those behind whose behind_parts entry is part_lsn, and which
	 * stand at its commit; or, if there are none, every view at frontier,
	 * where it commits.  InvalidTransactionId: none.
	 */
	TransactionId part_xid;
	XLogRecPtr	part_lsn;
} DecoderProgress;

/* Written with the flush; after it commits, decoding resumes there. */
extern void flush_write_progress(DecoderProgress *progress);
extern void flush_read_progress(DecoderProgress *progress);

/*
 * The views of table streams must be computed again from their tables
 * before decoding goes on (worker.c): a gap in the WAL the slot can decode.
 */
extern void flush_write_rebuild_owed(bool owed);
extern bool flush_read_rebuild_owed(void);

#endif							/* CONTINUOUS_FLUSH_H */
