/*-------------------------------------------------------------------------
 *
 * kafka_decode.h
 *	  Kafka streams: one message's payload and metadata into one row of the
 *	  stream's foreign table.
 *
 * The contract with the caller (the worker's Kafka consumer):
 *
 *	 - A payload that is not well-formed (bad JSON, bad CSV, a wrong field
 *	   count, bytes invalid in the database encoding, a JSON object or array
 *	   for a column that is not json or jsonb) is reported without throwing:
 *	   kafka_decode_message() returns false and sets *error to a palloc'd
 *	   message for continuous.dead_letters.  A topic full of garbage is then
 *	   cheap to get through.
 *	 - A well-formed payload whose value a column type refuses ("abc" for an
 *	   integer) makes the type's input function throw, as ereport(ERROR).
 *	   PostgreSQL 15 has no soft input errors, so the caller decodes inside
 *	   a subtransaction, e.g. one per batch, retrying message by message in
 *	   their own subtransactions after a failure (as batch.c does for view
 *	   expressions), and dead-letters the message with the error's text.
 *	   Absurdly deep JSON nesting can also throw (stack depth limit).
 *
 * Memory: values and *error are palloc'd in the caller's current memory
 * context (a per-batch context that is reset after the flush).  Parsing
 * garbage goes to the decoder's own scratch context, reset per message.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_KAFKA_DECODE_H
#define CONTINUOUS_KAFKA_DECODE_H

#include "access/htup.h"
#include "access/tupdesc.h"

#include "source/kafka/kafka_options.h"

/* What the consumer knows about a message besides its payload. */
typedef struct KafkaMessageMeta
{
	int32		partition;
	int64		offset;
	int64		timestamp_ms;	/* since the Unix epoch; negative: none */
	const char *key;			/* NULL: the message has no key */
	size_t		key_len;
} KafkaMessageMeta;

typedef struct KafkaDecoder KafkaDecoder;

/*
 * A decoder for the stream described by opts (kafka_stream_options()),
 * whose rows have the descriptor desc (the foreign table's; copied).
 * Allocated in CurrentMemoryContext, which must live as long as the
 * decoder; throws if desc no longer matches opts.
 */
extern KafkaDecoder *kafka_decoder_create(const KafkaStreamOptions *opts,
										  TupleDesc desc);

/* The decoder's copy of the descriptor: rows are formed with it. */
extern TupleDesc kafka_decoder_tupdesc(KafkaDecoder *dec);

/*
 * Decode one message into values[]/nulls[] (desc->natts entries each).
 * True on success; false with *error set if the payload is malformed (see
 * above).  payload may be NULL with len 0 (a tombstone): it decodes as an
 * empty payload.
 */
extern bool kafka_decode_message(KafkaDecoder *dec,
								 const char *payload, size_t len,
								 const KafkaMessageMeta *meta,
								 Datum *values, bool *nulls, char **error);

#endif							/* CONTINUOUS_KAFKA_DECODE_H */
