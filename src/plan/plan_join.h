/*-------------------------------------------------------------------------
 *
 * plan_join.h
 *	  The tables a continuous view joins to its stream (plan_join.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_PLAN_JOIN_H
#define CONTINUOUS_PLAN_JOIN_H

#include "plan/plan_types.h"

/*
 * The range-table index of the stream of a query whose FROM joins tables
 * to it (the leftmost relation), or 0 if its FROM joins no table.
 */
extern Index plan_join_stream_rtindex(Query *query);

/*
 * The tables joined to the stream (PlanJoin), in join order; NIL if none.
 * Join alias Vars of the query are flattened in place first, so that every
 * expression reads base relations.  The query passed the checks of
 * ddl_view_join.c.  skip_rtindex: a relation joined that is not a table
 * (an interval join's second stream), or 0.
 */
extern List *plan_joins_build(Query *query, Index skip_rtindex);

/*
 * Make USING columns and join aliases read the base relations, in the
 * SELECT list, HAVING and FROM (ON, WHERE) of the query.
 */
extern void plan_flatten_join_aliases(Query *query);

/*
 * An equality conjunct of a join's ON clause that the lookup can use:
 * "table column = expression of the relations before it" (either way
 * round), with an operator that is an equality.  Sets the column's attno,
 * the other side and the operator with the table's column on its left.
 */
extern bool plan_join_key_conjunct(Node *clause, Index rtindex,
								   AttrNumber *attno, Expr **other, Oid *opno);

/*
 * The plan's expressions (keys, aggregate arguments, a transform's
 * outputs, WHERE, the joins' keys and conditions) made to read the joined
 * row: the stream's columns keep their numbers, the tables' columns follow
 * from stream_natts + 1 on.
 * Run time only: the read view matches the plan's expressions to the
 * query's.
 */
extern void continuous_plan_bind_joins(ContinuousPlan *plan,
									   AttrNumber stream_natts);

#endif							/* CONTINUOUS_PLAN_JOIN_H */
