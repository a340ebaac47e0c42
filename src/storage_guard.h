/*-------------------------------------------------------------------------
 *
 * storage_guard.h
 *	  The storage of continuous views belongs to the extension: refusing
 *	  what anybody else would do to it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_STORAGE_GUARD_H
#define CONTINUOUS_STORAGE_GUARD_H

#include "nodes/nodes.h"

/* _PG_init: refuse DML on storage (ExecutorCheckPerms_hook, chained). */
extern void storage_guard_install(void);

/* Refuse a utility statement that would change storage; from the hook. */
extern void storage_guard_check_utility(Node *parsetree);

/*
 * SELECT on the storage table for the view's owner, and no privilege for
 * anyone else; for one view, or for every view (after REASSIGN OWNED).
 */
extern void storage_guard_grant_reader(Oid storage, Oid view_owner);
extern void storage_guard_grant_all_readers(void);

#endif							/* CONTINUOUS_STORAGE_GUARD_H */
