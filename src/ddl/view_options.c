/*-------------------------------------------------------------------------
 *
 * view_options.c
 *	  The options of CREATE VIEW ... WITH (continuous, ...): which are ours,
 *	  what their values may be, and which need a window.
 *
 * Pipeline position: DDL.  ddl_view.c splits a view's WITH (...) here into
 * the continuous view's options and PostgreSQL's own view options, and
 * checks them against the plan once the SELECT is analysed.  An error
 * about a value points at the option and says what it accepts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "ddl/ddl_catalog.h"
#include "ddl/view_options.h"
#include "window/window_registry.h"

/* Options of CREATE VIEW that belong to continuous views. */
static const char *const continuous_option_names[] = {
	"continuous", "emit", "allowed_lateness", "late_events", "retention",
	"backfill", NULL
};

/* PostgreSQL's own view options that a continuous view keeps. */
static const char *const view_option_names[] = {
	"security_barrier", "security_invoker", NULL
};

#define VALID_OPTIONS_HINT \
	"Valid options are continuous, emit, allowed_lateness, late_events, retention, backfill, security_barrier and security_invoker."

static Interval *option_interval(ParseState *pstate, DefElem *def);
static void option_error_callback(void *arg);
static void check_late_events_name(ParseState *pstate, DefElem *def,
								   const char *value);

bool
view_options_is_ours(const char *name)
{
	int			i;

	for (i = 0; continuous_option_names[i] != NULL; i++)
	{
		if (strcmp(name, continuous_option_names[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Split WITH (...) into our options and the view's own.  Values are checked
 * here; whether the combination is supported, in view_options_check_values().
 */
void
view_options_parse(ParseState *pstate, List *options,
						 ContinuousOptions *opts)
{
	DefElem    *continuous_def = NULL;
	DefElem    *emit_def = NULL;
	DefElem    *lateness_def = NULL;
	DefElem    *late_events_def = NULL;
	DefElem    *retention_def = NULL;
	DefElem    *backfill_def = NULL;
	ListCell   *lc;

	memset(opts, 0, sizeof(ContinuousOptions));
	opts->backfill = true;
	opts->emit = "changes";
	opts->allowed_lateness = palloc0(sizeof(Interval));
	opts->late_events = "drop";

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		DefElem   **slot = NULL;

		if (def->defnamespace == NULL && view_options_is_ours(def->defname))
		{
			if (strcmp(def->defname, "continuous") == 0)
				slot = &continuous_def;
			else if (strcmp(def->defname, "emit") == 0)
				slot = &emit_def;
			else if (strcmp(def->defname, "allowed_lateness") == 0)
				slot = &lateness_def;
			else if (strcmp(def->defname, "late_events") == 0)
				slot = &late_events_def;
			else if (strcmp(def->defname, "backfill") == 0)
				slot = &backfill_def;
			else
				slot = &retention_def;
		}
		if (slot == NULL)
		{
			opts->view_options = lappend(opts->view_options, def);
			continue;
		}
		if (*slot != NULL)
			errorConflictingDefElem(def, pstate);
		*slot = def;
		opts->mentioned = true;
	}
	if (!opts->mentioned)
		return;

	if (continuous_def != NULL)
	{
		OptionErrorContext oc;

		view_options_error_push(&oc, pstate, continuous_def->defname,
						  continuous_def->location, ACCEPTS_BOOLEAN);
		opts->continuous = defGetBoolean(continuous_def);
		view_options_error_pop(&oc);
	}
	if (!opts->continuous)
	{
		DefElem    *first = emit_def ? emit_def : lateness_def ? lateness_def :
		late_events_def ? late_events_def : retention_def ? retention_def :
		backfill_def;

		if (first == NULL)
		{
			opts->mentioned = false;
			opts->not_continuous = true;
			return;
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" is only valid for continuous views",
						first->defname),
				 errhint("Add the continuous option: WITH (continuous, %s = ...).",
						 first->defname),
				 parser_errposition(pstate, first->location)));
	}

	if (emit_def != NULL)
	{
		char	   *emit = defGetString(emit_def);

		if (pg_strcasecmp(emit, "changes") == 0)
			opts->emit = "changes";
		else if (pg_strcasecmp(emit, "window_close") == 0)
			opts->emit = "window_close";
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"emit\": \"%s\"", emit),
					 errdetail("Valid values are \"changes\" and \"window_close\"."),
					 parser_errposition(pstate, emit_def->location)));
	}
	if (lateness_def != NULL)
		opts->allowed_lateness = option_interval(pstate, lateness_def);
	if (late_events_def != NULL)
	{
		char	   *late_events = defGetString(late_events_def);

		if (pg_strcasecmp(late_events, "drop") == 0)
			opts->late_events = "drop";
		else
		{
			check_late_events_name(pstate, late_events_def, late_events);
			opts->late_events = late_events;
		}
		opts->late_events_location = late_events_def->location;
	}
	if (retention_def != NULL)
		opts->retention = option_interval(pstate, retention_def);
	if (backfill_def != NULL)
	{
		OptionErrorContext oc;

		view_options_error_push(&oc, pstate, backfill_def->defname,
						  backfill_def->location, ACCEPTS_BOOLEAN);
		opts->backfill = defGetBoolean(backfill_def);
		view_options_error_pop(&oc);
		opts->backfill_def = backfill_def;
	}

	/* the view's own options: only those a continuous view can honour */
	foreach(lc, opts->view_options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		bool		known = false;
		int			i;

		if (strcmp(def->defname, "check_option") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("continuous views do not support WITH CHECK OPTION"),
					 errdetail("Continuous views cannot be written to."),
					 parser_errposition(pstate, def->location)));
		for (i = 0; view_option_names[i] != NULL; i++)
			known |= def->defnamespace == NULL &&
				strcmp(def->defname, view_option_names[i]) == 0;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized continuous view option \"%s\"",
							def->defname),
					 errhint(VALID_OPTIONS_HINT),
					 parser_errposition(pstate, def->location)));
	}
}

static Interval *
option_interval(ParseState *pstate, DefElem *def)
{
	Interval	zero = {0};
	Interval   *value;
	char	   *text;
	OptionErrorContext oc;

	view_options_error_push(&oc, pstate, def->defname, def->location,
					  ACCEPTS_INTERVAL);
	text = defGetString(def);
	value = DatumGetIntervalP(DirectFunctionCall3(interval_in,
												  CStringGetDatum(text),
												  ObjectIdGetDatum(InvalidOid),
												  Int32GetDatum(-1)));
	view_options_error_pop(&oc);
	if (DatumGetBool(DirectFunctionCall2(interval_lt,
										 IntervalPGetDatum(value),
										 IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must not be negative", def->defname),
				 errhint("Use an interval of zero or more, such as '5 minutes'."),
				 parser_errposition(pstate, def->location)));
	return value;
}

void
view_options_error_push(OptionErrorContext *oc, ParseState *pstate,
				  const char *name, int location, const char *accepts)
{
	oc->pstate = pstate;
	oc->name = name;
	oc->location = location;
	oc->accepts = accepts;
	oc->callback.callback = option_error_callback;
	oc->callback.arg = oc;
	oc->callback.previous = error_context_stack;
	error_context_stack = &oc->callback;
}

void
view_options_error_pop(OptionErrorContext *oc)
{
	error_context_stack = oc->callback.previous;
}

static void
option_error_callback(void *arg)
{
	OptionErrorContext *oc = (OptionErrorContext *) arg;

	if (geterrcode() == ERRCODE_QUERY_CANCELED)
		return;
	if (oc->pstate != NULL && oc->pstate->p_sourcetext != NULL)
		(void) parser_errposition(oc->pstate, oc->location);
	errcontext("continuous view option \"%s\", which takes %s",
			   oc->name, oc->accepts);
}

/*
 * late_events names a table as SQL would, in one string: PostgreSQL's own
 * "invalid name syntax" would not say which option holds it.
 */
static void
check_late_events_name(ParseState *pstate, DefElem *def, const char *value)
{
	char	   *copy = pstrdup(value);
	List	   *names = NIL;

	if (!SplitIdentifierString(copy, '.', &names) || names == NIL ||
		list_length(names) > 3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						def->defname, value),
				 errdetail("The value must be 'drop' or a table name, optionally schema-qualified, written as in SQL."),
				 errhint("Write a name that has characters other than lower-case letters, digits and underscores in double quotes, doubling any double quote inside, as in late_events = '\"Late Events\"'."),
				 parser_errposition(pstate, def->location)));
	list_free(names);
	pfree(copy);
}

/*
 * What a continuous view does with late events, and how long it keeps
 * closed windows, are for a later version: late events are dropped and
 * counted, and windows are kept forever.
 */
void
view_options_check_values(ContinuousOptions *opts)
{
	Interval	zero = {0};

	if (opts->retention != NULL &&
		DatumGetBool(DirectFunctionCall2(interval_lt,
										 IntervalPGetDatum(opts->retention),
										 IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"retention\" must not be negative")));
}

/*
 * emit = 'window_close' and allowed_lateness > 0 need a window that closes:
 * a tumbling window over the event time of a stream that has one.
 */
void
view_options_check_window(ContinuousPlan *plan, ContinuousOptions *opts)
{
	Interval	zero = {0};
	const char *option;

	if (strcmp(opts->emit, "window_close") == 0)
		option = "emit = 'window_close'";
	else if (!DatumGetBool(DirectFunctionCall2(interval_eq,
											   IntervalPGetDatum(opts->allowed_lateness),
											   IntervalPGetDatum(&zero))))
		option = "option \"allowed_lateness\"";
	else if (strcmp(opts->late_events, "drop") != 0)
		option = "option \"late_events\"";
	else if (opts->retention != NULL)
		option = "option \"retention\"";
	else
		return;

	if (plan->event_time == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s requires a stream with an event time", option),
				 errdetail("Stream %s has no event_time column, so its windows never close.",
						   ddl_relation_display_name(plan->stream)),
				 errhint("Create the stream with continuous.create_stream(stream, event_time => 'column').")));
	if (plan->window != NULL)
		return;
	window_registry_refuse_missing(plan, option);
}
