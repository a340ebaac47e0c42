/*-------------------------------------------------------------------------
 *
 * ddl_view_join.c
 *	  What a continuous view may join to its stream, and the errors that
 *	  say what it may not.
 *
 * Pipeline position: DDL, called by ddl_view_check.c on the FROM clause
 * of CREATE VIEW ... WITH (continuous).  A view may join its stream to
 * ordinary tables, INNER or LEFT, left-deep with the stream first:
 * "stream JOIN t1 ON ... LEFT JOIN t2 ON ...".  Each join needs an
 * equality between a column of the table and an expression of what comes
 * before it, by which the lookup join stage (stage_lookup_join.c) finds
 * the table's rows for a batch of events at once; other conditions are
 * checked per candidate row.
 *
 * A view may also join its stream with one other table stream, INNER, on
 * an equality key and a bounded event-time condition (an interval join,
 * plan_interval.c reads the condition), and tables after the two:
 * "s1 JOIN s2 ON ... [LEFT] JOIN t ON ...".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "ddl/ddl_catalog.h"
#include "ddl/ddl_view_join.h"
#include "plan/plan_interval.h"
#include "plan/plan_join.h"
#include "source/kafka/kafka_options.h"

static bool is_stream(Oid relid);
static RangeTblEntry *joined_stream(Query *query, JoinExpr *join);
static void check_joined_relation(Query *query, JoinExpr *join, Oid stream);
static void check_join_keys(Query *query, JoinExpr *join);
static bool odd_var_walker(Node *node, Query *query);
static bool check_interval_join(Query *query, List *joins,
								RangeTblEntry *first_rte);

#define JOIN_HINT "Join tables to the stream first in FROM: FROM stream s JOIN t ON t.key = s.key [LEFT JOIN u ON ...]."

RangeTblRef *
ddl_view_check_joins(Query *query)
{
	List	   *fromlist = query->jointree->fromlist;
	List	   *joins = NIL;
	Node	   *item;
	RangeTblRef *first;
	RangeTblEntry *first_rte;
	bool		joins_table = false;
	bool		has_function = false;
	ListCell   *lc;

	if (list_length(fromlist) != 1 || !IsA(linitial(fromlist), JoinExpr))
		return NULL;

	/* the joins, outermost first, down to the leftmost item */
	item = linitial(fromlist);
	while (IsA(item, JoinExpr))
	{
		JoinExpr   *join = (JoinExpr *) item;

		joins = lappend(joins, join);
		if (IsA(join->rarg, RangeTblRef))
		{
			RangeTblEntry *rte = rt_fetch(((RangeTblRef *) join->rarg)->rtindex,
										  query->rtable);

			if (rte->rtekind == RTE_FUNCTION)
				has_function = true;
			else
				joins_table = true;
		}
		else
			joins_table = true;
		item = join->larg;
	}
	/* stream CROSS JOIN LATERAL continuous.hop(...): the window's own check */
	if (!joins_table)
		return NULL;
	if (has_function)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views cannot join tables together with a function in FROM"),
				 errdetail("A continuous view that joins tables to its stream cannot use continuous.hop() or other functions in FROM yet."),
				 errhint("Group by a tumbling window such as continuous.tumble(ts, size) instead, or create the view without the join.")));

	if (!IsA(item, RangeTblRef))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views must read a stream first in FROM"),
				 errhint(JOIN_HINT)));
	first = (RangeTblRef *) item;
	first_rte = rt_fetch(first->rtindex, query->rtable);

	/* where is the stream? */
	if (first_rte->rtekind == RTE_RELATION && !is_stream(first_rte->relid))
	{
		foreach(lc, joins)
		{
			JoinExpr   *join = lfirst(lc);
			RangeTblEntry *rte = joined_stream(query, join);

			if (rte == NULL)
				continue;
			if (join->jointype == JOIN_LEFT)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("the stream of a continuous view must be on the left of a LEFT JOIN"),
						 errdetail("Each event is joined with table rows as it arrives; a table row cannot wait for events to come."),
						 errhint("Write FROM %s LEFT JOIN %s ON ..., which keeps every event.",
								 get_rel_name(rte->relid),
								 get_rel_name(first_rte->relid))));
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("the stream of a continuous view must come first in FROM"),
					 errhint("Write FROM %s JOIN %s ON ...",
							 get_rel_name(rte->relid),
							 get_rel_name(first_rte->relid))));
		}
	}

	if (check_interval_join(query, joins, first_rte))
	{
		/* the tables joined to the two streams, looked up as for one */
		joins = list_truncate(list_copy(joins), list_length(joins) - 1);
		foreach(lc, joins)
			check_joined_relation(query, lfirst(lc), first_rte->relid);
		foreach(lc, joins)
			check_join_keys(query, lfirst(lc));
		(void) query_tree_walker(query, odd_var_walker, query, 0);
		return first;
	}
	foreach(lc, joins)
		check_joined_relation(query, lfirst(lc),
							  first_rte->rtekind == RTE_RELATION ?
							  first_rte->relid : InvalidOid);
	foreach(lc, joins)
		check_join_keys(query, lfirst(lc));
	(void) query_tree_walker(query, odd_var_walker, query, 0);
	return first;
}

/* Table streams and Kafka streams. */
/* The stream a join brings in on its right, or NULL. */
static RangeTblEntry *
joined_stream(Query *query, JoinExpr *join)
{
	RangeTblEntry *rte;

	if (!IsA(join->rarg, RangeTblRef))
		return NULL;
	rte = rt_fetch(((RangeTblRef *) join->rarg)->rtindex, query->rtable);
	return rte->rtekind == RTE_RELATION && is_stream(rte->relid) ? rte : NULL;
}

static bool
is_stream(Oid relid)
{
	if (get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE)
		return kafka_is_stream_table(relid);
	return ddl_catalog_is_stream(relid);
}

/* The join's type and what it joins: one ordinary table. */
static void
check_joined_relation(Query *query, JoinExpr *join, Oid stream)
{
	RangeTblEntry *rte;
	char	   *name;

	if (join->jointype == JOIN_RIGHT || join->jointype == JOIN_FULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s JOIN is not supported in continuous views",
						join->jointype == JOIN_RIGHT ? "RIGHT" : "FULL"),
				 errdetail("Each event is joined with table rows as it arrives; table rows without events cannot be kept up to date."),
				 errhint("Use an INNER JOIN, or a LEFT JOIN with the stream on the left.")));
	if (join->jointype != JOIN_INNER && join->jointype != JOIN_LEFT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("this kind of join is not supported in continuous views"),
				 errhint("Use an INNER JOIN, or a LEFT JOIN with the stream on the left.")));
	if (!IsA(join->rarg, RangeTblRef))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("nested joins are not supported in continuous views"),
				 errhint(JOIN_HINT)));

	rte = rt_fetch(((RangeTblRef *) join->rarg)->rtindex, query->rtable);
	switch (rte->rtekind)
	{
		case RTE_RELATION:
			break;
		case RTE_SUBQUERY:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("continuous views cannot join %s",
							rte->lateral ? "LATERAL subqueries" : "subqueries"),
					 errhint("Join the table itself, and put conditions in ON or WHERE.")));
			break;
		case RTE_FUNCTION:
		case RTE_TABLEFUNC:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("continuous views cannot join functions"),
					 errhint("Join an ordinary table, or call the function in the SELECT list.")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("continuous views can join only ordinary tables to their stream"),
					 errhint(JOIN_HINT)));
	}

	name = get_rel_name(rte->relid);
	if (rte->relid == stream)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views cannot join stream \"%s\" to itself", name),
				 errdetail("Joins of a stream with a stream (interval joins) are not supported yet."),
				 errhint("Create a continuous view per side, or join a table that holds the rows to match.")));
	if (is_stream(rte->relid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views cannot join stream \"%s\" to another stream", name),
				 errdetail("Joins of two streams (interval joins) are a separate feature that is not supported yet; a stream can be joined to ordinary tables."),
				 errhint("Join a table that holds the rows to match instead.")));
	if (rte->relkind == RELKIND_VIEW)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views cannot join view \"%s\"", name),
				 errdetail("Joined rows are looked up by key through a table's indexes."),
				 errhint("Join the tables the view reads, or a materialized view.")));
	if (rte->relkind != RELKIND_RELATION &&
		rte->relkind != RELKIND_PARTITIONED_TABLE &&
		rte->relkind != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views cannot join \"%s\"", name),
				 errdetail_relkind_not_supported(rte->relkind),
				 errhint("Join an ordinary table.")));
	if (rte->tablesample != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("TABLESAMPLE is not supported in continuous views")));
}

/*
 * The lookup finds a table's rows by equality: the stage collects the
 * distinct keys of a batch's events (hashed by the key's type) and asks
 * the table for them all at once (as an array).
 */
static void
check_join_keys(Query *query, JoinExpr *join)
{
	Index		rtindex = ((RangeTblRef *) join->rarg)->rtindex;
	char	   *name = rt_fetch(rtindex, query->rtable)->eref->aliasname;
	bool		found = false;
	ListCell   *lc;

	foreach(lc, make_ands_implicit((Expr *) join->quals))
	{
		AttrNumber	attno;
		Expr	   *other;
		Oid			opno;
		Oid			type;
		TypeCacheEntry *tc;

		if (!plan_join_key_conjunct(lfirst(lc), rtindex, &attno, &other, &opno))
			continue;
		type = exprType((Node *) other);
		tc = lookup_type_cache(type, TYPECACHE_HASH_PROC | TYPECACHE_EQ_OPR);
		if (!OidIsValid(tc->hash_proc) || !OidIsValid(tc->eq_opr) ||
			!OidIsValid(get_array_type(type)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("join key of type %s is not supported in continuous views",
							format_type_be(type)),
					 errdetail("Events look up table rows by hashing their join keys."),
					 errhint("Cast the key to a type that can be hashed, such as text.")));
		found = true;
	}
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("join to \"%s\" in a continuous view needs an equality condition on a column of \"%s\"",
						name, name),
				 errdetail("Each batch of events looks its table rows up by key, through the table's indexes; joins without a key are not supported."),
				 errhint("Add an equality of a column of \"%s\" with an expression of the stream, such as ON %s.id = s.%s_id; other conditions may follow with AND.",
						 name, name, name)));
}

/*
 * The joined row has the stream's columns and the tables' user columns:
 * not the stream's row type as a whole, nor system columns.
 */
static bool
odd_var_walker(Node *node, Query *query)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0 &&
		((Var *) node)->varattno <= 0)
	{
		Var		   *var = (Var *) node;
		RangeTblEntry *rte = rt_fetch(var->varno, query->rtable);

		if (rte->rtekind == RTE_RELATION)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("continuous views that join tables cannot read %s of \"%s\"",
							var->varattno == 0 ? "the whole row" :
							"system columns", rte->eref->aliasname),
					 errhint("Name the columns to read.")));
		return false;
	}
	if (IsA(node, Query))
		return false;
	return expression_tree_walker(node, odd_var_walker, query);
}

/*
 * "s1 JOIN s2 ON ...": an interval join, checked here, and true; false if
 * FROM joins no second stream.
 */
static bool
check_interval_join(Query *query, List *joins, RangeTblEntry *first_rte)
{
	Query	   *copy;
	List	   *residual;
	Interval   *within;
	ListCell   *lc;
	RangeTblEntry *second = NULL;
	JoinExpr   *second_join = NULL;
	int			nstreams = 0;

	foreach(lc, joins)
	{
		JoinExpr   *join = lfirst(lc);
		RangeTblEntry *rte = joined_stream(query, join);

		if (rte != NULL)
		{
			second = rte;
			second_join = join;
			nstreams++;
		}
	}
	if (second == NULL || first_rte->rtekind != RTE_RELATION)
		return false;
	if (nstreams > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views can join at most two streams"),
				 errdetail("A join of three or more streams is not supported yet."),
				 errhint("Join two streams, and tables after them.")));
	if (second->relid == first_rte->relid)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views cannot join stream \"%s\" to itself",
						get_rel_name(second->relid)),
				 errdetail("Interval joins join two different table streams."),
				 errhint("Create a continuous view per side, or join a table that holds the rows to match.")));
	if (second_join != llast(joins))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the second stream of a continuous view must be joined right after the first"),
				 errhint("Write FROM s1 JOIN s2 ON ... JOIN t ON ..., the streams first and then the tables.")));
	if (get_rel_relkind(first_rte->relid) == RELKIND_FOREIGN_TABLE ||
		get_rel_relkind(second->relid) == RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("continuous views cannot join Kafka stream \"%s\" to another stream",
						get_rel_name(get_rel_relkind(first_rte->relid) == RELKIND_FOREIGN_TABLE ?
									 first_rte->relid : second->relid)),
				 errdetail("Interval joins read both streams in one commit order, which only table streams have: Kafka sides would need the join's rows kept per partition and offsets stored with them."),
				 errhint("Join two table streams.")));
	if (ddl_catalog_stream_dedup(first_rte->relid, &within) != NIL ||
		ddl_catalog_stream_dedup(second->relid, &within) != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a join of two streams cannot read a stream with a unique key"),
				 errdetail("Deduplication of a stream's events is not supported in interval joins yet."),
				 errhint("Create the join over streams without unique_key.")));

	/* the condition: plan_interval.c reads it, and says what is wrong */
	copy = copyObject(query);
	(void) plan_interval_join_build(copy, &residual);
	(void) query_tree_walker(query, odd_var_walker, query, 0);
	return true;
}
