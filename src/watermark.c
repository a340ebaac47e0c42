/*-------------------------------------------------------------------------
 *
 * watermark.c
 *	  The watermark of a stream, advanced once per batch.
 *
 * Pipeline position: between source and batch.  Before the views see a
 * batch, the events of each stream with an event-time column are checked:
 * an event whose event time is NULL cannot be placed in time, so it leaves
 * the batch as a dead letter of the stream; the others move the watermark
 * to max(event time seen) - watermark_delay, never backwards.  The
 * watermark is written with the batch's state (flush.c), so after a restart
 * it resumes where it was.  The watermark before the batch stays at hand:
 * views with windows judge their events late by it (batch.c).  An
 * event-time column of type timestamp (without time zone) is read as UTC.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "batch.h"
#include "watermark.h"

StreamClock *
stream_clock_create(Oid stream, const char *event_time, Interval *delay,
					bool has_watermark, TimestampTz watermark)
{
	StreamClock *clock = palloc0(sizeof(StreamClock));

	clock->stream = stream;
	clock->event_time = InvalidAttrNumber;
	if (event_time)
	{
		clock->event_time = get_attnum(stream, event_time);
	}
	if (delay)
		clock->delay = *delay;
	clock->has_watermark = has_watermark;
	clock->watermark = watermark;
	return clock;
}

void
stream_clock_advance(StreamClock *clock, StreamEvents *events)
{
	bool		seen = false;
	TimestampTz latest = 0;
	int			kept = 0;
	int			i;

	/*
	 * The views judge lateness by the watermark before this batch: the
	 * windows it had closed were visible with their final state, and only
	 * events for those are too late.
	 */
	clock->had_watermark_before = clock->has_watermark;
	clock->watermark_before = clock->watermark;
	clock->dead_letters = NIL;
	if (clock->event_time == InvalidAttrNumber)
		return;

	for (i = 0; i < events->nevents; i++)
	{
		StreamEvent *event = &events->events[i];
		bool		isnull = true;
		Datum		value = (Datum) 0;
		TimestampTz ts;

		/* a row decoded before the column existed has no event time */
		if (clock->event_time <= event->desc->natts)
			value = heap_getattr(event->tuple, clock->event_time, event->desc,
								 &isnull);
		if (isnull)
		{
			DeadLetter *dl = palloc(sizeof(DeadLetter));

			dl->commit_lsn = event->commit_lsn;
			dl->payload = stream_event_payload(event);
			dl->error = pstrdup("event time is NULL");
			clock->dead_letters = lappend(clock->dead_letters, dl);
			continue;
		}
		/*
		 * A timestamp without time zone is read as UTC: the same number, and
		 * a watermark that does not depend on any session's TimeZone.
		 */
		ts = DatumGetTimestampTz(value);
		if (!seen || ts > latest)
			latest = ts;
		seen = true;
		events->events[kept++] = *event;
	}
	events->nevents = kept;

	if (seen && !TIMESTAMP_NOT_FINITE(latest))
	{
		TimestampTz candidate;

		candidate = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
															TimestampTzGetDatum(latest),
															IntervalPGetDatum(&clock->delay)));
		if (!clock->has_watermark || candidate > clock->watermark)
		{
			clock->watermark = candidate;
			clock->has_watermark = true;
		}
	}
}
