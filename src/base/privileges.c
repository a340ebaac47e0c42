/*-------------------------------------------------------------------------
 *
 * privileges.c
 *	  Whose rights the extension's code runs with, and under which settings.
 *
 * Pipeline position: none of its own; every step that runs code a user
 * controls goes through here.  The workers are background workers of the
 * bootstrap superuser.  Two rules keep a user from borrowing those rights:
 *
 *	 - The worker's own SQL sees only pg_catalog: its session's search_path,
 *	   role and the settings its transactions depend on are fixed when it
 *	   connects, over whatever ALTER DATABASE / ALTER ROLE ... SET say
 *	   (worker_session_fix_settings()), and its statements name every
 *	   table, function and operator with its schema.
 *	 - Code of a view's owner (its expressions, its aggregates' support
 *	   functions, the input functions of a Kafka stream's columns) runs as
 *	   that owner in a restricted security context (privileges_become()),
 *	   as PostgreSQL runs index expressions during maintenance, with the
 *	   search_path of the session that created the view: the view's SELECT
 *	   means there what it meant there (a function of the owner that names
 *	   others without a schema finds them), and nobody can change that path
 *	   later.
 *
 * The other way round, DDL of users writes the extension's catalog and
 * creates storage tables with the extension's rights
 * (privileges_become_extension()): as the bootstrap superuser, with the
 * same fixed search_path, running only fixed statements.  Only then, and
 * in a worker acting as itself, may the storage of continuous views be
 * changed (storage_guard.c asks privileges_acting_as_extension()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "base/privileges.h"

/* this process is a worker (worker_session_fix_settings() ran) */
static bool in_worker = false;

/*
 * The transaction nesting level at which the outermost
 * privileges_become_extension() began, 0 outside.  An error unwinds it
 * with the (sub)transaction, as it unwinds the user id and the GUCs.
 */
static int	extension_level = 0;
static bool unwind_callbacks_registered = false;

static void unwind_at_abort(XactEvent event, void *arg);
static void unwind_at_subabort(SubXactEvent event, SubTransactionId mySubid,
							   SubTransactionId parentSubid, void *arg);

/*
 * Settings a database or role could set for the worker that would change
 * what its SQL means or stop its transactions: fixed at connection, with
 * the highest priority, so that a reload cannot undo them either.
 */
static const struct
{
	const char *name;
	const char *value;
}			worker_fixed_settings[] =
{
	{"search_path", "pg_catalog, pg_temp"},
	{"role", "none"},
	{"default_transaction_read_only", "off"},
	{"default_transaction_isolation", "read committed"},
	{"default_transaction_deferrable", "off"},
	{"statement_timeout", "0"},
	{"lock_timeout", "0"},
	{"idle_in_transaction_session_timeout", "0"},
	{"exit_on_error", "off"},
	{"session_replication_role", "origin"},
};

void
worker_session_fix_settings(void)
{
	int			i;

	in_worker = true;
	StartTransactionCommand();

	/* ALTER DATABASE ... SET session_authorization = x would be x's rights */
	if (GetSessionUserId() != GetAuthenticatedUserId())
		SetConfigOption("session_authorization",
						GetUserNameFromId(GetAuthenticatedUserId(), false),
						PGC_SUSET, PGC_S_OVERRIDE);
	for (i = 0; i < lengthof(worker_fixed_settings); i++)
		SetConfigOption(worker_fixed_settings[i].name,
						worker_fixed_settings[i].value,
						PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * The replication slot moves once a flush has committed: a flush that
	 * could still vanish in a crash after that would lose its events.
	 */
	if (synchronous_commit == SYNCHRONOUS_COMMIT_OFF)
		SetConfigOption("synchronous_commit", "local",
						PGC_SUSET, PGC_S_OVERRIDE);

	CommitTransactionCommand();

	if (GetUserId() != GetAuthenticatedUserId() ||
		GetSessionUserId() != GetAuthenticatedUserId())
		elog(FATAL, "pg_continuous: worker could not return to its own role");
}

void
privileges_become(Oid role, const char *search_path, SavedPrivileges *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(role, saved->sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	/* a role's code is not the extension's, even when the extension calls it */
	saved->extension_level = extension_level;
	extension_level = 0;
	saved->guc_nestlevel = 0;
	if (search_path)
	{
		saved->guc_nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path", search_path,
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
}

void
privileges_restore(SavedPrivileges *saved)
{
	if (saved->guc_nestlevel > 0)
		AtEOXact_GUC(true, saved->guc_nestlevel);
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
	extension_level = saved->extension_level;
}

void
privileges_become_extension(ExtensionPrivileges *saved)
{
	if (!unwind_callbacks_registered)
	{
		RegisterXactCallback(unwind_at_abort, NULL);
		RegisterSubXactCallback(unwind_at_subabort, NULL);
		unwind_callbacks_registered = true;
	}
	privileges_become(BOOTSTRAP_SUPERUSERID, "pg_catalog, pg_temp",
					  &saved->user);
	extension_level = saved->user.extension_level > 0 ?
		saved->user.extension_level : GetCurrentTransactionNestLevel();
}

void
privileges_leave_extension(ExtensionPrivileges *saved)
{
	privileges_restore(&saved->user);
}

bool
privileges_acting_as_extension(void)
{
	if (extension_level > 0)
		return true;
	return in_worker && GetUserId() == GetAuthenticatedUserId();
}

static void
unwind_at_abort(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		extension_level = 0;
}

static void
unwind_at_subabort(SubXactEvent event, SubTransactionId mySubid,
				   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB &&
		extension_level >= GetCurrentTransactionNestLevel())
		extension_level = 0;
}
