/*-------------------------------------------------------------------------
 *
 * window_tumble.c
 *	  Tumbling windows: a group key that maps the stream's event time to the
 *	  start of a window of fixed length, continuous.tumble(ts, size
 *	  [, origin]), date_bin(size, ts, origin) or date_trunc(unit, ts).
 *
 * Pipeline position: windows, at CREATE VIEW and in the plan only.  The
 * key is an ordinary expression of the event, so the worker computes it as
 * any key, and the window that starts at its value closes at start + size
 * + allowed_lateness (continuous_window_closes_at(), plan.c; the read view
 * of emit = 'window_close' says the same in SQL, ddl_view.c).
 *
 * Only calls whose size and origin are constants qualify: the window of an
 * event must be a function of its event time alone, or no watermark could
 * say when it is complete.  A date_trunc() whose unit has no fixed length
 * (month, year, ...) is fine as a key, but no window can close by it; the
 * options that need a window say so.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "base/extension_catalog.h"
#include "window/window_kind.h"

static bool tumble_recognise(ContinuousPlan *plan, PlanWindow *window);
static void tumble_explain_missing(ContinuousPlan *plan, const char *option);
static Interval *tumble_size_of_key(ContinuousPlan *plan, Expr *expr,
									char **variable_unit);
static Interval *date_trunc_unit_length(const char *unit);

const WindowKind tumble_window_kind = {
	.name = "tumble",
	.places_alone = true,
	.recognise = tumble_recognise,
	.explain_missing = tumble_explain_missing,
};

/* The first group key that is a tumbling window over the event time. */
static bool
tumble_recognise(ContinuousPlan *plan, PlanWindow *window)
{
	ListCell   *lc;

	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		char	   *variable_unit = NULL;
		Interval   *size = tumble_size_of_key(plan, key->expr, &variable_unit);

		if (size != NULL)
		{
			window->key = foreach_current_index(lc);
			window->size = size;
			return true;
		}
	}
	return false;
}

/* A date_trunc() key whose unit varies in length is no window: say so. */
static void
tumble_explain_missing(ContinuousPlan *plan, const char *option)
{
	ListCell   *lc;

	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		char	   *variable_unit = NULL;

		(void) tumble_size_of_key(plan, key->expr, &variable_unit);
		if (variable_unit != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s requires a window of fixed length", option),
					 errdetail("Windows of date_trunc('%s', ...) differ in length.",
							   variable_unit),
					 errhint("Use date_trunc() with a unit of at most a week, or continuous.tumble(%s, size).",
							 quote_identifier(plan->event_time))));
	}
}

/*
 * The window's size if expr is continuous.tumble(event_time, size
 * [, origin]), date_bin(size, event_time, origin) or date_trunc(unit,
 * event_time); else NULL, and a date_trunc() whose unit has no fixed
 * length sets *variable_unit.
 */
static Interval *
tumble_size_of_key(ContinuousPlan *plan, Expr *expr, char **variable_unit)
{
	AttrNumber	event_time = plan->event_time_attnum;
	FuncExpr   *func;
	Node	   *ts;
	Node	   *size_arg = NULL;
	Node	   *origin = NULL;
	Const	   *c;
	Interval   *length;
	Interval   *size;

	if (!IsA(expr, FuncExpr))
		return NULL;
	func = (FuncExpr *) expr;

	if (func->funcid == F_DATE_TRUNC_TEXT_TIMESTAMPTZ ||
		func->funcid == F_DATE_TRUNC_TEXT_TIMESTAMP)
	{
		char	   *unit;

		c = (Const *) linitial(func->args);
		if (!IsA(c, Const) || c->constisnull ||
			!window_is_event_time(plan, lsecond(func->args), event_time))
			return NULL;
		unit = TextDatumGetCString(c->constvalue);
		length = date_trunc_unit_length(unit);
		if (length == NULL)
			*variable_unit = unit;
		return length;
	}

	if (func->funcid == F_DATE_BIN_INTERVAL_TIMESTAMPTZ_TIMESTAMPTZ ||
		func->funcid == F_DATE_BIN_INTERVAL_TIMESTAMP_TIMESTAMP)
	{
		size_arg = linitial(func->args);
		ts = lsecond(func->args);
		origin = lthird(func->args);
	}
	else if (continuous_function_is(func->funcid, "tumble") &&
			 list_length(func->args) >= 2)
	{
		ts = linitial(func->args);
		size_arg = lsecond(func->args);
		if (list_length(func->args) > 2)
			origin = lthird(func->args);
	}
	else
		return NULL;

	if (!window_is_event_time(plan, ts, event_time))
		return NULL;
	if (origin != NULL && (!IsA(origin, Const) || ((Const *) origin)->constisnull))
		return NULL;
	c = (Const *) size_arg;
	if (!IsA(c, Const) || c->constisnull || c->consttype != INTERVALOID)
		return NULL;
	length = DatumGetIntervalP(c->constvalue);
	/* sizes that tumble() and date_bin() refuse for every event anyway */
	if (length->month != 0 || length->day * USECS_PER_DAY + length->time <= 0)
		return NULL;
	size = palloc(sizeof(Interval));
	*size = *length;
	return size;
}

/*
 * The length of date_trunc()'s unit, parsed as date_trunc() parses it; NULL
 * for units whose length varies (month, quarter, year and longer).  A day
 * is one calendar day: for timestamptz, date_trunc() and interval
 * arithmetic agree on it in the worker's time zone.
 */
static Interval *
date_trunc_unit_length(const char *unit)
{
	char	   *lowunits = downcase_truncate_identifier(unit, strlen(unit), false);
	Interval   *length = palloc0(sizeof(Interval));
	int			val;

	if (DecodeUnits(0, lowunits, &val) != UNITS)
		return NULL;
	switch (val)
	{
		case DTK_MICROSEC:
			length->time = 1;
			break;
		case DTK_MILLISEC:
			length->time = 1000;
			break;
		case DTK_SECOND:
			length->time = USECS_PER_SEC;
			break;
		case DTK_MINUTE:
			length->time = USECS_PER_MINUTE;
			break;
		case DTK_HOUR:
			length->time = USECS_PER_HOUR;
			break;
		case DTK_DAY:
			length->day = 1;
			break;
		case DTK_WEEK:
			length->day = 7;
			break;
		default:
			return NULL;
	}
	return length;
}
