/*-------------------------------------------------------------------------
 *
 * kafka_json.h
 *	  Kafka streams: collecting the top-level fields of one JSON message.
 *
 * Builds in the backend and, with FRONTEND defined, against the frontend
 * libpgcommon, so the fuzzer in test/fuzz/ can run it without a server.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_KAFKA_JSON_H
#define CONTINUOUS_KAFKA_JSON_H

#include "common/jsonapi.h"

typedef enum KafkaJsonKind
{
	KAFKA_JSON_ABSENT = 0,		/* no such field in the message */
	KAFKA_JSON_NULL,
	KAFKA_JSON_STRING,
	KAFKA_JSON_NUMBER,
	KAFKA_JSON_BOOL,
	KAFKA_JSON_OBJECT,
	KAFKA_JSON_ARRAY
} KafkaJsonKind;

/* The value of one wanted field; the last occurrence of a key wins. */
typedef struct KafkaJsonValue
{
	KafkaJsonKind kind;
	char	   *text;			/* scalars: de-escaped string, or the literal */
	const char *raw;			/* the value's JSON text inside the payload */
	int			rawlen;
} KafkaJsonValue;

/*
 * Which fields to collect: names[i] is matched (case-sensitively, as
 * bytes) against the keys of the message's top-level object, and its value
 * lands in values[i].  A NULL name is never matched.  Set up with
 * kafka_json_collector_init().
 */
typedef struct KafkaJsonCollector
{
	int			nnames;
	const char *const *names;
	KafkaJsonValue *values;		/* nnames entries, filled by kafka_json_collect */
	bool		fast_way;		/* true (the default): simdjson checks what it
								 * can; false: PostgreSQL's parser parses every
								 * message (the fuzzer's reference) */

	/* private to kafka_json.c */
	int		   *name_lens;		/* strlen of each name, -1 for NULL */
	int			encoding;		/* the message's */
	JsonLexContext *lex;
	int			current;		/* values[] index of the field being parsed */
	int			hint;			/* where to start looking for the next key */
	bool		not_object;
	const char *key_search_from;	/* the next key's token is after this */
} KafkaJsonCollector;

/*
 * Collect names[0 .. nnames) into values[0 .. nnames).  The collector keeps
 * pointers to both arrays, and allocates in CurrentMemoryContext.
 */
extern void kafka_json_collector_init(KafkaJsonCollector *c, int nnames,
									  const char *const *names,
									  KafkaJsonValue *values);

/*
 * Parse payload[0 .. len), which must be one JSON object, and fill
 * c->values.  False on a syntax error, or a wanted string that cannot be
 * de-escaped, with *error set to a palloc'd message.  Nothing is thrown for
 * bad input, except in the backend: the stack depth check may throw for
 * absurdly deep nesting, and de-escaping a wanted string throws for a \u
 * escape the database encoding cannot represent.  The payload must be
 * valid in the given encoding (the caller checks it).  Memory: strings are
 * palloc'd in CurrentMemoryContext and point into nothing the caller owns
 * except payload (raw).
 */
extern bool kafka_json_collect(KafkaJsonCollector *c, const char *payload,
							   int len, int encoding, char **error);

#endif							/* CONTINUOUS_KAFKA_JSON_H */
