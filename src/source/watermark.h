/*-------------------------------------------------------------------------
 *
 * watermark.h
 *	  Event time of a stream: its watermark, and events too far ahead of
 *	  the clock.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WATERMARK_H
#define CONTINUOUS_WATERMARK_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "source/decoder.h"

/*
 * A Kafka partition's event time.  The watermark of a Kafka stream is the
 * minimum over its partitions, leaving out those idle for longer than the
 * stream's idle_timeout: a partition that never delivers would otherwise
 * hold every window open forever.
 */
typedef struct PartitionClock
{
	bool		seen;			/* max_event_time is valid */
	TimestampTz max_event_time;
	TimestampTz active_at;		/* wall clock: last message, or assignment */
} PartitionClock;

typedef struct StreamClock
{
	Oid			stream;
	AttrNumber	event_time;		/* column, or InvalidAttrNumber */
	Interval	delay;
	int64		max_future_us;	/* events further ahead of the clock are
								 * dead letters; PG_INT64_MAX: no limit */
	bool		has_watermark;
	TimestampTz watermark;		/* max event time seen - delay, never back */
	/* as they were before the current batch: windows closed by then */
	bool		had_watermark_before;
	TimestampTz watermark_before;
	List	   *dead_letters;	/* DeadLetter: events ahead of the clock */

	/* Kafka streams: one per partition, indexed by partition number */
	int			nparts;
	PartitionClock *parts;
	int64		idle_timeout_us;	/* negative: partitions are never idle */
} StreamClock;

/* From a stream_catalog row and the watermark stored with the state. */
extern StreamClock *stream_clock_create(Oid stream, const char *event_time,
										Interval *delay, Interval *max_future,
										bool has_watermark,
										TimestampTz watermark);

/*
 * Take the events whose event time is further ahead of the clock than
 * max_future out of the batch (they become dead letters of the stream) and
 * advance the watermark over the rest.  Events whose event time is NULL
 * stay, and do not move it: each view decides (batch.c).  Runs in the
 * flush transaction; allocates in CurrentMemoryContext.
 */
extern void stream_clock_advance(StreamClock *clock, StreamEvents *events);

/*
 * What stream_clock_advance() would make of events, gathered run after run
 * before they are a batch (the rows on disk of a large transaction that
 * ran before its commit, early_aggregation.c): the latest event time.
 * False if one is too far ahead of the clock now (and so at any later
 * flush), or the clock is a Kafka stream's, whose partitions it cannot
 * tell.  In a transaction.
 */
typedef struct StreamClockScan
{
	bool		seen;
	TimestampTz latest;
} StreamClockScan;

extern bool stream_clock_scan(StreamClock *clock, StreamEvent *events,
							  int nevents, StreamClockScan *scan);

/* As stream_clock_advance() over the events scan looked at, all kept. */
extern void stream_clock_advance_scanned(StreamClock *clock,
										 const StreamClockScan *scan);

/*
 * Kafka streams: the clock has nparts partitions (more than before: the new
 * ones start now, without event time).  Allocates in the clock's context.
 */
extern void stream_clock_set_partitions(StreamClock *clock, int nparts,
										Interval *idle_timeout);

/*
 * With several workers per database: another worker has committed the
 * stream's watermark as committed (if has_committed), and the clocks of
 * the partitions it consumes are up to date.  The watermark moves to the
 * greater of that and what the partitions now say.  Returns true if the
 * committed watermark is ahead of the one this batch was judged by, which
 * then becomes the one it is judged by.
 */
extern bool stream_clock_catch_up(StreamClock *clock, bool has_committed,
								  TimestampTz committed);

/*
 * Would the watermark of a Kafka stream move now, without new events, as
 * partitions fall idle?
 */
extern bool stream_clock_idle_advance_pending(StreamClock *clock);

/*
 * The length of an interval in microseconds as intervals compare (a month
 * is 30 days, a day 24 hours); PG_INT64_MAX if that does not fit.  Also
 * for dedup_within (stage_dedup.c).
 */
extern int64 interval_span_us(const Interval *interval);

#endif							/* CONTINUOUS_WATERMARK_H */
