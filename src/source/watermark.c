/*-------------------------------------------------------------------------
 *
 * watermark.c
 *	  The watermark of a stream, advanced once per batch.
 *
 * Pipeline position: between source and batch.  Before the views see a
 * batch, the events of each stream with an event-time column are checked:
 * an event dated further ahead of the clock than the stream's max_future
 * leaves the batch as a dead letter of the stream, so that one bad
 * timestamp cannot close every window; the others move the watermark to
 * max(event time seen) - watermark_delay, never backwards.  An event whose
 * event time is NULL stays in the batch but does not move the watermark:
 * views that need its time (a window over it) make it their dead letter,
 * the others count it (batch.c).  The
 * watermark is written with the batch's state (flush.c), so after a restart
 * it resumes where it was.  A Kafka stream's watermark trails the minimum of
 * its partitions' latest event times, leaving out partitions idle for
 * longer than idle_timeout (kafka_source.c tells the clock its partitions
 * and when each last delivered).  The watermark before the batch stays at hand:
 * views with windows judge their events late by it (batch.c).  With
 * several workers, each knows the partitions it consumes and reads the
 * others' as committed (stream_clock_catch_up).  An
 * event-time column of type timestamp (without time zone) is read as UTC.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "source/stream_event.h"
#include "source/watermark.h"

/* What the clock makes of one event (stream_clock_event_time_of) */
typedef enum ClockEventTime
{
	CLOCK_NO_TIME,				/* NULL, or decoded before the column existed */
	CLOCK_TIME,
	CLOCK_AHEAD					/* further ahead of now than max_future */
} ClockEventTime;

static ClockEventTime stream_clock_event_time_of(StreamClock *clock,
												 StreamEvent *event,
												 TimestampTz now,
												 TimestampTz *ts);
static void stream_clock_begin_batch(StreamClock *clock);
static DeadLetter *ahead_of_clock(StreamEvent *event, TimestampTz ts,
								  TimestampTz now);

StreamClock *
stream_clock_create(Oid stream, const char *event_time, Interval *delay,
					Interval *max_future, bool has_watermark,
					TimestampTz watermark)
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
	clock->max_future_us = max_future ? interval_span_us(max_future) :
		PG_INT64_MAX;
	clock->has_watermark = has_watermark;
	clock->watermark = watermark;
	clock->idle_timeout_us = -1;
	return clock;
}

/*
 * The event time the watermark trails now: the latest seen, or for a Kafka
 * stream the minimum of its partitions' latest, over the partitions not
 * idle.  False if there is none yet.
 */
static bool
stream_clock_event_time(StreamClock *clock, TimestampTz now, TimestampTz *result)
{
	bool		found = false;
	int			p;

	for (p = 0; p < clock->nparts; p++)
	{
		PartitionClock *part = &clock->parts[p];

		if (clock->idle_timeout_us >= 0 &&
			now - part->active_at > clock->idle_timeout_us)
			continue;
		/* an active partition without event time holds the watermark */
		if (!part->seen)
			return false;
		if (!found || part->max_event_time < *result)
			*result = part->max_event_time;
		found = true;
	}
	return found;
}

/* The watermark that trails event_time: event_time - delay. */
static TimestampTz
stream_clock_trailing(StreamClock *clock, TimestampTz event_time)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
												   TimestampTzGetDatum(event_time),
												   IntervalPGetDatum(&clock->delay)));
}

/* Move the watermark to event_time - delay, unless that goes back. */
static void
stream_clock_move(StreamClock *clock, TimestampTz event_time)
{
	TimestampTz candidate;

	if (TIMESTAMP_NOT_FINITE(event_time))
		return;
	candidate = stream_clock_trailing(clock, event_time);
	if (!clock->has_watermark || candidate > clock->watermark)
	{
		clock->watermark = candidate;
		clock->has_watermark = true;
	}
}

/*
 * The views judge lateness by the watermark before this batch: the windows
 * it had closed were visible with their final state, and only events for
 * those are too late.
 */
static void
stream_clock_begin_batch(StreamClock *clock)
{
	clock->had_watermark_before = clock->has_watermark;
	clock->watermark_before = clock->watermark;
	clock->dead_letters = NIL;
}

/*
 * The event's time as the clock reads it (*ts): none, or one, or one too
 * far ahead of now.  A timestamp without time zone is read as UTC: the
 * same number, and a watermark that does not depend on any session's
 * TimeZone.
 */
static ClockEventTime
stream_clock_event_time_of(StreamClock *clock, StreamEvent *event,
						   TimestampTz now, TimestampTz *ts)
{
	bool		isnull = true;
	Datum		value = (Datum) 0;

	/* a row decoded before the column existed has no event time */
	if (clock->event_time <= event->desc->natts)
		value = stream_event_getattr(event, clock->event_time, &isnull);
	if (isnull)
		return CLOCK_NO_TIME;
	*ts = DatumGetTimestampTz(value);
	if (clock->max_future_us != PG_INT64_MAX)
	{
		int64		ahead;

		if (TIMESTAMP_IS_NOEND(*ts) ||
			(!TIMESTAMP_NOT_FINITE(*ts) &&
			 (pg_sub_s64_overflow(*ts, now, &ahead) ||
			  ahead > clock->max_future_us)))
			return CLOCK_AHEAD;
	}
	return CLOCK_TIME;
}

bool
stream_clock_scan(StreamClock *clock, StreamEvent *events, int nevents,
				  StreamClockScan *scan)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int			i;

	if (clock->event_time == InvalidAttrNumber)
		return true;
	if (clock->parts != NULL)
		return false;
	for (i = 0; i < nevents; i++)
	{
		TimestampTz ts;

		if (events[i].tuple == NULL && events[i].values == NULL)
			continue;
		switch (stream_clock_event_time_of(clock, &events[i], now, &ts))
		{
			case CLOCK_NO_TIME:
				break;
			case CLOCK_AHEAD:
				return false;
			case CLOCK_TIME:
				if (!scan->seen || ts > scan->latest)
					scan->latest = ts;
				scan->seen = true;
				break;
		}
	}
	return true;
}

void
stream_clock_advance_scanned(StreamClock *clock, const StreamClockScan *scan)
{
	Assert(clock->parts == NULL);
	stream_clock_begin_batch(clock);
	if (clock->event_time != InvalidAttrNumber && scan->seen)
		stream_clock_move(clock, scan->latest);
}

void
stream_clock_advance(StreamClock *clock, StreamEvents *events)
{
	bool		seen = false;
	TimestampTz latest = 0;
	TimestampTz now;
	int			kept = 0;
	int			i;

	stream_clock_begin_batch(clock);
	if (clock->event_time == InvalidAttrNumber)
		return;

	/*
	 * The clock that max_future is measured from is the flush transaction's
	 * start: the worker starts a transaction per flush, and this runs in
	 * it.  So every event of a batch is judged against one instant, which
	 * is also now() of the dead letters written for it.  A crash before the
	 * flush commits has the batch judged again by a later clock, which only
	 * admits more; nothing of the first attempt was committed.
	 */
	now = GetCurrentTransactionStartTimestamp();

	for (i = 0; i < events->nevents; i++)
	{
		StreamEvent *event = &events->events[i];
		TimestampTz ts = 0;

		switch (stream_clock_event_time_of(clock, event, now, &ts))
		{
			case CLOCK_NO_TIME:
				events->events[kept++] = *event;
				continue;
			case CLOCK_AHEAD:
				clock->dead_letters = lappend(clock->dead_letters,
											  ahead_of_clock(event, ts, now));
				continue;
			case CLOCK_TIME:
				break;
		}
		if (event->partition >= 0 && event->partition < clock->nparts)
		{
			PartitionClock *part = &clock->parts[event->partition];

			if (!part->seen || ts > part->max_event_time)
				part->max_event_time = ts;
			part->seen = true;
		}
		if (!seen || ts > latest)
			latest = ts;
		seen = true;
		events->events[kept++] = *event;
	}
	events->nevents = kept;

	if (clock->parts != NULL)
	{
		if (stream_clock_event_time(clock, GetCurrentTimestamp(), &latest))
			stream_clock_move(clock, latest);
	}
	else if (seen)
		stream_clock_move(clock, latest);
}

/*
 * The length of an interval in microseconds as intervals compare (a month
 * is 30 days, a day 24 hours); PG_INT64_MAX if that does not fit.
 */
int64
interval_span_us(const Interval *interval)
{
	int64		days;
	int64		span;

	if (pg_mul_s64_overflow((int64) interval->month, DAYS_PER_MONTH, &days) ||
		pg_add_s64_overflow(days, interval->day, &days) ||
		pg_mul_s64_overflow(days, USECS_PER_DAY, &span) ||
		pg_add_s64_overflow(span, interval->time, &span))
		return PG_INT64_MAX;
	return span;
}

/* The dead letter of an event dated too far ahead of the clock. */
static DeadLetter *
ahead_of_clock(StreamEvent *event, TimestampTz ts, TimestampTz now)
{
	char	   *ahead;

	if (TIMESTAMP_IS_NOEND(ts))
		return stream_event_dead_letter(event,
										"event time infinity is ahead of the clock");
	ahead = DatumGetCString(DirectFunctionCall1(interval_out,
												DirectFunctionCall2(timestamp_mi,
																	TimestampTzGetDatum(ts),
																	TimestampTzGetDatum(now))));
	return stream_event_dead_letter(event,
									psprintf("event time %s is ahead of the clock by %s",
											 timestamptz_to_str(ts), ahead));
}

void
stream_clock_set_partitions(StreamClock *clock, int nparts,
							Interval *idle_timeout)
{
	MemoryContext cxt = GetMemoryChunkContext(clock);
	TimestampTz now = GetCurrentTimestamp();
	int			p;

	clock->idle_timeout_us = -1;
	if (idle_timeout)
		clock->idle_timeout_us = idle_timeout->time +
			(idle_timeout->day + (int64) idle_timeout->month * DAYS_PER_MONTH) *
			USECS_PER_DAY;
	if (nparts <= clock->nparts)
		return;
	if (clock->parts == NULL)
		clock->parts = MemoryContextAllocZero(cxt, sizeof(PartitionClock) * nparts);
	else
	{
		clock->parts = repalloc(clock->parts, sizeof(PartitionClock) * nparts);
		memset(&clock->parts[clock->nparts], 0,
			   sizeof(PartitionClock) * (nparts - clock->nparts));
	}
	for (p = clock->nparts; p < nparts; p++)
		clock->parts[p].active_at = now;
	clock->nparts = nparts;
}

bool
stream_clock_catch_up(StreamClock *clock, bool has_committed,
					  TimestampTz committed)
{
	bool		behind = false;
	TimestampTz latest;

	if (clock->event_time == InvalidAttrNumber)
		return false;
	if (has_committed)
	{
		behind = !clock->had_watermark_before ||
			committed > clock->watermark_before;
		if (behind)
		{
			clock->had_watermark_before = true;
			clock->watermark_before = committed;
		}
		if (!clock->has_watermark || committed > clock->watermark)
		{
			clock->has_watermark = true;
			clock->watermark = committed;
		}
	}
	if (clock->parts != NULL &&
		stream_clock_event_time(clock, GetCurrentTimestamp(), &latest))
		stream_clock_move(clock, latest);
	return behind;
}

bool
stream_clock_idle_advance_pending(StreamClock *clock)
{
	TimestampTz event_time;

	if (clock->parts == NULL || clock->idle_timeout_us < 0 ||
		clock->event_time == InvalidAttrNumber)
		return false;
	if (!stream_clock_event_time(clock, GetCurrentTimestamp(), &event_time) ||
		TIMESTAMP_NOT_FINITE(event_time))
		return false;
	return !clock->has_watermark ||
		stream_clock_trailing(clock, event_time) > clock->watermark;
}
