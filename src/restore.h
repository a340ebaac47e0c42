/*-------------------------------------------------------------------------
 *
 * restore.h
 *	  Continuous views brought back by pg_restore or psql from a dump.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_RESTORE_H
#define CONTINUOUS_RESTORE_H

/* a relation of continuous_storage that no view claims yet (mid-restore) */
extern bool restore_storage_unclaimed(Oid relid);

/* view's catalog row came from a dump and the view is not back yet */
extern bool restore_view_pending(Oid view);

/* the restore's CREATE OR REPLACE VIEW of the read view brings it back */
extern void restore_activate_view(Oid view);

#endif							/* CONTINUOUS_RESTORE_H */
