/*-------------------------------------------------------------------------
 *
 * view_options.h
 *	  The options of CREATE VIEW ... WITH (continuous, ...) (view_options.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_VIEW_OPTIONS_H
#define CONTINUOUS_VIEW_OPTIONS_H

#include "datatype/timestamp.h"
#include "nodes/parsenodes.h"
#include "parser/parse_node.h"

#include "plan/plan_types.h"

/* What WITH (...) of a CREATE VIEW asked for. */
typedef struct ContinuousOptions
{
	bool		mentioned;		/* any option of ours was given */
	bool		continuous;		/* continuous [= true] */
	bool		not_continuous; /* continuous = false: an ordinary view */
	char	   *emit;
	Interval   *allowed_lateness;
	char	   *late_events;
	int			late_events_location;	/* of the option, for errors */
	Interval   *retention;		/* NULL: keep forever */
	bool		backfill;		/* count the rows the stream has already */
	DefElem    *backfill_def;	/* as given, if it was */
	List	   *view_options;	/* the others, for the view itself */
} ContinuousOptions;

/* What each option's value may be, for errors about it */
#define ACCEPTS_BOOLEAN		"true or false"
#define ACCEPTS_INTERVAL	"an interval such as '5 minutes'"
#define ACCEPTS_LATE_EVENTS	"'drop' or a table name such as 'late_clicks' or 'app.\"Late Clicks\"'"

/*
 * While a WITH (...) option's value is read, errors (from interval_in(),
 * say) point at the option and name it, with what it accepts.
 */
typedef struct OptionErrorContext
{
	ErrorContextCallback callback;
	ParseState *pstate;
	const char *name;
	int			location;
	const char *accepts;
} OptionErrorContext;

/* Errors until the pop point at the option and say what it accepts. */
extern void view_options_error_push(OptionErrorContext *oc, ParseState *pstate,
									const char *name, int location,
									const char *accepts);
extern void view_options_error_pop(OptionErrorContext *oc);

/* Is name an option of continuous views (not of PostgreSQL's views)? */
extern bool view_options_is_ours(const char *name);

/*
 * Split WITH (...) into our options and the view's own, checking each
 * value; errors point into pstate's source text.
 */
extern void view_options_parse(ParseState *pstate, List *options,
							   ContinuousOptions *opts);

/* Values that are each valid but not supported (a negative retention). */
extern void view_options_check_values(ContinuousOptions *opts);

/* The options that need a window that closes, against the view's plan. */
extern void view_options_check_window(ContinuousPlan *plan,
									  ContinuousOptions *opts);

#endif							/* CONTINUOUS_VIEW_OPTIONS_H */
