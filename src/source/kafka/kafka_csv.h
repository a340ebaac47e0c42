/*-------------------------------------------------------------------------
 *
 * kafka_csv.h
 *	  Kafka streams: splitting one CSV message into its fields.
 *
 * Plain C with no PostgreSQL dependencies, so that the fuzzer in test/fuzz/
 * links it directly; kafka_decode.c turns the fields into column values.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_KAFKA_CSV_H
#define CONTINUOUS_KAFKA_CSV_H

#include <stdbool.h>
#include <stddef.h>

/* One field of a record: NUL-terminated text inside the caller's buffer. */
typedef struct KafkaCsvField
{
	const char *value;			/* quotes removed, "" turned into " */
	size_t		len;			/* bytes before the terminating NUL */
	bool		quoted;			/* an empty unquoted field is NULL */
} KafkaCsvField;

/*
 * Split the CSV record input[0 .. len) into fields separated by delimiter,
 * as RFC 4180 describes: a field may be quoted with '"', a quoted field may
 * contain the delimiter, newlines and "" (one quote); quotes may not appear
 * inside an unquoted field, and only a delimiter or the end may follow a
 * closing quote.  A message is one record, so an unquoted newline is an
 * error, except that one trailing "\n" or "\r\n" is ignored.
 *
 * buf must have room for len + 1 bytes: the fields' unescaped text and their
 * terminators are written there.  At most maxfields fields are stored in
 * fields[]; the return value is the number of fields in the record, which
 * may be larger, so that the caller can report a wrong field count.  On a
 * syntax error -1 is returned and *error points to a static message.
 *
 * The delimiter must not be '"', '\r', '\n' or '\0'.
 */
extern int	kafka_csv_split(const char *input, size_t len, char delimiter,
							char *buf, KafkaCsvField *fields, int maxfields,
							const char **error);

#endif							/* CONTINUOUS_KAFKA_CSV_H */
