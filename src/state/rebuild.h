/*-------------------------------------------------------------------------
 *
 * rebuild.h
 *	  Views of table streams computed again from their tables: on request
 *	  (continuous.rebuild()), after a restore, and by the worker after a
 *	  gap in its WAL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_REBUILD_H
#define CONTINUOUS_REBUILD_H

#include "access/xlogdefs.h"

#include "state/backfill.h"

/*
 * With the view's stream locked and nothing of it unapplied before
 * active_from: empty the view, start its bookkeeping again from
 * active_from (InvalidXLogRecPtr: the worker writes it), and fill it from
 * the table.  Returns the rows read.
 */
extern int64 rebuild_view(Oid view, Oid storage, XLogRecPtr active_from,
						  BackfillKind kind);

/*
 * In the worker, before it decodes: its replication slot does not reach
 * back to the stored position (why says how, for the log and for the
 * views that fail).  Every view of a table stream is computed again.
 * next_transaction commits the worker's transaction and begins another,
 * such that a crash after the commit computes every view again: the views
 * that read a continuous transform are computed after the transform's new
 * rows commit.
 */
extern void rebuild_table_stream_views(const char *why, bool unstarted_only,
									   void (*next_transaction) (void));

/*
 * A restored view of a table stream (restore.c), in the restoring
 * session: computed from the restored table as continuous.rebuild() does.
 */
extern int64 rebuild_restored_view(Oid view, Oid storage, Oid stream);

#endif							/* CONTINUOUS_REBUILD_H */
