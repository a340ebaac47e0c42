/*-------------------------------------------------------------------------
 *
 * window_registry.c
 *	  The window kinds of continuous views, and the questions the rest of
 *	  the extension asks of them.
 *
 * Pipeline position: windows.  This is the one file that names every kind
 * (window_kind.h says what a kind is).  The DDL files and plan.c ask the
 * registry, which asks each kind in turn; at run time the stages that
 * evaluate a view's expressions (stage_aggregate.c, stage_append.c) make
 * the windows' states here and call their callbacks (WindowRuntime), as
 * flush.c does.
 *
 * A new kind is a file that defines its WindowKind, and a line below.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/builtins.h"

#include "ddl/ddl_catalog.h"
#include "window/window_kind.h"
#include "window/window_registry.h"

extern const WindowKind session_window_kind;	/* window_session.c */
extern const WindowKind hop_window_kind;	/* window_hop.c */
extern const WindowKind tumble_window_kind; /* window_tumble.c */
extern const WindowKind count_window_kind;	/* window_count.c */

/* In the order the plan lists the windows of a view. */
static const WindowKind *const window_kinds[] = {
	&session_window_kind,
	&hop_window_kind,
	&tumble_window_kind,
	&count_window_kind,
};

#define foreach_window_kind(kind) \
	for (const WindowKind *const *kind = window_kinds; \
		 kind < window_kinds + lengthof(window_kinds); kind++)

static bool is_better_window(PlanWindow *window, PlanWindow *than);
static char *describe_window(ContinuousPlan *plan, PlanWindow *window);

void
window_registry_recognise(ContinuousPlan *plan)
{
	plan->windows = NIL;
	plan->window = NULL;
	foreach_window_kind(kind)
	{
		PlanWindow *window;

		if ((*kind)->recognise == NULL)
			continue;
		window = palloc0(sizeof(PlanWindow));
		window->key = -1;
		if (!(*kind)->recognise(plan, window))
		{
			pfree(window);
			continue;
		}
		window->kind = *kind;
		plan->windows = lappend(plan->windows, window);
		if (window->size != NULL && is_better_window(window, plan->window))
			plan->window = window;
	}
}

/* Is window, which the watermark closes, the view's window rather than than? */
static bool
is_better_window(PlanWindow *window, PlanWindow *than)
{
	if (than == NULL)
		return true;
	if (window->kind->exclusive != than->kind->exclusive)
		return window->kind->exclusive;
	return window->key < than->key;
}

RangeTblRef *
window_registry_check_from(Query *query)
{
	foreach_window_kind(kind)
	{
		RangeTblRef *stream;

		if ((*kind)->check_from != NULL &&
			(stream = (*kind)->check_from(query)) != NULL)
			return stream;
	}
	return NULL;
}

void
window_registry_check_query(ParseState *pstate, Query *query)
{
	foreach_window_kind(kind)
	{
		if ((*kind)->check_query != NULL)
			(*kind)->check_query(pstate, query);
	}
}

bool
window_registry_computes_function(Oid funcid)
{
	foreach_window_kind(kind)
	{
		if ((*kind)->computes_function != NULL &&
			(*kind)->computes_function(funcid))
			return true;
	}
	return false;
}

const char *
window_registry_function_hint(Oid funcid)
{
	foreach_window_kind(kind)
	{
		const char *hint;

		if ((*kind)->function_hint != NULL &&
			(hint = (*kind)->function_hint(funcid)) != NULL)
			return hint;
	}
	return NULL;
}

void
window_registry_check_view(ParseState *pstate, ContinuousPlan *plan)
{
	foreach_window_kind(kind)
	{
		if ((*kind)->check_view != NULL)
			(*kind)->check_view(pstate, plan);
	}
}

void
window_registry_refuse_missing(ContinuousPlan *plan, const char *option)
{
	foreach_window_kind(kind)
	{
		if ((*kind)->explain_missing != NULL)
			(*kind)->explain_missing(plan, option);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s requires a window", option),
			 errdetail("No GROUP BY expression of the view is a window over the event time of stream %s.",
					   ddl_relation_display_name(plan->stream)),
			 errhint("Group by continuous.tumble(%s, size), continuous.session(%s, gap), or the window start of continuous.hop(%s, size, slide).",
					 quote_identifier(plan->event_time),
					 quote_identifier(plan->event_time),
					 quote_identifier(plan->event_time))));
}

/* The view's window's description, else the first other window's. */
char *
window_registry_describe(ContinuousPlan *plan)
{
	ListCell   *lc;

	if (plan->window != NULL)
		return describe_window(plan, plan->window);
	foreach(lc, plan->windows)
	{
		char	   *description = describe_window(plan, lfirst(lc));

		if (description != NULL)
			return description;
	}
	return NULL;
}

/* "tumble 00:01:00" unless the kind says otherwise; NULL: none */
static char *
describe_window(ContinuousPlan *plan, PlanWindow *window)
{
	if (window->kind->describe != NULL)
		return window->kind->describe(plan, window);
	if (window->size == NULL)
		return NULL;
	return psprintf("%s %s", window->kind->name,
					window_interval_text(window->size));
}

bool
window_registry_groups_settle(ContinuousPlan *plan)
{
	ListCell   *lc;

	if (plan->window != NULL)
		return true;
	foreach(lc, plan->windows)
	{
		if (((PlanWindow *) lfirst(lc))->kind->groups_settle)
			return true;
	}
	return false;
}

bool
window_registry_places_alone(ContinuousPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->windows)
	{
		if (!((PlanWindow *) lfirst(lc))->kind->places_alone)
			return false;
	}
	return true;
}

Oid
window_registry_create_side_table(ContinuousPlan *plan, const char *view_name,
								  Oid storage)
{
	ListCell   *lc;

	foreach(lc, plan->windows)
	{
		PlanWindow *window = lfirst(lc);

		if (window->kind->create_side_table != NULL)
			return window->kind->create_side_table(plan, window, view_name,
												   storage);
	}
	return InvalidOid;
}

bool
window_registry_needs_one_reader(ContinuousPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->windows)
	{
		if (((PlanWindow *) lfirst(lc))->kind->delivery_order)
			return true;
	}
	return false;
}

Oid
window_registry_side_table(Oid storage)
{
	foreach_window_kind(kind)
	{
		Oid			table;

		if ((*kind)->side_table != NULL &&
			OidIsValid(table = (*kind)->side_table(storage)))
			return table;
	}
	return InvalidOid;
}

Node *
window_registry_bind_expr(ContinuousPlan *plan, Node *expr)
{
	ListCell   *lc;

	foreach(lc, plan->windows)
	{
		PlanWindow *window = lfirst(lc);

		if (window->kind->bind_expr != NULL)
			expr = window->kind->bind_expr(window, expr);
	}
	return expr;
}

WindowRuntime *
window_registry_runtimes_create(ViewRuntime *vr, WindowRuntime **fanout)
{
	WindowRuntime *windows;
	ListCell   *lc;

	*fanout = NULL;
	windows = palloc0(sizeof(WindowRuntime) * Max(list_length(vr->plan->windows), 1));
	foreach(lc, vr->plan->windows)
	{
		WindowRuntime *wr = &windows[foreach_current_index(lc)];

		wr->window = lfirst(lc);
		wr->kind = wr->window->kind;
		if (wr->kind->runtime_create != NULL)
			wr->state = wr->kind->runtime_create(vr, wr);
		if (wr->kind->event_windows != NULL)
			*fanout = wr;
	}
	return windows;
}

void
window_registry_runtimes_destroy(WindowRuntime *windows, int nwindows)
{
	int			i;

	for (i = 0; i < nwindows; i++)
	{
		if (windows[i].kind->runtime_destroy != NULL)
			windows[i].kind->runtime_destroy(&windows[i]);
	}
}
