/*-------------------------------------------------------------------------
 *
 * kafka_json_validate.h
 *	  Kafka streams: a fast check that a JSON message is valid, in C++
 *	  (simdjson) behind a C interface.
 *
 * Plain C, without PostgreSQL's headers, so that the C++ unit that
 * implements it does not include them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_KAFKA_JSON_VALIDATE_H
#define CONTINUOUS_KAFKA_JSON_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C"
{
#endif

/* longer messages are left to PostgreSQL's parser (see the .cpp file) */
#define KAFKA_JSON_FAST_MAX_BYTES 65536

/*
 * True when text[0 .. len) is one JSON value by RFC 8259's grammar, with
 * valid UTF-8 throughout.  False when it is not, or when the check could not
 * be made (longer than KAFKA_JSON_FAST_MAX_BYTES, nesting deeper than
 * simdjson's limit, a number it does not take, no memory): the caller then
 * asks PostgreSQL's parser, which decides.  Never throws.
 */
extern bool kafka_json_fast_valid(const char *text, size_t len);

#ifdef __cplusplus
}
#endif

#endif							/* CONTINUOUS_KAFKA_JSON_VALIDATE_H */
