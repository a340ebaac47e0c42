/*-------------------------------------------------------------------------
 *
 * pg_continuous.h
 *	  Declarations shared by the modules of pg_continuous.
 *
 * The pipeline, and the file that owns each step:
 *
 *	 DDL         ddl_stream.c (create_stream), ddl_view.c (CREATE VIEW ...
 *	             WITH (continuous)), both recorded in the extension's catalog;
 *	             error_hints.c answers CREATE CONTINUOUS VIEW and CREATE
 *	             MATERIALIZED VIEW ... WITH (continuous) with the form to use
 *	             stream_guard.c follows or refuses DDL on stream tables
 *	 processes   launcher.c starts continuous.workers worker.c per database
 *	 source      decoder.c: logical decoding inside the worker; committed rows
 *	             of stream tables become a batch.  Kafka: worker_kafka.c runs
 *	             a consumer (kafka_source.c) per stream for the worker's
 *	             share of partitions; kafka_decode.c turns messages into rows
 *	             (kafka_json.c, kafka_csv.c, kafka_shortcuts.c), with options
 *	             from kafka_options.c
 *	 batch       batch.c: WHERE, group keys and partial aggregation per view;
 *	             watermark.c moves each stream's watermark, and events whose
 *	             window (plan.c) it had closed are dropped as late
 *	 state       agg_support.c: transition, combine, (de)serialise, final
 *	 flush       flush.c: merge partial states into storage tables, together
 *	             with the decoder position, in one transaction
 *	 view        the user's view reads the storage table through
 *	             continuous.finalize() (finalize.c); with emit =
 *	             'window_close', only windows the watermark has closed
 *	 waiting     sync.c: continuous.sync()
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_CONTINUOUS_H
#define PG_CONTINUOUS_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "nodes/pg_list.h"

#define CONTINUOUS_EXTENSION_NAME	"pg_continuous"
#define CONTINUOUS_SCHEMA			"continuous"
#define CONTINUOUS_STORAGE_SCHEMA	"continuous_storage"
/* the library is also the output plugin of the workers' replication slots */
#define CONTINUOUS_PLUGIN_NAME		"pg_continuous"

/* catalog tables in schema continuous (see src/sql/pg_continuous--0.1.sql) */
#define CATALOG_STREAMS			"stream_catalog"
#define CATALOG_VIEWS			"view_catalog"
#define CATALOG_POSITION		"decoder_position"
#define CATALOG_STREAM_STATS	"stream_stats"
#define CATALOG_VIEW_STATS		"view_stats"
#define CATALOG_DEAD_LETTERS	"dead_letters"

/* GUCs (pg_continuous.c) */
extern int	continuous_flush_interval_ms;
extern int	continuous_state_memory_kb;
extern int	continuous_batch_events;
extern int	continuous_workers;

/* the most worker processes per database (continuous.workers) */
#define CONTINUOUS_MAX_WORKERS	16

/* pg_continuous.c */
extern bool continuous_loaded_via_preload;
extern void continuous_require_preload(void);
extern Oid	continuous_schema_oid(void);
extern Oid	continuous_catalog_relid(const char *name);

/*
 * In the PG_CATCH() of work done in an internal subtransaction: the error,
 * copied into cxt (left current), and the subtransaction rolled back.  The
 * caller then restores CurrentResourceOwner, as after
 * ReleaseCurrentSubTransaction().
 */
extern ErrorData *continuous_abort_subtransaction(MemoryContext cxt);

/* launcher.c */
extern void continuous_launcher_register(void);
extern PGDLLEXPORT void continuous_launcher_main(Datum arg);
extern void continuous_launcher_wakeup(void);
extern bool continuous_pause_database(Oid dboid);
extern void continuous_resume_database(Oid dboid);

/* sync.c */
extern void continuous_wait_for_decoder(void);
/* Until every transaction committed so far is applied (sync.c). */
extern XLogRecPtr continuous_wait_for_worker(const char *caller);

/* worker.c */
extern PGDLLEXPORT void continuous_worker_main(Datum arg);

/* ddl_view.c: ProcessUtility hook for CREATE VIEW ... WITH (continuous) */
extern void continuous_install_utility_hook(void);

#endif							/* PG_CONTINUOUS_H */
