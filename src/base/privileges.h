/*-------------------------------------------------------------------------
 *
 * privileges.h
 *	  Whose rights the extension's code runs with, and under which settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_PRIVILEGES_H
#define CONTINUOUS_PRIVILEGES_H

/* What privileges_become() replaced, for privileges_restore(). */
typedef struct SavedPrivileges
{
	Oid			userid;
	int			sec_context;
	int			guc_nestlevel;	/* 0: search_path left alone */
	int			extension_level;	/* privileges_become_extension()'s */
} SavedPrivileges;

/*
 * Right after a worker connects: its own role and search_path = pg_catalog,
 * pg_temp, whatever the database's and roles' settings say, and the
 * settings its transactions need.
 */
extern void worker_session_fix_settings(void);

/*
 * Run as role, in a restricted security context (no SET ROLE, no changes
 * of session settings), and with search_path unless it is NULL, until
 * privileges_restore().  An error in between needs no cleanup:
 * (sub)transaction abort restores all of it.  Inside, the extension is
 * not at work (privileges_acting_as_extension()), even if it was outside.
 */
extern void privileges_become(Oid role, const char *search_path,
							  SavedPrivileges *saved);
extern void privileges_restore(SavedPrivileges *saved);

/*
 * The extension's catalog and storage belong to it, not to the user whose
 * DDL changes them: between privileges_become_extension() and
 * privileges_leave_extension() the backend acts as the bootstrap
 * superuser with search_path = pg_catalog, pg_temp.  Run only fixed
 * statements there.  An error in between needs no cleanup.
 */
typedef struct ExtensionPrivileges
{
	SavedPrivileges user;
} ExtensionPrivileges;

extern void privileges_become_extension(ExtensionPrivileges *saved);
extern void privileges_leave_extension(ExtensionPrivileges *saved);

/*
 * Is the extension itself at work: DDL between the two calls above, or a
 * worker acting as itself (not running a view owner's code)?
 */
extern bool privileges_acting_as_extension(void);

#endif							/* CONTINUOUS_PRIVILEGES_H */
