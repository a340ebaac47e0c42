/*-------------------------------------------------------------------------
 *
 * window_hop.h
 *	  Hopping windows: continuous.hop() in FROM, from the SQL function to
 *	  the worker's per-event window assignment.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WINDOW_HOP_H
#define CONTINUOUS_WINDOW_HOP_H

#include "datatype/timestamp.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"

/*
 * FROM stream CROSS JOIN LATERAL continuous.hop(ts, size, slide, origin):
 * the function's range table entry and its constant arguments.
 */
typedef struct HopSpec
{
	Index		rtindex;		/* of the function in the query's range table */
	Expr	   *ts;				/* its first argument, over the stream */
	Oid			ts_type;		/* timestamptz or timestamp */
	Interval	size;			/* as written, for continuous.views */
	Interval	slide;
	int64		size_us;		/* a day is 24 hours, as in date_bin() */
	int64		slide_us;
	TimestampTz origin;			/* microseconds, whatever ts_type */
} HopSpec;

/* A view's hop at run time (window_hop.c). */
typedef struct HopRuntime HopRuntime;

/* Is funcid continuous.hop()? */
extern bool hop_is_function(Oid funcid);

/*
 * The hop of an analysed query, or NULL if its FROM has none.  Errors out
 * on arguments no window can be built from (sizes that are not constant,
 * not positive, or in months).
 */
extern HopSpec *hop_spec_of_query(Query *query);

/*
 * For CREATE VIEW: NULL if the FROM clause holds no continuous.hop();
 * otherwise the stream's entry of "stream CROSS JOIN LATERAL hop(...)",
 * after refusing every other shape, WHERE clauses that use the window, and
 * a window start that is not a group key.
 */
extern RangeTblRef *hop_check_from(Query *query);

/* Is expr the hop's window start, as a group key? */
extern bool hop_is_window_column(HopSpec *hop, Expr *expr);

/* "hop <size> every <slide>", for continuous.views.window */
extern char *hop_window_description(HopSpec *hop);

/*
 * Run time: expressions of the query that read the window start read it
 * from econtext's inner tuple instead, which hop_bind_window() fills in for
 * each window of an event in turn.
 */
extern Node *hop_bind_window_column(HopSpec *hop, Node *node);
extern HopRuntime *hop_runtime_create(HopSpec *hop, ExprContext *econtext);
extern void hop_runtime_destroy(HopRuntime *hr);
/* Windows of the event in econtext's scan tuple; per-tuple memory. */
extern int	hop_event_windows(HopRuntime *hr, ExprContext *econtext);
/* Make window i (0 .. windows - 1, oldest first) the current one. */
extern void hop_bind_window(HopRuntime *hr, ExprContext *econtext, int i);

#endif							/* CONTINUOUS_WINDOW_HOP_H */
