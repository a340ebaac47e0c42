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

#include "batch.h"
#include "decoder.h"
#include "watermark.h"

/* Merge the view's batch groups into its storage table. */
extern void flush_view_state(ViewRuntime *vr);

/* The view's dead letters and counters. */
extern void flush_view_bookkeeping(ViewRuntime *vr, double flush_ms,
								   double latency_ms);

/* A stream's counters, watermark and dead letters for the batch. */
extern void flush_stream_stats(StreamEvents *stream, StreamClock *clock);

/* One dead letter; view is InvalidOid for those of the stream itself. */
extern void flush_dead_letter(Oid stream, Oid view, DeadLetter *dl);

/* Decoder position: after the flush commits, decoding resumes here. */
extern void flush_write_position(XLogRecPtr lsn);
extern XLogRecPtr flush_read_position(void);

#endif							/* CONTINUOUS_FLUSH_H */
