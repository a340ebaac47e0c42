/*-------------------------------------------------------------------------
 *
 * row_spill.h
 *	  The rows of a large transaction beyond the memory they may take, in a
 *	  temporary file until the worker reads them back.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_ROW_SPILL_H
#define CONTINUOUS_ROW_SPILL_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

typedef struct RowSpill RowSpill;

/* A row read back: tuple is NULL for an ignored change (UPDATE, DELETE, TRUNCATE). */
typedef struct SpilledRow
{
	Oid			relid;			/* its stream */
	HeapTuple	tuple;			/* in the caller's memory context */
	TupleDesc	desc;			/* the spill's copy: lives as its memory does */
	XLogRecPtr	lsn;			/* the WAL record it was decoded from */
} SpilledRow;

/*
 * A spill of one transaction, in a memory context of its own under parent;
 * no file until a row comes.
 */
/*
 * The first rows of a streamed transaction's spill, which ran through the
 * views before its commit as they were written (early_aggregation.c), and
 * what they count for their one stream.
 */
typedef struct RowSpillEarly
{
	int64		rows;			/* the first rows of the file */
	int64		events;			/* of them, rows inserted */
	int64		bytes;			/* their tuples' */
	int64		ignored;		/* of them, UPDATE, DELETE, TRUNCATE */
	XLogRecPtr	last_lsn;		/* the WAL record of the last */
	Oid			relid;			/* their stream */
	TransactionId xid;			/* and transaction, once committed */
	XLogRecPtr	commit_lsn;
	TimestampTz commit_time;
} RowSpillEarly;

/*
 * write_rows false: the rows are counted as they come, and none is
 * written until row_spill_begin_writing().  For rows that the views run
 * before the commit, and must take (row_spill_rows_missing()).
 */
extern RowSpill *row_spill_create(MemoryContext parent, bool write_rows);
extern bool row_spill_writes_rows(RowSpill *spill);

/*
 * A spill that wrote no rows writes them from now on, from first_row, the
 * row after those that ran before the commit (row_spill_mark_early()):
 * the caller writes those it still has with row_spill_write_counted(),
 * and row_spill_write() writes the rest.  False, and nothing changes, if
 * first_row is not that row, or what ran cannot be taken.
 */
extern bool row_spill_begin_writing(RowSpill *spill, int64 first_row);
extern void row_spill_write_counted(RowSpill *spill, Oid relid,
									TransactionId subxid, XLogRecPtr lsn,
									HeapTuple tuple, TupleDesc desc);

/* Its memory (and the descriptors of rows read back) now lives under parent. */
extern void row_spill_adopt(RowSpill *spill, MemoryContext parent);

/*
 * Write a row of the (sub)transaction subxid, decoded from the WAL record
 * at lsn; tuple NULL for an ignored change.  desc need live only while
 * the spill is written: the spill keeps a copy.
 */
extern void row_spill_write(RowSpill *spill, Oid relid, TransactionId subxid,
							XLogRecPtr lsn, HeapTuple tuple, TupleDesc desc);

/*
 * The subtransaction aborted: its rows are passed over when read, and
 * what ran of them before the commit cannot be taken (unless it wrote
 * none of the spill's rows).
 */
extern void row_spill_forget_subxact(RowSpill *spill, TransactionId subxid);

/*
 * At the commit: the (sub)transactions that did not abort are live (nlive
 * of them); the rows of any other are passed over, as after
 * row_spill_forget_subxact(), and what ran of them cannot be taken.
 */
extern void row_spill_keep_subxacts(RowSpill *spill, const TransactionId *live,
									int nlive);

/* The transaction xid committed: its rows' commit, which the reader stamps. */
extern void row_spill_committed(RowSpill *spill, TransactionId xid,
								XLogRecPtr commit_lsn, TimestampTz commit_time);
extern TransactionId row_spill_xid(RowSpill *spill);
extern XLogRecPtr row_spill_commit_lsn(RowSpill *spill);
extern TimestampTz row_spill_commit_time(RowSpill *spill);

/* The streams of the rows written, each once. */
extern List *row_spill_streams(RowSpill *spill);

/* The rows so far: written, or counted by a spill that writes none. */
extern int64 row_spill_rows(RowSpill *spill);

/*
 * The next row not of an aborted subtransaction, in the order written;
 * false once there is none.  Writing ends at the first read.
 */
/*
 * The rows so far ran before the commit (mark), or those after the last
 * mark did not (lose: no row after it runs, and marks end);
 * row_spill_early() says which rows ran, false if none, or if a
 * subtransaction that wrote rows aborted (what ran cannot be taken), or
 * if the spill holds rows of two streams, or the rows after them are not
 * all in the file, or it is being read; row_spill_pass_early() has
 * reading begin after them.
 */
extern void row_spill_mark_early(RowSpill *spill);
extern void row_spill_lose_early(RowSpill *spill);
extern bool row_spill_early_lost(RowSpill *spill);
extern bool row_spill_early(RowSpill *spill, RowSpillEarly *early);
extern void row_spill_pass_early(RowSpill *spill);

/*
 * A spill that writes no rows, and whose rows were not all taken as they
 * ran before the commit (row_spill_pass_early()): they are nowhere now.
 */
extern bool row_spill_rows_missing(RowSpill *spill);

extern bool row_spill_read(RowSpill *spill, SpilledRow *row);

/* The WAL record of the row row_spill_read() would return next; 0 at the end. */
extern XLogRecPtr row_spill_next_lsn(RowSpill *spill);

/* Close and delete the file; its memory goes with its parent's. */
extern void row_spill_close(RowSpill *spill);

#endif							/* CONTINUOUS_ROW_SPILL_H */
