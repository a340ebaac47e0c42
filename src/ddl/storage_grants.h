/*-------------------------------------------------------------------------
 *
 * storage_grants.h
 *	  SELECT on a view's storage table for the view's owner, and no
 *	  privilege on it for anyone else.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_STORAGE_GRANTS_H
#define CONTINUOUS_STORAGE_GRANTS_H

/* For one view, after CREATE VIEW, an owner change or a restore. */
extern void storage_grant_reader(Oid storage, Oid view_owner);

/* For every view, as its owner is now (after REASSIGN OWNED). */
extern void storage_grant_all_readers(void);

#endif							/* CONTINUOUS_STORAGE_GRANTS_H */
