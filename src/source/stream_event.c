/*-------------------------------------------------------------------------
 *
 * stream_event.c
 *	  One decoded stream event (decoder.h), however its row is held: as a
 *	  heap tuple, or as values and nulls; and the event as a dead letter.
 *
 * Pipeline position: source, read by every later stage: the stream's
 * clock reads the event time (watermark.c), the batch evaluates the view
 * over the row (batch.c), late events are written aside
 * (window_expiry.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "source/stream_event.h"

Datum
stream_event_getattr(StreamEvent *event, int attnum, bool *isnull)
{
	if (event->tuple)
		return heap_getattr(event->tuple, attnum, event->desc, isnull);
	*isnull = event->isnull[attnum - 1];
	return event->values[attnum - 1];
}

void
stream_event_deform(StreamEvent *event, Datum *values, bool *isnull)
{
	if (event->tuple)
		heap_deform_tuple(event->tuple, event->desc, values, isnull);
	else
	{
		memcpy(values, event->values, sizeof(Datum) * event->desc->natts);
		memcpy(isnull, event->isnull, sizeof(bool) * event->desc->natts);
	}
}

HeapTuple
stream_event_tuple(StreamEvent *event)
{
	if (event->tuple)
		return event->tuple;
	return heap_form_tuple(event->desc, event->values, event->isnull);
}

DeadLetter *
stream_event_dead_letter(StreamEvent *event, const char *error)
{
	DeadLetter *dl = palloc(sizeof(DeadLetter));
	Datum		row = heap_copy_tuple_as_datum(stream_event_tuple(event),
											   event->desc);

	dl->commit_lsn = event->commit_lsn;
	dl->partition = event->partition;
	dl->offset = event->offset;
	/* the row as text */
	dl->payload = OidOutputFunctionCall(F_RECORD_OUT, row);
	dl->error = pstrdup(error);
	return dl;
}

DeadLetter *
stream_event_dead_letter_copy(const DeadLetter *dl)
{
	DeadLetter *copy = palloc(sizeof(DeadLetter));

	*copy = *dl;
	copy->payload = pstrdup(dl->payload);
	copy->error = pstrdup(dl->error);
	return copy;
}

StreamEvent *
stream_event_copy(StreamEvent *event)
{
	StreamEvent *copy = palloc(sizeof(StreamEvent));

	*copy = *event;
	copy->tuple = heap_copytuple(stream_event_tuple(event));
	copy->values = NULL;
	copy->isnull = NULL;
	return copy;
}
