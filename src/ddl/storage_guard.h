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

#endif							/* CONTINUOUS_STORAGE_GUARD_H */
