/*-------------------------------------------------------------------------
 *
 * kafka_shortcuts.h
 *	  Kafka streams: fast paths for the usual forms of timestamps and
 *	  decimal numbers in messages.
 *
 * Plain C with no PostgreSQL dependencies (like kafka_csv.h), so that a
 * fuzzer can link it; kafka_decode.c tries them before a timestamp or
 * numeric column's input function.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_KAFKA_SHORTCUTS_H
#define CONTINUOUS_KAFKA_SHORTCUTS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Parse str if it is, exactly,
 *
 *	 YYYY-MM-DD{T| }HH:MM:SS[.F{1,6}][Z|{+|-}HH[[:]MM]]
 *
 * a valid date of years 0001 to 9999, hours 00-23, seconds 00-59, and a
 * zone displacement of at most 15:59 (PostgreSQL's limit).  *result gets
 * microseconds since 2000-01-01 00:00:00: in UTC when a zone is given
 * (timestamptz), as written when not (timestamp).  with_zone says which
 * the caller wants: a timestamptz needs a zone here (without one, the
 * session's TimeZone applies, which only the input function knows), and
 * a timestamp needs none (the input function ignores a zone).
 *
 * Returns false, without an error, for anything else: the caller then
 * runs the type's input function, which accepts many more forms and
 * reports errors, so the result is always what that function would give.
 */
extern bool kafka_timestamp_parse(const char *str, bool with_zone,
								  int64_t *result);

/*
 * Parse str if it is, exactly, [-]D+[.D+] with at most 18 digits in all:
 * *digits gets the digits as one integer (negative with the sign), *scale
 * the number of digits after the point, so that the value is
 * *digits / 10^*scale, written with *scale decimals.  Returns false for
 * anything else (exponents, NaN, Infinity, a leading '+' or '.', spaces,
 * more digits), which the caller hands to numeric's input function.
 */
extern bool kafka_decimal_parse(const char *str, int64_t *digits, int *scale);

#endif							/* CONTINUOUS_KAFKA_SHORTCUTS_H */
