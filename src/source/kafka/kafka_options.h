/*-------------------------------------------------------------------------
 *
 * kafka_options.h
 *	  Kafka streams: the continuous_kafka foreign-data wrapper's options,
 *	  and everything a consumer needs to know about one Kafka stream.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_KAFKA_OPTIONS_H
#define CONTINUOUS_KAFKA_OPTIONS_H

#include <librdkafka/rdkafka.h>

#include "access/attnum.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#define KAFKA_FDW_NAME			"continuous_kafka"
/* server and user mapping options with this prefix go to librdkafka */
#define KAFKA_SETTING_PREFIX	"kafka."

typedef enum KafkaFormat
{
	KAFKA_FORMAT_JSON,
	KAFKA_FORMAT_CSV,
	KAFKA_FORMAT_TEXT
} KafkaFormat;

typedef enum KafkaStartOffset
{
	KAFKA_START_LATEST,			/* only messages produced from now on */
	KAFKA_START_EARLIEST		/* everything the topic still holds */
} KafkaStartOffset;

/* Column option kafka_metadata: where a column's value comes from. */
typedef enum KafkaMetadataKind
{
	KAFKA_META_NONE = 0,		/* the payload */
	KAFKA_META_PARTITION,		/* int4 or int8 */
	KAFKA_META_OFFSET,			/* int8 */
	KAFKA_META_TIMESTAMP,		/* timestamptz: the message timestamp */
	KAFKA_META_KEY				/* text or bytea: the message key */
} KafkaMetadataKind;

/*
 * One Kafka stream: the foreign table's options merged with its server's
 * and the user mapping's, checked against the table's columns.  Everything
 * is palloc'd in the memory context current at kafka_stream_options().
 */
typedef struct KafkaStreamOptions
{
	Oid			relid;			/* the foreign table */
	char	   *relname;		/* for messages */
	Oid			serverid;

	/* server and user mapping */
	char	   *brokers;		/* bootstrap.servers */
	char	   *username;		/* sasl.username, or NULL */
	char	   *password;		/* sasl.password, or NULL */
	List	   *settings;		/* DefElem: librdkafka name (no "kafka."
								 * prefix) = String value; server's first,
								 * then the user mapping's, which win */

	/* foreign table */
	char	   *topic;
	KafkaFormat format;
	char	   *event_time;		/* column name, or NULL */
	AttrNumber	event_time_attnum;	/* InvalidAttrNumber without one */
	Oid			event_time_type;	/* TIMESTAMPTZOID or TIMESTAMPOID */
	Interval   *watermark_delay;	/* never NULL: default 0 */
	Interval   *idle_timeout;	/* NULL: partitions never count as idle */
	Interval   *max_future;		/* never NULL: default 1 day */
	KafkaStartOffset start_offset;
	char		csv_delimiter;

	/* columns, indexed by attnum - 1; dropped columns are KAFKA_META_NONE */
	int			natts;
	KafkaMetadataKind *metadata;
	int			npayload;		/* live columns filled from the payload */
} KafkaStreamOptions;

/*
 * Gather and check the options of a continuous_kafka foreign table, with
 * the user mapping of the current user (GetUserId()) or of PUBLIC, or none.
 * Throws if the table is not a Kafka stream or its options do not fit its
 * columns: event_time must name a timestamp(tz) column, metadata columns
 * must have fitting types, format 'text' needs exactly one text or varchar
 * payload column, format 'csv' at least one payload column.  The option
 * validator cannot check these, since it does not see the columns; call
 * this when a continuous view over the table is created, and when the
 * worker starts consuming.
 */
extern KafkaStreamOptions *kafka_stream_options(Oid foreigntableid);
extern KafkaStreamOptions *kafka_stream_options_for_user(Oid foreigntableid,
														 Oid userid);

/* Is this relation a foreign table of the continuous_kafka wrapper? */
extern bool kafka_is_stream_table(Oid relid);

/*
 * A librdkafka configuration with bootstrap.servers, the SASL credentials
 * and the pass-through settings applied, in that order.  The caller adds
 * what its consumer itself depends on afterwards (so that a pass-through
 * setting cannot override it) and owns the result: rd_kafka_new() takes
 * it, or rd_kafka_conf_destroy() frees it.  Throws on a setting librdkafka
 * refuses (possible if librdkafka changed since the option was validated).
 */
extern rd_kafka_conf_t *kafka_stream_conf(const KafkaStreamOptions *opts);

extern const char *kafka_metadata_kind_name(KafkaMetadataKind kind);

#endif							/* CONTINUOUS_KAFKA_OPTIONS_H */
