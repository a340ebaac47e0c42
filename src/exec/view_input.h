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

#endif							/* CONTINUOUS_VIEW_INPUT_H */
