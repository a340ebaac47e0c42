/*-------------------------------------------------------------------------
 *
 * plan.h
 *	  What a continuous view computes, derived from its analysed SELECT.
 *
 * One derivation serves both ends of the pipeline: ddl_view.c creates the
 * storage table from it (storage_layout.c: one column per group key, one
 * per aggregate state) and the read view over it; the worker uses it to
 * evaluate WHERE, the keys
 * and the aggregate arguments for each event.  Both must agree on the order
 * of keys and aggregates, which is why neither computes it on its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_PLAN_H
#define CONTINUOUS_PLAN_H

#include "datatype/timestamp.h"

#include "plan/plan_types.h"

/*
 * Derive the plan of a query that ddl_view.c has already accepted.  Storage
 * types are resolved through agg_support.c.
 */
extern ContinuousPlan *continuous_plan_build(Query *query);

/*
 * When the window that starts at window_start (a value of the key of
 * plan->window) closes: window_start + its size + allowed_lateness, as a
 * timestamptz (a timestamp key is read as UTC, like the watermark).  The
 * one place that computes it for the worker; the read view of emit =
 * 'window_close' says the same in SQL (ddl_view.c).
 */
extern TimestampTz continuous_window_closes_at(ContinuousPlan *plan,
											   Datum window_start,
											   const Interval *lateness);

#endif							/* CONTINUOUS_PLAN_H */
