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

/*
 * What pg_continuous.c used to declare, now in files of their own: the
 * names and cached OIDs of the extension's objects, the settings, internal
 * subtransactions, and the check that the library is preloaded.  Modules
 * include the header they use; these keep the others compiling meanwhile.
 */
#include "extension_catalog.h"
#include "guc.h"
#include "shmem.h"
#include "subxact.h"

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
