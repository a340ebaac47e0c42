/*-------------------------------------------------------------------------
 *
 * early_aggregation.c
 *	  Large transactions aggregated while they stream, before they commit.
 *
 * Pipeline position: between the source and the batch.  The decoder hands
 * the worker a large transaction's rows before the transaction commits
 * (logical decoding's streaming mode; StreamedTxn, decoder.h).  Between
 * reads of the WAL, the worker runs the rows that arrived since its last
 * turn through every view that can take them this early (every stage says
 * so, stage.h), each into an EarlyBatch of that transaction and view
 * (batch.c).  When the transaction commits, its rows join the decoded
 * batch as any others do; at the flush, the run of the batch's events that
 * an EarlyBatch holds is combined into the view's batch instead of being
 * run again, and only the rows that arrived after the last turn are run
 * then.  A 5-million-row COPY is thus aggregated while it runs, on the
 * worker's core, and its commit costs one combine of its groups.
 *
 * Exactly once is kept as it was: an EarlyBatch is only memory, and is
 * written by the flush that the transaction's rows would have had, with
 * them; the transaction the views run in here is read-only.  An abort
 * drops the transaction's EarlyBatches; a rollback to a savepoint removes
 * rows from the middle of the transaction, which then has a new
 * generation: its EarlyBatches start over on the rows that are left, and
 * the EARLY_RESTARTS-th such rollback leaves the transaction to run at
 * commit (each start over runs its rows again).  A crash loses them with
 * the rows, which are decoded and streamed again.
 *
 * An EarlyBatch is taken only if it is exactly what running its rows at
 * the flush would give: the batch holds the same tuples at the same places
 * (the stream's clock takes events too far ahead out of the batch), none
 * of its events was late or failed (those are the flush's to record), and
 * none of its windows has closed since (batch.c checks by the watermark of
 * the flush).  Otherwise its transaction's rows are run at the flush as
 * before, which is never wrong, only later.
 *
 * Rows on disk unwritten.  Where every view of the worker runs rows
 * before their commit and folds them before the flush, a transaction's
 * rows past its memory need not be written at all: the take at the commit
 * leaves none to read back.  So the decoder asks
 * (early_aggregation_spill_unwritten()) when a transaction first outgrows
 * its memory, and then writes none of its further rows while the worker's
 * turns run them (decoder.c, row_spill.c).  Rows that a turn does not run
 * are written, with those after them, and the views take what ran before
 * them.  Should the views not take what they ran at the commit (a late or
 * failed event, a window closed meanwhile, a view held by a lock, a
 * savepoint rolled back among the rows), the rows are nowhere: the worker
 * decodes the transaction again from the WAL, as a restart would, and
 * writes its rows this time (worker.c, worker_decode_again_writing()).
 * That costs a second decoding, so after one the next large transactions
 * are written, as many as spill_written_next says: twice as many after
 * each such decoding, up to SPILL_WRITTEN_MOST, half as many after each
 * take.
 *
 * Memory: the EarlyBatches together may take a quarter of
 * continuous.state_memory (worker.c gives the decoded batch that much
 * less); one that would take more is given up, and its transaction's rows
 * run at commit.  Rows on disk stop running once they take half of that
 * (decoder_streamed_stop_early()): the views take what ran, and the rest
 * is read back, rather than every row (nor, unwritten, decoded again).
 *
 * A transaction whose rows outgrew continuous.large_transaction_memory
 * has its later rows on disk (row_spill.c).  The rows held in memory are
 * run as above, and the fold of the batch that the worker makes before it
 * reads the others back takes their EarlyBatches (worker.c,
 * worker_read_spilled()).  The rows on disk are run too, as they are
 * written: the decoder keeps those written since the last turn
 * (StreamedTxn.tail), and each view runs them into an EarlyBatch of its
 * own (EarlyView.spilled), while the clock is asked what it would make of
 * them (none too far ahead, the latest event time).  The rows written
 * after the last turn come with the commit (StreamedCommit.tail), and are
 * run the same way before the batch is folded
 * (early_aggregation_run_committed_tails()).  After that fold,
 * early_aggregation_take_spill() takes those EarlyBatches for the rows on
 * disk that ran, if every view over their stream has one whose windows are
 * all still open, and the worker reads back only the rows that did not
 * run; otherwise every row on disk is read back and run as before.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "base/guc.h"
#include "base/memory.h"
#include "exec/quarantine.h"
#include "worker/early_aggregation.h"

/* A transaction whose rows lose their order this often runs at commit. */
#define EARLY_RESTARTS 3

/* The most events handed to the stages at once, in one array. */
#define EARLY_RUN_EVENTS 8192

/* One view's EarlyBatch of one transaction. */
typedef struct EarlyView
{
	ViewRuntime *vr;
	EarlyBatch *early;			/* made at the first row of its stream */
	bool		given_up;		/* its rows run at commit */
	int			next_row;		/* the transaction's rows read so far */
	int64		nevents;		/* the view's stream's events among them, */
	HeapTuple	first_tuple;	/* the first */
	HeapTuple	last_tuple;		/* and the last */

	/* the transaction's rows on disk */
	EarlyBatch *spilled;		/* made at the first row of its stream */
	bool		spill_given_up; /* read back at commit */
	int64		spill_next;		/* rows of the file run so far, */
	int64		spill_events;	/* of them the view's stream's */
} EarlyView;

/* A streamed transaction, as the views ran it. */
typedef struct EarlyTxn
{
	TransactionId xid;			/* hash key */
	uint64		generation;		/* of the rows the views ran */
	int			restarts;		/* new generations since the first */
	bool		given_up;		/* runs at commit */
	bool		seen;			/* still streaming at the last turn */
	List	   *views;			/* EarlyView */

	/*
	 * What the clock makes of the rows on disk that ran, each turn's: the
	 * decoder gives the rows up at a turn that did not run them (nor look
	 * at them), so this covers all that may be taken.
	 */
	bool		spill_unusable; /* one too far ahead of the clock */
	StreamClockScan spill_times;
} EarlyTxn;

static HTAB *early_txns = NULL;

/* After a transaction decoded again, the next large ones are written: */
#define SPILL_WRITTEN_MOST 64
static int	spill_written_next = 0; /* so many, each time, */
static int	spill_written_left = 0; /* of which so many are to come */

/* What the EarlyBatches grew by in the worker's last turn */
static Size early_turn_growth = 0;

/* the transactions decoded again, the latest few (their rows are written) */
#define SPILL_DECODED_AGAIN 8
static TransactionId spill_decoded_again[SPILL_DECODED_AGAIN];
static int	spill_decoded_again_next = 0;

static Size early_memory_limit(void);
static bool early_room_for_a_turn(void);
static void early_txns_init(void);
static bool early_txn_takes(EarlyTxn *txn, StreamedTxn *streamed);
static void early_txn_start(EarlyTxn *txn, StreamedTxn *streamed, List *views);
static void early_txn_clear(EarlyTxn *txn);
static bool early_view_run(EarlyView *ev, StreamedTxn *streamed,
						   StreamClock *clock);
static bool early_view_run_tail(EarlyView *ev, StreamedTxn *streamed,
								StreamClock *clock);
static bool early_run_rows(EarlyView *ev, EarlyBatch **into,
						   StreamEvent *rows, int nrows, StreamClock *clock,
						   TransactionId xid, int64 *nevents,
						   HeapTuple *first, HeapTuple *last, bool *full,
						   bool may_exceed);
static bool early_txn_run_tail(EarlyTxn *txn, StreamedTxn *streamed,
							   EarlyClockLookup clock_of);
static void early_view_give_up(EarlyView *ev);
static void early_view_give_up_spill(EarlyView *ev);
static void early_batch_drop(EarlyBatch **batch);
static EarlyView *early_txn_view(EarlyTxn *txn, ViewRuntime *vr);
static void early_take_spill_step(ViewRuntime *vr, void *arg);

static StreamedCommit *early_committed(List *commits, TransactionId xid);
static void early_forget_unseen(bool keep_committed);

/* What the EarlyBatches may take together: a quarter of state_memory. */
static Size
early_memory_limit(void)
{
	return (Size) continuous_state_memory_kb * 1024 / 4;
}

static void
early_txns_init(void)
{
	HASHCTL		ctl;

	if (early_txns != NULL)
		return;
	ctl.keysize = sizeof(TransactionId);
	ctl.entrysize = sizeof(EarlyTxn);
	ctl.hcxt = continuous_memory_context();
	early_txns = hash_create("pg_continuous early aggregation", 16, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Could the views take any of the transaction's rows now? */
static bool
early_txn_takes(EarlyTxn *txn, StreamedTxn *streamed)
{
	ListCell   *lc;

	/* rows on disk since the last turn: taken, or given up */
	if (streamed->ntail > 0)
		return true;
	if (streamed->changed_catalog || streamed->nrows == 0)
		return false;
	if (txn == NULL || txn->generation != streamed->generation)
		return txn == NULL || txn->restarts < EARLY_RESTARTS;
	if (txn->given_up)
		return false;
	foreach(lc, txn->views)
	{
		EarlyView  *ev = lfirst(lc);

		if (!ev->given_up && ev->next_row < streamed->nrows)
			return true;
	}
	return false;
}

bool
early_aggregation_due(List *views)
{
	HASH_SEQ_STATUS status;
	StreamedTxn *streamed;
	bool		due = false;

	if (!continuous_aggregate_before_commit || views == NIL)
		return false;
	early_txns_init();
	decoder_streamed_begin(&status);
	while ((streamed = decoder_streamed_next(&status)) != NULL)
	{
		if (early_txn_takes(hash_search(early_txns, &streamed->xid,
										HASH_FIND, NULL), streamed))
		{
			due = true;
			hash_seq_term(&status);
			break;
		}
	}
	return due;
}

void
early_aggregation_run(List *views, EarlyClockLookup clock_of)
{
	HASH_SEQ_STATUS status;
	StreamedTxn *streamed;
	EarlyTxn   *txn;
	Size		before = early_aggregation_memory();
	Size		after;

	if (!continuous_aggregate_before_commit)
		return;
	early_txns_init();

	/*
	 * Nothing done with rows that may yet abort may outlive them: the
	 * views' expressions run read-only here, so that one that writes
	 * (through a function not as stable as it says) fails, and its view
	 * takes the rows at commit.
	 */
	XactReadOnly = true;

	hash_seq_init(&status, early_txns);
	while ((txn = hash_seq_search(&status)) != NULL)
		txn->seen = false;

	decoder_streamed_begin(&status);
	while ((streamed = decoder_streamed_next(&status)) != NULL)
	{
		bool		found;
		bool		full = false;
		ListCell   *lc;

		if (streamed->changed_catalog)
		{
			/* its views are loaded again after it */
			decoder_streamed_tail_taken(streamed, false);
			continue;
		}
		txn = hash_search(early_txns, &streamed->xid, HASH_ENTER, &found);
		if (!found)
		{
			txn->restarts = 0;
			txn->views = NIL;
			txn->given_up = false;
			txn->spill_unusable = false;
			memset(&txn->spill_times, 0, sizeof(StreamClockScan));
			early_txn_start(txn, streamed, views);
		}
		else if (txn->generation != streamed->generation)
		{
			/* a savepoint rolled back: what was run no longer holds */
			early_txn_clear(txn);
			txn->given_up = ++txn->restarts >= EARLY_RESTARTS;
			if (!txn->given_up)
				early_txn_start(txn, streamed, views);
		}
		txn->seen = true;
		foreach(lc, txn->views)
		{
			EarlyView  *ev = lfirst(lc);

			if (early_view_run(ev, streamed, clock_of(ev->vr->stream)))
				full = true;
		}

		/*
		 * The rows on disk stop running before their states would be given
		 * up for memory (which would leave every row to be read back, or
		 * decoded again): what ran is taken at the commit, the rest read
		 * back.
		 */
		if (full || !early_room_for_a_turn())
			decoder_streamed_stop_early(streamed);
		else if (streamed->ntail > 0)
			decoder_streamed_tail_taken(streamed,
										early_txn_run_tail(txn, streamed, clock_of));
	}

	early_forget_unseen(true);
	after = early_aggregation_memory();
	early_turn_growth = after > before ? after - before : 0;
}

/*
 * Would the EarlyBatches have room for another turn as large as the last
 * one, twice over?
 */
static bool
early_room_for_a_turn(void)
{
	return early_aggregation_memory() + 2 * early_turn_growth <
		early_memory_limit();
}

/*
 * The rows the transaction wrote to disk since the last turn, through each
 * view that has run all those before, and the clock's look at them; true
 * if what they made may be taken at the commit.
 */
static bool
early_txn_run_tail(EarlyTxn *txn, StreamedTxn *streamed,
				   EarlyClockLookup clock_of)
{
	bool		ran = false;
	ListCell   *lc;

	foreach(lc, txn->views)
	{
		EarlyView  *ev = lfirst(lc);

		if (early_view_run_tail(ev, streamed, clock_of(ev->vr->stream)))
			ran = true;
	}
	/* a tail is of one stream (decoder.c gives up a spill of two) */
	if (ran && !txn->spill_unusable)
	{
		StreamClock *clock = clock_of(streamed->tail[0].relid);

		if (clock != NULL &&
			!stream_clock_scan(clock, streamed->tail, streamed->ntail,
							   &txn->spill_times))
			txn->spill_unusable = true;
	}
	return ran && !txn->spill_unusable;
}

void
early_aggregation_run_committed_tails(List *commits, EarlyClockLookup clock_of)
{
	ListCell   *lc;

	/* as while they streamed: nothing done here may outlive the rows */
	XactReadOnly = true;
	foreach(lc, commits)
	{
		StreamedCommit *commit = lfirst(lc);
		EarlyTxn   *txn = NULL;
		bool		ran = false;

		if (commit->ntail == 0)
			continue;
		if (early_txns != NULL)
			txn = hash_search(early_txns, &commit->xid, HASH_FIND, NULL);
		if (txn != NULL && !txn->given_up &&
			txn->generation == commit->generation)
		{
			StreamedTxn streamed;

			memset(&streamed, 0, sizeof(streamed));
			streamed.xid = commit->xid;
			streamed.generation = commit->generation;
			streamed.tail = commit->tail;
			streamed.ntail = commit->ntail;
			streamed.tail_first = commit->tail_first;
			ran = early_txn_run_tail(txn, &streamed, clock_of);
		}
		decoder_batch_spill_tail_taken(commit->xid, ran);
		commit->ntail = 0;
	}
}

/*
 * The transactions no longer streaming go, but with keep_committed those
 * that committed into the batch, whose flush is still to come: the others
 * aborted (or are being decoded again).
 */
static void
early_forget_unseen(bool keep_committed)
{
	HASH_SEQ_STATUS status;
	EarlyTxn   *txn;

	hash_seq_init(&status, early_txns);
	while ((txn = hash_seq_search(&status)) != NULL)
	{
		StreamedCommit *commit;

		if (txn->seen)
			continue;
		commit = keep_committed ?
			early_committed(decoder_batch->streamed_commits, txn->xid) : NULL;
		if (commit == NULL || commit->generation != txn->generation)
		{
			early_txn_clear(txn);
			hash_search(early_txns, &txn->xid, HASH_REMOVE, NULL);
		}
	}
}

/*
 * Every view that can take the transaction's rows; each makes its
 * EarlyBatch once a row of its stream comes.
 */
static void
early_txn_start(EarlyTxn *txn, StreamedTxn *streamed, List *views)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(continuous_memory_context());
	ListCell   *lc;

	txn->generation = streamed->generation;
	foreach(lc, views)
	{
		ViewRuntime *vr = lfirst(lc);
		EarlyView  *ev;

		if (vr->failed || !view_runs_before_commit(vr))
			continue;
		ev = palloc0(sizeof(EarlyView));
		ev->vr = vr;
		txn->views = lappend(txn->views, ev);
	}
	MemoryContextSwitchTo(oldcxt);
}

static void
early_txn_clear(EarlyTxn *txn)
{
	ListCell   *lc;

	foreach(lc, txn->views)
	{
		EarlyView  *ev = lfirst(lc);

		early_view_give_up(ev);
		pfree(ev);
	}
	list_free(txn->views);
	txn->views = NIL;
}

/*
 * The transaction's rows that the view has not run yet, those of its
 * stream, through its stages into its EarlyBatch.
 */
static bool
early_view_run(EarlyView *ev, StreamedTxn *streamed, StreamClock *clock)
{
	bool		full = false;

	if (ev->given_up || ev->next_row >= streamed->nrows)
		return false;
	if (!early_run_rows(ev, &ev->early, &streamed->rows[ev->next_row],
						streamed->nrows - ev->next_row, clock, streamed->xid,
						&ev->nevents, &ev->first_tuple, &ev->last_tuple,
						&full, false))
	{
		if (full)
		{
			/*
			 * The rows held run at the commit; what ran of those on disk
			 * may still be taken, and they stop running
			 * (early_aggregation_run()).
			 */
			early_batch_drop(&ev->early);
			ev->given_up = true;
		}
		else
			early_view_give_up(ev);
	}
	ev->next_row = streamed->nrows;
	return full;
}

/*
 * The transaction's rows on disk since the last turn (its tail), through
 * the view into its EarlyBatch of them, if it ran all those before; true
 * if it has run every row on disk so far.
 */
static bool
early_view_run_tail(EarlyView *ev, StreamedTxn *streamed, StreamClock *clock)
{
	if (ev->spill_given_up)
		return false;
	if (ev->spill_next != streamed->tail_first)
	{
		/* rows on disk went by before it began, or while it was given up */
		early_view_give_up_spill(ev);
		return false;
	}
	/*
	 * Rows not written are nowhere else: their states may take more than
	 * the EarlyBatches' memory for this one turn, after which they stop
	 * running (early_aggregation_run()).
	 */
	if (!early_run_rows(ev, &ev->spilled, streamed->tail, streamed->ntail,
						clock, streamed->xid, &ev->spill_events, NULL, NULL,
						NULL, decoder_rows_unwritten(streamed->xid)))
	{
		early_view_give_up_spill(ev);
		return false;
	}
	ev->spill_next += streamed->ntail;
	return true;
}

/*
 * The rows of the view's stream among rows (of a streamed transaction,
 * xid) through the view into *into, made at the first; *nevents counts
 * them, and *first and *last (unless NULL) say which tuples they begin and
 * end with.  False if one was late or failed, or the EarlyBatches would
 * take too much memory (then *full, unless NULL, is set), unless
 * may_exceed: *into is of no use then.
 */
static bool
early_run_rows(EarlyView *ev, EarlyBatch **into, StreamEvent *rows,
			   int nrows, StreamClock *clock, TransactionId xid,
			   int64 *nevents, HeapTuple *first, HeapTuple *last, bool *full,
			   bool may_exceed)
{
	ViewRuntime *vr = ev->vr;
	Size		limit = early_memory_limit();
	StreamEvent *events;
	MemoryContext run_cxt;
	MemoryContext oldcxt;
	bool		ok = true;
	int			next = 0;

	run_cxt = AllocSetContextCreate(CurrentMemoryContext,
									"pg_continuous early run",
									ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(run_cxt);
	events = palloc0(sizeof(StreamEvent) * EARLY_RUN_EVENTS);
	while (ok && next < nrows)
	{
		int			n = 0;

		while (next < nrows && n < EARLY_RUN_EVENTS)
		{
			StreamEvent *row = &rows[next++];
			StreamEvent *event;

			if (row->relid != vr->stream || row->tuple == NULL)
				continue;
			event = &events[n++];
			event->tuple = row->tuple;
			event->desc = row->desc;
			/* not known before the commit; nothing early reads them */
			event->commit_lsn = InvalidXLogRecPtr;
			event->partition = -1;
			if (first != NULL && *nevents == 0)
				*first = row->tuple;
			if (last != NULL)
				*last = row->tuple;
			(*nevents)++;
		}
		if (n == 0)
			continue;
		if (*into == NULL)
			*into = early_batch_create(vr);
		if (!early_batch_process(vr, *into, events, n, clock))
		{
			elog(DEBUG1, "pg_continuous: continuous view \"%s\" takes the rows of transaction %u at its commit: one was late or failed",
				 vr->name, xid);
			ok = false;
		}
		else if (!may_exceed && early_aggregation_memory() > limit)
		{
			elog(DEBUG1, "pg_continuous: continuous view \"%s\" takes the rows of transaction %u at its commit: its states before the commit would take more than a quarter of continuous.state_memory",
				 vr->name, xid);
			ok = false;
			if (full != NULL)
				*full = true;
		}
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(run_cxt);
	return ok;
}

static void
early_view_give_up(EarlyView *ev)
{
	early_batch_drop(&ev->early);
	ev->given_up = true;
	early_view_give_up_spill(ev);
}

static void
early_view_give_up_spill(EarlyView *ev)
{
	early_batch_drop(&ev->spilled);
	ev->spill_given_up = true;
}

/* *batch (NULL: none) destroyed */
static void
early_batch_drop(EarlyBatch **batch)
{
	if (*batch != NULL)
		early_batch_destroy(*batch);
	*batch = NULL;
}

/* The view's EarlyView of the transaction, or NULL. */
static EarlyView *
early_txn_view(EarlyTxn *txn, ViewRuntime *vr)
{
	ListCell   *lc;

	foreach(lc, txn->views)
	{
		EarlyView  *ev = lfirst(lc);

		if (ev->vr == vr)
			return ev;
	}
	return NULL;
}

Size
early_aggregation_memory(void)
{
	HASH_SEQ_STATUS status;
	EarlyTxn   *txn;
	Size		memory = 0;

	if (early_txns == NULL)
		return 0;
	hash_seq_init(&status, early_txns);
	while ((txn = hash_seq_search(&status)) != NULL)
	{
		ListCell   *lc;

		foreach(lc, txn->views)
		{
			EarlyView  *ev = lfirst(lc);

			if (ev->early != NULL)
				memory += early_batch_memory(ev->early);
			if (ev->spilled != NULL)
				memory += early_batch_memory(ev->spilled);
		}
	}
	return memory;
}

/* The transaction's commit among commits (StreamedCommit), or NULL. */
static StreamedCommit *
early_committed(List *commits, TransactionId xid)
{
	ListCell   *lc;

	foreach(lc, commits)
	{
		StreamedCommit *commit = lfirst(lc);

		if (commit->xid == xid)
			return commit;
	}
	return NULL;
}

/* The first of stream's events with this commit LSN, or nevents. */
static int
early_first_of_commit(StreamEvents *stream, XLogRecPtr commit_lsn)
{
	int			lo = 0;
	int			hi = stream->nevents;

	/* events are in commit order */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (stream->events[mid].commit_lsn < commit_lsn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

List *
early_aggregation_events(ViewRuntime *vr, StreamEvents *stream)
{
	List	   *runs = NIL;
	ListCell   *lc;

	if (early_txns == NULL || stream->kafka || stream->backfill)
		return NIL;
	foreach(lc, decoder_batch->streamed_commits)
	{
		StreamedCommit *commit = lfirst(lc);
		EarlyTxn   *txn = hash_search(early_txns, &commit->xid, HASH_FIND, NULL);
		ListCell   *vc;

		if (txn == NULL || txn->generation != commit->generation)
			continue;
		foreach(vc, txn->views)
		{
			EarlyView  *ev = lfirst(vc);
			EarlyEvents *run;
			int			first;

			if (ev->vr != vr || ev->early == NULL || ev->nevents == 0)
				continue;
			first = early_first_of_commit(stream, commit->commit_lsn);

			/* the same tuples at the same places, none taken out */
			if (first + ev->nevents > stream->nevents ||
				stream->events[first].commit_lsn != commit->commit_lsn ||
				stream->events[first].tuple != ev->first_tuple ||
				stream->events[first + ev->nevents - 1].tuple != ev->last_tuple)
				continue;
			run = palloc(sizeof(EarlyEvents));
			run->first = first;
			run->count = (int) ev->nevents;	/* rows of one array */
			run->early = ev->early;
			runs = lappend(runs, run);
		}
	}
	return runs;
}

bool
early_aggregation_take_spill(List *views, List *commits,
							 const RowSpillEarly *spill,
							 EarlyClockLookup clock_of)
{
	StreamClock *clock = clock_of(spill->relid);
	StreamedCommit *commit = early_committed(commits, spill->xid);
	EarlyTxn   *txn;
	List	   *taking = NIL;
	ListCell   *lc;

	if (early_txns == NULL)
		return false;
	txn = hash_search(early_txns, &spill->xid, HASH_FIND, NULL);
	if (commit == NULL || txn == NULL || txn->given_up ||
		txn->generation != commit->generation || txn->spill_unusable)
		return false;

	/* every view that counts them, or none */
	foreach(lc, views)
	{
		ViewRuntime *vr = lfirst(lc);
		EarlyView  *ev;

		if (vr->failed ||
			(vr->stream != spill->relid && vr->join_stream != spill->relid) ||
			!view_takes_commit(vr, spill->commit_lsn))
			continue;
		ev = early_txn_view(txn, vr);
		if (ev == NULL || ev->spill_given_up || vr->stream != spill->relid ||
			ev->spill_next != spill->rows ||
			ev->spill_events != spill->events ||
			(ev->spilled != NULL && !view_early_open_now(vr, ev->spilled, clock)))
		{
			list_free(taking);
			return false;
		}
		taking = lappend(taking, ev);
	}

	if (clock != NULL)
		stream_clock_advance_scanned(clock, &txn->spill_times);
	foreach(lc, taking)
	{
		EarlyView  *ev = lfirst(lc);

		(void) quarantine_run(ev->vr, early_take_spill_step, ev);
	}
	list_free(taking);
	spill_written_next /= 2;
	return true;
}

bool
early_aggregation_spill_unwritten(List *views, Oid stream, TransactionId xid)
{
	bool		counted = false;
	ListCell   *lc;
	int			i;

	for (i = 0; i < SPILL_DECODED_AGAIN; i++)
		if (spill_decoded_again[i] == xid)
			return false;
	foreach(lc, views)
	{
		ViewRuntime *vr = lfirst(lc);

		if (vr->failed)
			continue;
		/* a fold before the take looks at every view (worker_can_fold()) */
		if (!view_folds_between_flushes(vr))
			return false;
		if (vr->stream != stream && vr->join_stream != stream)
			continue;
		if (vr->stream != stream || !view_runs_before_commit(vr))
			return false;
		counted = true;
	}
	if (!counted || !early_room_for_a_turn())
		return false;
	if (spill_written_left > 0)
	{
		spill_written_left--;
		return false;
	}
	return true;
}

void
early_aggregation_spill_decoded_again(TransactionId xid)
{
	spill_decoded_again[spill_decoded_again_next] = xid;
	spill_decoded_again_next = (spill_decoded_again_next + 1) % SPILL_DECODED_AGAIN;
	spill_written_next = Min(Max(1, spill_written_next * 2), SPILL_WRITTEN_MOST);
	spill_written_left = spill_written_next;
}

/* One view takes what it ran of the rows on disk (quarantine_run()). */
static void
early_take_spill_step(ViewRuntime *vr, void *arg)
{
	EarlyView  *ev = arg;
	EarlyBatch *spilled = ev->spilled;

	/* the view's now, or gone with it should it fail */
	ev->spilled = NULL;
	view_fold_early(vr, spilled, ev->spill_events);
}

/*
 * What committed into the batch has been used, or will not be (the batch
 * was folded), and a transaction that is no longer streaming without
 * having committed into it has aborted: only the transactions still
 * streaming keep their EarlyBatches.
 */
void
early_aggregation_forget_ended(void)
{
	HASH_SEQ_STATUS status;
	StreamedTxn *streamed;
	EarlyTxn   *txn;

	if (early_txns == NULL)
		return;
	hash_seq_init(&status, early_txns);
	while ((txn = hash_seq_search(&status)) != NULL)
		txn->seen = false;
	decoder_streamed_begin(&status);
	while ((streamed = decoder_streamed_next(&status)) != NULL)
	{
		txn = hash_search(early_txns, &streamed->xid, HASH_FIND, NULL);
		if (txn != NULL)
			txn->seen = true;
	}
	early_forget_unseen(false);
}

/* vr NULL: every view */
void
early_aggregation_forget_view(ViewRuntime *vr)
{
	HASH_SEQ_STATUS status;
	EarlyTxn   *txn;

	if (early_txns == NULL)
		return;
	hash_seq_init(&status, early_txns);
	while ((txn = hash_seq_search(&status)) != NULL)
	{
		ListCell   *lc;

		foreach(lc, txn->views)
		{
			EarlyView  *ev = lfirst(lc);

			if (vr == NULL || ev->vr == vr)
			{
				early_view_give_up(ev);
				pfree(ev);
				txn->views = foreach_delete_current(txn->views, lc);
			}
		}
	}
}

void
early_aggregation_forget(void)
{
	if (early_txns == NULL)
		return;
	early_aggregation_forget_view(NULL);
	hash_destroy(early_txns);
	early_txns = NULL;
}
