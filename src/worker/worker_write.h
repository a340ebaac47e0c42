/*-------------------------------------------------------------------------
 *
 * worker_write.h
 *	  What the flush transaction writes for each view (worker_write.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WORKER_WRITE_H
#define CONTINUOUS_WORKER_WRITE_H

#include "exec/batch.h"

/*
 * In the flush transaction, once every view of views (ViewRuntime) has
 * processed its batch: every view's writes.  batches: every stream's
 * events (StreamEvents), from which a view is processed again if it must
 * be written alone.
 */
extern void worker_write_views(List *views, List *batches);

/*
 * Once the flush, which recorded the failures, has committed: views
 * without the failed ones, which are no longer maintained.
 */
extern List *worker_write_forget_failed(List *views);

#endif							/* CONTINUOUS_WORKER_WRITE_H */
