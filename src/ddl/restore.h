/*-------------------------------------------------------------------------
 *
 * restore.h
 *	  Continuous views brought back by pg_restore or psql from a dump.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_RESTORE_H
#define CONTINUOUS_RESTORE_H

#include "nodes/nodes.h"

/* a relation of continuous_storage that no view claims yet (mid-restore) */
extern bool restore_storage_unclaimed(Oid relid);

/* view's catalog row came from a dump and the view is not back yet */
extern bool restore_view_pending(Oid view);

/*
 * This transaction wrote a part of a restored view (its read view, an
 * index, the catalog): at its commit, bring back every pending view that
 * has all its parts.
 */
extern void restore_check_at_commit(void);

/* continuous.rebuild() of a pending view: it comes back now */
extern int64 restore_bring_back(Oid view);

/* a superuser's COPY into relid, or INSERT into unclaimed storage relid */
extern void restore_note_loaded(Oid relid);

/*
 * Before a utility statement: notes a part of a restored view (an index of
 * storage, a read view replaced), and says whether it is a restore's
 * statement on the extension's relations that is to change nothing.
 */
extern bool restore_check_utility(Node *parsetree);

#endif							/* CONTINUOUS_RESTORE_H */
