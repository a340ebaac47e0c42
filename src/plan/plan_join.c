/*-------------------------------------------------------------------------
 *
 * plan_join.c
 *	  The tables a continuous view joins to its stream: their lookup keys,
 *	  their other join conditions and the columns the view reads of them.
 *
 * Pipeline position: shared by both ends, beside plan.c.  A view's FROM
 * may be "stream JOIN t1 ON ... [LEFT] JOIN t2 ON ...", left-deep with the
 * stream first (ddl_view_join.c refuses the rest).  The lookup join stage
 * (stage_lookup_join.c) turns each event into the joined rows: one row of
 * the stream's columns followed by the columns of each table the query
 * uses.  Every later stage and window kind reads that row as if it were
 * the stream's, so at run time continuous_plan_bind_joins() rewrites the
 * plan's expressions to read a table's columns at their place in it; the
 * stream's Vars are left as they are.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"

#include "plan/plan_join.h"

/* bind_joins_mutator() */
typedef struct BindJoinsContext
{
	List	   *joins;
	Index		stream_rtindex;
} BindJoinsContext;

static void join_exprs_of_query(Query *query, List **joins);
static bool collect_columns_walker(Node *node, PlanJoin *join);
static bool reads_relation_walker(Node *node, Index *rtindex);
static Node *bind_joins_mutator(Node *node, BindJoinsContext *context);

Index
plan_join_stream_rtindex(Query *query)
{
	List	   *fromlist = query->jointree->fromlist;
	Node	   *item;
	bool		joins_table = false;

	if (list_length(fromlist) != 1)
		return 0;
	item = linitial(fromlist);
	while (IsA(item, JoinExpr))
	{
		JoinExpr   *join = (JoinExpr *) item;

		if (IsA(join->rarg, RangeTblRef) &&
			rt_fetch(((RangeTblRef *) join->rarg)->rtindex,
					 query->rtable)->rtekind == RTE_RELATION)
			joins_table = true;
		item = join->larg;
	}
	if (!joins_table || !IsA(item, RangeTblRef))
		return 0;
	return ((RangeTblRef *) item)->rtindex;
}

/* The JoinExprs of the FROM clause, innermost (first joined) first. */
static void
join_exprs_of_query(Query *query, List **joins)
{
	Node	   *item = linitial(query->jointree->fromlist);

	*joins = NIL;
	while (IsA(item, JoinExpr))
	{
		*joins = lcons(item, *joins);
		item = ((JoinExpr *) item)->larg;
	}
}

void
plan_flatten_join_aliases(Query *query)
{
	query->targetList = (List *)
		flatten_join_alias_vars(query, (Node *) query->targetList);
	query->havingQual = flatten_join_alias_vars(query, query->havingQual);
	query->jointree = (FromExpr *)
		flatten_join_alias_vars(query, (Node *) query->jointree);
}

List *
plan_joins_build(Query *query, Index skip_rtindex)
{
	List	   *joinexprs;
	List	   *joins = NIL;
	ListCell   *lc;

	if (plan_join_stream_rtindex(query) == 0)
		return NIL;

	plan_flatten_join_aliases(query);

	join_exprs_of_query(query, &joinexprs);
	foreach(lc, joinexprs)
	{
		JoinExpr   *je = lfirst_node(JoinExpr, lc);
		PlanJoin   *join;
		List	   *quals = NIL;
		ListCell   *qc;

		if (castNode(RangeTblRef, je->rarg)->rtindex == skip_rtindex)
			continue;
		join = palloc0(sizeof(PlanJoin));
		join->rtindex = castNode(RangeTblRef, je->rarg)->rtindex;
		join->relid = rt_fetch(join->rtindex, query->rtable)->relid;
		join->left = je->jointype == JOIN_LEFT;

		foreach(qc, make_ands_implicit((Expr *) je->quals))
		{
			Node	   *clause = lfirst(qc);
			AttrNumber	attno;
			Expr	   *other;
			Oid			opno;

			if (plan_join_key_conjunct(clause, join->rtindex, &attno, &other,
									   &opno))
			{
				join->key_attnos = lappend_int(join->key_attnos, attno);
				join->key_exprs = lappend(join->key_exprs, other);
				join->key_ops = lappend_oid(join->key_ops, opno);
				join->key_collations = lappend_oid(join->key_collations,
												   exprInputCollation(clause));
			}
			else
				quals = lappend(quals, clause);
		}
		if (join->key_attnos == NIL)
			elog(ERROR, "join to relation %u of a continuous view has no equality key",
				 join->relid);
		join->quals = quals != NIL ? make_ands_explicit(quals) : NULL;
		(void) query_tree_walker(query, collect_columns_walker, join, 0);
		join->columns = list_concat_unique_int(NIL, join->columns);
		list_sort(join->columns, list_int_cmp);
		joins = lappend(joins, join);
	}
	return joins;
}

bool
plan_join_key_conjunct(Node *clause, Index rtindex, AttrNumber *attno,
					   Expr **other, Oid *opno)
{
	OpExpr	   *op;
	Node	   *left;
	Node	   *right;
	Index		reads;

	if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2)
		return false;
	op = (OpExpr *) clause;
	left = linitial(op->args);
	right = lsecond(op->args);
	*opno = op->opno;

	/* the table's column on the left */
	if (!(IsA(left, Var) && ((Var *) left)->varno == rtindex))
	{
		Node	   *swap = left;

		left = right;
		right = swap;
		*opno = get_commutator(op->opno);
		if (!OidIsValid(*opno))
			return false;
	}
	if (!IsA(left, Var) || ((Var *) left)->varno != rtindex ||
		((Var *) left)->varlevelsup != 0 || ((Var *) left)->varattno <= 0)
		return false;

	/* the other side reads relations before this one, and no other table */
	reads = rtindex;
	if (contain_var_clause(right) == false ||
		reads_relation_walker(right, &reads))
		return false;

	/* an equality: one that hash and merge joins could use */
	if (!op_mergejoinable(*opno, exprType(left)) &&
		!op_hashjoinable(*opno, exprType(left)))
		return false;

	*attno = ((Var *) left)->varattno;
	*other = (Expr *) right;
	return true;
}

/* Does node read relation *rtindex (or one joined after it)? */
static bool
reads_relation_walker(Node *node, Index *rtindex)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		return var->varlevelsup == 0 && var->varno >= *rtindex;
	}
	return expression_tree_walker(node, reads_relation_walker, rtindex);
}

/* The table's columns that the query reads, anywhere in it. */
static bool
collect_columns_walker(Node *node, PlanJoin *join)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varlevelsup == 0 && var->varno == join->rtindex &&
			var->varattno > 0)
			join->columns = lappend_int(join->columns, var->varattno);
		return false;
	}
	if (IsA(node, Query))
		return false;
	return expression_tree_walker(node, collect_columns_walker, join);
}

void
continuous_plan_bind_joins(ContinuousPlan *plan, AttrNumber stream_natts)
{
	BindJoinsContext context;
	AttrNumber	next = stream_natts + 1;
	ListCell   *lc;

	if (plan->joins == NIL)
		return;
	context.joins = plan->joins;
	context.stream_rtindex = plan_join_stream_rtindex(plan->query);
	foreach(lc, plan->joins)
	{
		PlanJoin   *join = lfirst(lc);

		join->first_attno = next;
		next += list_length(join->columns);
	}

	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);

		key->expr = (Expr *) bind_joins_mutator((Node *) key->expr, &context);
	}
	foreach(lc, plan->aggregates)
	{
		ContinuousAggregate *agg = lfirst(lc);

		agg->aggref = (Aggref *) bind_joins_mutator((Node *) agg->aggref,
													&context);
	}
	foreach(lc, plan->outputs)
	{
		ContinuousOutput *output = lfirst(lc);

		output->expr = (Expr *) bind_joins_mutator((Node *) output->expr,
												   &context);
	}
	plan->where = (Expr *) bind_joins_mutator((Node *) plan->where, &context);
	foreach(lc, plan->joins)
	{
		PlanJoin   *join = lfirst(lc);

		join->key_exprs = (List *) bind_joins_mutator((Node *) join->key_exprs,
													  &context);
		join->quals = (Expr *) bind_joins_mutator((Node *) join->quals,
												  &context);
	}
}

static Node *
bind_joins_mutator(Node *node, BindJoinsContext *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0)
	{
		Var		   *var = (Var *) node;
		ListCell   *lc;

		foreach(lc, context->joins)
		{
			PlanJoin   *join = lfirst(lc);
			ListCell   *cc;

			if (var->varno != join->rtindex)
				continue;
			foreach(cc, join->columns)
			{
				if (lfirst_int(cc) == var->varattno)
					return (Node *) makeVar(context->stream_rtindex,
											join->first_attno +
											foreach_current_index(cc),
											var->vartype, var->vartypmod,
											var->varcollid, 0);
			}
			elog(ERROR, "column %d of joined relation %u is not in the joined row",
				 var->varattno, join->relid);
		}
		return node;
	}
	return expression_tree_mutator(node, bind_joins_mutator, context);
}
