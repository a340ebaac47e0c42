/*-------------------------------------------------------------------------
 *
 * plan_interval.h
 *	  A continuous view's join of its stream with a second stream on a key
 *	  and a bounded event-time condition (plan_interval.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_PLAN_INTERVAL_H
#define CONTINUOUS_PLAN_INTERVAL_H

#include "plan/plan_types.h"

/*
 * Does the query's FROM join two streams, "s1 JOIN s2 ON ..."?  Then the
 * join as a PlanIntervalJoin, with *residual the conjuncts of ON that are
 * neither a key nor a time bound (NIL: none), which the filter checks with
 * WHERE; otherwise NULL.  Errors say what a valid join condition is.
 * Flattens the query's join alias Vars.
 */
extern PlanIntervalJoin *plan_interval_join_build(Query *query,
												  List **residual);

/* Does the query's FROM join two streams?  No error, no change. */
extern bool plan_is_interval_join(Query *query);

/*
 * Make the plan's expressions read the joined row: the right stream's
 * columns follow the left_natts columns of the left stream's row.
 */
extern void continuous_plan_bind_interval_join(ContinuousPlan *plan,
											   AttrNumber left_natts);

#endif							/* CONTINUOUS_PLAN_INTERVAL_H */
