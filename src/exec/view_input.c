/*-------------------------------------------------------------------------
 *
 * view_input.c
 *	  A stream event as a row of the stream's current type, for the
 *	  expressions of a continuous view.
 *
 * Pipeline position: batch, at the entry of every stage that evaluates
 * the view's expressions (stage_filter.c, stage_aggregate.c).  Events keep
 * the row type they were decoded with; the view's expressions were built
 * for the stream's type as the view was loaded.  Most events are stored as
 * they are; the few decoded before an ALTER TABLE are converted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "executor/tuptable.h"

#include "exec/view_input.h"

/* The slot, as the scan tuple of the view's expressions. */
static inline TupleTableSlot *
view_input_scan(ViewRuntime *vr, TupleTableSlot *slot)
{
	vr->econtext->ecxt_scantuple = slot;
	return slot;
}

/*
 * The event as a row of the stream's current type.  Rows decoded before an
 * ALTER TABLE keep their old layout; columns are carried over by position
 * when their type is unchanged, NULL otherwise.  An event made by a stage
 * (the lookup join's joined rows) has the view's row type already.
 */
TupleTableSlot *
view_input_bind(ViewRuntime *vr, StreamEvent *event)
{
	TupleDesc	old = event->desc;

	/* events of one batch share a few descriptors: compare each once */
	if (old != vr->seen_desc && old != vr->input_desc)
	{
		vr->seen_desc = old;
		vr->seen_desc_matches = equalTupleDescs(old, vr->input_desc);
	}
	return view_input_scan(vr,
						   view_input_store(event, old == vr->input_desc ||
											vr->seen_desc_matches,
											vr->input_desc, vr->input_slot));
}

TupleTableSlot *
view_input_store(StreamEvent *event, bool desc_matches, TupleDesc cur,
				 TupleTableSlot *slot)
{
	TupleDesc	old = event->desc;
	Datum	   *values;
	bool	   *isnull;
	int			i;

	if (desc_matches && event->tuple)
	{
		ExecStoreHeapTuple(event->tuple, slot, false);
		return slot;
	}
	if (desc_matches)
	{
		ExecClearTuple(slot);
		memcpy(slot->tts_values, event->values, sizeof(Datum) * cur->natts);
		memcpy(slot->tts_isnull, event->isnull, sizeof(bool) * cur->natts);
		ExecStoreVirtualTuple(slot);
		return slot;
	}

	values = palloc(sizeof(Datum) * Max(old->natts, 1));
	isnull = palloc(sizeof(bool) * Max(old->natts, 1));
	stream_event_deform(event, values, isnull);
	{
		Datum	   *curvalues = palloc(sizeof(Datum) * cur->natts);
		bool	   *curnull = palloc(sizeof(bool) * cur->natts);
		HeapTuple	tuple;

		for (i = 0; i < cur->natts; i++)
		{
			Form_pg_attribute ca = TupleDescAttr(cur, i);

			curnull[i] = true;
			curvalues[i] = (Datum) 0;
			if (i < old->natts && !ca->attisdropped &&
				!TupleDescAttr(old, i)->attisdropped &&
				TupleDescAttr(old, i)->atttypid == ca->atttypid)
			{
				curvalues[i] = values[i];
				curnull[i] = isnull[i];
			}
		}
		tuple = heap_form_tuple(cur, curvalues, curnull);
		ExecStoreHeapTuple(tuple, slot, false);
	}
	return slot;
}
