/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  The settings of pg_continuous (continuous.*).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_GUC_H
#define CONTINUOUS_GUC_H

extern int	continuous_flush_interval_ms;
extern int	continuous_state_memory_kb;
extern int	continuous_batch_events;
extern int	continuous_workers;
extern int	continuous_view_time_limit_ms;
extern int	continuous_large_transaction_memory_kb;
extern bool continuous_aggregate_before_commit;
extern bool continuous_transparent_huge_pages;

/* the most worker processes per database (continuous.workers) */
#define CONTINUOUS_MAX_WORKERS	16

extern void continuous_define_settings(void);

#endif							/* CONTINUOUS_GUC_H */
