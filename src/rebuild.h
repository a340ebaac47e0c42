/*-------------------------------------------------------------------------
 *
 * rebuild.h
 *	  Views of table streams computed again from their tables: on request
 *	  (continuous.rebuild()), and by the worker after a gap in its WAL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_REBUILD_H
#define CONTINUOUS_REBUILD_H

/*
 * In the worker, before it decodes: its replication slot does not reach
 * back to the stored position (why says how, for the log and for the
 * views that fail).  Every view of a table stream is computed again.
 */
extern void rebuild_table_stream_views(const char *why, bool unstarted_only);

/*
 * A restored view of a table stream (restore.c), in the restoring
 * session: computed from the restored table as continuous.rebuild() does.
 */
extern int64 rebuild_restored_view(Oid view, Oid storage, Oid stream);

#endif							/* CONTINUOUS_REBUILD_H */
