/*-------------------------------------------------------------------------
 *
 * dedup_options.h
 *	  A stream's deduplication options: unique_key and dedup_within.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_DEDUP_OPTIONS_H
#define CONTINUOUS_DEDUP_OPTIONS_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

/*
 * Check create_stream()'s unique_key and dedup_within (either may be NULL)
 * against the stream table, and return the key's column names (NIL: no
 * deduplication).
 */
extern List *dedup_check_options(Relation rel, const char *unique_key,
								 Interval *dedup_within);

/*
 * A Kafka stream's options unique_key and dedup_within (of its foreign
 * table) into the catalog, when it is registered or its options change.
 */
extern void dedup_kafka_options(Oid foreign_table);

/*
 * Around DDL on a stream table (stream_guard.c): its unique key's columns
 * (names, from the catalog) as they are before the statement, and after it
 * the renames followed and a drop or a change of type refused.
 */
extern List *dedup_guard_note(Oid stream, List *unique_key);
extern void dedup_guard_verify(Oid stream, List *noted);

#endif							/* CONTINUOUS_DEDUP_OPTIONS_H */
