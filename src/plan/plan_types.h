/*-------------------------------------------------------------------------
 *
 * plan_types.h
 *	  What a continuous view computes, as data: its group keys, aggregate
 *	  calls, WHERE and windows.
 *
 * plan.c derives a ContinuousPlan from the view's analysed SELECT; the
 * DDL files lay out storage and the read view from it, the worker
 * evaluates it per event.  The types stand apart from plan.c so that the
 * window kinds (window_kind.h), which fill in a plan's windows, need not
 * depend on the code that builds it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_PLAN_TYPES_H
#define CONTINUOUS_PLAN_TYPES_H

#include "datatype/timestamp.h"
#include "nodes/parsenodes.h"
#include "nodes/primnodes.h"

struct WindowKind;

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

/*
 * A column of a transform's output (ContinuousPlan.transform): one per
 * column of the SELECT list, evaluated per event (and per window of a hop)
 * and appended to storage as it is.
 */
typedef struct ContinuousOutput
{
	Expr	   *expr;			/* over the stream, and a hop's window */
	Oid			type;
	int32		typmod;
	Oid			collation;
	char	   *name;			/* the view's column name */
	char	   *column;			/* storage column name */
} ContinuousOutput;

/*
 * A window of the view: a group key whose value a window kind
 * (window_kind.h) computes, recognised by that kind.
 */
typedef struct PlanWindow
{
	const struct WindowKind *kind;
	int			key;			/* index into the plan's keys; -1: none */

	/*
	 * Its length in event time, for a window the watermark closes: the
	 * window that starts at the key's value closes at start + size +
	 * allowed_lateness.  NULL for a window that never closes by event time.
	 */
	Interval   *size;

	/*
	 * A window whose end is not start + size stores it: a column after the
	 * aggregate states, of the key's type, named end_column (plan.c makes
	 * the name unique).  The key is then the last column of the storage
	 * table's unique index, so that a group's windows are an index range
	 * ordered by start.  NULL: no stored end.
	 */
	char	   *end_column;

	void	   *private;		/* the kind's own */
} PlanWindow;

/*
 * A table joined to the stream (plan_join.c): each event looks up its rows
 * by equality keys.  Expressions are over the query's Vars until
 * continuous_plan_bind_joins() makes them read the joined row: the
 * stream's columns, then the columns of each table the query uses.
 */
typedef struct PlanJoin
{
	Oid			relid;
	Index		rtindex;		/* in the query's range table */
	bool		left;			/* LEFT JOIN: a row of NULLs if none match */
	List	   *key_attnos;		/* int: the table's key columns */
	List	   *key_exprs;		/* Expr: what each is compared with */
	List	   *key_ops;		/* Oid: the equality operator, table on left */
	List	   *key_collations;	/* Oid: their input collations */
	Expr	   *quals;			/* the rest of ON, or NULL */
	List	   *columns;		/* int: the table's columns the query uses */
	AttrNumber	first_attno;	/* of columns in the joined row, once bound */
} PlanJoin;

/*
 * A join of the stream with a second stream on an equality key and a
 * bounded event-time condition (plan_interval.c): right.t - left.t lies in
 * [lo, hi].  The stage_interval_join.c stage turns events of either stream
 * into joined rows: the left stream's columns, then the right stream's
 * (continuous_plan_bind_interval_join()).
 */
typedef struct PlanIntervalJoin
{
	Oid			right_stream;	/* the second stream in FROM */
	Index		left_rtindex;
	Index		right_rtindex;
	AttrNumber	left_time;		/* each stream's event-time column */
	AttrNumber	right_time;
	List	   *left_keys;		/* Expr over the left stream's row */
	List	   *right_keys;		/* Expr over the right stream's own row */
	int64		lo;				/* microseconds */
	int64		hi;
	bool		lo_strict;		/* right.t > left.t + lo, not >= */
	bool		hi_strict;		/* right.t < left.t + hi, not <= */
	AttrNumber	left_natts;		/* the right row's place, once bound */
} PlanIntervalJoin;

typedef struct ContinuousPlan
{
	Query	   *query;			/* the analysed defining SELECT */
	Oid			stream;			/* relid of the stream it reads */
	List	   *keys;			/* ContinuousKey, in GROUP BY order */
	List	   *aggregates;		/* ContinuousAggregate, first appearance in
								 * targetList then HAVING; equal() calls
								 * share one entry */
	Expr	   *where;			/* WHERE, or NULL */

	char	   *event_time;		/* the stream's event-time column, or NULL */
	AttrNumber	event_time_attnum;	/* its number; InvalidAttrNumber: none */

	/*
	 * The stream's unique key (attribute numbers, an int List) and how long
	 * a key is remembered: the dedup stage (stage_dedup.c) drops events
	 * whose key it has seen.  NIL and NULL: no deduplication.
	 */
	List	   *unique_key;
	Interval   *dedup_within;

	/*
	 * The windows a kind recognised (PlanWindow), in the order of the
	 * registry (window_registry.c), and the one among them that the
	 * watermark closes: the view's window, by which events are late and
	 * emit = 'window_close' shows rows.
	 */
	List	   *windows;
	PlanWindow *window;			/* NULL: none */

	List	   *joins;			/* PlanJoin, in join order; NIL: none */
	PlanIntervalJoin *interval_join;	/* a second stream; NULL: none */

	/*
	 * A transform (stage_append.c): no aggregate, no GROUP BY, no HAVING.
	 * Storage holds its output rows (outputs, then the event's time in
	 * event_time_column if the stream has an event time); keys and
	 * aggregates are empty.
	 */
	bool		transform;
	List	   *outputs;		/* ContinuousOutput, in SELECT-list order */
	char	   *event_time_column;	/* NULL: none stored */
} ContinuousPlan;

/*
 * Is the analysed SELECT a transform: one that keeps its output rows
 * instead of aggregating (no aggregate, GROUP BY or HAVING)?  Here, not in
 * plan.c, for the checks and window kinds that run before a plan exists.
 */
static inline bool
continuous_query_is_transform(Query *query)
{
	return !query->hasAggs && query->groupClause == NIL &&
		query->groupingSets == NIL && query->havingQual == NULL;
}

#endif							/* CONTINUOUS_PLAN_TYPES_H */
