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
extern void rebuild_table_stream_views(const char *why);

#endif							/* CONTINUOUS_REBUILD_H */
