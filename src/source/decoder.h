/*-------------------------------------------------------------------------
 *
 * decoder.h
 *	  Table streams: committed rows of stream tables, read from the WAL by
 *	  logical decoding inside the database's worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_DECODER_H
#define CONTINUOUS_DECODER_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "utils/hsearch.h"

#include "source/row_spill.h"

/*
 * One event of a stream: a committed row of a stream table, or a decoded
 * Kafka message (kafka_source.c).
 */
typedef struct StreamEvent
{
	/*
	 * The row: a table stream's as a tuple, flattened (no external TOAST
	 * pointers); a Kafka message's as the values it was decoded into, so
	 * that no tuple is formed only to be taken apart again.  One of the two
	 * is NULL; batch.h has the accessors.
	 */
	HeapTuple	tuple;
	Datum	   *values;			/* and isnull, desc->natts of each */
	bool	   *isnull;
	TupleDesc	desc;			/* the descriptor it was decoded with */
	XLogRecPtr	commit_lsn;		/* its transaction's commit record; Kafka: 0 */
	TimestampTz commit_time;	/* Kafka: when the message was consumed */
	int32		partition;		/* Kafka: where the message was; tables: -1 */
	Oid			relid;			/* its stream, where events of two streams
								 * are merged (worker_process.c, interval
								 * joins); InvalidOid elsewhere */
	int64		offset;
} StreamEvent;

/* The events of one stream gathered since the last flush, in commit order. */
typedef struct StreamEvents
{
	Oid			relid;			/* hash key */
	StreamEvent *events;
	int			nevents;
	int			capacity;
	int64		bytes;
	int64		ignored_changes;	/* UPDATE, DELETE, TRUNCATE */
	bool		kafka;			/* events are Kafka messages, in offset order
								 * per partition */
	bool		backfill;		/* events are the rows a backfill read from
								 * the table (backfill.c): all the view's */
	TupleDesc	desc;			/* copy of the last descriptor seen ... */
	TupleDesc	desc_source;	/* ... and the relcache one it came from */
	TupleDesc	route_desc;		/* partitioned streams: the same for rows
								 * of partitions ... */
	uint64		route_layout;	/* ... and the layout it was copied for
								 * (partition_route.h) */

	/*
	 * Events run through the views before the flush and given back
	 * (decoder_batch_fold): how many, the last one's commit time, and the
	 * dead letters the stream's clock made of them (DeadLetter), in the
	 * batch's memory; bytes and ignored_changes count them still.
	 */
	int64		folded_events;
	TimestampTz folded_last_commit_time;
	List	   *folded_dead_letters;
} StreamEvents;

/*
 * A transaction being streamed, as far as it has been (logical decoding's
 * streaming mode).  Its rows are events as a batch holds them, so that the
 * batch can take them whole at the commit, with relid set: a row of a
 * stream (tuple NULL: an ignored change), or a row of the view catalog;
 * their commit_lsn and commit_time are set at the commit.  They keep their
 * order and grow at the end, but a subtransaction's abort removes rows from
 * the middle: it then takes a new generation, and what was read of the rows
 * before no longer holds.
 */
typedef struct StreamedTxn
{
	TransactionId xid;			/* top level */
	uint64		generation;		/* unique among every streamed transaction */
	StreamEvent *rows;
	TransactionId *subxids;		/* the (sub)transaction that wrote each row */
	int			nrows;
	bool		changed_catalog;
	bool		spilled;		/* its rows from some point on are on disk
								 * (row_spill.c); those held before are
								 * here */
	/*
	 * The rows written to disk since the worker's last turn, kept in
	 * memory for the views to run then (decoder_streamed_tail_taken()),
	 * as rows are: tail_first rows of the file come before them.
	 */
	StreamEvent *tail;
	int			ntail;
	int64		tail_first;
} StreamedTxn;

/* A streamed transaction that committed into the batch. */
typedef struct StreamedCommit
{
	TransactionId xid;
	uint64		generation;		/* of its rows as they committed */
	XLogRecPtr	commit_lsn;		/* its events' StreamEvent.commit_lsn */
	/*
	 * Its rows written to disk after the worker's last turn (StreamedTxn.
	 * tail), still in memory until the batch is folded: none if ntail is 0
	 */
	StreamEvent *tail;
	int			ntail;
	int64		tail_first;
	struct TailOrigin *tail_origins;	/* decoder.c's, for a spill that
										 * writes no rows: whence each */
} StreamedCommit;

/* What the decoder has gathered since the last flush. */
typedef struct DecodedBatch
{
	MemoryContext cxt;			/* holds everything below; reset per flush */
	MemoryContext rows_cxt;		/* the rows themselves: a child of cxt,
								 * deleted with its reset */
	int64		rows_elsewhere; /* rows in cxt itself (row_context()) */
	Size		streamed_bytes; /* of streamed transactions' rows that
								 * committed into the batch (their contexts
								 * are children of cxt too) */
	HTAB	   *streams;		/* Oid -> StreamEvents */
	StreamEvents *last_stream;	/* the entry batch_stream() found last */
	int64		nevents;
	int64		folded_events;	/* of them, run before the flush and given
								 * back (decoder_batch_fold) */
	int64		nchanges;		/* ignored changes: UPDATE, DELETE, TRUNCATE */
	TimestampTz oldest_commit_time;
	/* a transaction that changed the continuous catalog ended the batch */
	bool		catalog_changed;
	TransactionId catalog_xid;
	/*
	 * views it created or rebuilt: they begin right after it, where the
	 * batch ends
	 */
	List	   *created_views;	/* Oid */
	/* streamed transactions that committed into the batch */
	List	   *streamed_commits;	/* StreamedCommit */
	/* the contexts of their rows, which the batch adopted */
	List	   *streamed_cxts;	/* MemoryContext */

	/*
	 * Transactions whose rows past continuous.large_transaction_memory wait
	 * on disk (RowSpill, row_spill.h), in commit order: their rows come
	 * after every event the batch holds (decoder_batch_read_spilled()).
	 */
	List	   *spills;
} DecodedBatch;

extern DecodedBatch *decoder_batch;

/* How decoder_start() found the database's replication slot. */
typedef enum DecoderStart
{
	DECODER_RESUMED,			/* resumes after start_lsn */
	DECODER_NEW_SLOT,			/* there was none: starts now */
	DECODER_SLOT_LOST			/* it had been invalidated (its WAL removed,
								 * max_slot_wal_keep_size): a new one starts
								 * now, and what lay between is lost */
} DecoderStart;

/*
 * Can this server decode table streams at all (wal_level = logical,
 * max_replication_slots > 0)?  If not, the reason goes to the log, once
 * per worker start: the worker then serves Kafka streams only.
 */
extern bool decoder_available(void);

/*
 * Does the database's replication slot exist, able to decode from where it
 * stands?  If not, decoder_start() makes a new one, and what lay between
 * the views' position and now is not decoded.
 */
extern bool decoder_slot_usable(void);

/*
 * Acquire (creating if needed) the slot and resume after start_lsn.  For
 * DECODER_SLOT_LOST, *lost_from is where the old slot stood.  When the slot
 * does not exist and every replication slot is taken, the worker exits, to
 * be started again by the launcher.
 */
extern DecoderStart decoder_start(XLogRecPtr start_lsn, XLogRecPtr *lost_from);

/*
 * Decode again from start_lsn, or from the slot's confirmed position if
 * that is later (InvalidXLogRecPtr: from there); what was decoded and not
 * flushed is dropped.
 */
extern void decoder_rewind(XLogRecPtr start_lsn);

/*
 * Asked when a streamed transaction's rows first outgrow the memory they
 * may hold: may its further rows, of stream, go unwritten (row_spill.c)?
 * Only if the views will take what they run of them before the commit;
 * else decoder_batch_spill_missing() says so at the commit, and the
 * transaction must be decoded again, with the answer false this time.
 * Never asked while continuous.aggregate_before_commit is off.
 */
typedef bool (*DecoderSpillUnwritten) (Oid stream, TransactionId xid);
extern void decoder_set_spill_unwritten(DecoderSpillUnwritten unwritten);

/*
 * The transaction of the batch whose rows on disk went unwritten and were
 * not taken as they ran before its commit, or InvalidTransactionId.
 */
extern TransactionId decoder_batch_spill_missing(void);

/* Which relations are streams, and which are the continuous catalog. */
extern void decoder_set_streams(Oid *relids, int nrelids,
								Oid stream_catalog, Oid view_catalog);

/*
 * The rows of the transaction xid (top level), from WAL records up to
 * change_lsn, were applied by flushes of its parts before the worker
 * restarted: they are passed over when it is decoded again.
 */
extern void decoder_resume_within(TransactionId xid, XLogRecPtr change_lsn);

/*
 * Decode until end_of_wal, until a transaction that changed the continuous
 * catalog has been decoded, or until max_events or max_bytes are gathered;
 * an empty batch takes its first transaction's events whatever max_bytes
 * says (what an empty batch keeps allocated may be as much).
 */
extern void decoder_read(XLogRecPtr end_of_wal, int64 max_events,
						 Size max_bytes);

/* Memory the batch takes. */
extern Size decoder_batch_bytes(void);

/* Everything before this position has been decoded into the batch. */
extern XLogRecPtr decoder_read_position(void);

/*
 * The batch's events have run through every view before the flush
 * (worker.c): give their rows back.  The batch goes on, its events still
 * counted in nevents, what the flush writes of them kept in each
 * StreamEvents.  The streamed transactions that committed into the batch
 * are no longer listed: what early aggregation ran of them is not used
 * (early_aggregation_forget_ended()).
 */
extern void decoder_batch_fold(void);

/*
 * Has a transaction committed into the batch with rows on disk?  Then the
 * batch ends with it, and no more WAL is read until they are read back.
 */
extern bool decoder_batch_spilled(void);

/*
 * Read rows that wait on disk into the batch, as its events, until it
 * takes max_bytes (at least one WAL record's rows); true while more wait.
 */
extern bool decoder_batch_read_spilled(Size max_bytes);

/*
 * The first spill of the batch, not read yet, whose first rows ran through
 * the views before their commit (RowSpillEarly); false if none did.
 */
extern bool decoder_batch_spill_early(RowSpillEarly *early);

/*
 * The rows on disk of the transaction xid that committed into the batch
 * after the worker's last turn (StreamedCommit.tail) ran through the views
 * (ran), or not: as decoder_streamed_tail_taken() for one still streaming.
 */
extern void decoder_batch_spill_tail_taken(TransactionId xid, bool ran);

/*
 * The worker took what the views made of those rows: they count in the
 * batch as events folded (decoder_batch_fold()), and only the rows after
 * them are read back.
 */
extern void decoder_batch_pass_spilled_early(const RowSpillEarly *early);

/*
 * How far a batch that ends with rows read back goes: the transaction xid,
 * which commits at commit_lsn, up to the rows of its WAL record at
 * change_lsn, and every transaction that commits before it whole.
 */
typedef struct DecodedPart
{
	XLogRecPtr	commit_lsn;
	TransactionId xid;
	XLogRecPtr	change_lsn;
} DecodedPart;

/*
 * Where the batch ends, while rows still wait on disk; false if it cannot
 * be flushed there (the rows of more than one transaction wait, or none was
 * read back yet).
 */
extern bool decoder_batch_part(DecodedPart *part);

/*
 * The batch has been flushed up to decoder_batch_part()'s position: forget
 * it but the rows on disk still to be read, and let the slot move on to
 * confirmed_lsn (at most the transaction's commit, where decoding resumes).
 */
extern void decoder_batch_flushed_part(XLogRecPtr confirmed_lsn);

/* The batch has been flushed: forget it, and let the slot move on. */
extern void decoder_batch_flushed(XLogRecPtr flushed_lsn);

/* The extension is gone: release and drop the slot. */
extern void decoder_drop_slot(void);

/*
 * The transactions being streamed (StreamedTxn), between reads of the WAL:
 * a scan of a hash table, which no read may interleave.
 */
extern void decoder_streamed_begin(HASH_SEQ_STATUS *status);
extern StreamedTxn *decoder_streamed_next(HASH_SEQ_STATUS *status);

/*
 * The worker's turn is over for txn's tail: the views ran it (ran), and
 * the rows on disk so far may be passed over at the commit; or not, and
 * the rows after those that ran are read back then.
 */
extern void decoder_streamed_tail_taken(StreamedTxn *txn, bool ran);

/*
 * The views run no more of txn's rows on disk before its commit: those to
 * come are written, to be read back then, and what ran may still be taken.
 */
extern void decoder_streamed_stop_early(StreamedTxn *txn);

/*
 * Are rows on disk of the transaction xid (streaming, or committed into
 * the batch) not written (row_spill.c)?  What the views run of them then
 * is all there is of them until the commit.
 */
extern bool decoder_rows_unwritten(TransactionId xid);

#endif							/* CONTINUOUS_DECODER_H */
