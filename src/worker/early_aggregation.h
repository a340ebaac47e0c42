/*-------------------------------------------------------------------------
 *
 * early_aggregation.h
 *	  Large transactions aggregated while they stream, before they commit
 *	  (early_aggregation.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_EARLY_AGGREGATION_H
#define CONTINUOUS_EARLY_AGGREGATION_H

#include "exec/batch.h"

/* The stream's clock (NULL: none), for judging lateness. */
typedef StreamClock *(*EarlyClockLookup) (Oid stream);

/*
 * Between reads of the WAL, in a transaction: run the rows the streamed
 * transactions gained since the last call through the views (ViewRuntime)
 * that can take them before the commit.
 */
extern void early_aggregation_run(List *views, EarlyClockLookup clock_of);

/* Are there rows of streamed transactions that no view has run yet? */
extern bool early_aggregation_due(List *views);

/*
 * For the flush: the runs of stream's events (EarlyEvents, in their order)
 * whose transactions committed into the batch and that the view ran
 * already, in CurrentMemoryContext.
 */
extern List *early_aggregation_events(ViewRuntime *vr, StreamEvents *stream);

/*
 * Before the batch is folded (which frees them), in a transaction: the
 * rows on disk that the batch's streamed transactions wrote after the
 * worker's last turn (StreamedCommit.tail), through the views that ran
 * those before, as while they streamed.
 */
extern void early_aggregation_run_committed_tails(List *commits,
												  EarlyClockLookup clock_of);

/*
 * After the fold that takes the batch's rows held in memory, before
 * early_aggregation_forget_ended(): the views take what they ran of the
 * first rows on disk of a transaction that committed into the batch
 * (spill; commits: the batch's StreamedCommits before that fold), and the
 * stream's clock advances over them, as a fold of those rows would.  True
 * if taken; false if any view that counts them cannot, and nothing moved.
 * In a transaction.
 */
extern bool early_aggregation_take_spill(List *views, List *commits,
										 const RowSpillEarly *spill,
										 EarlyClockLookup clock_of);

/*
 * May the rows on disk of the streamed transaction xid, of stream, go
 * unwritten (decoder.h, DecoderSpillUnwritten)?  Yes if every view runs
 * rows before their commit and folds before the flush, and one reads the
 * stream, and the EarlyBatches have room for two more turns like the
 * last; unless xid was decoded again for want of its rows, or such a
 * decoding came lately.  Reads only memory: asked while the decoder
 * decodes.
 */
extern bool early_aggregation_spill_unwritten(List *views, Oid stream,
											  TransactionId xid);

/*
 * The rows on disk of xid went unwritten and the views could not take
 * them: it is decoded again, and its rows are written this time, and those
 * of the next few large transactions too.
 */
extern void early_aggregation_spill_decoded_again(TransactionId xid);

/* What the EarlyBatches take together. */
extern Size early_aggregation_memory(void);

/*
 * What the transactions that are no longer streaming ran goes: those that
 * committed into the batch, once it is flushed, or folded before the flush
 * (their rows then run as any others), and those that aborted meanwhile.
 */
extern void early_aggregation_forget_ended(void);

/* The view is going (before view_runtime_destroy), or all views are. */
extern void early_aggregation_forget_view(ViewRuntime *vr);
extern void early_aggregation_forget(void);

#endif							/* CONTINUOUS_EARLY_AGGREGATION_H */
