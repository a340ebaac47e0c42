/*-------------------------------------------------------------------------
 *
 * worker_memory.h
 *	  How continuous.state_memory is divided in a worker, and how large a
 *	  batch its decoded events may make (worker_memory.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WORKER_MEMORY_H
#define CONTINUOUS_WORKER_MEMORY_H

#include "nodes/pg_list.h"

/*
 * continuous.state_memory less what the flush keeps of storage
 * (group_locations.c, up to half) and the large transactions aggregated
 * before their commit (early_aggregation.c, up to a quarter): what a
 * batch's events and the views' states of them share.
 */
extern Size worker_memory_budget(void);

/*
 * What a batch over the views (ViewRuntime) may hold before its flush:
 * its events, and the groups the views keep of events they ran before
 * the flush (up to half of it).  The rest of the budget is for the views'
 * states of them at the flush.
 */
extern Size worker_memory_for_batch(List *views);

/* Of it, what the decoded (or taken) events may take now. */
extern Size worker_memory_for_events(List *views);

/* And how many of their bytes a worker that folds runs at once. */
extern Size worker_memory_fold_run(List *views);

/*
 * The flush, once every view processed the batch (event_bytes: what its
 * events take), and once every view wrote it: the next batch's share is
 * judged by what the two took together.
 */
extern void worker_memory_processed(List *views, Size event_bytes);
extern void worker_memory_written(void);

#endif							/* CONTINUOUS_WORKER_MEMORY_H */
