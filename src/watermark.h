/*-------------------------------------------------------------------------
 *
 * watermark.h
 *	  Event time of a stream: its watermark, and events without event time.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WATERMARK_H
#define CONTINUOUS_WATERMARK_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "decoder.h"

typedef struct StreamClock
{
	Oid			stream;
	AttrNumber	event_time;		/* column, or InvalidAttrNumber */
	Interval	delay;
	bool		has_watermark;
	TimestampTz watermark;		/* max event time seen - delay, never back */
	/* as they were before the current batch: windows closed by then */
	bool		had_watermark_before;
	TimestampTz watermark_before;
	List	   *dead_letters;	/* DeadLetter: events without event time */
} StreamClock;

/* From a stream_catalog row and the watermark stored with the state. */
extern StreamClock *stream_clock_create(Oid stream, const char *event_time,
										Interval *delay, bool has_watermark,
										TimestampTz watermark);

/*
 * Take the events whose event time is NULL out of the batch (they become
 * dead letters of the stream) and advance the watermark over the rest.
 * Runs in the flush transaction; allocates in CurrentMemoryContext.
 */
extern void stream_clock_advance(StreamClock *clock, StreamEvents *events);

#endif							/* CONTINUOUS_WATERMARK_H */
