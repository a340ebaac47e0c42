/*-------------------------------------------------------------------------
 *
 * window_count.h
 *	  Count windows: GROUP BY key, continuous.count_window(n) numbers each
 *	  key's consecutive runs of n events in delivery order.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WINDOW_COUNT_H
#define CONTINUOUS_WINDOW_COUNT_H

#include "executor/tuptable.h"
#include "nodes/parsenodes.h"
#include "parser/parse_node.h"

#include "plan.h"

/* A view's count window at run time (window_count.c). */
typedef struct CountWindowRuntime CountWindowRuntime;

struct ViewRuntime;

/* Is funcid continuous.count_window()? */
extern bool count_window_is_function(Oid funcid);

/*
 * For CREATE VIEW: continuous.count_window(n), if the query calls it, must
 * be a whole GROUP BY expression with a constant n > 0, used once, and
 * nowhere else but in the SELECT list and HAVING as that group key.
 */
extern void count_window_check_query(ParseState *pstate, Query *query);

/* Sets plan->count_key and plan->count_size. */
extern void count_window_plan(ContinuousPlan *plan);

/*
 * The per-key running counts live in a table beside the storage table,
 * continuous_storage.<view>_counts, internal to the storage table
 * (view_dependencies.c records that): written in the flush transaction
 * with the state, so numbering survives restarts.  Returns its OID.
 */
extern Oid	count_window_create_storage(ContinuousPlan *plan,
										const char *view_name, Oid storage);

/* What the projection computes in place of the call: numbered later. */
/* That table of a view's storage table; InvalidOid: it has none. */
extern Oid	count_window_counts_table(Oid storage);

extern Expr *count_window_placeholder(void);

extern CountWindowRuntime *count_window_runtime_create(struct ViewRuntime *vr);
/*
 * Number the event whose keys (the count window's still the placeholder)
 * are in proj, and set the count window key there.
 */
extern void count_window_assign(struct ViewRuntime *vr, TupleTableSlot *proj);
/* Forget the batch's counts (after its flush, or to run it again). */
extern void count_window_reset(struct ViewRuntime *vr);
/* Write the batch's counts; in the flush transaction, SPI connected. */
extern void count_window_flush(struct ViewRuntime *vr);

#endif							/* CONTINUOUS_WINDOW_COUNT_H */
