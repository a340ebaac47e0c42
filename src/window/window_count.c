/*-------------------------------------------------------------------------
 *
 * window_count.c
 *	  Count windows: continuous.count_window(n) as a group key numbers each
 *	  key's consecutive runs of n events, 0, 1, 2, ..., in delivery order.
 *
 * Pipeline position: windows, with a little state of its own.  The number
 * of an event's window depends on how many events of its key came before
 * it: for the worker that is a running count per key (the view's other
 * group keys), advanced in delivery order (commit order, and insert order
 * within a transaction).  A batch query has no such order, so the SQL
 * function only raises an error that says so and shows the batch
 * equivalent, (row_number() OVER (PARTITION BY key ORDER BY ...) - 1) / n.
 *
 * The running counts are state like the aggregates: a batch loads the
 * count of each key it meets from continuous_storage.<view>_counts (one
 * row per key; internal to the storage table, so DROP VIEW drops both) and
 * writes the new counts back in the flush transaction that writes the
 * groups, so after a crash numbering resumes exactly where the committed
 * state ends.  Only events that reach their group count: events filtered
 * out by WHERE, dead letters and late events take no number.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_node.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "base/extension_catalog.h"
#include "base/privileges.h"
#include "ddl/ddl_catalog.h"
#include "exec/view_groups.h"
#include "window/window_kind.h"

/* A view's count window at run time (WindowRuntime.state). */
typedef struct CountWindowRuntime
{
	Oid			counts;			/* continuous_storage.<view>_counts */
	AttrNumber	events_attno;	/* its count column, the last */
	TupleHashTable counters;	/* keys -> int64 events so far */
	TupleTableSlot *key_slot;	/* an event's keys, to look up */
	TupleTableSlot *entry_slot; /* a counter's keys, when iterating */
	char	   *upsert;			/* writes the counts of a batch */
	Oid		   *upsert_types;
} CountWindowRuntime;

/* count_window_check_walker() */
typedef struct CountWindowCheck
{
	ParseState *pstate;
	FuncExpr   *grouped;		/* the call that is a group key */
	bool		allowed;		/* may the call appear here, as that key? */
} CountWindowCheck;

PG_FUNCTION_INFO_V1(continuous_count_window);

static bool count_window_is_function(Oid funcid);
static void count_window_check_query(ParseState *pstate, Query *query);
static bool count_window_recognise(ContinuousPlan *plan, PlanWindow *window);
static char *count_window_describe(ContinuousPlan *plan, PlanWindow *window);
static Oid	count_window_create_storage(ContinuousPlan *plan,
										PlanWindow *window,
										const char *view_name, Oid storage);
static Oid	count_window_counts_table(Oid storage);
static Expr *count_window_placeholder(PlanWindow *window, Expr *expr);
static void *count_window_runtime_create(ViewRuntime *vr, WindowRuntime *wr);
static void count_window_assign(ViewRuntime *vr, WindowRuntime *wr,
								TupleTableSlot *proj);
static void count_window_reset(ViewRuntime *vr, WindowRuntime *wr);
static void count_window_flush(ViewRuntime *vr, WindowRuntime *wr);
static bool count_window_check_walker(Node *node, CountWindowCheck *check);
static bool is_count_window_call(Node *node);
static int64 count_window_load(ViewRuntime *vr, WindowRuntime *wr,
							   TupleTableSlot *keys);
static char *counts_upsert_sql(ViewRuntime *vr, CountWindowRuntime *cw,
							   Oid **argtypes);

/*
 * A count window never closes by event time; its state beside the
 * aggregates is a running count per key, in a table of its own.
 */
const WindowKind count_window_kind = {
	.name = "count_window",
	.groups_settle = true,
	.delivery_order = true,
	.check_query = count_window_check_query,
	.computes_function = count_window_is_function,
	.recognise = count_window_recognise,
	.describe = count_window_describe,
	.create_side_table = count_window_create_storage,
	.side_table = count_window_counts_table,
	.key_input = count_window_placeholder,
	.runtime_create = count_window_runtime_create,
	.assign = count_window_assign,
	.batch_reset = count_window_reset,
	.flush_side_state = count_window_flush,
};

/*
 * continuous.count_window(n): only the worker knows an event's place in its
 * key's sequence of events.
 */
Datum
continuous_count_window(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("continuous.count_window() can only be used in continuous views"),
			 errdetail("Its value depends on how many events of the same group were delivered before each one."),
			 errhint("In a batch query, number the rows with (row_number() OVER (PARTITION BY key ORDER BY arrival) - 1) / %lld.",
					 (long long) PG_GETARG_INT64(0))));
	PG_RETURN_NULL();
}

/*
 * Is funcid continuous.count_window()?  It is volatile for batch queries,
 * which it refuses; in a continuous view the worker numbers the runs.
 */
static bool
count_window_is_function(Oid funcid)
{
	return continuous_function_is(funcid, "count_window");
}

static bool
is_count_window_call(Node *node)
{
	return node != NULL && IsA(node, FuncExpr) &&
		count_window_is_function(((FuncExpr *) node)->funcid);
}

/* ------------------------------------------------------------------------
 * CREATE VIEW
 * ------------------------------------------------------------------------
 */

/*
 * For CREATE VIEW: continuous.count_window(n), if the query calls it, must
 * be a whole GROUP BY expression with a constant n > 0, used once, and
 * nowhere else but in the SELECT list and HAVING as that group key.
 */
static void
count_window_check_query(ParseState *pstate, Query *query)
{
	CountWindowCheck check = {pstate, NULL, false};
	ListCell   *lc;

	foreach(lc, query->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		Node	   *expr = get_sortgroupclause_expr(sgc, query->targetList);
		Node	   *size;

		if (!is_count_window_call(expr))
			continue;
		if (check.grouped != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a continuous view can group by only one continuous.count_window()"),
					 parser_errposition(pstate, exprLocation(expr))));
		check.grouped = (FuncExpr *) expr;
		size = eval_const_expressions(NULL, linitial(check.grouped->args));
		if (!IsA(size, Const) || ((Const *) size)->constisnull)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("the size of continuous.count_window() must be a constant"),
					 parser_errposition(pstate, exprLocation(expr))));
		if (DatumGetInt64(((Const *) size)->constvalue) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("count window size must be greater than zero"),
					 parser_errposition(pstate, exprLocation(expr))));
	}

	/*
	 * The worker computes group keys, aggregate arguments and WHERE per
	 * event, where the call has no value but as the count window key; the
	 * read view replaces that key wherever the SELECT list or HAVING use it.
	 */
	foreach(lc, query->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		Node	   *expr = get_sortgroupclause_expr(sgc, query->targetList);

		if (expr != (Node *) check.grouped)
			(void) count_window_check_walker(expr, &check);
	}
	(void) count_window_check_walker(query->jointree->quals, &check);
	check.allowed = true;
	(void) count_window_check_walker((Node *) query->targetList, &check);
	(void) count_window_check_walker(query->havingQual, &check);
}

static bool
count_window_check_walker(Node *node, CountWindowCheck *check)
{
	if (node == NULL)
		return false;
	if (is_count_window_call(node))
	{
		if (!check->allowed || check->grouped == NULL ||
			!equal(node, check->grouped))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("continuous.count_window() must be a GROUP BY expression of its own"),
					 errdetail("It numbers the runs of events of each group: GROUP BY key, continuous.count_window(n)."),
					 parser_errposition(check->pstate, exprLocation(node))));
		return false;
	}
	if (IsA(node, Aggref))
	{
		bool		allowed = check->allowed;

		check->allowed = false;
		(void) expression_tree_walker(node, count_window_check_walker, check);
		check->allowed = allowed;
		return false;
	}
	return expression_tree_walker(node, count_window_check_walker, check);
}

/* The count window key, with its size n (PlanWindow.private). */
static bool
count_window_recognise(ContinuousPlan *plan, PlanWindow *window)
{
	ListCell   *lc;

	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);

		if (is_count_window_call((Node *) key->expr))
		{
			Const	   *size = (Const *) eval_const_expressions(NULL,
																linitial(((FuncExpr *) key->expr)->args));
			int64	   *count_size = palloc(sizeof(int64));

			*count_size = DatumGetInt64(castNode(Const, size)->constvalue);
			window->key = foreach_current_index(lc);
			window->private = count_size;
			return true;
		}
	}
	return false;
}

static char *
count_window_describe(ContinuousPlan *plan, PlanWindow *window)
{
	return psprintf("count_window " INT64_FORMAT, *(int64 *) window->private);
}

/*
 * The per-key running counts live in a table beside the storage table,
 * continuous_storage.<view>_counts, internal to the storage table
 * (view_dependencies.c records that): written in the flush transaction
 * with the state, so numbering survives restarts.  It holds the storage
 * table's other key columns, and the count.  Like the storage table, it
 * belongs to the extension; only the worker reads it.
 */
static Oid
count_window_create_storage(ContinuousPlan *plan, PlanWindow *window,
							const char *view_name, Oid storage)
{
	Oid			namespace = get_namespace_oid(CONTINUOUS_STORAGE_SCHEMA, false);
	const char *schema = quote_identifier(CONTINUOUS_STORAGE_SCHEMA);
	char	   *name;
	char	   *qualified;
	const char *events = "events";
	StringInfoData columns;
	ExtensionPrivileges saved;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&columns);
	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);

		if (i++ == window->key)
			continue;
		appendStringInfo(&columns, "%s%s", columns.len > 0 ? ", " : "",
						 quote_identifier(key->column));
		if (strcmp(key->column, events) == 0)
			events = "count_window_events";
	}

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	name = ChooseRelationName(view_name, NULL, "counts", namespace, false);
	qualified = psprintf("%s.%s", schema, quote_identifier(name));
	if (SPI_execute(psprintf("CREATE TABLE %s AS SELECT %s%s0::pg_catalog.int8 AS %s "
							 "FROM %s.%s WITH NO DATA",
							 qualified, columns.data, columns.len > 0 ? ", " : "",
							 quote_identifier(events), schema,
							 quote_identifier(get_rel_name(storage))),
					false, 0) < 0)
		elog(ERROR, "could not create the count window table of \"%s\"", view_name);
	if (columns.len > 0)
	{
		if (SPI_execute(psprintf("CREATE UNIQUE INDEX ON %s (%s) NULLS NOT DISTINCT",
								 qualified, columns.data), false, 0) < 0)
			elog(ERROR, "could not index the count window table of \"%s\"", view_name);
	}
	else if (SPI_execute(psprintf("INSERT INTO %s VALUES (0)", qualified),
						 false, 0) < 0)
		elog(ERROR, "could not fill the count window table of \"%s\"", view_name);

	SPI_finish();
	privileges_leave_extension(&saved);

	return get_relname_relid(name, namespace);
}

/* The table of counts: the one relation internal to the storage table. */
static Oid
count_window_counts_table(Oid storage)
{
	Relation	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			counts = InvalidOid;

	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(storage));
	scan = systable_beginscan(depend, DependReferenceIndexId, true, NULL, 2, key);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tuple);

		/* its TOAST table is internal to it too */
		if (dep->classid == RelationRelationId && dep->objsubid == 0 &&
			dep->deptype == DEPENDENCY_INTERNAL &&
			get_rel_relkind(dep->objid) == RELKIND_RELATION)
		{
			counts = dep->objid;
			break;
		}
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);
	return counts;
}

/* ------------------------------------------------------------------------
 * Run time
 * ------------------------------------------------------------------------
 */

/* What the projection computes in place of the call: numbered later. */
static Expr *
count_window_placeholder(PlanWindow *window, Expr *expr)
{
	return (Expr *) makeConst(INT8OID, -1, InvalidOid, sizeof(int64),
							  Int64GetDatum(0), false, FLOAT8PASSBYVAL);
}

static void *
count_window_runtime_create(ViewRuntime *vr, WindowRuntime *wr)
{
	CountWindowRuntime *cw = palloc0(sizeof(CountWindowRuntime));
	TupleDesc	keydesc = vr->key_desc;

	cw->counts = count_window_counts_table(vr->storage);
	if (!OidIsValid(cw->counts))
		elog(ERROR, "continuous view \"%s\" has no table of count window counts",
			 vr->name);
	cw->events_attno = vr->nkeys;	/* the other keys, then the count */
	cw->counters = view_key_hash_table(vr);
	cw->key_slot = MakeSingleTupleTableSlot(keydesc, &TTSOpsVirtual);
	cw->entry_slot = MakeSingleTupleTableSlot(keydesc, &TTSOpsMinimalTuple);
	cw->upsert = counts_upsert_sql(vr, cw, &cw->upsert_types);
	return cw;
}

/*
 * Number the event whose keys (the count window's still the placeholder)
 * are in proj, and set the count window key there.
 */
static void
count_window_assign(ViewRuntime *vr, WindowRuntime *wr, TupleTableSlot *proj)
{
	CountWindowRuntime *cw = wr->state;
	int			count_key = wr->window->key;
	int64		count_size = *(int64 *) wr->window->private;
	TupleTableSlot *keys = cw->key_slot;
	TupleHashEntry entry;
	bool		isnew;
	int64	   *events;
	int			i;

	/* the count window key is the placeholder: the same in every event */
	ExecClearTuple(keys);
	for (i = 0; i < vr->nkeys; i++)
	{
		keys->tts_values[i] = proj->tts_values[i];
		keys->tts_isnull[i] = proj->tts_isnull[i];
	}
	ExecStoreVirtualTuple(keys);
	entry = LookupTupleHashEntry(cw->counters, keys, &isnew, NULL);
	if (isnew)
	{
		entry->additional = MemoryContextAlloc(vr->state_cxt, sizeof(int64));
		*(int64 *) entry->additional = count_window_load(vr, wr, keys);
	}
	events = entry->additional;

	proj->tts_values[count_key] = Int64GetDatum(*events / count_size);
	proj->tts_isnull[count_key] = false;
	(*events)++;
}

/* The count of a key before this batch, from the table of counts. */
static int64
count_window_load(ViewRuntime *vr, WindowRuntime *wr, TupleTableSlot *keys)
{
	CountWindowRuntime *cw = wr->state;
	int			count_key = wr->window->key;
	Relation	rel = table_open(cw->counts, AccessShareLock);
	TupleTableSlot *found = table_slot_create(rel, NULL);
	Snapshot	snapshot = GetActiveSnapshot();
	List	   *indexes = RelationGetIndexList(rel);
	bool		isnull;
	bool		exists;
	int64		events = 0;

	if (indexes == NIL)
	{
		/* no other keys: one row */
		TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);

		exists = table_scan_getnextslot(scan, ForwardScanDirection, found);
		if (exists)
			events = DatumGetInt64(slot_getattr(found, cw->events_attno, &isnull));
		table_endscan(scan);
	}
	else
	{
		Relation	index = index_open(linitial_oid(indexes), AccessShareLock);
		int			nkeys = index->rd_index->indnkeyatts;
		ScanKeyData skeys[INDEX_MAX_KEYS];
		IndexScanDesc scan;
		int			i;

		for (i = 0; i < nkeys; i++)
		{
			AttrNumber	attno = index->rd_index->indkey.values[i];
			int			k = attno - 1 < count_key ? attno - 1 : attno;
			Oid			eqop = get_opfamily_member(index->rd_opfamily[i],
												   index->rd_opcintype[i],
												   index->rd_opcintype[i],
												   BTEqualStrategyNumber);

			if (keys->tts_isnull[k])
				ScanKeyEntryInitialize(&skeys[i], SK_ISNULL | SK_SEARCHNULL,
									   i + 1, InvalidStrategy, InvalidOid,
									   InvalidOid, InvalidOid, (Datum) 0);
			else
				ScanKeyEntryInitialize(&skeys[i], 0, i + 1,
									   BTEqualStrategyNumber, InvalidOid,
									   index->rd_indcollation[i],
									   get_opcode(eqop), keys->tts_values[k]);
		}
		scan = index_beginscan(rel, index, snapshot, nkeys, 0);
		index_rescan(scan, skeys, nkeys, NULL, 0);
		exists = index_getnext_slot(scan, ForwardScanDirection, found);
		if (exists)
			events = DatumGetInt64(slot_getattr(found, cw->events_attno, &isnull));
		index_endscan(scan);
		index_close(index, AccessShareLock);
	}

	list_free(indexes);
	ExecDropSingleTupleTableSlot(found);
	table_close(rel, AccessShareLock);
	return events;
}

/*
 * One statement writes every count of a batch: the keys and counts go in
 * as arrays, one per column, and ROWS FROM (unnest(), ...) makes rows of
 * them again.
 */
static char *
counts_upsert_sql(ViewRuntime *vr, CountWindowRuntime *cw, Oid **argtypes)
{
	Relation	rel = table_open(cw->counts, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	char	   *table = psprintf("%s.%s", quote_identifier(CONTINUOUS_STORAGE_SCHEMA),
								 quote_identifier(RelationGetRelationName(rel)));
	const char *events = quote_identifier(NameStr(TupleDescAttr(desc, cw->events_attno - 1)->attname));
	StringInfoData sql;
	StringInfoData keys;
	int			i;

	*argtypes = palloc(sizeof(Oid) * vr->nkeys);
	initStringInfo(&keys);
	for (i = 0; i < cw->events_attno; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);

		(*argtypes)[i] = get_array_type(attr->atttypid);
		if (!OidIsValid((*argtypes)[i]))
			elog(ERROR, "type %s of a key of continuous view \"%s\" has no array type",
				 format_type_be(attr->atttypid), vr->name);
		if (i < cw->events_attno - 1)
			appendStringInfo(&keys, "%s%s", i > 0 ? ", " : "",
							 quote_identifier(NameStr(attr->attname)));
	}
	table_close(rel, AccessShareLock);

	initStringInfo(&sql);
	if (vr->nkeys == 1)
	{
		appendStringInfo(&sql, "UPDATE %s SET %s = $1[1]", table, events);
		return sql.data;
	}
	appendStringInfo(&sql, "INSERT INTO %s SELECT * FROM ROWS FROM (", table);
	for (i = 0; i < vr->nkeys; i++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d)", i > 0 ? ", " : "", i + 1);
	appendStringInfo(&sql, ") ON CONFLICT (%s) DO UPDATE SET %s = excluded.%s",
					 keys.data, events, events);
	return sql.data;
}

/* Forget the batch's counts (after its flush, or to run it again). */
static void
count_window_reset(ViewRuntime *vr, WindowRuntime *wr)
{
	CountWindowRuntime *cw = wr->state;

	ResetTupleHashTable(cw->counters);
}

/* Write the batch's counts; in the flush transaction, SPI connected. */
static void
count_window_flush(ViewRuntime *vr, WindowRuntime *wr)
{
	CountWindowRuntime *cw = wr->state;
	int			count_key = wr->window->key;
	TupleHashIterator iter;
	TupleHashEntry entry;
	Datum	  **values;
	bool	  **nulls;
	Datum	   *args;
	int			n = 0;
	int			row;
	int			col;

	InitTupleHashIterator(cw->counters, &iter);
	while (ScanTupleHashTable(cw->counters, &iter) != NULL)
		n++;
	TermTupleHashIterator(&iter);
	if (n == 0)
		return;

	/* column col of the table of counts: plan key col, or col + 1 after the count key */
	values = palloc(sizeof(Datum *) * vr->nkeys);
	nulls = palloc(sizeof(bool *) * vr->nkeys);
	for (col = 0; col < vr->nkeys; col++)
	{
		values[col] = palloc(sizeof(Datum) * n);
		nulls[col] = palloc0(sizeof(bool) * n);
	}
	row = 0;
	InitTupleHashIterator(cw->counters, &iter);
	while ((entry = ScanTupleHashTable(cw->counters, &iter)) != NULL)
	{
		TupleTableSlot *slot = cw->entry_slot;

		ExecStoreMinimalTuple(entry->firstTuple, slot, false);
		slot_getallattrs(slot);
		for (col = 0; col < vr->nkeys - 1; col++)
		{
			int			k = col < count_key ? col : col + 1;

			values[col][row] = slot->tts_values[k];
			nulls[col][row] = slot->tts_isnull[k];
		}
		values[vr->nkeys - 1][row] = Int64GetDatum(*(int64 *) entry->additional);
		row++;
	}
	TermTupleHashIterator(&iter);

	args = palloc(sizeof(Datum) * vr->nkeys);
	for (col = 0; col < vr->nkeys; col++)
	{
		Oid			elemtype = get_element_type(cw->upsert_types[col]);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		int			lbound = 1;

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		args[col] = PointerGetDatum(construct_md_array(values[col], nulls[col],
													   1, &n, &lbound, elemtype,
													   typlen, typbyval,
													   typalign));
	}
	if (SPI_execute_with_args(cw->upsert, vr->nkeys, cw->upsert_types, args,
							  NULL, false, 0) < 0)
		elog(ERROR, "pg_continuous: could not write the count window counts of \"%s\"",
			 vr->name);
}
