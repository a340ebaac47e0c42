/*-------------------------------------------------------------------------
 *
 * stream_event.h
 *	  One decoded stream event, however its row is held, and dead letters.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_STREAM_EVENT_H
#define CONTINUOUS_STREAM_EVENT_H

#include "access/htup.h"

#include "source/decoder.h"

/* An event that could not be evaluated; written at flush. */
typedef struct DeadLetter
{
	XLogRecPtr	commit_lsn;		/* table streams */
	int32		partition;		/* Kafka streams; -1 for table streams */
	int64		offset;
	char	   *payload;
	char	   *error;
} DeadLetter;

/*
 * An event's row (decoder.h), however it is held: attribute attnum
 * (1-based); all of them into values[]/isnull[] (event->desc->natts); as
 * a heap tuple, formed in CurrentMemoryContext if the event has none.
 */
extern Datum stream_event_getattr(StreamEvent *event, int attnum, bool *isnull);
extern void stream_event_deform(StreamEvent *event, Datum *values, bool *isnull);
extern HeapTuple stream_event_tuple(StreamEvent *event);

/* The event as a dead letter with this error; in CurrentMemoryContext. */
extern DeadLetter *stream_event_dead_letter(StreamEvent *event,
											const char *error);

/*
 * A copy of the event that lives on without the batch's rows, in
 * CurrentMemoryContext: its row as a tuple of its own (its descriptor is
 * the batch's still).
 */
extern StreamEvent *stream_event_copy(StreamEvent *event);

/* A copy of a dead letter, in CurrentMemoryContext. */
extern DeadLetter *stream_event_dead_letter_copy(const DeadLetter *dl);

#endif							/* CONTINUOUS_STREAM_EVENT_H */
