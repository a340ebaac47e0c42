/*-------------------------------------------------------------------------
 *
 * window_session.h
 *	  Session windows: continuous.session(ts, gap), from CREATE VIEW to
 *	  flush.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WINDOW_SESSION_H
#define CONTINUOUS_WINDOW_SESSION_H

#include "nodes/parsenodes.h"
#include "parser/parse_node.h"

#include "batch.h"
#include "flush.h"
#include "plan.h"

/*
 * plan.c: if a group key is continuous.session(event_time, constant gap),
 * make it the plan's window (plan->session) and return true.
 */
extern bool session_plan_window(ContinuousPlan *plan, AttrNumber event_time);

/*
 * ddl_view.c: refuse continuous.session() where a continuous view cannot
 * keep it (not a group key of its own, not over the event time, a gap that
 * is not a positive constant, other keys that depend on the event time).
 */
extern void session_check_view(ParseState *pstate, ContinuousPlan *plan);

/*
 * batch.c: what the worker evaluates for group key keyno: for the session
 * key, the event time itself (an event's own window starts there), for
 * the others the key.
 */
extern Expr *session_key_input(ContinuousPlan *plan, int keyno, Expr *expr);

/*
 * batch.c, around one batch of a session view: an event that would join a
 * session the watermark had closed before the batch is late.
 */
extern void session_batch_begin(ViewRuntime *vr);
extern bool session_event_joins_closed(ViewRuntime *vr, TupleTableSlot *proj);
extern void session_batch_end(ViewRuntime *vr);

/* flush.c: merge the batch's partial sessions into stored sessions. */
extern void session_flush_groups(ViewRuntime *vr, StorageTarget *target);

#endif							/* CONTINUOUS_WINDOW_SESSION_H */
