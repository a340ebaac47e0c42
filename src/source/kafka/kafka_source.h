/*-------------------------------------------------------------------------
 *
 * kafka_source.h
 *	  Kafka streams: the worker's consumer of one stream, and the offsets
 *	  it keeps in PostgreSQL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_KAFKA_SOURCE_H
#define CONTINUOUS_KAFKA_SOURCE_H

#include "source/decoder.h"
#include "source/watermark.h"

typedef struct KafkaSource KafkaSource;

/*
 * A consumer for the Kafka stream relid (a continuous_kafka foreign table),
 * resuming at the offsets stored with the state; its partitions' event
 * times go to clock.  Runs in a transaction; the options are those of the
 * foreign table's owner.  Nothing is consumed before kafka_source_poll().
 * When messages arrive while the source has none waiting, the client
 * writes a byte to wakeup_fd (if not -1), a non-blocking pipe the worker
 * waits on.
 */
/*
 * A consumer of the partitions p of the stream's topic with
 * (p + relid) % nworkers = worker, the share of worker number worker of
 * nworkers (continuous.workers).  views: the stream's views the worker
 * maintains (Oid); those of them behind the stream's offsets catch up, the
 * views held back (view_progress.c) stay where they are.
 */
extern KafkaSource *kafka_source_create(Oid relid, StreamClock *clock,
										int wakeup_fd, int worker, int nworkers,
										List *views);
extern void kafka_source_destroy(KafkaSource *src);
extern Oid	kafka_source_relid(KafkaSource *src);

/*
 * Outside transactions, often: find the topic's partitions (at start, every
 * few seconds, and after an outage) and assign new ones, take up to
 * max_messages messages that have arrived into the batch, and serve the
 * client's callbacks.  Never waits for the broker longer than a second;
 * never throws for broker trouble, which becomes the stream's error state.
 * Returns the number of messages taken.
 */
extern int	kafka_source_poll(KafkaSource *src, int max_messages);

/*
 * Messages in the batch and their payload bytes; when the first of them
 * was taken (the batch's processing latency counts from there).
 */
extern int	kafka_source_batch_messages(KafkaSource *src);
extern Size kafka_source_batch_bytes(KafkaSource *src);
extern TimestampTz kafka_source_batch_first_taken(KafkaSource *src);

/*
 * Positions that must be written before anything is consumed: offsets the
 * source resolved for partitions seen for the first time.  The caller then
 * runs a transaction with kafka_source_write_position().
 */
extern bool kafka_source_position_unwritten(KafkaSource *src);

/* The error state changed: the caller writes it with kafka_source_write_error(). */
extern bool kafka_source_error_changed(KafkaSource *src);

/*
 * In the flush transaction: decode the batch into rows of the stream.
 * Messages that do not decode become dead letters (with their partition
 * and offset), returned in *dead_letters.  Allocated in the batch's memory.
 * NULL if the decoding took longer than continuous.view_time_limit (the
 * input functions and domain checks of the stream's columns are its
 * owner's code): no message is the worse for it, and the caller stops
 * consuming the stream (worker_kafka_stall_source()).
 */
extern StreamEvents *kafka_source_decode(KafkaSource *src, List **dead_letters);

/*
 * After kafka_source_decode(), which returns the events of the stream: the
 * events of one of its views, which are more while a view catches up with
 * the stream (the messages it missed while held back come again).
 */
extern StreamEvents *kafka_source_view_events(KafkaSource *src, Oid view,
											  StreamEvents *stream);

/*
 * In a flush, before the batch is processed: a view of the stream is held
 * back by a lock (view_progress.c).  It stays where the last flush left it,
 * and the flush writes that (continuous.kafka_view_offsets); the stream's
 * other views go on.
 */
extern void kafka_source_hold_view(KafkaSource *src, Oid view);

/* In a transaction: the offsets of views that are gone are deleted. */
extern void kafka_source_forget_dropped_views(void);

/*
 * The next offset and the event time of every partition, and the high
 * watermarks last seen: in the flush transaction, with_batch, the offsets
 * after the batch (and those of the views behind the stream's); alone (see above), with_batch false, only where the
 * partitions seen for the first time start, and after that transaction
 * committed, kafka_source_positions_stored().
 */
extern void kafka_source_write_position(KafkaSource *src, bool with_batch);
extern void kafka_source_positions_stored(KafkaSource *src);

/* The error state, in a transaction (the flush's, or one of its own). */
extern void kafka_source_write_error(KafkaSource *src);

/* After the flush committed: the batch is done, its messages freed. */
extern void kafka_source_flushed(KafkaSource *src);

/*
 * continuous.sync(): note every partition's high watermark, as the broker
 * has it now (false if the broker cannot say), then test whether the
 * flushed offsets (or, consumed, those in the batch) have reached those.
 */
extern bool kafka_source_capture_sync_target(KafkaSource *src);
extern bool kafka_source_reached_sync_target(KafkaSource *src, bool consumed);

/*
 * Workers after the first leave it to worker 0 to decide where partitions
 * start, and consume a partition once its start is written: are some of
 * this worker's partitions waiting for that?  Then, in a transaction, look.
 */
extern bool kafka_source_awaiting_starts(KafkaSource *src);
extern void kafka_source_load_starts(KafkaSource *src);

/*
 * With several workers, in the flush transaction once the stream's views
 * are locked: the clocks of the partitions other workers consume, and the
 * stream's watermark, as they last committed them.  Returns true if that
 * watermark is ahead of the one the batch was judged by (the caller runs
 * the views again).
 */
extern bool kafka_source_catch_up(KafkaSource *src);

#endif							/* CONTINUOUS_KAFKA_SOURCE_H */
