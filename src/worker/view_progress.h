/*-------------------------------------------------------------------------
 *
 * view_progress.h
 *	  How far each view of a table stream is applied; views of any stream
 *	  held back by a lock on their relations.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_VIEW_PROGRESS_H
#define CONTINUOUS_VIEW_PROGRESS_H

#include "access/xlogdefs.h"
#include "nodes/pg_list.h"

#include "state/flush.h"

/* The relations a flush writes for a view, locked as it locks them. */
typedef struct ViewRelations
{
	Oid			storage;
	Oid			counts;			/* InvalidOid: not a count window */
	Oid			late_table;		/* InvalidOid: none */
	Oid			query_view;
	List	   *lookups;		/* Oid: the tables its lookup joins read */
} ViewRelations;

/* What a view's relations were found to be, once locked. */
typedef enum ViewRelationsState
{
	VIEW_RELATIONS_FREE,		/* locked now, for this transaction */
	VIEW_RELATIONS_LOCKED,		/* another transaction holds a lock on one */
	VIEW_RELATIONS_OVERDUE,		/* waited for past continuous.view_time_limit */
	VIEW_RELATIONS_DROPPED		/* gone: the view's DROP has committed */
} ViewRelationsState;

/*
 * Lock a view's relations as a flush locks them, without waiting unless
 * wait (then for as long as continuous.view_time_limit allows); the locks
 * taken are kept to the end of the transaction.  *locked: the relation
 * found locked or gone.
 */
extern ViewRelationsState view_progress_lock_relations(ViewRelations *relations,
													   bool kafka, bool wait,
													   Oid *locked);

/* At worker start: where the last flush left every view. */
extern void view_progress_start(DecoderProgress *stored);

/* A new slot, or a gap: every view starts from where decoding starts. */
extern void view_progress_forget_all(void);

/*
 * Reading the catalog: begin, then each view of a Kafka stream
 * (kafka_stream) and each view of a table stream whose beginning is known
 * (kafka_stream InvalidOid), then end.  decoder_restarted: decoding starts
 * again at the position written (worker start, or view_progress_rewind()),
 * so a view held so far may go on if its locks are free now (a view of a
 * Kafka stream may at every load: its consumer is made again).  load_view returns
 * false for a view held back (it is not loaded), and otherwise sets
 * *counts_from: the view counts the transactions that commit from there.
 */
extern void view_progress_begin_load(bool decoder_restarted);
extern bool view_progress_load_view(Oid view, Oid kafka_stream,
									XLogRecPtr active_from,
									ViewRelations *relations,
									XLogRecPtr *counts_from);
extern void view_progress_end_load(void);

/*
 * In a flush, before its batch is processed: is the view held back now by
 * a lock on one of its relations (LOCKED), or is it a view of a table
 * stream whose DROP has committed since the catalog was read, which the
 * worker leaves out until it decodes the DROP (DROPPED, and forgotten)?
 * The locks it could take are kept.  A view of a table stream that stands
 * inside a transaction applied in parts (worker.c) cannot be held back
 * there: its locks are waited for instead, for as long as
 * continuous.view_time_limit allows; past it, the view fails (OVERDUE, and
 * forgotten).  The load of such a view fails it the same way.
 */
extern ViewRelationsState view_progress_hold_if_locked(Oid view);

/* Is a view held?  The views of a Kafka stream held back (a List of Oid). */
extern bool view_progress_held(Oid view);
extern List *view_progress_held_views(Oid kafka_stream);

/* Is any view held back? */
extern bool view_progress_holding(void);

/*
 * In a transaction, before the first part of a large transaction is read
 * back: lock the relations of every view of a table stream that is free,
 * and the extension (as every transaction of the worker locks it first),
 * across the transactions of its parts' flushes, so that another
 * transaction's lock asked for meanwhile waits for the worker rather than
 * the worker, and every view, for it.  Unpin once the last part is
 * flushed, before anything is decoded: decoding runs each transaction it
 * decodes in a transaction that it aborts, and an abort releases such
 * locks.
 */
extern void view_progress_pin(Oid extension);
extern void view_progress_unpin(void);

/* Is this batch, ending at position, one decoded again for views behind? */
extern bool view_progress_replaying(XLogRecPtr position);

/* Where a batch being decoded again must end; InvalidXLogRecPtr: none. */
extern XLogRecPtr view_progress_replay_end(void);

/*
 * Written in the flush transaction that ends at position (the decoding
 * worker), and, for a flush of part of the transaction part_xid that
 * commits at position, the WAL record part_lsn whose rows end the part
 * (part_xid invalid: the flush ends between transactions, or within the
 * transaction last flushed in part, whose part is written again); the
 * status of the views held back (every worker).
 */
extern void view_progress_write(XLogRecPtr position, TransactionId part_xid,
								XLogRecPtr part_lsn);
extern void view_progress_write_status(void);

/*
 * After that flush has committed (with the part it wrote, as for
 * view_progress_write()), or when a batch up to position held no events:
 * every view not held is there.
 */
extern void view_progress_flushed(XLogRecPtr position, TransactionId part_xid,
								  XLogRecPtr part_lsn);

/* How far the slot may confirm, with the decoder at position. */
extern XLogRecPtr view_progress_confirmable(XLogRecPtr position);

/*
 * In a transaction: has a held view's lock gone?  Then the caller decodes
 * again from view_progress_rewind()'s position, unless it is invalid (no
 * view is behind the decoder), and reads the catalog.
 */
extern bool view_progress_release_due(void);
extern XLogRecPtr view_progress_rewind(void);

/* A view the worker no longer maintains (failed, dropped). */
extern void view_progress_forget(Oid view);

#endif							/* CONTINUOUS_VIEW_PROGRESS_H */
