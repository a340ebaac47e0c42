/*-------------------------------------------------------------------------
 *
 * ddl_view_check.c
 *	  What a continuous view's SELECT may contain, and the errors that say
 *	  what it may not.
 *
 * Pipeline position: DDL.  ddl_view.c calls these checks on the analysed
 * SELECT of CREATE VIEW ... WITH (continuous) before it creates anything.
 * What passes can be maintained incrementally: WHERE, group keys and
 * aggregate arguments per event (batch.c), aggregate states combined batch
 * by batch (flush.c), and everything else applied to the stored groups when
 * the view is read.  Each refusal names the construct and, where there is
 * one, the alternative; most constructs can be applied when reading the
 * view instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_aggregate.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parse_relation.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "ddl/ddl_catalog.h"
#include "ddl/ddl_view_check.h"
#include "ddl/ddl_view_join.h"
#include "ddl/stream_guard.h"
#include "ddl/view_chain.h"
#include "plan/agg_support.h"
#include "plan/plan_types.h"
#include "source/kafka/kafka_options.h"
#include "window/window_registry.h"

/* ungrouped_var_walker() */
typedef struct UngroupedContext
{
	Query	   *query;
	ParseState *pstate;
} UngroupedContext;

/* find_node() */
typedef struct FindNodeContext
{
	bool		(*match) (Node *node);
	Node	   *found;
} FindNodeContext;

static void check_query_shape(ParseState *pstate, Query *query);
static void check_aggregates(ParseState *pstate, Query *query);
static bool check_aggregates_walker(Node *node, ParseState *pstate);
static void check_volatility(ParseState *pstate, Query *query);
static Oid	check_from_clause(Query *query);
static void check_grouping(ParseState *pstate, Query *query);
static bool ungrouped_var_walker(Node *node, UngroupedContext *context);
static Node *find_node(Node *node, bool (*match) (Node *));
static bool find_node_walker(Node *node, FindNodeContext *context);
static bool is_sublink(Node *node);
static bool is_window_function(Node *node);
static bool is_grouping_function(Node *node);
static bool is_set_returning_call(Node *node);
static bool is_volatile_function(Oid funcid, void *context);
static bool calls_volatile_function(Node *node);
static bool remember_volatile_function(Oid funcid, void *context);

/*
 * Refuse, with an error that names the construct, a SELECT that cannot be
 * maintained as a continuous view.  Returns the stream it reads.
 */
Oid
ddl_view_check_query(ParseState *pstate, Query *query)
{
	Oid			stream;

	check_query_shape(pstate, query);
	check_aggregates(pstate, query);
	check_volatility(pstate, query);
	stream = check_from_clause(query);
	check_grouping(pstate, query);
	window_registry_check_query(pstate, query);
	return stream;
}

/*
 * Clauses that make a SELECT more than "aggregate the events of one stream
 * per group".  Most of them can be applied when reading the view instead.
 */
static void
check_query_shape(ParseState *pstate, Query *query)
{
	Node	   *found;

	if (query->utilityStmt != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views must not contain SELECT INTO")));
	if (query->commandType != CMD_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views must be defined by a SELECT")));

	if (query->setOperations != NULL)
	{
		SetOperationStmt *setop = castNode(SetOperationStmt,
										   query->setOperations);

		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s is not supported in continuous views",
						setop->op == SETOP_UNION ? "UNION" :
						setop->op == SETOP_INTERSECT ? "INTERSECT" : "EXCEPT"),
				 errhint("Create a continuous view for each SELECT, and combine them when reading.")));
	}
	if (query->cteList != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("WITH queries are not supported in continuous views"),
				 errhint("Define the continuous view over the stream itself; an ordinary view over the continuous view can process its rows further."),
				 parser_errposition(pstate,
									exprLocation(linitial(query->cteList)))));
	if (query->hasSubLinks)
	{
		found = find_node((Node *) query, is_sublink);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("subqueries are not supported in continuous views"),
				 errhint("Define the continuous view over the stream itself; an ordinary view over the continuous view can process its rows further."),
				 parser_errposition(pstate, exprLocation(found))));
	}
	if (query->hasWindowFuncs)
	{
		found = find_node((Node *) query, is_window_function);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("window functions are not supported in continuous views"),
				 errhint("Apply window functions (OVER) when reading the view. For windows of event time, group by continuous.tumble()."),
				 parser_errposition(pstate, exprLocation(found))));
	}
	if (query->hasDistinctOn)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("DISTINCT ON is not supported in continuous views"),
				 errhint("Apply DISTINCT ON when reading the view.")));
	if (query->distinctClause != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("SELECT DISTINCT is not supported in continuous views"),
				 errhint("Use GROUP BY, or apply DISTINCT when reading the view.")));
	if (query->sortClause != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ORDER BY is not supported in continuous views"),
				 errhint("Sort when reading the view, with SELECT ... ORDER BY.")));
	if (query->limitCount != NULL || query->limitOffset != NULL)
	{
		const char *clause;
		Node	   *expr;

		if (query->limitCount != NULL)
		{
			clause = query->limitOption == LIMIT_OPTION_WITH_TIES ?
				"FETCH FIRST ... WITH TIES" : "LIMIT";
			expr = query->limitCount;
		}
		else
		{
			clause = "OFFSET";
			expr = query->limitOffset;
		}
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s is not supported in continuous views", clause),
				 errhint("Apply %s when reading the view.", clause),
				 parser_errposition(pstate, exprLocation(expr))));
	}
	if (query->groupingSets != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("GROUPING SETS, ROLLUP and CUBE are not supported in continuous views"),
				 errhint("Create a continuous view for each grouping set."),
				 parser_errposition(pstate,
									exprLocation(linitial(query->groupingSets)))));
	found = find_node((Node *) query, is_grouping_function);
	if (found != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("GROUPING() is not supported in continuous views"),
				 parser_errposition(pstate, exprLocation(found))));
	if (query->hasTargetSRFs)
	{
		const char *hint = NULL;

		found = find_node((Node *) query->targetList, is_set_returning_call);
		if (IsA(found, FuncExpr))
			hint = window_registry_function_hint(((FuncExpr *) found)->funcid);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-returning functions are not supported in continuous views"),
				 hint ? errhint("%s", hint) : 0,
				 parser_errposition(pstate, exprLocation(found))));
	}
	if (query->rowMarks != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s is not supported in continuous views",
						LCS_asString(linitial_node(RowMarkClause,
												   query->rowMarks)->strength))));
}

/*
 * Aggregates are kept as transition states and combined batch by batch, in
 * no particular order; an aggregate qualifies if that gives the same result
 * as running it once over all events.
 */
static void
check_aggregates(ParseState *pstate, Query *query)
{
	(void) query_tree_walker(query, check_aggregates_walker, pstate, 0);
}

static bool
check_aggregates_walker(Node *node, ParseState *pstate)
{
	Aggref	   *aggref;
	const char *reason;

	if (node == NULL)
		return false;
	if (!IsA(node, Aggref))
		return expression_tree_walker(node, check_aggregates_walker, pstate);

	aggref = (Aggref *) node;
	if (aggref->aggkind != AGGKIND_NORMAL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s aggregate %s is not supported in continuous views",
						aggref->aggkind == AGGKIND_HYPOTHETICAL ?
						"hypothetical-set" : "ordered-set",
						format_procedure(aggref->aggfnoid)),
				 errdetail("Its result depends on all values of a group at once, so it cannot be computed from partial states."),
				 parser_errposition(pstate, aggref->location)));
	if (aggref->aggdistinct != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("DISTINCT aggregates are not supported in continuous views"),
				 errhint("Add the expression to GROUP BY instead, and aggregate the rows of the view when reading it."),
				 parser_errposition(pstate, aggref->location)));
	if (aggref->aggorder != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ORDER BY in aggregate %s is not supported in continuous views",
						format_procedure(aggref->aggfnoid)),
				 errdetail("Events are aggregated in batches as they arrive, not in a chosen order."),
				 parser_errposition(pstate, aggref->location)));

	reason = agg_support_unsupported_reason(aggref->aggfnoid);
	if (reason != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("aggregate %s is not supported in continuous views",
						format_procedure(aggref->aggfnoid)),
				 errdetail("It cannot be computed incrementally because %s.",
						   reason),
				 errhint("Continuous views need aggregates with a combine function (CREATE AGGREGATE ... COMBINEFUNC), and with serialization functions when the state is of type internal."),
				 parser_errposition(pstate, aggref->location)));

	/* the arguments hold no aggregate of this query level */
	return false;
}

/*
 * Each event is evaluated once, when it arrives; a volatile function would
 * make the view differ from its SELECT run as a batch query.
 */
static void
check_volatility(ParseState *pstate, Query *query)
{
	Node	   *call = find_node((Node *) query, calls_volatile_function);
	Oid			funcid = InvalidOid;

	if (call == NULL)
		return;
	(void) check_functions_in_node(call, remember_volatile_function, &funcid);
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("volatile function %s is not supported in continuous views",
					format_procedure(funcid)),
			 errdetail("Each event is evaluated once, when it arrives, so a volatile function could give results that differ from the defining query run as a batch."),
			 errhint("Use a stable or immutable function, or compute the value when writing to the stream."),
			 parser_errposition(pstate, exprLocation(call))));
}

/*
 * The one FROM item must be a stream, a stream joined to tables
 * (ddl_view_join.c), or a stream joined with a window kind's function
 * (window_registry.c); returns the stream's relid.
 */
static Oid
check_from_clause(Query *query)
{
	List	   *fromlist = query->jointree->fromlist;
	RangeTblRef *stream = ddl_view_check_joins(query);
	RangeTblEntry *rte;
	char	   *relname;

	if (fromlist == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views must read a stream"),
				 errhint("Add a FROM clause that names a stream.")));
	if (stream == NULL)
		stream = window_registry_check_from(query);
	if (stream == NULL &&
		(list_length(fromlist) > 1 || !IsA(linitial(fromlist), RangeTblRef)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views read exactly one stream"),
				 errdetail("FROM lists of more than one item are not supported."),
				 errhint("Join tables to the stream with JOIN ... ON.")));
	if (stream == NULL)
		stream = linitial_node(RangeTblRef, fromlist);

	rte = rt_fetch(stream->rtindex, query->rtable);
	switch (rte->rtekind)
	{
		case RTE_RELATION:
			break;
		case RTE_SUBQUERY:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("subqueries in FROM are not supported in continuous views"),
					 errhint("Define the continuous view over the stream itself; an ordinary view over the continuous view can process its rows further.")));
			break;
		case RTE_FUNCTION:
		case RTE_TABLEFUNC:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("functions in FROM are not supported in continuous views")));
			break;
		case RTE_VALUES:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("VALUES in FROM is not supported in continuous views")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("continuous views must read a stream")));
	}

	relname = get_rel_name(rte->relid);
	if (rte->relkind == RELKIND_FOREIGN_TABLE)
	{
		if (!kafka_is_stream_table(rte->relid))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("foreign table \"%s\" is not a stream", relname),
					 errdetail("Foreign tables are streams only if their foreign-data wrapper is \"%s\".",
							   KAFKA_FDW_NAME)));
		/* the options must fit the columns; the first view registers it */
		(void) kafka_stream_options(rte->relid);
	}
	else if (rte->relkind == RELKIND_VIEW &&
			 view_chain_check_source(rte->relid))
		return rte->relid;		/* its closed windows (view_chain.c) */
	else if (rte->relkind != RELKIND_RELATION &&
			 rte->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a stream", relname),
				 errdetail_relkind_not_supported(rte->relkind)));
	else if (!ddl_catalog_is_stream(rte->relid))
	{
		Oid			above = stream_guard_stream_above(rte->relid);

		if (OidIsValid(above))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("table \"%s\" is not a stream", relname),
					 errdetail("It is a partition of stream \"%s\", whose events are the rows of all its partitions.",
							   get_rel_name(above)),
					 errhint("Read %s in the continuous view; a WHERE clause can select the rows of this partition.",
							 ddl_relation_display_name(above))));
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("table \"%s\" is not a stream", relname),
				 errhint("Make it a stream first: SELECT continuous.create_stream(%s);",
						 quote_literal_cstr(ddl_relation_display_name(rte->relid)))));
	}
	else if (rte->relkind == RELKIND_PARTITIONED_TABLE && !rte->inh)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views cannot read ONLY \"%s\"", relname),
				 errdetail("\"%s\" is partitioned: its rows are those of its partitions, which ONLY leaves out.",
						   relname),
				 errhint("Remove ONLY.")));
	if (rte->tablesample != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("TABLESAMPLE is not supported in continuous views")));
	stream_guard_check_view_stream(rte->relid);

	return rte->relid;
}

/*
 * A continuous view that aggregates keeps one row of aggregate states per group, and its
 * SELECT list and HAVING may use only what that row holds: group keys and
 * aggregates.  PostgreSQL's analysis has checked this already, except that
 * it accepts columns that depend on a grouped primary key, which the stored
 * row does not have.
 */
static void
check_grouping(ParseState *pstate, Query *query)
{
	UngroupedContext context;

	/* a transform keeps its rows, there is nothing to group (stage_append.c) */
	if (continuous_query_is_transform(query))
		return;

	context.query = query;
	context.pstate = pstate;
	(void) ungrouped_var_walker((Node *) query->targetList, &context);
	(void) ungrouped_var_walker(query->havingQual, &context);
}

static bool
ungrouped_var_walker(Node *node, UngroupedContext *context)
{
	ListCell   *lc;

	if (node == NULL || IsA(node, Aggref))
		return false;
	foreach(lc, context->query->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);

		if (equal(node, get_sortgroupclause_expr(sgc,
												 context->query->targetList)))
			return false;
	}
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;
		RangeTblEntry *rte = rt_fetch(var->varno, context->query->rtable);

		ereport(ERROR,
				(errcode(ERRCODE_GROUPING_ERROR),
				 errmsg("column \"%s.%s\" must appear in the GROUP BY clause or be used in an aggregate function",
						rte->eref->aliasname,
						var->varattno == 0 ? "*" :
						get_rte_attribute_name(rte, var->varattno)),
				 errdetail("Continuous views do not use functional dependencies on a primary key."),
				 parser_errposition(context->pstate, var->location)));
	}
	return expression_tree_walker(node, ungrouped_var_walker, context);
}

/* Group keys become columns under a unique btree index. */
void
ddl_view_check_keys(ContinuousPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);

		if (get_typtype(key->type) == TYPTYPE_PSEUDO)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("GROUP BY expression of type %s is not supported in continuous views",
							format_type_be(key->type)),
					 errdetail("Group keys are stored in table columns, which cannot have a pseudo-type.")));
		if (!OidIsValid(GetDefaultOpClass(key->type, BTREE_AM_OID)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("GROUP BY expression of type %s is not supported in continuous views",
							format_type_be(key->type)),
					 errdetail("Group keys are stored under a unique btree index, and type %s has no default btree operator class.",
							   format_type_be(key->type)),
					 errhint("Cast the expression to a type that has one, such as text.")));
	}
}

/* The first node in a tree, subqueries included, that match accepts. */
static Node *
find_node(Node *node, bool (*match) (Node *))
{
	FindNodeContext context;

	context.match = match;
	context.found = NULL;
	(void) find_node_walker(node, &context);
	return context.found;
}

static bool
find_node_walker(Node *node, FindNodeContext *context)
{
	if (node == NULL)
		return false;
	if (context->match(node))
	{
		context->found = node;
		return true;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, find_node_walker, context, 0);
	return expression_tree_walker(node, find_node_walker, context);
}

static bool
is_sublink(Node *node)
{
	return IsA(node, SubLink);
}

static bool
is_window_function(Node *node)
{
	return IsA(node, WindowFunc);
}

static bool
is_grouping_function(Node *node)
{
	return IsA(node, GroupingFunc);
}

static bool
is_set_returning_call(Node *node)
{
	return (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcretset) ||
		(IsA(node, OpExpr) && ((OpExpr *) node)->opretset);
}

/*
 * A window kind's function may be volatile for batch queries, which it
 * refuses, where the worker computes it itself (window_registry.c).
 */
static bool
is_volatile_function(Oid funcid, void *context)
{
	return func_volatile(funcid) == PROVOLATILE_VOLATILE &&
		!window_registry_computes_function(funcid);
}

static bool
calls_volatile_function(Node *node)
{
	return check_functions_in_node(node, is_volatile_function, NULL);
}

static bool
remember_volatile_function(Oid funcid, void *context)
{
	if (!is_volatile_function(funcid, NULL))
		return false;
	*(Oid *) context = funcid;
	return true;
}
