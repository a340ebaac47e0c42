/*-------------------------------------------------------------------------
 *
 * storage_guard.c
 *	  The storage of continuous views belongs to the extension: refusing
 *	  what anybody else would do to it.
 *
 * Pipeline position: state.  A view's storage table (its state), the
 * table of counts of a count window, their indexes, and the view's
 * definition view (view_definition.c) live in schema continuous_storage.
 * The flush writes them (flush.c), the view reads the storage table with
 * its owner's rights.  If anyone else could change them, a view would
 * silently reset (TRUNCATE) or compute something else (CREATE OR REPLACE
 * of its definition), the worker of the whole database would fail (DROP
 * INDEX), every view would wait (LOCK), or the worker would run a
 * stranger's code (CREATE TRIGGER, an index expression).
 *
 * So the tables are owned by the bootstrap superuser, as the extension's
 * catalog is, and the view's owner may only SELECT them (granted here and
 * moved with the view's ownership).  On top of that, this module refuses
 * DDL and DML on them from everybody but the extension itself
 * (privileges_acting_as_extension()), superusers included, with a message
 * that says what to do instead: ProcessUtility statements through
 * storage_guard_check_utility(), INSERT, UPDATE, DELETE, COPY FROM and row
 * locks through ExecutorCheckPerms_hook.  ACCESS SHARE locks (pg_dump takes
 * them), plain VACUUM, ANALYZE and REINDEX CONCURRENTLY stay allowed: none
 * of them blocks a flush.  A superuser's restore may build storage that no
 * view claims yet (restore.c); what it copies in is noted there.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lockdefs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "base/extension_catalog.h"
#include "base/privileges.h"
#include "ddl/ddl_catalog.h"
#include "ddl/restore.h"
#include "ddl/storage_guard.h"

static ExecutorCheckPerms_hook_type prev_ExecutorCheckPerms = NULL;

static bool storage_guard_check_perms(List *rangeTable,
									  bool ereport_on_violation);
static bool guarded(Oid relid);
static bool storage_relation(Oid relid);
static bool restoring(Oid relid);
static void refuse(Oid relid, const char *action, const char *hint)
			pg_attribute_noreturn();
static void check_rangevar(RangeVar *rv, const char *action, const char *hint);
static void check_rangevars(List *rvs, const char *action, const char *hint);
static void check_names(List *names, const char *action, const char *hint);
static void check_catalog_lock(RangeVar *rv);
static bool has_option(List *options, const char *name);
static bool grants_view_owner_select(GrantStmt *stmt);

#define HINT_DDL \
	"The storage changes with its view: DROP VIEW removes both, and CREATE VIEW ... WITH (continuous) makes a new one."
#define HINT_DML \
	"Its rows change only by the events of the view's stream; to start the view afresh, drop it and create it again."

void
storage_guard_install(void)
{
	prev_ExecutorCheckPerms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = storage_guard_check_perms;
}

/*
 * Is relid the storage of a continuous view (or an index of one)?  Only
 * relations of schema continuous_storage in a database with the extension.
 */
static bool
guarded(Oid relid)
{
	return storage_relation(relid) && !restoring(relid);
}

/* Is relid in schema continuous_storage, in a database with the extension? */
static bool
storage_relation(Oid relid)
{
	Oid			namespace;

	if (!OidIsValid(relid))
		return false;
	namespace = get_rel_namespace(relid);
	if (!OidIsValid(namespace) ||
		namespace != continuous_storage_schema_oid())
		return false;
	return OidIsValid(continuous_extension_oid(true));
}

/*
 * Is this a superuser's restore building storage relation relid?  Its view
 * then claims it (restore.c).
 */
static bool
restoring(Oid relid)
{
	return superuser() && restore_storage_unclaimed(relid);
}

static void
refuse(Oid relid, const char *action, const char *hint)
{
	Oid			table = relid;
	Oid			view;

	if (get_rel_relkind(relid) == RELKIND_INDEX)
		table = IndexGetRelation(relid, false);
	if (get_rel_relkind(relid) == RELKIND_VIEW)
	{
		view = ddl_catalog_view_of_query_view(relid);
		if (OidIsValid(view))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("cannot %s \"%s.%s\"", action,
							CONTINUOUS_STORAGE_SCHEMA, get_rel_name(relid)),
					 errdetail("It holds the definition of continuous view %s, which only pg_continuous changes.",
							   ddl_relation_display_name(view)),
					 errhint("%s", hint)));
	}
	view = ddl_catalog_view_of_storage(table);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot %s \"%s.%s\"", action,
					CONTINUOUS_STORAGE_SCHEMA, get_rel_name(relid)),
			 !OidIsValid(view) ?
			 errdetail("It is part of the storage of a continuous view, which only pg_continuous changes.") :
			 table == relid ?
			 errdetail("It is the storage of continuous view %s, which only pg_continuous changes.",
					   ddl_relation_display_name(view)) :
			 errdetail("It is an index of the storage of continuous view %s, which only pg_continuous changes.",
					   ddl_relation_display_name(view)),
			 errhint("%s", hint)));
}

static void
check_rangevar(RangeVar *rv, const char *action, const char *hint)
{
	Oid			relid;

	if (rv == NULL)
		return;
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (guarded(relid))
		refuse(relid, action, hint);
}

static void
check_rangevars(List *rvs, const char *action, const char *hint)
{
	ListCell   *lc;

	foreach(lc, rvs)
		check_rangevar(lfirst_node(RangeVar, lc), action, hint);
}

/* DROP's objects: qualified names, each a List of String */
static void
check_names(List *names, const char *action, const char *hint)
{
	ListCell   *lc;

	foreach(lc, names)
		check_rangevar(makeRangeVarFromNameList(lfirst(lc)), action, hint);
}

/*
 * Locks above ACCESS SHARE on the extension's own tables (schema
 * continuous): every flush of the database writes some of them, so such a
 * lock would make every view wait.
 */
static void
check_catalog_lock(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);

	if (!OidIsValid(relid) ||
		get_rel_namespace(relid) != get_namespace_oid(CONTINUOUS_SCHEMA, true) ||
		!OidIsValid(continuous_extension_oid(true)))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot lock \"%s.%s\"", CONTINUOUS_SCHEMA,
					get_rel_name(relid)),
			 errdetail("It is part of the catalog of pg_continuous, which the flushes of every continuous view of the database write."),
			 errhint("Only ACCESS SHARE locks may be taken on it.")));
}

static bool
has_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, name) == 0)
			return opt->arg == NULL || defGetBoolean(opt);
	}
	return false;
}

void
storage_guard_check_utility(Node *parsetree)
{
	ListCell   *lc;

	if (!IsTransactionState() || privileges_acting_as_extension())
		return;

	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			{
				AlterTableStmt *stmt = (AlterTableStmt *) parsetree;

				check_rangevar(stmt->relation, "alter", HINT_DDL);
				foreach(lc, stmt->cmds)
				{
					AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

					if (cmd->subtype == AT_AddInherit)
						check_rangevar(castNode(RangeVar, cmd->def),
									   "inherit from", HINT_DDL);
				}
				break;
			}
		case T_RenameStmt:
			check_rangevar(((RenameStmt *) parsetree)->relation, "rename",
						   HINT_DDL);
			break;
		case T_ViewStmt:
			if (((ViewStmt *) parsetree)->replace)
				check_rangevar(((ViewStmt *) parsetree)->view, "replace",
							   HINT_DDL);
			break;
		case T_AlterObjectSchemaStmt:
			check_rangevar(((AlterObjectSchemaStmt *) parsetree)->relation,
						   "move", HINT_DDL);
			break;
		case T_DropStmt:
			{
				DropStmt   *stmt = (DropStmt *) parsetree;

				/* the table itself is part of its view (dependency.c says so) */
				if (stmt->removeType == OBJECT_INDEX)
					check_names(stmt->objects, "drop", HINT_DDL);
				break;
			}
		case T_TruncateStmt:
			check_rangevars(((TruncateStmt *) parsetree)->relations,
							"truncate", HINT_DML);
			break;
		case T_IndexStmt:
			check_rangevar(((IndexStmt *) parsetree)->relation,
						   "create an index on", HINT_DDL);
			break;
		case T_CreateTrigStmt:
			check_rangevar(((CreateTrigStmt *) parsetree)->relation,
						   "create a trigger on", HINT_DDL);
			break;
		case T_RuleStmt:
			check_rangevar(((RuleStmt *) parsetree)->relation,
						   "create a rule on", HINT_DDL);
			break;
		case T_CreatePolicyStmt:
			check_rangevar(((CreatePolicyStmt *) parsetree)->table,
						   "create a policy on", HINT_DDL);
			break;
		case T_AlterPolicyStmt:
			check_rangevar(((AlterPolicyStmt *) parsetree)->table,
						   "alter a policy on", HINT_DDL);
			break;
		case T_CreateStmt:
			check_rangevars(((CreateStmt *) parsetree)->inhRelations,
							"inherit from", HINT_DDL);
			break;
		case T_ReindexStmt:
			{
				ReindexStmt *stmt = (ReindexStmt *) parsetree;

				if (!has_option(stmt->params, "concurrently"))
					check_rangevar(stmt->relation, "reindex",
								   "REINDEX CONCURRENTLY does not block the view's worker.");
				break;
			}
		case T_ClusterStmt:
			check_rangevar(((ClusterStmt *) parsetree)->relation, "cluster",
						   "Plain VACUUM does not block the view's worker.");
			break;
		case T_VacuumStmt:
			{
				VacuumStmt *stmt = (VacuumStmt *) parsetree;

				if (!stmt->is_vacuumcmd || !has_option(stmt->options, "full"))
					break;
				foreach(lc, stmt->rels)
					check_rangevar(lfirst_node(VacuumRelation, lc)->relation,
								   "vacuum (full)",
								   "Plain VACUUM does not block the view's worker.");
				break;
			}
		case T_LockStmt:
			{
				LockStmt   *stmt = (LockStmt *) parsetree;

				if (stmt->mode <= AccessShareLock)
					break;
				check_rangevars(stmt->relations, "lock",
								"Only ACCESS SHARE locks may be taken on it, so that its view's flushes never wait.");
				/* DELETE on dead_letters would allow any lock mode on it */
				foreach(lc, stmt->relations)
					check_catalog_lock(lfirst_node(RangeVar, lc));
				break;
			}
		case T_GrantStmt:
			{
				GrantStmt  *stmt = (GrantStmt *) parsetree;
				const char *action = stmt->is_grant ?
					"grant privileges on" : "revoke privileges on";
				const char *hint =
					"Reading a continuous view needs privileges on the view only; its owner is granted SELECT on its storage.";

				if (stmt->objtype != OBJECT_TABLE)
					break;
				if (grants_view_owner_select(stmt))
					break;
				if (stmt->targtype == ACL_TARGET_OBJECT)
					check_rangevars(stmt->objects, action, hint);
				else if (stmt->targtype == ACL_TARGET_ALL_IN_SCHEMA)
				{
					foreach(lc, stmt->objects)
						if (strcmp(strVal(lfirst(lc)), CONTINUOUS_STORAGE_SCHEMA) == 0 &&
							OidIsValid(continuous_extension_oid(true)))
							ereport(ERROR,
									(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
									 errmsg("cannot %s all tables in schema \"%s\"",
											action, CONTINUOUS_STORAGE_SCHEMA),
									 errdetail("Its tables are the storage of continuous views, which only pg_continuous changes."),
									 errhint("%s", hint)));
				}
				break;
			}
		default:
			break;
	}
}

/*
 * A restore's GRANT SELECT on a view's storage to the view's owner, by a
 * superuser: what the view's owner has already (restore.c grants it), so
 * nothing changes.
 */
static bool
grants_view_owner_select(GrantStmt *stmt)
{
	ListCell   *lc;

	if (!stmt->is_grant || stmt->grant_option || !superuser() ||
		stmt->targtype != ACL_TARGET_OBJECT ||
		list_length(stmt->privileges) != 1 ||
		strcmp(((AccessPriv *) linitial(stmt->privileges))->priv_name, "select") != 0 ||
		((AccessPriv *) linitial(stmt->privileges))->cols != NIL)
		return false;
	foreach(lc, stmt->objects)
	{
		Oid			relid = RangeVarGetRelid(lfirst_node(RangeVar, lc), NoLock, true);
		Oid			view;
		HeapTuple	tuple;
		Oid			owner;
		ListCell   *lg;

		if (!guarded(relid))
			continue;
		view = ddl_catalog_view_of_storage(relid);
		if (!OidIsValid(view))
			return false;
		tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(view));
		if (!HeapTupleIsValid(tuple))
			return false;
		owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
		ReleaseSysCache(tuple);
		foreach(lg, stmt->grantees)
		{
			RoleSpec   *grantee = lfirst_node(RoleSpec, lg);

			if (grantee->roletype != ROLESPEC_CSTRING ||
				get_role_oid(grantee->rolename, true) != owner)
				return false;
		}
	}
	return true;
}

/* INSERT, UPDATE, DELETE, COPY FROM, SELECT FOR UPDATE/SHARE on storage */
static bool
storage_guard_check_perms(List *rangeTable, bool ereport_on_violation)
{
	ListCell   *lc;

	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte->rtekind != RTE_RELATION ||
			(rte->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE)) == 0 ||
			!storage_relation(rte->relid) || privileges_acting_as_extension())
			continue;
		if (restoring(rte->relid))
		{
			/* the rows of a restored view: it may come back at commit */
			if (rte->requiredPerms & ACL_INSERT)
				restore_note_loaded(rte->relid);
			continue;
		}
		if (!ereport_on_violation)
			return false;
		refuse(rte->relid,
			   (rte->requiredPerms & ACL_INSERT) ? "insert into" :
			   (rte->requiredPerms & ACL_DELETE) ? "delete from" :
			   "update or lock rows of",
			   HINT_DML);
	}
	if (prev_ExecutorCheckPerms)
		return prev_ExecutorCheckPerms(rangeTable, ereport_on_violation);
	return true;
}
