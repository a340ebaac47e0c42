/*-------------------------------------------------------------------------
 *
 * utility_hook.c
 *	  pg_continuous's one ProcessUtility hook: which of the extension's
 *	  steps each utility statement goes through, before, instead of and
 *	  after PostgreSQL's own processing.
 *
 * Pipeline position: DDL, at its entrance.  Every utility statement of
 * every database the library is loaded in passes here, in this order:
 *
 *	 1. stream_guard.c refuses DDL that would cut a stream's views off, and
 *		notes the streams the statement may change;
 *	 2. restore.c takes the statements of a restore that rebuild a
 *		continuous view's parts (it may run them itself);
 *	 3. storage_guard.c refuses DDL on the storage of continuous views;
 *		error_hints.c notes commands of other systems for a better hint;
 *	 4. the statement runs, through the handler of its kind if it has one:
 *		CREATE VIEW (ddl_view.c), DROP DATABASE (the workers stop first),
 *		the options of a Kafka server or user mapping, ALTER TABLE (a view
 *		changing hands, a Kafka stream's options), REASSIGN OWNED; or
 *		through the hooks before this one (utility_chain.c);
 *	 5. stream_guard.c checks the streams noted in 1 after the statement.
 *
 * Each handler does its own work around running the statement; a new kind
 * of statement to follow is a case here and a handler in its own file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "foreign/foreign.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"

#include "base/extension_catalog.h"
#include "base/shmem.h"
#include "ddl/ddl_catalog.h"
#include "ddl/dedup_options.h"
#include "ddl/ddl_view.h"
#include "ddl/error_hints.h"
#include "ddl/restore.h"
#include "ddl/storage_grants.h"
#include "ddl/storage_guard.h"
#include "ddl/stream_guard.h"
#include "ddl/utility_chain.h"
#include "ddl/utility_hook.h"
#include "source/kafka/kafka_options.h"
#include "worker/launcher.h"

/* One call of the hook: the statement and what it runs with. */
typedef struct UtilityCall
{
	PlannedStmt *pstmt;
	const char *queryString;
	bool		readOnlyTree;
	ProcessUtilityContext context;
	ParamListInfo params;
	QueryEnvironment *queryEnv;
	DestReceiver *dest;
	QueryCompletion *qc;
} UtilityCall;

static void continuous_utility(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree,
							   ProcessUtilityContext context,
							   ParamListInfo params,
							   QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);
static void process(UtilityCall *call);
static void run(UtilityCall *call);
static void drop_database(UtilityCall *call, DropdbStmt *stmt);
static const char *server_named(Node *parsetree);
static void server_options_changed(UtilityCall *call, const char *server);
static void alter_table(UtilityCall *call, AlterTableStmt *stmt);
static void reassign_owned(UtilityCall *call);

void
utility_hook_install(void)
{
	utility_chain_install(continuous_utility);
}

static void
continuous_utility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	UtilityCall call = {pstmt, queryString, readOnlyTree, context, params,
	queryEnv, dest, qc};
	Node	   *parsetree = pstmt->utilityStmt;
	List	   *watched = stream_guard_before(parsetree);

	if (!restore_check_utility(parsetree))
	{
		storage_guard_check_utility(parsetree);
		error_hints_check_utility(parsetree, queryString);
		process(&call);
	}
	stream_guard_after(watched, parsetree);
}

/* Run the statement, through its handler if it has one. */
static void
process(UtilityCall *call)
{
	Node	   *parsetree = call->pstmt->utilityStmt;

	switch (nodeTag(parsetree))
	{
		case T_ViewStmt:
			if (ddl_view_utility(call->pstmt, (ViewStmt *) parsetree,
								 call->queryString, call->readOnlyTree,
								 call->context, call->params, call->queryEnv,
								 call->dest, call->qc))
				return;
			break;
		case T_DropdbStmt:
			if (continuous_loaded_via_preload)
			{
				drop_database(call, (DropdbStmt *) parsetree);
				return;
			}
			break;
		case T_AlterForeignServerStmt:
		case T_CreateUserMappingStmt:
		case T_AlterUserMappingStmt:
		case T_DropUserMappingStmt:
			if (continuous_extension_exists())
			{
				server_options_changed(call, server_named(parsetree));
				return;
			}
			break;
		case T_AlterTableStmt:
			alter_table(call, (AlterTableStmt *) parsetree);
			return;
		case T_ReassignOwnedStmt:
			if (continuous_extension_exists())
			{
				reassign_owned(call);
				return;
			}
			break;
		default:
			break;
	}
	run(call);
}

/* The statement as it would run without pg_continuous. */
static void
run(UtilityCall *call)
{
	utility_chain_next(call->pstmt, call->queryString, call->readOnlyTree,
					   call->context, call->params, call->queryEnv,
					   call->dest, call->qc);
}

/*
 * DROP DATABASE: the database's workers stop first, or the drop would
 * wait for them and fail.  Only a failed drop brings them back; after a
 * drop, the launcher frees the database's slot once it is gone from
 * pg_database, instead of starting workers that would only find it
 * missing.
 */
static void
drop_database(UtilityCall *call, DropdbStmt *stmt)
{
	Oid			dboid = get_database_oid(stmt->dbname, true);

	if (!OidIsValid(dboid) || !continuous_pause_database(dboid))
	{
		run(call);
		return;
	}
	PG_TRY();
	{
		run(call);
	}
	PG_CATCH();
	{
		continuous_resume_database(dboid);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/* The foreign server of ALTER SERVER or of a user mapping statement. */
static const char *
server_named(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_AlterForeignServerStmt:
			return ((AlterForeignServerStmt *) parsetree)->servername;
		case T_CreateUserMappingStmt:
			return ((CreateUserMappingStmt *) parsetree)->servername;
		case T_AlterUserMappingStmt:
			return ((AlterUserMappingStmt *) parsetree)->servername;
		case T_DropUserMappingStmt:
			return ((DropUserMappingStmt *) parsetree)->servername;
		default:
			elog(ERROR, "unexpected statement type %d", (int) nodeTag(parsetree));
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * The options of a foreign server or of a user mapping changed: the Kafka
 * streams of the server see the new ones.
 */
static void
server_options_changed(UtilityCall *call, const char *server)
{
	ForeignServer *srv;

	run(call);
	srv = GetForeignServerByName(server, true);
	if (srv)
	{
		CommandCounterIncrement();
		ddl_catalog_refresh_kafka_streams(InvalidOid, srv->serverid);
	}
}

/*
 * ALTER TABLE (and ALTER VIEW, which PostgreSQL parses alike): options of
 * a continuous view cannot change (ddl_view.c); a view that changes hands
 * gives its new owner the right to read its storage, and the worker runs
 * the view's code as the new owner; a Kafka stream's consumer is set up
 * anew from its options.
 */
static void
alter_table(UtilityCall *call, AlterTableStmt *stmt)
{
	Oid			storage = InvalidOid;
	Oid			new_owner = InvalidOid;
	Oid			kafka_stream = InvalidOid;
	Oid			relid = InvalidOid;
	ListCell   *lc;

	if (continuous_extension_exists())
	{
		relid = RangeVarGetRelid(stmt->relation, NoLock, true);
		if (OidIsValid(relid) && kafka_is_stream_table(relid))
			kafka_stream = relid;
		ddl_view_check_alter(stmt);

		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if (cmd->subtype == AT_ChangeOwner)
				new_owner = get_rolespec_oid(cmd->newowner, false);
		}
		if (OidIsValid(new_owner))
			storage = ddl_view_storage(relid);
	}

	run(call);

	if (OidIsValid(storage))
	{
		storage_grant_reader(storage, new_owner);
		ddl_catalog_view_owner_changed(relid);
	}
	if (OidIsValid(kafka_stream))
	{
		CommandCounterIncrement();
		ddl_catalog_refresh_kafka_streams(kafka_stream, InvalidOid);
		dedup_kafka_options(kafka_stream);
	}
}

/* REASSIGN OWNED: every view's storage, for the view's owner now. */
static void
reassign_owned(UtilityCall *call)
{
	run(call);
	CommandCounterIncrement();
	storage_grant_all_readers();
	ddl_catalog_view_owner_changed(InvalidOid);
}
