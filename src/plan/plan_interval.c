/*-------------------------------------------------------------------------
 *
 * plan_interval.c
 *	  Interval joins: a continuous view's stream joined with a second
 *	  stream on an equality key and a bounded event-time condition.
 *
 * Pipeline position: shared by both ends, beside plan.c.  A view's FROM
 * may be "s1 JOIN s2 ON <keys> AND <time bounds> [AND ...]" where s1 and
 * s2 are table streams with an event time (ddl_view_join.c refuses the
 * rest).  The ON clause is read as:
 *
 *	 keys         left_expr = right_expr, each reading one stream only, of
 *	              one type compared by its default equality;
 *	 time bounds  comparisons (<, <=, >, >=, also inside BETWEEN) of one
 *	              stream's event-time column, plus or minus a constant
 *	              interval, with the other's; together they must bound
 *	              right.t - left.t from both sides: [lo, hi];
 *	 the rest     checked with WHERE by the filter, on the joined row.
 *
 * Tables may be joined after the two streams ("s1 JOIN s2 ON ... JOIN t
 * ON t.key = s2.col"): lookups (plan_join.c), whose row is the joined row
 * of the two streams.
 *
 * The interval join stage (stage_interval_join.c) makes each joined row of
 * the left stream's columns then the right stream's; at run time
 * continuous_plan_bind_interval_join() rewrites the plan's expressions to
 * read the right stream's columns at their place in it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "ddl/ddl_catalog.h"
#include "plan/plan_interval.h"
#include "plan/plan_join.h"

#define INTERVAL_JOIN_HINT "Write ON r.key = l.key AND r.ts BETWEEN l.ts - interval 'x' AND l.ts + interval 'y', where ts are the streams' event-time columns."

static void flatten_conjuncts(Node *node, List **conjuncts);
static bool key_conjunct(PlanIntervalJoin *ij, Node *clause);
static bool time_conjunct(PlanIntervalJoin *ij, Query *query, Node *clause,
						  bool *has_lo, bool *has_hi);
static bool time_term(PlanIntervalJoin *ij, Node *node, Index *rtindex,
					  int64 *offset);
static int64 interval_microseconds(Const *c);
static Node *bind_interval_mutator(Node *node, PlanIntervalJoin *ij);

/* The first join of FROM, "s1 JOIN s2" of "s1 JOIN s2 ... JOIN t ...". */
static JoinExpr *
innermost_join(Query *query)
{
	List	   *fromlist = query->jointree->fromlist;
	JoinExpr   *join;

	if (list_length(fromlist) != 1 || !IsA(linitial(fromlist), JoinExpr))
		return NULL;
	join = linitial(fromlist);
	while (IsA(join->larg, JoinExpr))
		join = (JoinExpr *) join->larg;
	return join;
}

bool
plan_is_interval_join(Query *query)
{
	JoinExpr   *join = innermost_join(query);
	RangeTblEntry *left;
	RangeTblEntry *right;

	if (join == NULL ||
		!IsA(join->larg, RangeTblRef) || !IsA(join->rarg, RangeTblRef))
		return false;
	left = rt_fetch(((RangeTblRef *) join->larg)->rtindex, query->rtable);
	right = rt_fetch(((RangeTblRef *) join->rarg)->rtindex, query->rtable);
	return left->rtekind == RTE_RELATION && right->rtekind == RTE_RELATION &&
		ddl_catalog_is_stream(left->relid) && ddl_catalog_is_stream(right->relid);
}

PlanIntervalJoin *
plan_interval_join_build(Query *query, List **residual)
{
	PlanIntervalJoin *ij;
	JoinExpr   *join;
	RangeTblEntry *left;
	RangeTblEntry *right;
	char	   *left_time;
	char	   *right_time;
	List	   *conjuncts = NIL;
	bool		has_lo = false;
	bool		has_hi = false;
	ListCell   *lc;

	*residual = NIL;
	if (!plan_is_interval_join(query))
		return NULL;

	/* USING columns and join aliases read the base relations */
	plan_flatten_join_aliases(query);

	join = innermost_join(query);
	ij = palloc0(sizeof(PlanIntervalJoin));
	ij->left_rtindex = ((RangeTblRef *) join->larg)->rtindex;
	ij->right_rtindex = ((RangeTblRef *) join->rarg)->rtindex;
	left = rt_fetch(ij->left_rtindex, query->rtable);
	right = rt_fetch(ij->right_rtindex, query->rtable);
	ij->right_stream = right->relid;

	if (join->jointype != JOIN_INNER)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("only inner joins of two streams are supported in continuous views"),
				 errdetail("An outer interval join would emit unmatched rows once the other stream's watermark passes their bound, which is not supported yet."),
				 errhint("Use JOIN (INNER JOIN) between the two streams.")));

	left_time = ddl_catalog_stream_event_time(left->relid);
	right_time = ddl_catalog_stream_event_time(right->relid);
	if (left_time == NULL || right_time == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stream \"%s\" has no event time",
						get_rel_name(left_time == NULL ? left->relid : right->relid)),
				 errdetail("A join of two streams keeps each side's rows until the other stream's watermark passes their bound, which needs both streams' event time."),
				 errhint("Give the stream an event time: SELECT continuous.create_stream(..., event_time => 'ts').")));
	ij->left_time = get_attnum(left->relid, left_time);
	ij->right_time = get_attnum(right->relid, right_time);

	flatten_conjuncts(join->quals, &conjuncts);
	foreach(lc, conjuncts)
	{
		Node	   *clause = lfirst(lc);

		if (key_conjunct(ij, clause))
			continue;
		if (time_conjunct(ij, query, clause, &has_lo, &has_hi))
			continue;
		*residual = lappend(*residual, clause);
	}
	if (ij->left_keys == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a join of two streams in a continuous view needs an equality key"),
				 errdetail("Rows of each stream are kept by key until the other stream can no longer match them."),
				 errhint(INTERVAL_JOIN_HINT)));
	if (!has_lo || !has_hi)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a join of two streams in a continuous view needs a time bound on both sides"),
				 (!has_lo && !has_hi) ?
				 errdetail("ON does not compare the event times of \"%s\" and \"%s\": rows would have to be kept forever.",
						   left->eref->aliasname, right->eref->aliasname) :
				 errdetail("The condition on the event times of \"%s\" and \"%s\" has no %s bound: rows would have to be kept forever.",
						   left->eref->aliasname, right->eref->aliasname,
						   !has_lo ? "lower" : "upper"),
				 errhint(INTERVAL_JOIN_HINT)));
	return ij;
}

/* The conjuncts of an AND tree (BETWEEN is one inside ON's). */
static void
flatten_conjuncts(Node *node, List **conjuncts)
{
	ListCell   *lc;

	if (node == NULL)
		return;
	if (is_andclause(node))
	{
		foreach(lc, ((BoolExpr *) node)->args)
			flatten_conjuncts(lfirst(lc), conjuncts);
		return;
	}
	*conjuncts = lappend(*conjuncts, node);
}

/* Which of the two streams node reads: 1 left, 2 right, 3 both, 0 none. */
static int
reads_sides(PlanIntervalJoin *ij, Node *node)
{
	Bitmapset  *relids = pull_varnos(NULL, node);

	return (bms_is_member(ij->left_rtindex, relids) ? 1 : 0) |
		(bms_is_member(ij->right_rtindex, relids) ? 2 : 0);
}

/* left_expr = right_expr, hashable: a key. */
static bool
key_conjunct(PlanIntervalJoin *ij, Node *clause)
{
	OpExpr	   *op;
	Node	   *a;
	Node	   *b;
	int			sa;
	int			sb;
	Oid			type;
	TypeCacheEntry *tc;

	if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2)
		return false;
	op = (OpExpr *) clause;
	a = linitial(op->args);
	b = lsecond(op->args);
	sa = reads_sides(ij, a);
	sb = reads_sides(ij, b);
	if (!((sa == 1 && sb == 2) || (sa == 2 && sb == 1)))
		return false;
	if (!op_hashjoinable(op->opno, exprType(a)) &&
		!op_mergejoinable(op->opno, exprType(a)))
		return false;
	if (sa == 2)
	{
		Node	   *swap = a;

		a = b;
		b = swap;
	}
	type = exprType(a);
	tc = lookup_type_cache(type, TYPECACHE_EQ_OPR | TYPECACHE_HASH_PROC);
	if (exprType(b) != type || !OidIsValid(tc->hash_proc) ||
		(tc->eq_opr != op->opno && get_commutator(op->opno) != tc->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("join key of types %s and %s is not supported in a join of two streams",
						format_type_be(exprType(a)), format_type_be(exprType(b))),
				 errdetail("Rows of both streams are kept in one hash table by key, compared by the key type's default equality."),
				 errhint("Cast both sides to the same type, one that can be hashed.")));
	ij->left_keys = lappend(ij->left_keys, a);
	ij->right_keys = lappend(ij->right_keys, b);
	return true;
}

/*
 * A comparison of the two event times, plus or minus constant intervals:
 * a lower or upper bound of right.t - left.t, kept if tighter than the one
 * so far.  A comparison that reads both streams in another form is an
 * error: it cannot bound the rows kept.
 */
static bool
time_conjunct(PlanIntervalJoin *ij, Query *query, Node *clause,
			  bool *has_lo, bool *has_hi)
{
	OpExpr	   *op;
	Index		rt_a;
	Index		rt_b;
	int64		off_a;
	int64		off_b;
	int64		d;
	int			strategy;
	TypeCacheEntry *tc;

	if (!IsA(clause, OpExpr) || list_length(((OpExpr *) clause)->args) != 2 ||
		reads_sides(ij, clause) != 3)
		return false;
	op = (OpExpr *) clause;
	tc = lookup_type_cache(exprType(linitial(op->args)), TYPECACHE_BTREE_OPFAMILY);
	strategy = OidIsValid(tc->btree_opf) ?
		get_op_opfamily_strategy(op->opno, tc->btree_opf) : 0;
	if (strategy == 0 || strategy == BTEqualStrategyNumber ||
		(tc->type_id != TIMESTAMPTZOID && tc->type_id != TIMESTAMPOID))
		return false;
	if (!time_term(ij, linitial(op->args), &rt_a, &off_a) ||
		!time_term(ij, lsecond(op->args), &rt_b, &off_b) || rt_a == rt_b)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("time condition of a join of two streams must compare their event-time columns"),
				 errdetail("Each side may add or subtract a constant interval of hours, minutes or seconds to the event-time column of \"%s\" or \"%s\".",
						   rt_fetch(ij->left_rtindex, query->rtable)->eref->aliasname,
						   rt_fetch(ij->right_rtindex, query->rtable)->eref->aliasname),
				 errhint(INTERVAL_JOIN_HINT)));

	/* as right.t OP left.t + d */
	if (rt_a == ij->right_rtindex)
		d = off_b - off_a;
	else
	{
		d = off_a - off_b;
		switch (strategy)
		{
			case BTLessStrategyNumber:
				strategy = BTGreaterStrategyNumber;
				break;
			case BTLessEqualStrategyNumber:
				strategy = BTGreaterEqualStrategyNumber;
				break;
			case BTGreaterStrategyNumber:
				strategy = BTLessStrategyNumber;
				break;
			default:
				strategy = BTLessEqualStrategyNumber;
				break;
		}
	}
	if (strategy == BTGreaterStrategyNumber || strategy == BTGreaterEqualStrategyNumber)
	{
		bool		strict = strategy == BTGreaterStrategyNumber;

		if (!*has_lo || d > ij->lo || (d == ij->lo && strict))
		{
			ij->lo = d;
			ij->lo_strict = strict;
		}
		*has_lo = true;
	}
	else
	{
		bool		strict = strategy == BTLessStrategyNumber;

		if (!*has_hi || d < ij->hi || (d == ij->hi && strict))
		{
			ij->hi = d;
			ij->hi_strict = strict;
		}
		*has_hi = true;
	}
	return true;
}

/* stream.ts, stream.ts + c, c + stream.ts or stream.ts - c */
static bool
time_term(PlanIntervalJoin *ij, Node *node, Index *rtindex, int64 *offset)
{
	*offset = 0;
	if (IsA(node, OpExpr) && list_length(((OpExpr *) node)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) node;
		char	   *name = get_opname(op->opno);
		Node	   *a = linitial(op->args);
		Node	   *b = lsecond(op->args);
		bool		minus;

		if (name == NULL || (strcmp(name, "+") != 0 && strcmp(name, "-") != 0))
			return false;
		minus = strcmp(name, "-") == 0;
		if (!minus && IsA(a, Const))
		{
			Node	   *swap = a;

			a = b;
			b = swap;
		}
		if (!IsA(b, Const) || ((Const *) b)->consttype != INTERVALOID ||
			((Const *) b)->constisnull)
			return false;
		*offset = interval_microseconds((Const *) b);
		if (minus)
			*offset = -*offset;
		node = a;
	}
	if (!IsA(node, Var) || ((Var *) node)->varlevelsup != 0)
		return false;
	*rtindex = ((Var *) node)->varno;
	if (*rtindex == ij->left_rtindex)
		return ((Var *) node)->varattno == ij->left_time;
	if (*rtindex == ij->right_rtindex)
		return ((Var *) node)->varattno == ij->right_time;
	return false;
}

/* Months and days have no fixed length in time zones: refused. */
static int64
interval_microseconds(Const *c)
{
	Interval   *interval = (Interval *) DatumGetPointer(c->constvalue);

	if (interval->month != 0 || interval->day != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("time bound of a join of two streams must be an interval of fixed length"),
				 errdetail("Months and days do not have a fixed length in every time zone."),
				 errhint("Write the interval in hours, such as interval '24 hours'.")));
	return interval->time;
}

void
continuous_plan_bind_interval_join(ContinuousPlan *plan, AttrNumber left_natts)
{
	PlanIntervalJoin *ij = plan->interval_join;
	ListCell   *lc;

	if (ij == NULL)
		return;
	ij->left_natts = left_natts;
	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);

		key->expr = (Expr *) bind_interval_mutator((Node *) key->expr, ij);
	}
	foreach(lc, plan->aggregates)
	{
		ContinuousAggregate *agg = lfirst(lc);

		agg->aggref = (Aggref *) bind_interval_mutator((Node *) agg->aggref, ij);
	}
	foreach(lc, plan->outputs)
	{
		ContinuousOutput *output = lfirst(lc);

		output->expr = (Expr *) bind_interval_mutator((Node *) output->expr, ij);
	}
	plan->where = (Expr *) bind_interval_mutator((Node *) plan->where, ij);
	/* tables looked up by the second stream's columns */
	foreach(lc, plan->joins)
	{
		PlanJoin   *join = lfirst(lc);

		join->key_exprs = (List *) bind_interval_mutator((Node *) join->key_exprs,
														 ij);
		join->quals = (Expr *) bind_interval_mutator((Node *) join->quals, ij);
	}
}

static Node *
bind_interval_mutator(Node *node, PlanIntervalJoin *ij)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0 &&
		((Var *) node)->varno == ij->right_rtindex)
	{
		Var		   *var = (Var *) node;

		return (Node *) makeVar(ij->left_rtindex, ij->left_natts + var->varattno,
								var->vartype, var->vartypmod, var->varcollid, 0);
	}
	return expression_tree_mutator(node, bind_interval_mutator, ij);
}
