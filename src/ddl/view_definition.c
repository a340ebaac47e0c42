/*-------------------------------------------------------------------------
 *
 * view_definition.c
 *	  A continuous view's defining SELECT, kept as an internal view of
 *	  PostgreSQL's own: continuous_storage.<view>_query.
 *
 * Pipeline position: DDL and the worker's catalog load.  CREATE VIEW ...
 * WITH (continuous) analyses the SELECT and derives from it the storage
 * layout and the read view (ddl_view.c); the worker needs the same
 * analysed SELECT again every time it loads its catalog, to evaluate WHERE,
 * the group keys and the aggregates' arguments per event (plan.c,
 * batch.c).  This module is where that SELECT lives in between.
 *
 * Version 0.1 kept nodeToString() of the analysed Query in a text column
 * of continuous.view_catalog.  That text is PostgreSQL's internal format,
 * which changes between major versions, and it names functions, operators,
 * types and aggregates by OID, which pg_upgrade does not keep for
 * functions and operators and a restore does not keep at all.  After
 * pg_upgrade to a later major it could not even be read back.
 *
 * The two ways out that were weighed:
 *
 *	 - SQL text (deparsed with ruleutils at CREATE, analysed again at every
 *	   load with the owner's search_path).  It survives pg_upgrade, but
 *	   text goes stale: ALTER TABLE ... RENAME COLUMN on the stream, a
 *	   renamed function, schema or the stream itself would make the stored
 *	   SQL mean something else or fail, unless every such DDL rewrote it;
 *	   and nothing would stop the objects it names from being dropped.
 *
 *	 - An ordinary view holding the analysed SELECT (chosen).  PostgreSQL
 *	   stores it as the view's _RETURN rule in pg_rewrite, by attribute
 *	   numbers and OIDs that its own DDL keeps right: column and object
 *	   renames are followed, and pg_get_viewdef() prints the current
 *	   names.  The rule's dependencies are PostgreSQL's own, so dropping a
 *	   column or function the SELECT uses needs CASCADE, and ALTER COLUMN
 *	   TYPE of a column it reads is refused.  pg_dump and pg_upgrade carry
 *	   the view as SQL text, which the new server analyses again, as it
 *	   does for every view; pg_upgrade keeps its pg_class OID, which the
 *	   catalog row holds (view_catalog.query_view).  The worker takes the
 *	   analysed Query from the relcache (get_view_query()).
 *
 * The definition view is built from the very Query the storage and the
 * read view were derived from, not parsed again, so the worker sees what
 * CREATE VIEW saw.  Like the storage table it belongs to the extension
 * (owned by the bootstrap superuser, in continuous_storage, so
 * storage_guard.c refuses ALTER, RENAME, GRANT and the like) and is an
 * internal part of the user's view: DROP VIEW drops it, dropping it alone
 * is refused, and a DROP of the stream without CASCADE names the user's
 * view, as before (dependency.c reports the owning object).  It has
 * security_invoker set and no grants: selecting from it runs the SELECT as
 * batch SQL with the reader's own rights (or fails, for session and count
 * windows, which only a continuous view can compute).
 *
 * The names of storage columns are derived from the Query (plan.c); after
 * the view's SQL was analysed again (pg_upgrade, restore), a group key not
 * in the SELECT list is named after the stream column's current name.  The
 * worker therefore binds storage columns by position
 * (storage_layout_bind()), the storage table's layout being
 * fixed at creation.
 *
 * Installations of 0.1 get their definition views from the update script
 * (upgrade.c), which reads the stored nodeToString() text for the last
 * time: on the major version that wrote it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "commands/tablecmds.h"
#include "commands/view.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "rewrite/rewriteManip.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "base/extension_catalog.h"
#include "base/privileges.h"
#include "ddl/view_definition.h"

static void strip_rule_placeholders(Query *query, Oid view);

Oid
view_definition_create(Oid view, Query *query)
{
	Oid			namespace = get_namespace_oid(CONTINUOUS_STORAGE_SCHEMA, false);
	char	   *view_name = get_rel_name(view);
	CreateStmt *create = makeNode(CreateStmt);
	List	   *columns = NIL;
	ExtensionPrivileges saved;
	ObjectAddress address;
	ListCell   *lc;

	if (view_name == NULL)
		elog(ERROR, "continuous view %u does not exist", view);

	/* the columns of the SELECT list, as DefineView() makes them */
	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Node	   *expr = (Node *) tle->expr;

		if (tle->resjunk)
			continue;
		columns = lappend(columns, makeColumnDef(tle->resname, exprType(expr),
												 exprTypmod(expr),
												 exprCollation(expr)));
	}

	create->relation = makeRangeVar(CONTINUOUS_STORAGE_SCHEMA,
									ChooseRelationName(view_name, NULL, "query",
													   namespace, false),
									-1);
	create->tableElts = columns;
	create->options = list_make1(makeDefElem("security_invoker",
											 (Node *) makeString(pstrdup("true")),
											 -1));
	create->oncommit = ONCOMMIT_NOOP;

	privileges_become_extension(&saved);
	address = DefineRelation(create, RELKIND_VIEW, BOOTSTRAP_SUPERUSERID,
							 NULL, NULL);
	CommandCounterIncrement();
	/* copies the query; records the rule's dependencies on what it uses */
	StoreViewQuery(address.objectId, query, false);
	privileges_leave_extension(&saved);

	return address.objectId;
}

Query *
view_definition_query(Oid definition)
{
	Relation	rel = relation_open(definition, AccessShareLock);
	Query	   *query;

	if (rel->rd_rel->relkind != RELKIND_VIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not the definition view of a continuous view",
						RelationGetRelationName(rel)),
				 errdetail_relkind_not_supported(rel->rd_rel->relkind)));
	query = view_rule_query(rel);
	relation_close(rel, NoLock);
	return query;
}

Query *
view_rule_query(Relation view)
{
	Query	   *query = copyObject(get_view_query(view));

	strip_rule_placeholders(query, RelationGetRelid(view));
	return query;
}

/*
 * Before PostgreSQL 16 a view's rule has two more range table entries in
 * front, the view itself as OLD and NEW (UpdateRangeTableOfViewParse()),
 * and every Var points two entries further.  Taken out, the Query is the
 * one CREATE VIEW analysed: reading one relation, the stream (plan.c).
 */
static void
strip_rule_placeholders(Query *query, Oid view)
{
#if PG_VERSION_NUM < 160000
	RangeTblEntry *old_rte;
	RangeTblEntry *new_rte;

	if (list_length(query->rtable) < 2)
		return;
	old_rte = rt_fetch(1, query->rtable);
	new_rte = rt_fetch(2, query->rtable);
	if (old_rte->rtekind != RTE_RELATION || old_rte->relid != view ||
		new_rte->rtekind != RTE_RELATION || new_rte->relid != view)
		return;
	query->rtable = list_delete_first_n(query->rtable, 2);
	OffsetVarNodes((Node *) query, -2, 0);
#endif
}
