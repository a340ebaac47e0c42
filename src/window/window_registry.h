/*-------------------------------------------------------------------------
 *
 * window_registry.h
 *	  The window kinds of continuous views, asked in turn: what the DDL
 *	  files, the plan and the worker need of whichever kinds a view has.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WINDOW_REGISTRY_H
#define CONTINUOUS_WINDOW_REGISTRY_H

#include "nodes/parsenodes.h"
#include "parser/parse_node.h"

#include "exec/view_runtime.h"
#include "plan/plan_types.h"

/* plan.c: the plan's windows (plan->windows, plan->window). */
extern void window_registry_recognise(ContinuousPlan *plan);

/*
 * ddl_view_check.c, before the plan: the stream's entry of a FROM clause
 * that joins a kind's function (NULL: none); the kinds' own checks; is
 * funcid computed by the worker whatever its volatility; a hint for a
 * kind's function found where it is not allowed (NULL: none).
 */
extern RangeTblRef *window_registry_check_from(Query *query);
extern void window_registry_check_query(ParseState *pstate, Query *query);
extern bool window_registry_computes_function(Oid funcid);
extern const char *window_registry_function_hint(Oid funcid);

/*
 * ddl_view.c, after the plan: the kinds' checks of the plan; the error
 * that the plan has no window by event time, which option needs (a kind's
 * if it knows why); continuous.views.window (NULL: no window); do the
 * rows of the view's groups stop changing once their window is complete;
 * the table a window keeps beside storage (InvalidOid: none).
 */
extern void window_registry_check_view(ParseState *pstate,
									   ContinuousPlan *plan);
extern void window_registry_refuse_missing(ContinuousPlan *plan,
										   const char *option) pg_attribute_noreturn();
extern char *window_registry_describe(ContinuousPlan *plan);
extern bool window_registry_groups_settle(ContinuousPlan *plan);

/* Does every window of plan place an event by the event alone (window_kind.h)? */
extern bool window_registry_places_alone(ContinuousPlan *plan);
extern Oid	window_registry_create_side_table(ContinuousPlan *plan,
											  const char *view_name,
											  Oid storage);

/*
 * worker_kafka.c: does a window of the plan number events in the order
 * they are delivered, so that one worker must read all of the stream?
 */
extern bool window_registry_needs_one_reader(ContinuousPlan *plan);

/*
 * The stages that evaluate a view's expressions per event (aggregate,
 * append): an expression as the plan's windows make the worker read it;
 * the windows' run-time states for the view, in plan order, in its memory,
 * with the one that places an event in several windows (NULL: none); and
 * their release.
 */
extern Node *window_registry_bind_expr(ContinuousPlan *plan, Node *expr);
extern WindowRuntime *window_registry_runtimes_create(ViewRuntime *vr,
													  WindowRuntime **fanout);
extern void window_registry_runtimes_destroy(WindowRuntime *windows,
											 int nwindows);

/* rebuild.c: that table, of an existing view's storage; InvalidOid: none */
extern Oid	window_registry_side_table(Oid storage);

#endif							/* CONTINUOUS_WINDOW_REGISTRY_H */
