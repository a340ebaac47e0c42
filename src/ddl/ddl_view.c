/*-------------------------------------------------------------------------
 *
 * ddl_view.c
 *	  CREATE VIEW ... WITH (continuous) AS SELECT ...: a view definition
 *	  turned into a continuous view.
 *
 * Pipeline position: DDL, and the last step of the pipeline (view).  The
 * utility hook (utility_hook.c) hands CREATE VIEW here, which analyses the
 * SELECT, refuses what cannot be maintained incrementally
 * (ddl_view_check.c), derives the plan (plan.c), and creates three things in
 * one transaction:
 *
 *	 - the storage table continuous_storage.<view>_state, one column per group
 *	   key and one per aggregate transition state, with a unique index on the
 *	   keys through which the worker (flush.c) finds and updates groups;
 *	 - the user's view, an ordinary view over the storage table that applies
 *	   continuous.finalize() to the states and the SELECT's expressions and
 *	   HAVING to the result (with emit = 'window_close', it also keeps only
 *	   the windows the stream's watermark has closed), created by
 *	   PostgreSQL's own CREATE VIEW from a rewritten SELECT;
 *	 - the definition view continuous_storage.<view>_query, which holds
 *	   the analysed SELECT for the worker (view_definition.c), and a row in
 *	   continuous.view_catalog naming it all, which the worker sees in the
 *	   WAL it decodes and starts maintaining.
 *
 * Dependencies make the pieces one object (view_dependencies.c): the
 * storage table and the definition view are internal parts of the view
 * (DROP VIEW drops them, DROP TABLE or DROP VIEW on them is refused), and
 * the view depends on everything its SELECT uses, so dropping the stream
 * needs CASCADE.  The sql_drop event trigger of the extension script then
 * removes the catalog rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "catalog/toasting.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/tablecmds.h"
#include "common/keywords.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parse_func.h"
#include "parser/parse_node.h"
#include "parser/parse_oper.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "parser/scansup.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "base/extension_catalog.h"
#include "base/privileges.h"
#include "base/shmem.h"
#include "ddl/ddl_catalog.h"
#include "ddl/dedup_options.h"
#include "ddl/ddl_view.h"
#include "ddl/ddl_view_check.h"
#include "ddl/ddl_transform.h"
#include "ddl/restore.h"
#include "ddl/storage_grants.h"
#include "ddl/stream_guard.h"
#include "ddl/utility_chain.h"
#include "ddl/view_chain.h"
#include "ddl/upgrade.h"
#include "ddl/view_definition.h"
#include "ddl/view_dependencies.h"
#include "ddl/view_options.h"
#include "exec/view_access.h"
#include "plan/agg_support.h"
#include "plan/plan.h"
#include "source/kafka/kafka_options.h"
#include "state/backfill.h"
#include "state/flush.h"
#include "state/storage_layout.h"
#include "window/window_registry.h"

/* storage_expr_mutator() */
typedef struct ReadViewContext
{
	ContinuousPlan *plan;
	Oid			finalize;		/* continuous.finalize(oid, "any", anyelement) */
} ReadViewContext;

/* fillfactor of the storage of views without windows (see create_storage_table) */
#define STORAGE_HOT_FILLFACTOR 50

static void define_continuous_view(PlannedStmt *pstmt, ViewStmt *stmt,
								   ContinuousOptions *opts,
								   const char *queryString,
								   ProcessUtilityContext context,
								   ParamListInfo params,
								   QueryEnvironment *queryEnv,
								   DestReceiver *dest, QueryCompletion *qc);
static char *creation_search_path(void);
static void apply_column_aliases(Query *query, List *aliases);
static Oid	create_storage_table(ContinuousPlan *plan, const char *view_name,
								 Oid owner, const char *queryString);
static void insert_global_row(ContinuousPlan *plan, Oid storage);
static char *read_view_select(ContinuousPlan *plan, ContinuousOptions *opts,
							  Oid storage);
static Node *window_closed_qual(ContinuousPlan *plan, Interval *lateness);
static Node *storage_expr_mutator(Node *node, ReadViewContext *context);
static char *user_select_text(const char *queryString, int location, int len);

/*
 * CREATE [OR REPLACE] VIEW, from the utility hook (utility_hook.c): a
 * continuous view is defined here, and so is a view whose options say
 * continuous = false; the read view of a restored continuous view is
 * noted; replacing a continuous view by a plain one is refused.  True if
 * the statement ran here; false leaves it to the hook.
 */
bool
ddl_view_utility(PlannedStmt *pstmt, ViewStmt *stmt, const char *queryString,
				 bool readOnlyTree, ProcessUtilityContext context,
				 ParamListInfo params, QueryEnvironment *queryEnv,
				 DestReceiver *dest, QueryCompletion *qc)
{
		ParseState *pstate = make_parsestate(NULL);
	ContinuousOptions opts;

	pstate->p_sourcetext = queryString;
	view_options_parse(pstate, stmt->options, &opts);

	if (opts.mentioned)
	{
		define_continuous_view(pstmt, stmt, &opts, queryString, context,
							   params, queryEnv, dest, qc);
		return true;
	}
	if (opts.not_continuous)
	{
		/* PostgreSQL does not know the option, even when false */
		ViewStmt   *plain = copyObject(stmt);

		plain->options = opts.view_options;
		utility_chain_next(utility_chain_statement(pstmt, (Node *) plain),
							 queryString, false, context, params,
							 queryEnv, dest, qc);
		return true;
	}

	/*
	 * pg_dump's CREATE OR REPLACE of a restored view's read view, after
	 * its storage's rows and indexes: the view comes back at commit,
	 * once it has all its parts (restore.c)
	 */
	if (stmt->replace && superuser() && continuous_extension_exists() &&
		restore_view_pending(RangeVarGetRelid(stmt->view, NoLock, true)))
	{
		utility_chain_next(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
		restore_check_at_commit();
		return true;
	}

	/* replacing a continuous view by a plain one would orphan its state */
	if (stmt->replace && continuous_extension_exists() &&
		OidIsValid(ddl_view_storage(RangeVarGetRelid(stmt->view,
															NoLock, true))))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot replace continuous view \"%s\"",
						stmt->view->relname),
				 errhint("Drop the view with DROP VIEW and create it again.")));
	return false;
}

/*
 * late_events = '<table>': the table that receives late events' rows, by
 * column name.  Created like the stream if it does not exist (for an
 * interval join, like the first stream, with the second's other columns
 * after them); otherwise it must be a table the view's owner may insert
 * into, with columns named like each stream's.  The view depends on it.
 */
static void late_table_add_columns(RangeVar *rv, Oid stream);

static Oid
late_events_table(ContinuousPlan *plan, const char *name, Oid owner)
{
	RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(name));
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	Relation	rel;
	Oid			streams[2];
	int			nstreams = 1;
	int			s;

	if (!OidIsValid(relid))
	{
		char	   *sql = psprintf("CREATE TABLE %s (LIKE %s)",
								   quote_qualified_identifier(rv->schemaname,
															  rv->relname),
								   ddl_relation_display_name(plan->stream));

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not create the late-events table: %s", sql);
		if (plan->interval_join != NULL)
			late_table_add_columns(rv, plan->interval_join->right_stream);
		SPI_finish();
		CommandCounterIncrement();
		relid = RangeVarGetRelid(rv, NoLock, false);
	}

	rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("late-events table \"%s\" is not a table",
						RelationGetRelationName(rel)),
				 errdetail_relkind_not_supported(rel->rd_rel->relkind)));
	if (pg_class_aclcheck(relid, owner, ACL_INSERT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, RelationGetRelationName(rel));
	streams[0] = plan->stream;
	if (plan->interval_join != NULL)
		streams[nstreams++] = plan->interval_join->right_stream;
	for (s = 0; s < nstreams; s++)
	{
		Relation	stream;
		TupleDesc	stream_desc;
		int			common = 0;
		int			i;

		stream_guard_check_late_table(relid, streams[s]);
		stream = relation_open(streams[s], AccessShareLock);
		stream_desc = RelationGetDescr(stream);
		for (i = 0; i < stream_desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(stream_desc, i);

			if (!att->attisdropped &&
				get_attnum(relid, NameStr(att->attname)) > 0)
				common++;
		}
		relation_close(stream, AccessShareLock);
		if (common == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("late-events table \"%s\" has no column named like a column of stream %s",
							RelationGetRelationName(rel),
							ddl_relation_display_name(streams[s])),
					 errdetail("Late events' rows go into the table by column name.")));
	}
	table_close(rel, AccessShareLock);
	return relid;
}

/*
 * The columns of stream that the late-events table just created (like the
 * first stream) does not have by name, added after the others.
 */
static void
late_table_add_columns(RangeVar *rv, Oid stream)
{
	Relation	rel = relation_open(stream, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			late = RangeVarGetRelid(rv, NoLock, false);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		char	   *sql;

		if (att->attisdropped || get_attnum(late, NameStr(att->attname)) > 0)
			continue;
		sql = psprintf("ALTER TABLE %s ADD COLUMN %s %s",
					   quote_qualified_identifier(rv->schemaname, rv->relname),
					   quote_identifier(NameStr(att->attname)),
					   format_type_with_typemod(att->atttypid, att->atttypmod));
		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not add a column to the late-events table: %s", sql);
		CommandCounterIncrement();
	}
	relation_close(rel, AccessShareLock);
}

static void
define_continuous_view(PlannedStmt *pstmt, ViewStmt *stmt,
					   ContinuousOptions *opts, const char *queryString,
					   ProcessUtilityContext context, ParamListInfo params,
					   QueryEnvironment *queryEnv, DestReceiver *dest,
					   QueryCompletion *qc)
{
	ParseState *pstate = make_parsestate(NULL);
	Oid			owner = GetUserId();
	Oid			stream;
	RawStmt    *rawstmt;
	Query	   *query;
	ContinuousPlan *plan;
	Oid			view_namespace;
	Oid			storage;
	Oid			view;
	ViewStmt   *read_stmt;
	ViewCatalogEntry entry;
	Oid			late_table = InvalidOid;

	pstate->p_sourcetext = queryString;

	if (!continuous_extension_exists())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous views require the pg_continuous extension"),
				 errhint("Run CREATE EXTENSION pg_continuous in this database.")));
	continuous_require_preload();
	upgrade_require_current_catalog();
	view_options_check_values(opts);

	if (stmt->replace)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("CREATE OR REPLACE is not supported for continuous views"),
				 errhint("Drop the view with DROP VIEW and create it again.")));
	if (stmt->view->relpersistence == RELPERSISTENCE_TEMP ||
		(stmt->view->schemaname != NULL &&
		 strcmp(stmt->view->schemaname, "pg_temp") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views cannot be temporary"),
				 errdetail("A background worker maintains continuous views, and it cannot see temporary objects.")));
	if (stmt->withCheckOption != NO_CHECK_OPTION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views do not support WITH CHECK OPTION"),
				 errdetail("Continuous views cannot be written to.")));

	/* analyse as DefineView() would, on a copy: analysis scribbles */
	rawstmt = makeNode(RawStmt);
	rawstmt->stmt = copyObject(stmt->query);
	rawstmt->stmt_location = pstmt->stmt_location;
	rawstmt->stmt_len = pstmt->stmt_len;
	query = parse_analyze_fixedparams(rawstmt, queryString, NULL, 0, queryEnv);
	apply_column_aliases(query, stmt->aliases);

	stream = ddl_view_check_query(pstate, query);
	if (kafka_is_stream_table(stream) && opts->backfill_def && opts->backfill)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a continuous view of Kafka stream %s cannot be backfilled",
						ddl_relation_display_name(stream)),
				 errdetail("Only table streams keep their past events: a new view of a Kafka stream counts the messages consumed after it is created."),
				 errhint("Leave out the backfill option."),
				 parser_errposition(pstate, opts->backfill_def->location)));
	if (kafka_is_stream_table(stream) && !ddl_catalog_is_stream(stream))
	{
		ddl_catalog_add_kafka_stream(stream);
		dedup_kafka_options(stream);
		CommandCounterIncrement();
	}

	/* the worker reads the stream for the view's owner: may the owner? */
	(void) ExecCheckRTPerms(query->rtable, true);
	/* a view over a view reads its closed windows' table (view_chain.c) */
	if (get_rel_relkind(stream) == RELKIND_VIEW)
		(void) view_chain_prepare_source(stream);

	plan = continuous_plan_build(query);
	/* and every row of it: no row-level security in the way */
	view_access_check(plan, GetUserId(), stmt->view->relname);
	window_registry_check_view(pstate, plan);
	/* the left stream's watermark alone does not close its windows */
	if (plan->interval_join != NULL &&
		(strcmp(opts->emit, "window_close") == 0 || opts->retention != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s is not supported for a continuous view that joins two streams",
						opts->retention != NULL ? "retention" : "emit = 'window_close'"),
				 errdetail("The windows of an interval join close by both streams' watermarks and the join's bound, which this option does not follow yet."),
				 errhint("Leave the option out.")));
	if (plan->transform)
		ddl_transform_check(pstate, plan, opts);
	else
	{
		ddl_view_check_keys(plan);
		view_options_check_window(plan, opts);
	}
	if (strcmp(opts->late_events, "drop") != 0)
	{
		OptionErrorContext oc;

		view_options_error_push(&oc, pstate, "late_events",
								opts->late_events_location, ACCEPTS_LATE_EVENTS);
		late_table = late_events_table(plan, opts->late_events, owner);
		view_options_error_pop(&oc);
	}

	view_namespace = RangeVarGetCreationNamespace(stmt->view);
	storage = create_storage_table(plan, stmt->view->relname, owner,
								   queryString);
	if (plan->transform)
		ddl_transform_create_index(plan, storage, get_rel_name(storage), opts);

	/*
	 * PostgreSQL creates the user's view, as for any CREATE VIEW, from the
	 * SELECT over the storage table; so the view is as ordinary as can be
	 * and the event triggers of the database see its creation.
	 */
	read_stmt = copyObject(stmt);
	read_stmt->query = linitial_node(RawStmt,
									 raw_parser(plan->transform ?
												ddl_transform_read_select(plan, storage) :
												read_view_select(plan, opts, storage),
												RAW_PARSE_DEFAULT))->stmt;
	read_stmt->options = opts->view_options;

	utility_chain_next(utility_chain_statement(pstmt, (Node *) read_stmt),
						 queryString, false, context, params, queryEnv, dest,
						 qc);
	CommandCounterIncrement();

	view = get_relname_relid(stmt->view->relname, view_namespace);
	if (!OidIsValid(view))
		elog(ERROR, "continuous view \"%s\" was not created",
			 stmt->view->relname);

	entry.view = view;
	entry.stream = plan->stream;
	entry.storage = storage;
	entry.counts_table = window_registry_create_side_table(plan,
														   stmt->view->relname,
														   storage);
	entry.query_view = view_definition_create(view, query);
	entry.definition = user_select_text(queryString, pstmt->stmt_location,
										pstmt->stmt_len);
	entry.emit = opts->emit;
	entry.allowed_lateness = opts->allowed_lateness;
	entry.late_events = OidIsValid(late_table) ?
		ddl_relation_display_name(late_table) : opts->late_events;
	entry.late_table = late_table;
	entry.retention = opts->retention;
	entry.window = window_registry_describe(plan);
	entry.search_path = creation_search_path();
	entry.kind = plan->transform ? "transform" : "aggregate";
	view_dependencies_record(&entry, query);
	ddl_catalog_add_view(&entry);
	if (plan->interval_join != NULL)
		ddl_catalog_set_join_stream(view, plan->interval_join->right_stream);

	/* the rows the stream(s) have already, at commit (backfill.c) */
	if (opts->backfill && !kafka_is_stream_table(plan->stream))
		backfill_view_at_commit(view, plan->stream);
}

/*
 * This session's search_path as the schemas it names now ($user resolved,
 * temporary schemas left out: the worker has none), for the worker to run
 * the view's expressions with.
 */
static char *
creation_search_path(void)
{
	StringInfoData path;
	ListCell   *lc;

	initStringInfo(&path);
	foreach(lc, fetch_search_path(false))
	{
		Oid			namespace = lfirst_oid(lc);

		if (isAnyTempNamespace(namespace))
			continue;
		appendStringInfo(&path, "%s%s", path.len > 0 ? ", " : "",
						 quote_identifier(get_namespace_name(namespace)));
	}
	return path.data;
}

/*
 * CREATE VIEW name (columns): the names go into the analysed query, as
 * DefineView() does, so that the storage table's key columns carry the
 * names of the view's columns.
 */
static void
apply_column_aliases(Query *query, List *aliases)
{
	ListCell   *alias = list_head(aliases);
	ListCell   *lc;

	foreach(lc, query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (alias == NULL)
			break;
		if (tle->resjunk)
			continue;
		tle->resname = pstrdup(strVal(lfirst(alias)));
		alias = lnext(aliases, alias);
	}
	if (alias != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("CREATE VIEW specifies more column names than columns")));
}

/*
 * continuous_storage.<view>_state, laid out as storage_layout.c says: the
 * group keys, one transition state per aggregate, and what the windows
 * store; the worker relies on that order.
 *
 * The table belongs to the extension, like its catalog (storage_guard.c):
 * created with the catalog owner's rights and owned by the bootstrap
 * superuser.  The view reads it with its owner's rights, so that owner
 * may SELECT it.
 */
static Oid
create_storage_table(ContinuousPlan *plan, const char *view_name, Oid owner,
					 const char *queryString)
{
	Oid			namespace = get_namespace_oid(CONTINUOUS_STORAGE_SCHEMA, false);
	CreateStmt *create = makeNode(CreateStmt);
	List	   *columns = NIL;
	List	   *key_columns = NIL;
	ExtensionPrivileges saved;
	ObjectAddress address;
	ListCell   *lc;

	foreach(lc, storage_layout_columns(plan))
	{
		StorageColumn *column = lfirst(lc);

		columns = lappend(columns, makeColumnDef(*column->name, column->type,
												 column->typmod,
												 column->collation));
	}
	foreach(lc, storage_layout_index_keys(plan))
	{
		ContinuousKey *key = list_nth(plan->keys, lfirst_int(lc));
		IndexElem  *elem = makeNode(IndexElem);

		elem->name = key->column;
		elem->ordering = SORTBY_DEFAULT;
		elem->nulls_ordering = SORTBY_NULLS_DEFAULT;
		key_columns = lappend(key_columns, elem);
	}

	create->relation = makeRangeVar(CONTINUOUS_STORAGE_SCHEMA,
									ChooseRelationName(view_name, NULL, "state",
													   namespace, false),
									-1);
	create->tableElts = columns;
	create->oncommit = ONCOMMIT_NOOP;

	/*
	 * Without a window every group stays hot: each flush updates the row of
	 * every group its batch touched.  Half of each page left free keeps
	 * those updates on their page (HOT: no new index entry, and the old
	 * version pruned at the next visit).  A windowed view's rows stop
	 * changing when their window closes, and would keep that space empty.
	 */
	if (!plan->transform && !window_registry_groups_settle(plan))
		create->options = list_make1(makeDefElem("fillfactor",
												 (Node *) makeInteger(STORAGE_HOT_FILLFACTOR),
												 -1));
	/* heap whatever default_table_access_method says: see insert_global_row() */
	create->accessMethod = DEFAULT_TABLE_ACCESS_METHOD;

	privileges_become_extension(&saved);

	address = DefineRelation(create, RELKIND_RELATION, BOOTSTRAP_SUPERUSERID,
							 NULL, queryString);
	CommandCounterIncrement();
	NewRelationCreateToastTable(address.objectId, (Datum) 0);

	/*
	 * Without keys the table holds the one row of a global aggregate and
	 * needs no index.  NULL is a group key like any other value, hence NULLS
	 * NOT DISTINCT.  The table is empty, so building the index runs no
	 * comparison function with the rights we hold here.
	 */
	if (key_columns != NIL)
	{
		IndexStmt  *index = makeNode(IndexStmt);

		index->idxname = ChooseRelationName(create->relation->relname, NULL,
											"key", namespace, false);
		index->relation = create->relation;
		index->accessMethod = DEFAULT_INDEX_TYPE;
		index->indexParams = key_columns;
		index->unique = true;
		index->nulls_not_distinct = true;
		index->transformed = true;
		(void) DefineIndex(address.objectId, index, InvalidOid, InvalidOid,
						   InvalidOid, false, false, false, false, true);
	}

	privileges_leave_extension(&saved);

	if (key_columns == NIL && !plan->transform)
		insert_global_row(plan, address.objectId);
	storage_grant_reader(address.objectId, owner);
	CommandCounterIncrement();

	return address.objectId;
}

/*
 * A SELECT without GROUP BY returns one row even over no events: count(*)
 * is 0, sum() is NULL.  The storage table of such a view starts with that
 * row, holding each aggregate's initial state, and the worker updates it.
 */
static void
insert_global_row(ContinuousPlan *plan, Oid storage)
{
	AggSupport **supports = palloc(sizeof(AggSupport *) *
								   Max(list_length(plan->aggregates), 1));
	ListCell   *lc;

	foreach(lc, plan->aggregates)
		supports[foreach_current_index(lc)] =
			agg_support_create(((ContinuousAggregate *) lfirst(lc))->aggref);
	flush_insert_global_row(storage, supports, list_length(plan->aggregates));
}

/*
 * The SELECT of the user's view: the analysed query with group keys read
 * from the storage table's key columns, aggregates finalised from its state
 * columns, and HAVING as the WHERE of the stored groups.  With emit =
 * 'window_close', the WHERE also keeps only closed windows.  It goes
 * through SQL text so that CREATE VIEW does what it always does with it.
 */
static char *
read_view_select(ContinuousPlan *plan, ContinuousOptions *opts, Oid storage)
{
	Query	   *read = copyObject(plan->query);
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	RangeTblRef *rtr = makeNode(RangeTblRef);
	ReadViewContext context;
	List	   *targetlist = NIL;
	List	   *colnames = NIL;
	Oid			finalize_argtypes[3] = {OIDOID, ANYOID, ANYELEMENTOID};
	Node	   *quals;
	ListCell   *lc;

	foreach(lc, storage_layout_columns(plan))
		colnames = lappend(colnames,
						   makeString(*((StorageColumn *) lfirst(lc))->name));

	rte->rtekind = RTE_RELATION;
	rte->relid = storage;
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = AccessShareLock;
	rte->eref = makeAlias(get_rel_name(storage), colnames);
	rte->inh = true;
	rte->inFromCl = true;
	rte->requiredPerms = ACL_SELECT;
	rtr->rtindex = 1;

	context.plan = plan;
	context.finalize =
		continuous_function_oid("finalize", 3, finalize_argtypes);

	foreach(lc, read->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		tle = flatCopyTargetEntry(tle);
		tle->expr = (Expr *) storage_expr_mutator((Node *) tle->expr, &context);
		tle->resno = list_length(targetlist) + 1;
		tle->ressortgroupref = 0;
		targetlist = lappend(targetlist, tle);
	}

	read->targetList = targetlist;
	read->rtable = list_make1(rte);
	quals = storage_expr_mutator(read->havingQual, &context);
	if (strcmp(opts->emit, "window_close") == 0)
		quals = make_and_qual(quals,
							  window_closed_qual(plan, opts->allowed_lateness));
	read->jointree = makeFromExpr(list_make1(rtr), quals);
	read->havingQual = NULL;
	read->groupClause = NIL;
	read->hasAggs = false;

	return pg_get_querydef(read, false);
}

/*
 * window_start + size + allowed_lateness <= continuous._watermark(stream),
 * over the storage table's window column: the SQL form of
 * continuous_window_closes_at(), by which the worker drops late events.
 * The worker writes the watermark and the window's state in one
 * transaction, so a snapshot sees a window either not at all or with its
 * final state.  A timestamp window is UTC, as the watermark reads it.
 * A window that stores its end (a session) closes at end + allowed_lateness.
 */
static Node *
window_closed_qual(ContinuousPlan *plan, Interval *lateness)
{
	PlanWindow *window = plan->window;
	ContinuousKey *key = list_nth(plan->keys, window->key);
	ParseState *pstate = make_parsestate(NULL);
	List	   *plus = list_make2(makeString("pg_catalog"), makeString("+"));
	Oid			watermark_argtypes[1] = {REGCLASSOID};
	Oid			watermark;
	Node	   *closes;
	Node	   *now;

	if (window->end_column != NULL)
		closes = (Node *) makeVar(1, storage_layout_end_attno(plan, window),
								  key->type, key->typmod, InvalidOid, 0);
	else
	{
		closes = (Node *) makeVar(1, window->key + 1, key->type,
								  key->typmod, key->collation, 0);
		closes = (Node *) make_op(pstate, plus, closes,
								  (Node *) makeConst(INTERVALOID, -1, InvalidOid,
													 sizeof(Interval),
													 IntervalPGetDatum(window->size),
													 false, false),
								  NULL, -1);
	}
	closes = (Node *) make_op(pstate, plus, closes,
							  (Node *) makeConst(INTERVALOID, -1, InvalidOid,
												 sizeof(Interval),
												 IntervalPGetDatum(lateness),
												 false, false),
							  NULL, -1);
	if (key->type == TIMESTAMPOID)
		closes = (Node *) makeFuncExpr(F_TIMEZONE_TEXT_TIMESTAMP, TIMESTAMPTZOID,
									   list_make2(makeConst(TEXTOID, -1,
															DEFAULT_COLLATION_OID, -1,
															CStringGetTextDatum("UTC"),
															false, false),
												  closes),
									   InvalidOid, InvalidOid,
									   COERCE_EXPLICIT_CALL);

	watermark = continuous_function_oid("_watermark", 1, watermark_argtypes);
	now = (Node *) makeFuncExpr(watermark, TIMESTAMPTZOID,
								list_make1(makeConst(REGCLASSOID, -1, InvalidOid,
													 sizeof(Oid),
													 ObjectIdGetDatum(plan->stream),
													 false, true)),
								InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);

	return (Node *) make_op(pstate,
							list_make2(makeString("pg_catalog"), makeString("<=")),
							closes, now, NULL, -1);
}

static Node *
storage_expr_mutator(Node *node, ReadViewContext *context)
{
	ContinuousPlan *plan = context->plan;
	AttrNumber	attno = 0;
	ListCell   *lc;

	if (node == NULL)
		return NULL;

	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);

		attno++;
		if (equal(node, key->expr))
			return (Node *) makeVar(1, attno, key->type, key->typmod,
									key->collation, 0);
	}

	if (IsA(node, Aggref))
	{
		Aggref	   *aggref = (Aggref *) node;

		foreach(lc, plan->aggregates)
		{
			ContinuousAggregate *agg = lfirst(lc);
			List	   *args;

			attno++;
			if (!equal(aggref, agg->aggref))
				continue;

			/*
			 * The aggregate by signature ('sum(integer)'::regprocedure):
			 * pg_dump and pg_upgrade recreate the view from its SQL, in
			 * which an OID would name another function, or none.
			 */
			args = list_make3(makeConst(REGPROCEDUREOID, -1, InvalidOid,
										sizeof(Oid),
										ObjectIdGetDatum(aggref->aggfnoid),
										false, true),
							  makeVar(1, attno, agg->storage_type, -1,
									  get_typcollation(agg->storage_type), 0),
							  makeNullConst(aggref->aggtype, -1,
											aggref->aggcollid));
			return (Node *) makeFuncExpr(context->finalize, aggref->aggtype,
										 args, aggref->aggcollid,
										 aggref->aggcollid,
										 COERCE_EXPLICIT_CALL);
		}
		elog(ERROR, "aggregate missing from the continuous view plan");
	}

	return expression_tree_mutator(node, storage_expr_mutator, context);
}

/*
 * The SELECT as the user wrote it, for continuous.views: the statement's
 * text after the AS that ends the CREATE VIEW clause.  The statement parsed,
 * so scanning its tokens for the first AS outside parentheses finds it;
 * names and options before it are identifiers, strings or parenthesised.
 */
static char *
user_select_text(const char *queryString, int location, int len)
{
	char	   *text;
	core_yy_extra_type yyextra;
	core_yyscan_t scanner;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	int			as_token;
	int			depth = 0;
	int			start = -1;
	int			end;

	text = len > 0 ? pnstrdup(queryString + location, len) :
		pstrdup(queryString + location);
	as_token = ScanKeywordTokens[ScanKeywordLookup("as", &ScanKeywords)];

	scanner = scanner_init(text, &yyextra, &ScanKeywords, ScanKeywordTokens);
	yyextra.escape_string_warning = false;
	for (;;)
	{
		int			token = core_yylex(&yylval, &yylloc, scanner);

		if (token == 0)
			break;
		if (token == '(')
			depth++;
		else if (token == ')')
			depth--;
		else if (token == as_token && depth == 0)
		{
			start = yylloc + 2;
			break;
		}
	}
	scanner_finish(scanner);

	if (start < 0)
		return text;
	while (text[start] != '\0' && scanner_isspace(text[start]))
		start++;
	end = strlen(text);
	while (end > start && (scanner_isspace(text[end - 1]) || text[end - 1] == ';'))
		end--;
	return pnstrdup(text + start, end - start);
}

/*
 * ALTER VIEW ... SET/RESET (continuous, ...): a view's kind and its
 * continuous options are fixed at creation, because its storage was laid
 * out for them.
 */
void
ddl_view_check_alter(AlterTableStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		ListCell   *optlc;

		if (cmd->subtype != AT_SetRelOptions &&
			cmd->subtype != AT_ResetRelOptions &&
			cmd->subtype != AT_ReplaceRelOptions)
			continue;

		foreach(optlc, (List *) cmd->def)
		{
			DefElem    *def = lfirst_node(DefElem, optlc);
			Oid			relid;

			if (def->defnamespace != NULL || !view_options_is_ours(def->defname))
				continue;

			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
			if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_VIEW)
				return;			/* PostgreSQL's own error will do */

			if (OidIsValid(ddl_view_storage(relid)))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot change option \"%s\" of continuous view \"%s\"",
								def->defname, stmt->relation->relname),
						 errhint("Drop the view and create it again with the new options.")));
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot make existing view \"%s\" continuous",
							stmt->relation->relname),
					 errhint("Create a new view with CREATE VIEW ... WITH (continuous) AS SELECT ....")));
		}
	}
}

/* The storage table of a continuous view; InvalidOid for other relations. */
Oid
ddl_view_storage(Oid relid)
{
	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_VIEW)
		return InvalidOid;
	return ddl_catalog_storage_of_view(relid);
}
