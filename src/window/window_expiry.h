/*-------------------------------------------------------------------------
 *
 * window_expiry.h
 *	  After a window closes: late events' rows, and retention.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WINDOW_EXPIRY_H
#define CONTINUOUS_WINDOW_EXPIRY_H

#include "exec/batch.h"
#include "source/watermark.h"

/* The batch's late events into the view's late-events table, if any. */
extern void window_expiry_write_late_rows(ViewRuntime *vr);

/*
 * Delete the closed windows whose end is older than the watermark minus
 * the view's retention, if it has one; when the watermark has moved.
 */
extern void window_expiry_apply_retention(ViewRuntime *vr, StreamClock *clock);

#endif							/* CONTINUOUS_WINDOW_EXPIRY_H */
