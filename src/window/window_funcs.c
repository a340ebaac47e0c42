/*-------------------------------------------------------------------------
 *
 * window_funcs.c
 *	  continuous.tumble(): the start of the tumbling window holding a time.
 *
 * Pipeline position: windows.  Window functions are ordinary SQL functions,
 * so a continuous view's defining SELECT means the same thing when run as a
 * batch query; the worker evaluates them per event like any group key.
 * tumble(ts, size, origin) is date_bin(size, ts, origin) under a name that
 * says what it is for, with messages that speak of window sizes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(continuous_tumble_timestamptz);
PG_FUNCTION_INFO_V1(continuous_tumble_timestamp);

static void check_window_size(Interval *size);

/* continuous.tumble(ts timestamptz, size interval, origin timestamptz) */
Datum
continuous_tumble_timestamptz(PG_FUNCTION_ARGS)
{
	check_window_size(PG_GETARG_INTERVAL_P(1));
	return DirectFunctionCall3(timestamptz_bin,
							   PG_GETARG_DATUM(1),
							   PG_GETARG_DATUM(0),
							   PG_GETARG_DATUM(2));
}

/* continuous.tumble(ts timestamp, size interval, origin timestamp) */
Datum
continuous_tumble_timestamp(PG_FUNCTION_ARGS)
{
	check_window_size(PG_GETARG_INTERVAL_P(1));
	return DirectFunctionCall3(timestamp_bin,
							   PG_GETARG_DATUM(1),
							   PG_GETARG_DATUM(0),
							   PG_GETARG_DATUM(2));
}

/*
 * date_bin() refuses the same sizes, but names them "stride"; a user of
 * tumble() passed a window size.
 */
static void
check_window_size(Interval *size)
{
	if (size->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("tumbling window size cannot contain months or years"),
				 errhint("For calendar months use date_trunc('month', ts) instead.")));

	if (size->day * USECS_PER_DAY + size->time <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tumbling window size must be greater than zero")));
}
