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
 * (row_spill_pass_early()).  A turn that did not run the rows after the
 * mark (row_spill_lose_early()) ends the marks there; rows of a second
 * stream, or a subtransaction that wrote rows and aborted (what ran may
 * hold its rows), leave every row to be read back.
 *
 * A spill may also be made without writing (row_spill_create()'s
 * write_rows false), for rows that every view runs before the commit: it
 * counts the rows as it would written, and keeps no file.  Writing them
 * cost the worker a fifth of its time in a large COPY, for a file read
 * only when the views cannot take what they ran.  Should a turn not run
 * the rows after the mark, the decoder writes them, still held in memory,
 * and every row after them (row_spill_begin_writing()).  At the commit,
 * rows neither taken nor written (row_spill_rows_missing()) are nowhere:
 * the worker decodes the transaction again, writing its rows this time
 * (worker.c).
 *
 * Subtransactions.  The rows of one that aborts are passed over when read
 * (row_spill_forget_subxact()).  At the commit, every subtransaction
 * whose rows the spill holds and that the transaction no longer lists
 * aborted too, though the decoder was not told (decoder.c,
 * pending_drop_aborted()): row_spill_keep_subxacts().
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

/* The (sub)transactions of a spill's rows that it tells apart. */
#define SPILL_SUBXIDS 64

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
	bool		write_rows;		/* false: rows are counted, not written */
	int64		written_from;	/* the file holds every row from this one
								 * on; -1: none */
	BufFile    *file;			/* made at the first row written */
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
	TransactionId last_subxid;	/* of the last row */
	TransactionId *subxids;		/* of the rows, each once; */
	int			nsubxids;
	bool		subxids_overflow;	/* unless more came than it holds */
	TransactionId *live;		/* see row_spill_keep_subxacts(), sorted */
	int			nlive;
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
	bool		early_stopped;	/* no row after them ran */
	bool		early_invalid;	/* some of them were rolled back */
	bool		early_passed;	/* reading begins after them */
};

static void row_spill_put(RowSpill *spill, Oid relid, TransactionId subxid,
						  XLogRecPtr lsn, HeapTuple tuple, TupleDesc desc);
static bool row_spill_aborted(RowSpill *spill, TransactionId subxid);
static void row_spill_note_subxid(RowSpill *spill, TransactionId subxid);
static bool row_spill_has_subxid(RowSpill *spill, TransactionId subxid);
static bool row_spill_peek(RowSpill *spill);
static void row_spill_start_reading(RowSpill *spill, int fileno, off_t offset);
static void row_spill_seek(RowSpill *spill, int fileno, off_t offset,
						   int whence);
static void row_spill_read_exactly(RowSpill *spill, void *ptr, size_t size);

RowSpill *
row_spill_create(MemoryContext parent, bool write_rows)
{
	MemoryContext cxt = AllocSetContextCreate(parent,
											  "pg_continuous spilled rows",
											  ALLOCSET_SMALL_SIZES);
	RowSpill   *spill = MemoryContextAllocZero(cxt, sizeof(RowSpill));

	spill->cxt = cxt;
	spill->write_rows = write_rows;
	spill->written_from = write_rows ? 0 : -1;
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
	Assert(!spill->reading);
	if (spill->nrows == 0 || subxid != spill->last_subxid)
		row_spill_note_subxid(spill, subxid);
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
	if (spill->write_rows)
		row_spill_put(spill, relid, subxid, lsn, tuple, desc);
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

bool
row_spill_begin_writing(RowSpill *spill, int64 first_row)
{
	Assert(!spill->write_rows && !spill->reading);
	if (spill->early_invalid || first_row != spill->early.rows)
		return false;
	spill->write_rows = true;
	spill->written_from = first_row;
	return true;
}

void
row_spill_write_counted(RowSpill *spill, Oid relid, TransactionId subxid,
						XLogRecPtr lsn, HeapTuple tuple, TupleDesc desc)
{
	Assert(spill->write_rows && !spill->reading);
	row_spill_put(spill, relid, subxid, lsn, tuple, desc);
}

/* A row's bytes into the file, made at the first. */
static void
row_spill_put(RowSpill *spill, Oid relid, TransactionId subxid,
			  XLogRecPtr lsn, HeapTuple tuple, TupleDesc desc)
{
	SpilledRowHeader header;
	int			limit;

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
}

void
row_spill_forget_subxact(RowSpill *spill, TransactionId subxid)
{
	Assert(!spill->reading);
	/* none of the spill's rows is its */
	if (!row_spill_has_subxid(spill, subxid))
		return;
	/* its rows may be among those that ran: all are read back */
	spill->early_invalid = true;
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
	if (spill->live != NULL &&
		bsearch(&subxid, spill->live, spill->nlive,
				sizeof(TransactionId), xidComparator) == NULL)
		return true;
	return spill->naborted > 0 &&
		bsearch(&subxid, spill->aborted, spill->naborted,
				sizeof(TransactionId), xidComparator) != NULL;
}

/* The (sub)transactions that wrote rows, up to SPILL_SUBXIDS of them. */
static void
row_spill_note_subxid(RowSpill *spill, TransactionId subxid)
{
	spill->last_subxid = subxid;
	if (spill->subxids_overflow || row_spill_has_subxid(spill, subxid))
		return;
	if (spill->nsubxids == SPILL_SUBXIDS)
	{
		spill->subxids_overflow = true;
		return;
	}
	if (spill->subxids == NULL)
		spill->subxids = MemoryContextAlloc(spill->cxt,
											sizeof(TransactionId) * SPILL_SUBXIDS);
	spill->subxids[spill->nsubxids++] = subxid;
}

/* May rows of subxid be in the spill? */
static bool
row_spill_has_subxid(RowSpill *spill, TransactionId subxid)
{
	int			i;

	if (spill->subxids_overflow)
		return true;
	for (i = 0; i < spill->nsubxids; i++)
		if (spill->subxids[i] == subxid)
			return true;
	return false;
}

void
row_spill_keep_subxacts(RowSpill *spill, const TransactionId *live, int nlive)
{
	int			i;

	Assert(!spill->reading);
	if (spill->subxids_overflow)
	{
		/* which aborted is not known: every row is checked when read */
		spill->live = MemoryContextAlloc(spill->cxt,
										 sizeof(TransactionId) * Max(nlive, 1));
		memcpy(spill->live, live, sizeof(TransactionId) * nlive);
		spill->nlive = nlive;
		qsort(spill->live, nlive, sizeof(TransactionId), xidComparator);
		spill->early_invalid = true;
		return;
	}
	for (i = 0; i < spill->nsubxids; i++)
	{
		int			j;

		for (j = 0; j < nlive; j++)
			if (live[j] == spill->subxids[i])
				break;
		if (j == nlive)
			row_spill_forget_subxact(spill, spill->subxids[i]);
	}
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
	if (row_spill_early_lost(spill) || spill->nrows == 0)
		return;
	spill->early.rows = spill->nrows;
	spill->early.events = spill->events;
	spill->early.bytes = spill->bytes;
	spill->early.ignored = spill->ignored;
	spill->early.last_lsn = spill->last_lsn;
	if (spill->file != NULL)
		BufFileTell(spill->file, &spill->early_fileno, &spill->early_offset);
}

void
row_spill_lose_early(RowSpill *spill)
{
	spill->early_stopped = true;
}

bool
row_spill_early_lost(RowSpill *spill)
{
	return spill->early_stopped || spill->early_invalid;
}

bool
row_spill_early(RowSpill *spill, RowSpillEarly *early)
{
	if (spill->early_invalid || spill->reading || spill->early.rows == 0 ||
		list_length(spill->streams) != 1)
		return false;
	/* the rows after them are all in the file */
	if (spill->early.rows < spill->nrows &&
		(spill->written_from < 0 || spill->written_from > spill->early.rows))
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
	Assert(!spill->early_invalid && !spill->reading && spill->naborted == 0);
	row_spill_start_reading(spill, spill->early_fileno, spill->early_offset);
	spill->early_passed = true;
}

bool
row_spill_rows_missing(RowSpill *spill)
{
	return spill->written_from != 0 && spill->nrows > 0 &&
		!spill->early_passed;
}

bool
row_spill_writes_rows(RowSpill *spill)
{
	return spill->write_rows;
}

/* Reading begins at fileno, offset; nothing is written after. */
static void
row_spill_start_reading(RowSpill *spill, int fileno, off_t offset)
{
	if (spill->file != NULL)
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
