/*-------------------------------------------------------------------------
 *
 * view_input.h
 *	  A stream event as a row of the stream's current type, for the
 *	  expressions of a continuous view.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_VIEW_INPUT_H
#define CONTINUOUS_VIEW_INPUT_H

#include "exec/view_runtime.h"
#include "source/stream_event.h"

/*
 * Store the event in vr->input_slot and make it econtext's scan tuple;
 * a row converted from an older type is formed in CurrentMemoryContext.
 */
extern TupleTableSlot *view_input_bind(ViewRuntime *vr, StreamEvent *event);

/*
 * The event into slot, a slot of row type cur: as it is if desc_matches
 * (its descriptor equals cur), converted by position otherwise (in
 * CurrentMemoryContext).  For a stage that reads the stream's row where
 * the view reads another (the lookup join).
 */
extern TupleTableSlot *view_input_store(StreamEvent *event, bool desc_matches,
										TupleDesc cur, TupleTableSlot *slot);

#endif							/* CONTINUOUS_VIEW_INPUT_H */
