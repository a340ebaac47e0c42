/*-------------------------------------------------------------------------
 *
 * backfill_progress.h
 *	  How far each running backfill or rebuild is, for continuous.backfills.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_BACKFILL_PROGRESS_H
#define CONTINUOUS_BACKFILL_PROGRESS_H

/* Shared memory: one entry per backend, asked for at startup. */
extern Size backfill_progress_shmem_size(void);
extern void backfill_progress_shmem_init(void);

/*
 * This backend starts reading the table(s) of a stream for a view:
 * blocks_total heap blocks in all.  The entry is cleared at the end of the
 * transaction, whatever happens.
 */
extern void backfill_progress_start(Oid view, const char *view_name,
									Oid stream, bool rebuild,
									uint64 blocks_total);
extern void backfill_progress_report(uint64 rows_done, uint64 blocks_done);

#endif							/* CONTINUOUS_BACKFILL_PROGRESS_H */
