/*-------------------------------------------------------------------------
 *
 * backfill.h
 *	  A continuous view's state computed from the rows of its stream table:
 *	  backfill at CREATE VIEW, and continuous.rebuild().
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_BACKFILL_H
#define CONTINUOUS_BACKFILL_H

/* What a backfill is for, and so which rows of the table it reads. */
typedef enum BackfillKind
{
	BACKFILL_CREATE,			/* CREATE VIEW: the view begins after the
								 * creating transaction, whose rows count */
	BACKFILL_REBUILD,			/* continuous.rebuild(): the worker counts
								 * the rows this transaction wrote when it
								 * commits; they are left out */
	BACKFILL_RESTORE			/* a restored view (restore.c): as CREATE
								 * VIEW, of emptied storage */
} BackfillKind;

/*
 * Fill the (empty) storage of a view of a table stream from the rows of
 * the table, in the caller's transaction, as the decoder would have from
 * their commits; returns how many rows were read.  Takes a SHARE lock on
 * the stream table and its partitions until the end of the transaction.
 * A rebuild or restore writes the one row of a view without GROUP BY
 * first.
 */
extern int64 backfill_view(Oid view, BackfillKind kind);

/*
 * CREATE VIEW: lock the stream now (backfill_lock_stream()) if the current
 * role may (backfill_may_lock_stream()), else when the backfill runs, and
 * backfill the view when the transaction commits, with every row it wrote.
 */
extern void backfill_view_at_commit(Oid view, Oid stream);

/*
 * May role hold the SHARE lock of a backfill on the stream and its
 * partitions for as long as it likes?  PostgreSQL's rule for LOCK TABLE
 * ... IN SHARE MODE: UPDATE, DELETE or TRUNCATE on each (or owning it).
 */
extern bool backfill_may_lock_stream(Oid stream, Oid role);

/*
 * Lock a stream for a backfill: SHARE on the table and on each of its
 * partitions, as CREATE INDEX does, so that no transaction writing it is
 * in progress and none starts until this one ends.  Returns the tables
 * that hold its rows (the table, or its leaf partitions).
 */
extern List *backfill_lock_stream(Oid stream);

#endif							/* CONTINUOUS_BACKFILL_H */
