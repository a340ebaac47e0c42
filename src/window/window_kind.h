/*-------------------------------------------------------------------------
 *
 * window_kind.h
 *	  The interface of a window kind: what tumbling, hopping, session and
 *	  count windows each do in their own way, from CREATE VIEW to expiry.
 *
 * A window is a group key whose value a kind computes (PlanWindow,
 * plan_types.h).  Each kind fills one WindowKind with its callbacks, as an
 * FDW fills an FdwRoutine; window_registry.c lists the kinds, and the rest
 * of the extension asks the registry, never a kind by name.  A callback
 * left NULL means the kind has nothing to do at that step.
 *
 * The kinds depend on this header, on the types of a plan and of a view at
 * run time (plan_types.h, view_runtime.h), and on the modules below the
 * batch: the groups of a batch (view_groups.h) and the storage layout
 * (storage_layout.h).  They never call into plan.c, the partial aggregate
 * stage (stage_aggregate.c) or flush.c, which call them.
 *
 * Where each step runs:
 *
 *	 CREATE VIEW, before the plan (ddl_view_check.c): check_from,
 *	 check_query, computes_function, function_hint
 *	 the plan (plan.c, at CREATE VIEW and in the worker): recognise
 *	 CREATE VIEW, after the plan (ddl_view.c): check_view, explain_missing,
 *	 describe, create_side_table, groups_settle (the storage table's fill
 *	 factor)
 *	 batch (stage_aggregate.c): key_input, bind_expr, runtime_create,
 *	 runtime_destroy, event_windows and bind_window (fan-out),
 *	 batch_begin, event_late, assign, batch_end, batch_reset
 *	 flush (flush.c): flush_groups, flush_side_state
 *	 Kafka workers (worker_kafka.c): delivery_order
 *	 rebuild (rebuild.c): side_table
 *
 * What a window stores and when it closes is data the kind fills in its
 * PlanWindow (size, end_column), not a callback: the storage layout
 * (storage_layout.c), the read view's closed-window predicate (ddl_view.c),
 * the worker's lateness (plan.c) and retention (window_expiry.c) follow
 * from it, each in one place for every kind.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WINDOW_KIND_H
#define CONTINUOUS_WINDOW_KIND_H

#include "catalog/pg_class.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "parser/parse_node.h"
#include "parser/parsetree.h"
#include "utils/datetime.h"

#include "exec/view_runtime.h"
#include "plan/plan_types.h"
#include "state/storage_layout.h"

typedef struct WindowKind
{
	/* "tumble", "hop", "session", "count_window" */
	const char *name;

	/*
	 * A view with this window has no other window that the watermark
	 * closes (check_view refuses one), so it is the plan's window
	 * whatever its key; among the others, the first key's wins.
	 */
	bool		exclusive;

	/*
	 * A group's row stops changing once its window is complete, though the
	 * watermark does not close it (a count window once its n events are
	 * in).  Windows the watermark closes settle anyway.
	 */
	bool		groups_settle;

	/*
	 * Windows depend on the order in which events are delivered (a count
	 * window numbers them): one worker reads all of a Kafka stream's
	 * partitions.
	 */
	bool		delivery_order;

	/*
	 * Where an event goes depends on the event alone, not on other events
	 * (a session merges with its neighbours) nor on their order (a count
	 * window numbers them): a transaction's events can be placed in windows
	 * and groups apart from the batch's before it commits, and their groups
	 * combined with the batch's at commit (early_aggregation.c).
	 */
	bool		places_alone;

	/*
	 * CREATE VIEW, before the plan.  check_from: a kind that joins a
	 * function in FROM returns the stream's entry of that join, or NULL if
	 * the FROM clause has none (after refusing the shapes it cannot keep).
	 * check_query: refuse what the kind cannot maintain.
	 * computes_function: is funcid a function the worker computes itself,
	 * whatever its volatility?  function_hint: how to use funcid, a
	 * function of the kind found where it is not allowed, or NULL.
	 */
	RangeTblRef *(*check_from) (Query *query);
	void		(*check_query) (ParseState *pstate, Query *query);
	bool		(*computes_function) (Oid funcid);
	const char *(*function_hint) (Oid funcid);

	/*
	 * The plan: is one of plan's keys (plan->keys, plan->query, the
	 * stream's event time) a window of this kind?  If so, fill window
	 * (zeroed, key -1; the registry sets its kind) and return true.  A
	 * window that the watermark closes has a size; one without a key
	 * still takes part at run time (a hop's fan-out).
	 */
	bool		(*recognise) (ContinuousPlan *plan, PlanWindow *window);

	/*
	 * CREATE VIEW, after the plan.  check_view: refuse what the kind
	 * cannot keep in this plan, whether or not it recognised a window in
	 * it.  explain_missing: the plan has no window by event time, which
	 * option needs; raise an error if the kind knows why (a key that is
	 * almost its window), else return.  describe: continuous.views.window.
	 * create_side_table: a table of the kind's own beside the storage
	 * table, internal to it; returns its OID.
	 */
	void		(*check_view) (ParseState *pstate, ContinuousPlan *plan);
	void		(*explain_missing) (ContinuousPlan *plan, const char *option);
	char	   *(*describe) (ContinuousPlan *plan, PlanWindow *window);
	Oid			(*create_side_table) (ContinuousPlan *plan, PlanWindow *window,
									  const char *view_name, Oid storage);

	/*
	 * Batch: building the projection.  key_input: what the worker evaluates
	 * per event for the window's key instead of its expression.  bind_expr:
	 * rewrite any expression of the view (keys, aggregate arguments) that
	 * reads the window from elsewhere than its key.
	 */
	Expr	   *(*key_input) (PlanWindow *window, Expr *expr);
	Node	   *(*bind_expr) (PlanWindow *window, Node *expr);

	/* The kind's state for a view (WindowRuntime.state), in its memory. */
	void	   *(*runtime_create) (ViewRuntime *vr, WindowRuntime *wr);
	void		(*runtime_destroy) (WindowRuntime *wr);

	/*
	 * Fan-out: how many windows the event in econtext's scan tuple falls
	 * in, and make window i of them current before the keys are computed.
	 * At most one window of a view fans out.
	 */
	int			(*event_windows) (WindowRuntime *wr, ExprContext *econtext);
	void		(*bind_window) (WindowRuntime *wr, ExprContext *econtext, int i);

	/*
	 * Around each batch, and per event once its keys are in proj (keys
	 * first).  event_late: only while vr->judge_lateness, after the
	 * window's own end was found open; is the event late anyway?  assign:
	 * the event reaches its group; set the window key in proj.
	 * batch_reset: forget the batch (after its flush, or to run it again).
	 */
	void		(*batch_begin) (ViewRuntime *vr, WindowRuntime *wr);
	bool		(*event_late) (ViewRuntime *vr, WindowRuntime *wr,
							   TupleTableSlot *proj);
	void		(*assign) (ViewRuntime *vr, WindowRuntime *wr,
						   TupleTableSlot *proj);
	void		(*batch_end) (ViewRuntime *vr, WindowRuntime *wr);
	void		(*batch_reset) (ViewRuntime *vr, WindowRuntime *wr);

	/*
	 * Flush, in the flush transaction.  flush_groups: merge the batch's
	 * groups into storage in the kind's own way, instead of one row per
	 * group.  flush_side_state: write the kind's state of the batch
	 * (SPI connected).
	 */
	void		(*flush_groups) (ViewRuntime *vr, WindowRuntime *wr,
								 StorageTarget *target);
	void		(*flush_side_state) (ViewRuntime *vr, WindowRuntime *wr);

	/* The table of the kind's own beside storage; InvalidOid: none. */
	Oid			(*side_table) (Oid storage);
} WindowKind;

/*
 * Is node the stream's event-time column itself (event_time: its number)?
 * The kinds by event time recognise their windows by it.  The stream's
 * relation in the query is the stream itself, or a view whose emission
 * table (with the view's columns) is the stream (view_chain.c); joined
 * tables are never views.
 */
static inline bool
window_is_event_time(ContinuousPlan *plan, Node *node, AttrNumber event_time)
{
	Var		   *var = (Var *) node;

	return event_time != InvalidAttrNumber && node != NULL &&
		IsA(node, Var) && var->varlevelsup == 0 &&
		var->varattno == event_time &&
		(rt_fetch(var->varno, plan->query->rtable)->relid == plan->stream ||
		 rt_fetch(var->varno, plan->query->rtable)->relkind == RELKIND_VIEW);
}

/*
 * An interval as continuous.views.window shows it: in the postgres style,
 * whatever the creating session's IntervalStyle, so that the description
 * does not depend on who created the view.
 */
static inline char *
window_interval_text(const Interval *interval)
{
	struct pg_itm itm;
	char		text[MAXDATELEN + 1];

	interval2itm(*interval, &itm);
	EncodeInterval(&itm, INTSTYLE_POSTGRES, text);
	return pstrdup(text);
}

#endif							/* CONTINUOUS_WINDOW_KIND_H */
