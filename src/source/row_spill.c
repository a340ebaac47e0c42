/*-------------------------------------------------------------------------
 *
 * row_spill.c
 *	  The rows of a large transaction beyond the memory they may take, in a
 *	  temporary file until the worker reads them back.
 *
 * Pipeline position: source.  The decoder keeps a transaction's rows in
 * memory until the batch they join is flushed; once the rows held so far
 * take continuous.large_transaction_memory, the rest of the transaction's
 * rows come here instead (decoder.c), in the order they come, and the
 * worker reads them back in runs that it folds into the views one after the
 * other (worker.c).  So a COPY of a hundred million rows takes
 * disk, not memory.
 *
 * A row is written as it is: its stream, the subtransaction that wrote it,
 * the WAL record it was decoded from, its descriptor (a pointer to a copy
 * the spill keeps: the file lives no longer than the process), and the
 * tuple's bytes.  A streamed transaction's subtransaction may abort after
 * its rows were written: its xid is kept, and its rows are passed over when
 * read.  Rows are read back a WAL record at a time at least
 * (row_spill_next_lsn()), so that a flush of part of a transaction ends
 * where decoding it again can tell what that part held (worker.c).
 *
 * The spill's memory is a context of its own, whose parent is whoever owns
 * the spill at the time (a streamed transaction, then the decoded batch):
 * it moves from one batch to the next when a transaction is flushed in
 * parts (row_spill_adopt()), and the descriptors of the rows read back live
 * as long as the batch that read the last of them.
 *
 * Rows of a streamed transaction may run through the views before its
 * commit as they are written (early_aggregation.c): the decoder marks how
 * many had run at each turn of the worker (row_spill_mark_early()), with
 * where the next row begins in the file and what the rows up to there
 * count for their stream, and the worker, if it can take what the views
 * made of them at the commit, reads only the rows after the mark
 * (row_spill_pass_early()).  A subtransaction's abort once rows were
 * written, or rows of a second stream, or a row that did not run
 * (row_spill_lose_early()), leaves every row to be read back.
 *
 * Exactly once is not this file's to keep: it is a temporary file of the
 * worker, gone with it (fd.c deletes it at exit, and the postmaster's
 * restart the files of a worker killed), and the transaction's rows are
 * decoded again from the WAL after a crash, as rows held in memory are.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "storage/buffile.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "source/row_spill.h"

/* What precedes each row's tuple in the file. */
typedef struct SpilledRowHeader
{
	Oid			relid;
	TransactionId subxid;
	TupleDesc	desc;
	XLogRecPtr	lsn;			/* of its WAL record */
	uint32		len;			/* of the tuple's data; 0: an ignored change */
} SpilledRowHeader;

struct RowSpill
{
	MemoryContext cxt;			/* holds the spill, and is its own */
	BufFile    *file;			/* made at the first row */
	bool		reading;
	bool		peeked;			/* header holds the next row's */
	SpilledRowHeader header;
	TupleDesc	desc_source;	/* the last descriptor written, */
	TupleDesc	desc;			/* and the copy the rows point to */
	int64		nrows;
	TransactionId *aborted;		/* subtransactions whose rows are passed
								 * over: sorted once reading begins */
	int			naborted;
	int			aborted_capacity;
	TransactionId xid;			/* top level, once committed */
	XLogRecPtr	commit_lsn;
	TimestampTz commit_time;
	List	   *streams;		/* Oid */
	Oid			last_stream;
	XLogRecPtr	last_lsn;		/* of the last row written */

	/* what the rows written so far count for their stream (or streams) */
	int64		events;
	int64		bytes;
	int64		ignored;

	/* the rows that ran before the commit (RowSpillEarly), and where the
	 * row after them begins */
	RowSpillEarly early;
	int			early_fileno;
	off_t		early_offset;
	bool		early_lost;
};

static bool row_spill_aborted(RowSpill *spill, TransactionId subxid);
static bool row_spill_peek(RowSpill *spill);
static void row_spill_start_reading(RowSpill *spill, int fileno, off_t offset);
static void row_spill_seek(RowSpill *spill, int fileno, off_t offset,
						   int whence);
static void row_spill_read_exactly(RowSpill *spill, void *ptr, size_t size);

RowSpill *
row_spill_create(MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent,
											  "pg_continuous spilled rows",
											  ALLOCSET_SMALL_SIZES);
	RowSpill   *spill = MemoryContextAllocZero(cxt, sizeof(RowSpill));

	spill->cxt = cxt;
	spill->last_stream = InvalidOid;
	return spill;
}

void
row_spill_adopt(RowSpill *spill, MemoryContext parent)
{
	MemoryContextSetParent(spill->cxt, parent);
}

void
row_spill_write(RowSpill *spill, Oid relid, TransactionId subxid,
				XLogRecPtr lsn, HeapTuple tuple, TupleDesc desc)
{
	SpilledRowHeader header;
	int			limit;

	Assert(!spill->reading);
	if (spill->file == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(spill->cxt);

		/*
		 * The file outlives the transaction it is made in (the decoder's,
		 * with a historic snapshot): it takes the database's tablespace,
		 * and temp_tablespaces, whose names would be looked up in the
		 * catalog now, is not read.
		 */
		SetTempTablespaces(NULL, 0);
		spill->file = BufFileCreateTemp(true);
		MemoryContextSwitchTo(oldcxt);
	}
	if (relid != spill->last_stream)
	{
		if (!list_member_oid(spill->streams, relid))
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(spill->cxt);

			spill->streams = lappend_oid(spill->streams, relid);
			MemoryContextSwitchTo(oldcxt);
		}
		spill->last_stream = relid;
	}

	/*
	 * The writer's descriptors are alive while it writes (decoder.c keeps
	 * every one it made until the transaction ends), so a pointer seen
	 * before is the same descriptor.
	 */
	if (desc != NULL && desc != spill->desc_source)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(spill->cxt);

		spill->desc = CreateTupleDescCopy(desc);
		spill->desc_source = desc;
		MemoryContextSwitchTo(oldcxt);
	}
	header.relid = relid;
	header.subxid = subxid;
	header.desc = desc ? spill->desc : NULL;
	header.lsn = lsn;
	header.len = tuple ? tuple->t_len : 0;

	/*
	 * The file stands in for the reorder buffer's own files of a large
	 * transaction (pg_replslot), which temp_file_limit, a bound on what a
	 * query writes, does not count: counted, a transaction larger than it
	 * would stop the worker at every start.  An error here ends the
	 * process, so the setting is not restored then.
	 */
	limit = temp_file_limit;
	temp_file_limit = -1;
	BufFileWrite(spill->file, &header, sizeof(header));
	if (tuple)
		BufFileWrite(spill->file, tuple->t_data, tuple->t_len);
	temp_file_limit = limit;
	spill->nrows++;
	spill->last_lsn = lsn;
	if (tuple)
	{
		spill->events++;
		spill->bytes += tuple->t_len;
	}
	else
		spill->ignored++;
}

void
row_spill_forget_subxact(RowSpill *spill, TransactionId subxid)
{
	Assert(!spill->reading);
	if (spill->nrows == 0)
		return;
	/* its rows may be among those that ran: all are read back */
	spill->early_lost = true;
	if (spill->naborted == spill->aborted_capacity)
	{
		spill->aborted_capacity = Max(8, spill->aborted_capacity * 2);
		spill->aborted = spill->aborted == NULL ?
			MemoryContextAlloc(spill->cxt,
							   sizeof(TransactionId) * spill->aborted_capacity) :
			repalloc(spill->aborted,
					 sizeof(TransactionId) * spill->aborted_capacity);
	}
	spill->aborted[spill->naborted++] = subxid;
}

/* Once reading: the subtransactions no longer change. */
static bool
row_spill_aborted(RowSpill *spill, TransactionId subxid)
{
	return spill->naborted > 0 &&
		bsearch(&subxid, spill->aborted, spill->naborted,
				sizeof(TransactionId), xidComparator) != NULL;
}

void
row_spill_committed(RowSpill *spill, TransactionId xid,
					XLogRecPtr commit_lsn, TimestampTz commit_time)
{
	spill->xid = xid;
	spill->commit_lsn = commit_lsn;
	spill->commit_time = commit_time;
}

TransactionId
row_spill_xid(RowSpill *spill)
{
	return spill->xid;
}

XLogRecPtr
row_spill_commit_lsn(RowSpill *spill)
{
	return spill->commit_lsn;
}

TimestampTz
row_spill_commit_time(RowSpill *spill)
{
	return spill->commit_time;
}

List *
row_spill_streams(RowSpill *spill)
{
	return spill->streams;
}

int64
row_spill_rows(RowSpill *spill)
{
	return spill->nrows;
}

void
row_spill_mark_early(RowSpill *spill)
{
	Assert(!spill->reading);
	if (spill->early_lost || spill->file == NULL)
		return;
	spill->early.rows = spill->nrows;
	spill->early.events = spill->events;
	spill->early.bytes = spill->bytes;
	spill->early.ignored = spill->ignored;
	spill->early.last_lsn = spill->last_lsn;
	BufFileTell(spill->file, &spill->early_fileno, &spill->early_offset);
}

void
row_spill_lose_early(RowSpill *spill)
{
	spill->early_lost = true;
}

bool
row_spill_early_lost(RowSpill *spill)
{
	return spill->early_lost;
}

bool
row_spill_early(RowSpill *spill, RowSpillEarly *early)
{
	if (spill->early_lost || spill->reading || spill->early.rows == 0 ||
		list_length(spill->streams) != 1)
		return false;
	*early = spill->early;
	early->relid = linitial_oid(spill->streams);
	early->xid = spill->xid;
	early->commit_lsn = spill->commit_lsn;
	early->commit_time = spill->commit_time;
	return true;
}

void
row_spill_pass_early(RowSpill *spill)
{
	Assert(!spill->early_lost && !spill->reading && spill->naborted == 0);
	row_spill_start_reading(spill, spill->early_fileno, spill->early_offset);
}

/* Reading begins at fileno, offset; nothing is written after. */
static void
row_spill_start_reading(RowSpill *spill, int fileno, off_t offset)
{
	row_spill_seek(spill, fileno, offset, SEEK_SET);
	if (spill->naborted > 1)
		qsort(spill->aborted, spill->naborted, sizeof(TransactionId),
			  xidComparator);
	spill->reading = true;
}

/*
 * Read the next row's header not of an aborted subtransaction into
 * spill->header, unless it is there already; false at the end.
 */
static bool
row_spill_peek(RowSpill *spill)
{
	if (spill->peeked)
		return true;
	if (spill->file == NULL)
		return false;
	if (!spill->reading)
		row_spill_start_reading(spill, 0, 0);
	for (;;)
	{
		size_t		got = BufFileRead(spill->file, &spill->header,
									  sizeof(SpilledRowHeader));

		if (got == 0)
			return false;
		if (got != sizeof(SpilledRowHeader))
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("pg_continuous could not read the temporary file of a large transaction: read only %zu of %zu bytes",
							got, sizeof(SpilledRowHeader))));
		if (!row_spill_aborted(spill, spill->header.subxid))
			break;
		if (spill->header.len > 0)
			row_spill_seek(spill, 0, spill->header.len, SEEK_CUR);
	}
	spill->peeked = true;
	return true;
}

XLogRecPtr
row_spill_next_lsn(RowSpill *spill)
{
	return row_spill_peek(spill) ? spill->header.lsn : InvalidXLogRecPtr;
}

bool
row_spill_read(RowSpill *spill, SpilledRow *row)
{
	SpilledRowHeader *header = &spill->header;

	if (!row_spill_peek(spill))
		return false;
	spill->peeked = false;
	row->relid = header->relid;
	row->desc = header->desc;
	row->lsn = header->lsn;
	row->tuple = NULL;
	if (header->len > 0)
	{
		HeapTuple	tuple = palloc(HEAPTUPLESIZE + header->len);

		tuple->t_len = header->len;
		ItemPointerSetInvalid(&tuple->t_self);
		tuple->t_tableOid = header->relid;
		tuple->t_data = (HeapTupleHeader) ((char *) tuple + HEAPTUPLESIZE);
		row_spill_read_exactly(spill, tuple->t_data, header->len);
		row->tuple = tuple;
	}
	return true;
}

static void
row_spill_seek(RowSpill *spill, int fileno, off_t offset, int whence)
{
	if (BufFileSeek(spill->file, fileno, offset, whence) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("pg_continuous could not seek in the temporary file of a large transaction: %m")));
}

static void
row_spill_read_exactly(RowSpill *spill, void *ptr, size_t size)
{
	size_t		got = BufFileRead(spill->file, ptr, size);

	if (got != size)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("pg_continuous could not read the temporary file of a large transaction: read only %zu of %zu bytes",
						got, size)));
}

void
row_spill_close(RowSpill *spill)
{
	if (spill->file != NULL)
		BufFileClose(spill->file);
	spill->file = NULL;
	spill->peeked = false;
}
