/*-------------------------------------------------------------------------
 *
 * chain_emit.h
 *	  The closed windows of an emit = 'window_close' view, appended to its
 *	  emission table, which continuous views over it read as their stream.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_CHAIN_EMIT_H
#define CONTINUOUS_CHAIN_EMIT_H

#include "datatype/timestamp.h"

#include "exec/view_runtime.h"
#include "plan/plan_types.h"

/* An emitting view, as both the DDL's first fill and the worker know it. */
typedef struct ChainSource
{
	Oid			view;			/* the emit = 'window_close' view */
	Oid			emission;		/* its emission table */
	AttrNumber	window_column;	/* the window's column, in both */
	ContinuousPlan *plan;		/* the view's */
	Interval	lateness;		/* its allowed_lateness */
	Oid			owner;			/* its finalize functions run as */
	const char *search_path;	/* with the view's search_path */
} ChainSource;

/*
 * Append the view's rows of the windows that close (window + size +
 * allowed_lateness) in (after, upto] to the emission table, in this
 * transaction; returns how many.
 */
extern uint64 chain_emit_windows(const ChainSource *src, TimestampTz after,
								 TimestampTz upto);

/* The worker: which views emit, read with the rest of the catalog. */
extern void chain_emit_load(void);

/*
 * The worker, in the flush, after the view's state is written: the
 * windows the watermark closed since the last emission, and how far it
 * emitted.  False if the emission could not lock its relations and waits
 * for a later flush (and nothing may delete closed windows meanwhile).
 */
extern bool chain_emit_closed_windows(ViewRuntime *vr);

/*
 * Has one of views (ViewRuntime) closed windows it has not emitted (its
 * emission table was locked, or the catalog was read after its watermark
 * moved)?  The worker then flushes even without events.
 */
extern bool chain_emit_owed(List *views);

#endif							/* CONTINUOUS_CHAIN_EMIT_H */
