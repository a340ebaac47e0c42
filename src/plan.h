/*-------------------------------------------------------------------------
 *
 * plan.h
 *	  What a continuous view computes, derived from its analysed SELECT.
 *
 * One derivation serves both ends of the pipeline: ddl_view.c uses it to lay
 * out the storage table (one column per group key, one per aggregate state)
 * and the read view over it; the worker uses it to evaluate WHERE, the keys
 * and the aggregate arguments for each event.  Both must agree on the order
 * of keys and aggregates, which is why neither computes it on its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_PLAN_H
#define CONTINUOUS_PLAN_H

#include "nodes/parsenodes.h"
#include "nodes/primnodes.h"

/* A GROUP BY expression; a column of the storage table. */
typedef struct ContinuousKey
{
	Expr	   *expr;			/* over the stream's columns (varno 1) */
	Index		sortgroupref;	/* its ressortgroupref in the query */
	Oid			type;
	int32		typmod;
	Oid			collation;
	char	   *column;			/* storage column name */
} ContinuousKey;

/* A distinct aggregate call of the query; a state column of the storage. */
typedef struct ContinuousAggregate
{
	Aggref	   *aggref;			/* as in the query, args over the stream */
	Oid			storage_type;	/* transition type, or bytea if internal */
	char	   *column;			/* storage column name */
} ContinuousAggregate;

typedef struct ContinuousPlan
{
	Query	   *query;			/* the analysed defining SELECT */
	Oid			stream;			/* relid of the stream it reads */
	List	   *keys;			/* ContinuousKey, in GROUP BY order */
	List	   *aggregates;		/* ContinuousAggregate, first appearance in
								 * targetList then HAVING; equal() calls
								 * share one entry */
	Expr	   *where;			/* WHERE over stream columns, or NULL */
} ContinuousPlan;

/*
 * Derive the plan of a query that ddl_view.c has already accepted.  Storage
 * types are resolved through agg_support.c.
 */
extern ContinuousPlan *continuous_plan_build(Query *query);

#endif							/* CONTINUOUS_PLAN_H */
