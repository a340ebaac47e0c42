/*-------------------------------------------------------------------------
 *
 * worker_kafka.h
 *	  The Kafka consumers of a database worker (worker_kafka.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WORKER_KAFKA_H
#define CONTINUOUS_WORKER_KAFKA_H

#include "port/atomics.h"
#include "utils/timestamp.h"

#include "source/kafka/kafka_source.h"
#include "source/watermark.h"

/* The stream clock of a stream, as the worker keeps them. */
typedef StreamClock *(*WorkerClockLookup) (Oid stream);

/*
 * Once, at worker start: this worker's number (0 .. continuous.workers - 1),
 * where it publishes the continuous.sync() requests it has served, and how
 * it finds a stream's clock.
 */
extern void worker_kafka_init(int worker, pg_atomic_uint64 *synced,
							  WorkerClockLookup clock_of);

/*
 * At each catalog load, in its transaction: drop the consumers, then make
 * one for this worker's share of each Kafka stream in relids; views
 * (ViewRuntime) tells which streams have count window views.
 */
extern void worker_kafka_drop_sources(void);
extern void worker_kafka_create_sources(List *relids, List *views);

/* The consumer of one stream, or NULL. */
extern KafkaSource *worker_kafka_source(Oid relid);

/*
 * In a flush: a view of a Kafka stream is held back by a lock; and the
 * events a view processes of its stream's batch stream (more than the
 * stream's while it catches up), which is returned for other streams.
 */
extern void worker_kafka_hold_view(Oid stream, Oid view);
extern StreamEvents *worker_kafka_view_events(Oid view, StreamEvents *stream);

/* The consumers (KafkaSource), in a fixed order. */
extern List *worker_kafka_sources(void);

/*
 * In the flush transaction: kafka_source_decode() ran out of time for src.
 * Its stream is no longer consumed (continuous.streams says why) until the
 * catalog changes; its messages are read again from the stored offsets
 * then.
 */
extern void worker_kafka_stall_source(KafkaSource *src);

/*
 * Take what the consumers have received, up to the batch's limits
 * (continuous.batch_events, and max_bytes of messages); the number of
 * messages taken.  Then, if worker_kafka_state_due(), write in a
 * transaction worker_kafka_write_state() and after its commit call
 * worker_kafka_state_committed().
 */
extern int	worker_kafka_poll(Size max_bytes);
extern bool worker_kafka_state_due(void);
extern void worker_kafka_write_state(void);
extern void worker_kafka_state_committed(void);

/*
 * Messages and bytes the consumers hold; true if a flush has work for
 * them (messages, or a watermark that idle partitions let move).
 */
extern bool worker_kafka_pending(int64 *messages, Size *bytes);

/*
 * continuous.sync() for Kafka streams.  worker_kafka_sync() starts serving
 * a new request (noting every partition's high watermark) and publishes it
 * once flushed offsets reach them; worker_kafka_sync_waiting() says whether
 * the batch already holds every message a pending request waits for (then
 * a flush is due).  Dropping the consumers forgets a pending request.
 */
extern void worker_kafka_sync(uint64 requests);
extern bool worker_kafka_sync_waiting(void);

/*
 * The pipe the consumers write to when messages arrive: the read end to
 * wait on (-1 before the first consumer), and emptying it after a wait.
 */
extern int	worker_kafka_wakeup_fd(void);
extern void worker_kafka_wakeup_drain(void);

#endif							/* CONTINUOUS_WORKER_KAFKA_H */
