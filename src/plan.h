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

#include "datatype/timestamp.h"
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

	char	   *event_time;		/* the stream's event-time column, or NULL */
	AttrNumber	event_time_attnum;	/* its number; InvalidAttrNumber: none */

	/*
	 * The window among the keys: a key that computes the start of a
	 * fixed-length window over the stream's event time, or the window start
	 * of a hop over it (see plan.c).
	 */
	int			window_key;		/* index into keys, or -1 */
	Interval   *window_size;	/* its length; NULL without a window */
	const char *window_function;	/* "tumble", "date_bin", "date_trunc",
									 * "session" or "hop" */

	/*
	 * A session window (window_size is then the gap, in microseconds only):
	 * the key's value is the session's start, and the storage table has one
	 * more column after the aggregate states, the session's end (see
	 * window_session.c).
	 */
	bool		session;
	char	   *session_end_column;

	/*
	 * A date_trunc() key over the event time whose unit has no fixed length
	 * (month, year, ...): fine as a key, but no window can close by it.
	 * The unit, or NULL.
	 */
	char	   *variable_window_unit;

	/* FROM stream CROSS JOIN LATERAL continuous.hop(...), or NULL */
	struct HopSpec *hop;

	/* GROUP BY ..., continuous.count_window(n): index into keys, or -1 */
	int			count_key;
	int64		count_size;		/* its n */
} ContinuousPlan;

/*
 * Derive the plan of a query that ddl_view.c has already accepted.  Storage
 * types are resolved through agg_support.c.
 */
extern ContinuousPlan *continuous_plan_build(Query *query);

/*
 * The worker's plan of a view takes the names of its storage table's
 * columns, by position; an error if their types differ from the plan's.
 */
extern void continuous_plan_bind_storage(ContinuousPlan *plan, Oid storage,
										 const char *view_name);

/*
 * When the window that starts at window_start (a value of the window key)
 * closes: window_start + window size + allowed_lateness, as a timestamptz
 * (a timestamp key is read as UTC, like the watermark).  The one place that
 * computes it for the worker; the read view of emit = 'window_close' says
 * the same in SQL (ddl_view.c).
 */
extern TimestampTz continuous_window_closes_at(ContinuousPlan *plan,
											   Datum window_start,
											   const Interval *lateness);

#endif							/* CONTINUOUS_PLAN_H */
