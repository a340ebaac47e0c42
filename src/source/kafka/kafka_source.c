/*-------------------------------------------------------------------------
 *
 * kafka_source.c
 *	  Kafka streams: the worker's consumer of one stream, and the offsets
 *	  it keeps in PostgreSQL.
 *
 * Pipeline position: the source, for Kafka streams, beside the WAL decoder
 * (decoder.c) of table streams.  One librdkafka consumer per stream, with
 * every partition of the topic assigned explicitly (no consumer group: the
 * offsets are ours).  Between flushes the worker polls it; the messages
 * stay as librdkafka handed them over, without a copy.  The flush
 * transaction decodes them into rows (kafka_decode.c), lets the views
 * aggregate them like any stream's events, and writes each partition's
 * next offset and event time to continuous.kafka_offsets, in the same
 * transaction as the state.  After a crash the consumer resumes at those
 * offsets, so every message counts exactly once.
 *
 * Where a partition starts the first time it is seen: at the topic's
 * beginning or end as the table's start_offset says, for the partitions the
 * topic had when the stream began; at the beginning for partitions added
 * later (or when the topic did not exist yet), since everything produced to
 * them came after the stream began.  The offset is resolved against the
 * broker and written before anything is consumed, so a crash cannot move
 * the start.
 *
 * Broker trouble never throws: librdkafka reconnects by itself, and the
 * error is the stream's state (continuous.kafka_partitions.last_error)
 * until messages or metadata arrive again.
 *
 * A view held back by a lock on its relations (view_progress.c) keeps a
 * position of its own: continuous.kafka_offsets is where the stream stands
 * (the frontier: every other view is applied up to there, and the stream's
 * counters, dead letters and watermark are as of there), and
 * continuous.kafka_view_offsets where each view behind it stands, per
 * partition.  The flush that first leaves the view out writes its rows,
 * and the consumer goes on for the others.  When the catalog is read again
 * with the view free, the consumer starts at the least of the offsets: a
 * message before the frontier is for the views behind on its partition
 * only (kafka_source_view_events), not the stream's again; each flush
 * writes how far they came, and the one that brings a view to the frontier
 * deletes its rows.  A sync() waits for that, as the consumer's own offsets
 * are behind until then.
 *
 * Decoding runs in a subtransaction for the whole batch; if a type's input
 * function throws, the batch is decoded again message by message, each in
 * a subtransaction of its own, and the failing ones become dead letters,
 * like malformed messages, which the decoder reports without throwing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <librdkafka/rdkafka.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "base/memory.h"
#include "base/privileges.h"
#include "base/subxact.h"
#include "exec/quarantine.h"
#include "source/kafka/kafka_decode.h"
#include "source/kafka/kafka_options.h"
#include "source/kafka/kafka_source.h"
#include "source/stream_event.h"
#include "worker/view_progress.h"

/* how often the partitions of a topic are looked up again */
#define METADATA_INTERVAL_MS	5000
/* the longest the worker waits for a broker's answer */
#define BROKER_TIMEOUT_MS		1000
/* how long a metadata request waits for a broker while none could be reached */
#define OUTAGE_PROBE_MS			100

typedef struct KafkaPartition
{
	int64		frontier;		/* the stream's next offset: every view not
								 * behind is applied up to here */
	int64		committed;		/* the consumer's next offset, as of the last
								 * flush (behind frontier while views catch
								 * up) */
	int64		consumed;		/* next offset after the batch */
	int64		high_watermark; /* as the client last heard; -1: unknown */
	int64		sync_target;	/* continuous.sync() waits for this; -1: none */
	int64		start;			/* worker 0, another worker's partition: where
								 * it starts, to be written; -1: none */
	bool		stored;			/* kafka_offsets has a row */
} KafkaPartition;

/* A row of continuous.kafka_offsets (source_read_offsets) */
typedef struct StoredOffset
{
	int32		partition;
	int64		next_offset;
	bool		has_event_time;
	TimestampTz max_event_time;
	bool		has_active_at;
	TimestampTz active_at;
} StoredOffset;

/*
 * A view of the stream behind its frontier (continuous.kafka_view_offsets):
 * held back by a lock, or catching up.  Offsets are per partition, -1 where
 * the view is not behind.
 */
typedef struct BehindView
{
	Oid			view;
	bool		held;			/* nothing is consumed for it */
	int64	   *from;			/* the view counts the messages from here */
	int64	   *next;			/* written by the flush, from once committed */
	int64	   *stored;			/* what kafka_view_offsets has */
	bool		caught_up;		/* the flush brings it to the frontier */
} BehindView;

struct KafkaSource
{
	Oid			relid;
	Oid			owner;			/* the foreign table's: decoding runs as it */
	int			worker;			/* this worker's share of the partitions */
	int			nworkers;
	KafkaStreamOptions *opts;
	KafkaDecoder *decoder;
	StreamClock *clock;
	MemoryContext cxt;			/* the source's life */
	MemoryContext batch_cxt;	/* decoded rows of one flush */

	rd_kafka_t *rk;
	rd_kafka_queue_t *queue;
	bool		assigned;		/* the client has every partition we know */
	bool		first_metadata; /* none yet: start_offset applies */
	bool		brokers_unreachable;	/* the last metadata request found no
										 * broker to ask */
	bool		awaiting_starts;	/* partitions whose start worker 0 decides */
	TimestampTz last_metadata;

	int			nparts;			/* partitions 0 .. nparts - 1 */
	KafkaPartition *parts;

	/* the batch: messages as the client returned them */
	rd_kafka_message_t **msgs;
	int			nmsgs;
	TimestampTz first_taken;	/* when the batch's first message came */
	int			msgs_capacity;
	Size		bytes;

	/* views behind the frontier (BehindView), and the batch with the
	 * messages before it, decoded for them; NULL if none */
	List	   *behind;
	StreamEvents *all_events;

	/* error state: set from the client's callback, on this thread */
	char		error[256];
	bool		error_changed;
};

static int	source_owner(KafkaSource *src, int partition);
static bool source_owns(KafkaSource *src, int partition);
static bool kafka_setting_given(const KafkaStreamOptions *opts,
								const char *name);
static void source_error_cb(rd_kafka_t *rk, int err, const char *reason,
							void *opaque);
static void source_set_error(KafkaSource *src, const char *fmt,...) pg_attribute_printf(2, 3);
static StoredOffset *source_read_offsets(KafkaSource *src, int *n);
static void source_load_offsets(KafkaSource *src);
static void source_load_behind(KafkaSource *src, List *views);
static BehindView *source_add_behind(KafkaSource *src, Oid view, bool held);
static BehindView *source_find_behind(KafkaSource *src, Oid view);
static int64 behind_from(KafkaSource *src, BehindView *bv, int partition);
static StreamEvents *source_filter_events(KafkaSource *src, StreamEvents *all,
										  BehindView *bv);
static void source_write_behind(KafkaSource *src);
static void source_grow(KafkaSource *src, int nparts);
static bool source_discover(KafkaSource *src);
static bool source_query_bounds(KafkaSource *src, const bool *want,
								int64 *lows, int64 *highs);
static bool source_assign(KafkaSource *src);
static void source_take(KafkaSource *src, rd_kafka_message_t *msg,
						TimestampTz now);
static bool decode_range(KafkaSource *src, int from, int to,
						 StreamEvents *events, List **dead_letters,
						 char **error);
static void decode_one(KafkaSource *src, rd_kafka_message_t *msg,
					   StreamEvents *events, List **dead_letters);
static DeadLetter *message_dead_letter(rd_kafka_message_t *msg,
									   const char *error);

KafkaSource *
kafka_source_create(Oid relid, StreamClock *clock, int wakeup_fd,
					int worker, int nworkers, List *views)
{
	MemoryContext cxt = AllocSetContextCreate(continuous_memory_context(),
											  "pg_continuous Kafka source",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	KafkaSource *src = palloc0(sizeof(KafkaSource));
	Relation	rel;
	rd_kafka_conf_t *conf;
	char		errstr[512];
	/*
	 * Settings of our own: forced, or (overridable) defaults that a setting
	 * of the server's or the user mapping's replaces.
	 */
	static const struct
	{
		const char *name;
		const char *value;
		bool		overridable;
	}			consumer_settings[] = {
		/* offsets are ours: no group membership, nothing committed */
		{"enable.auto.commit", "false", false},
		{"enable.auto.offset.store", "false", false},
		{"enable.partition.eof", "false", false},
		/* an offset the topic no longer holds: its oldest message */
		{"auto.offset.reset", "earliest", false},
		{"allow.auto.create.topics", "false", false},

		/*
		 * librdkafka 2.0.2 gives a consumer without a group.id no consumer
		 * queue, though partitions are assigned, never subscribed, and
		 * nothing is committed.  The client still asks who coordinates its
		 * group; a user whose brokers grant rights on one group only can
		 * name it.
		 */
		{"group.id", "pg_continuous", true},

		/*
		 * The client stops fetching for a while once this many messages
		 * wait in its queue; the default (100000) made it pause for about
		 * a second after every flush of a full batch.
		 */
		{"queued.min.messages", "1000000", true},
	};
	int			i;

	src->relid = relid;
	src->worker = worker;
	src->nworkers = nworkers;
	src->cxt = cxt;
	src->batch_cxt = AllocSetContextCreate(cxt, "pg_continuous Kafka batch",
										   ALLOCSET_DEFAULT_SIZES);
	src->clock = clock;
	/* without a lock, which its owner might hold for long (batch.c too) */
	rel = RelationIdGetRelation(relid);
	if (!RelationIsValid(rel))
		elog(ERROR, "could not open Kafka stream %u", relid);
	src->owner = rel->rd_rel->relowner;
	src->opts = kafka_stream_options_for_user(relid, src->owner);
	src->decoder = kafka_decoder_create(src->opts, RelationGetDescr(rel));
	RelationClose(rel);
	src->first_metadata = true;
	source_load_offsets(src);
	source_load_behind(src, views);

	conf = kafka_stream_conf(src->opts);
	for (i = 0; i < lengthof(consumer_settings); i++)
	{
		if (consumer_settings[i].overridable &&
			kafka_setting_given(src->opts, consumer_settings[i].name))
			continue;
		if (rd_kafka_conf_set(conf, consumer_settings[i].name,
							  consumer_settings[i].value,
							  errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		{
			rd_kafka_conf_destroy(conf);
			elog(ERROR, "pg_continuous: librdkafka refused %s: %s",
				 consumer_settings[i].name, errstr);
		}
	}
	rd_kafka_conf_set_opaque(conf, src);
	rd_kafka_conf_set_error_cb(conf, source_error_cb);
	src->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (src->rk == NULL)
	{
		rd_kafka_conf_destroy(conf);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not create a Kafka consumer for stream \"%s\": %s",
						src->opts->relname, errstr)));
	}
	src->queue = rd_kafka_queue_get_consumer(src->rk);
	if (src->queue == NULL)
		elog(ERROR, "pg_continuous: librdkafka gave no consumer queue");
	/* messages arriving in an empty queue wake the worker */
	if (wakeup_fd >= 0)
		rd_kafka_queue_io_event_enable(src->queue, wakeup_fd, "k", 1);

	MemoryContextSwitchTo(oldcxt);
	return src;
}

/* The worker (0 .. nworkers - 1) that consumes the partition. */
static int
source_owner(KafkaSource *src, int partition)
{
	return (int) (((uint32) partition + src->relid) % (uint32) src->nworkers);
}

/* Is the partition this worker's to consume? */
static bool
source_owns(KafkaSource *src, int partition)
{
	return source_owner(src, partition) == src->worker;
}

void
kafka_source_destroy(KafkaSource *src)
{
	int			i;

	for (i = 0; i < src->nmsgs; i++)
		rd_kafka_message_destroy(src->msgs[i]);
	if (src->queue)
		rd_kafka_queue_destroy(src->queue);
	if (src->rk)
	{
		rd_kafka_consumer_close(src->rk);
		rd_kafka_destroy(src->rk);
	}
	MemoryContextDelete(src->cxt);
}

Oid
kafka_source_relid(KafkaSource *src)
{
	return src->relid;
}

/* Did the server or the user mapping set this librdkafka setting? */
static bool
kafka_setting_given(const KafkaStreamOptions *opts, const char *name)
{
	ListCell   *lc;

	foreach(lc, opts->settings)
		if (strcmp(((DefElem *) lfirst(lc))->defname, name) == 0)
			return true;
	return false;
}

/*
 * Called by the client, from rd_kafka_poll() on the worker's own thread:
 * only note the error here.
 */
static void
source_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	KafkaSource *src = opaque;

	source_set_error(src, "%s", reason);
}

/* The error state; "" when all is well.  Allocates nothing. */
static void
source_set_error(KafkaSource *src, const char *fmt,...)
{
	char		error[sizeof(src->error)];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(error, sizeof(error), fmt, args);
	va_end(args);
	if (strcmp(src->error, error) == 0)
		return;
	strlcpy(src->error, error, sizeof(src->error));
	src->error_changed = true;
	if (error[0] != '\0')
		ereport(LOG,
				(errmsg("pg_continuous: Kafka stream \"%s\": %s",
						src->opts->relname, error)));
	else
		ereport(LOG,
				(errmsg("pg_continuous: Kafka stream \"%s\" is consuming again",
						src->opts->relname)));
}

/*
 * The rows of continuous.kafka_offsets for this stream, as committed: *n of
 * them, in a palloc'd array.  In a transaction.
 */
static StoredOffset *
source_read_offsets(KafkaSource *src, int *n)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(src->relid)};
	StoredOffset *rows;
	uint64		i;

	if (SPI_execute_with_args("SELECT \"partition\", next_offset, max_event_time, active_at "
							  "FROM continuous.kafka_offsets WHERE stream OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.kafka_offsets");
	rows = palloc(sizeof(StoredOffset) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		value;

		rows[i].partition = DatumGetInt32(SPI_getbinval(row, desc, 1, &isnull));
		rows[i].next_offset = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
		value = SPI_getbinval(row, desc, 3, &isnull);
		rows[i].has_event_time = !isnull;
		rows[i].max_event_time = isnull ? 0 : DatumGetTimestampTz(value);
		value = SPI_getbinval(row, desc, 4, &isnull);
		rows[i].has_active_at = !isnull;
		rows[i].active_at = isnull ? 0 : DatumGetTimestampTz(value);
	}
	*n = (int) SPI_processed;
	return rows;
}

/* The offsets and event times stored with the state; in a transaction. */
static void
source_load_offsets(KafkaSource *src)
{
	int			n;
	StoredOffset *rows = source_read_offsets(src, &n);
	int			i;

	for (i = 0; i < n; i++)
	{
		int32		p = rows[i].partition;

		if (p < 0)
			continue;
		source_grow(src, p + 1);
		if (source_owns(src, p))
			src->parts[p].committed = src->parts[p].consumed = rows[i].next_offset;
		src->parts[p].frontier = rows[i].next_offset;
		src->parts[p].stored = true;
		if (rows[i].has_event_time)
		{
			src->clock->parts[p].seen = true;
			src->clock->parts[p].max_event_time = rows[i].max_event_time;
		}
		/* partitions known before: start_offset is behind us */
		src->first_metadata = false;
	}
	pfree(rows);
}

/* Room for partitions 0 .. nparts - 1; new ones have no offset yet. */
static void
source_grow(KafkaSource *src, int nparts)
{
	ListCell   *lc;
	int			p;

	if (nparts <= src->nparts)
		return;
	if (src->parts == NULL)
		src->parts = MemoryContextAlloc(src->cxt, sizeof(KafkaPartition) * nparts);
	else
		src->parts = repalloc(src->parts, sizeof(KafkaPartition) * nparts);
	foreach(lc, src->behind)
	{
		BehindView *bv = lfirst(lc);
		int64	  **arrays[3] = {&bv->from, &bv->next, &bv->stored};
		int			a;

		for (a = 0; a < lengthof(arrays); a++)
		{
			*arrays[a] = repalloc(*arrays[a], sizeof(int64) * nparts);
			for (p = src->nparts; p < nparts; p++)
				(*arrays[a])[p] = -1;
		}
	}
	for (p = src->nparts; p < nparts; p++)
	{
		src->parts[p].frontier = -1;
		src->parts[p].committed = src->parts[p].consumed = -1;
		src->parts[p].high_watermark = -1;
		src->parts[p].sync_target = -1;
		src->parts[p].start = -1;
		src->parts[p].stored = false;
	}
	src->nparts = nparts;
	stream_clock_set_partitions(src->clock, nparts, src->opts->idle_timeout);
	src->assigned = false;
}

/*
 * Ask the broker for the topic's partitions, and where new ones start.
 * False if the broker did not answer (the error state says why).
 */
static bool
source_discover(KafkaSource *src)
{
	rd_kafka_topic_t *rkt;
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;
	int			count = 0;
	bool		start_at_end = src->first_metadata &&
		src->opts->start_offset == KAFKA_START_LATEST;
	bool	   *want;
	bool		wanted = false;
	bool		ok = true;
	int64	   *lows = NULL;
	int64	   *highs = NULL;
	int			p;

	src->last_metadata = GetCurrentTimestamp();
	rkt = rd_kafka_topic_new(src->rk, src->opts->topic, NULL);
	if (rkt == NULL)
	{
		source_set_error(src, "%s", rd_kafka_err2str(rd_kafka_last_error()));
		return false;
	}
	/*
	 * Without a broker to ask, the request waits its whole timeout for one,
	 * and the worker's other streams wait with it.  Once that has happened,
	 * the next requests only probe; the client reconnects meanwhile, on its
	 * own threads.
	 */
	err = rd_kafka_metadata(src->rk, 0, rkt, &md,
							src->brokers_unreachable ? OUTAGE_PROBE_MS :
							BROKER_TIMEOUT_MS);
	src->brokers_unreachable = (err == RD_KAFKA_RESP_ERR__TRANSPORT);
	rd_kafka_topic_destroy(rkt);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		source_set_error(src, "no metadata for topic \"%s\": %s",
						 src->opts->topic, rd_kafka_err2str(err));
		return false;
	}
	if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
		count = md->topics[0].partition_cnt;
	else if (md->topic_cnt == 1)
		err = md->topics[0].err;
	rd_kafka_metadata_destroy(md);
	if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
	{
		/* not an outage: the stream waits for the topic */
		src->first_metadata = false;
		source_set_error(src, "topic \"%s\" does not exist", src->opts->topic);
		return true;
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		source_set_error(src, "no metadata for topic \"%s\": %s",
						 src->opts->topic, rd_kafka_err2str(err));
		return false;
	}

	source_grow(src, count);
	want = palloc0(sizeof(bool) * Max(src->nparts, 1));
	for (p = 0; p < src->nparts; p++)
	{
		KafkaPartition *part = &src->parts[p];

		/*
		 * Worker 0 resolves where every partition starts, so that all start
		 * where the stream began, whichever worker consumes them and
		 * whenever it starts; the others wait for its row (kafka_source_
		 * load_starts).
		 */
		if (part->consumed >= 0 || part->stored || part->start >= 0 ||
			(src->worker > 0 && !source_owns(src, p)))
			continue;
		if (src->worker > 0)
			src->awaiting_starts = true;
		else
			want[p] = wanted = true;
	}
	/* start_offset 'latest' needs only where they end */
	if (wanted)
	{
		if (!start_at_end)
			lows = palloc(sizeof(int64) * src->nparts);
		highs = palloc(sizeof(int64) * src->nparts);
		ok = source_query_bounds(src, want, lows, highs);
	}
	for (p = 0; ok && p < src->nparts; p++)
	{
		KafkaPartition *part = &src->parts[p];

		if (!want[p])
			continue;
		part->start = start_at_end ? highs[p] : lows[p];
		if (source_owns(src, p))
		{
			part->frontier = part->committed = part->consumed = part->start;
			part->start = -1;
			src->assigned = false;
		}
		part->high_watermark = highs[p];
	}
	if (ok)
	{
		/* start_offset is for the partitions of the first answer only */
		src->first_metadata = false;
		source_set_error(src, "%s", "");
	}
	if (lows)
		pfree(lows);
	if (highs)
		pfree(highs);
	pfree(want);
	return ok;
}

/*
 * Where partitions p with want[p] begin (lows, if not NULL) and end (highs:
 * the next offset), as the broker has them now: one request for each, for
 * all the partitions (a request per partition waits behind the client's
 * fetches, one after the other).  False if the broker did not answer (the
 * error state says why).
 */
static bool
source_query_bounds(KafkaSource *src, const bool *want, int64 *lows,
					int64 *highs)
{
	int			pass;

	for (pass = 0; pass < 2; pass++)
	{
		int64	   *bounds = pass == 0 ? highs : lows;
		rd_kafka_topic_partition_list_t *list;
		rd_kafka_resp_err_t err;
		int			p;
		int			i;

		if (bounds == NULL)
			continue;
		list = rd_kafka_topic_partition_list_new(Max(src->nparts, 1));
		for (p = 0; p < src->nparts; p++)
			if (want[p])
				rd_kafka_topic_partition_list_add(list, src->opts->topic, p)->offset =
					pass == 0 ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
		/* a "time" of END or BEGINNING asks for those offsets */
		err = rd_kafka_offsets_for_times(src->rk, list, BROKER_TIMEOUT_MS);
		for (i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; i++)
		{
			rd_kafka_topic_partition_t *elem = &list->elems[i];

			err = elem->err;
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR && elem->offset < 0)
				err = RD_KAFKA_RESP_ERR__NO_OFFSET;
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
				bounds[elem->partition] = elem->offset;
			else
				source_set_error(src, "no offsets for partition %d of topic \"%s\": %s",
								 elem->partition, src->opts->topic,
								 rd_kafka_err2str(err));
		}
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR && i == 0)
			source_set_error(src, "no offsets for topic \"%s\": %s",
							 src->opts->topic, rd_kafka_err2str(err));
		rd_kafka_topic_partition_list_destroy(list);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
			return false;
	}
	return true;
}

/*
 * Hand the client every partition this worker consumes, each at its next
 * offset; those whose start is not known yet follow once it is.
 */
static bool
source_assign(KafkaSource *src)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err;
	int			p;

	list = rd_kafka_topic_partition_list_new(Max(src->nparts, 1));
	for (p = 0; p < src->nparts; p++)
		if (source_owns(src, p) && src->parts[p].consumed >= 0)
			rd_kafka_topic_partition_list_add(list, src->opts->topic, p)->offset =
				src->parts[p].consumed;
	err = rd_kafka_assign(src->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		source_set_error(src, "could not assign partitions: %s",
						 rd_kafka_err2str(err));
		return false;
	}
	src->assigned = true;
	return true;
}

bool
kafka_source_position_unwritten(KafkaSource *src)
{
	int			p;

	for (p = 0; p < src->nparts; p++)
		if (!src->parts[p].stored &&
			(src->parts[p].consumed >= 0 || src->parts[p].start >= 0))
			return true;
	return false;
}

bool
kafka_source_error_changed(KafkaSource *src)
{
	return src->error_changed;
}

int
kafka_source_poll(KafkaSource *src, int max_messages)
{
	ssize_t		n;
	int			first;
	int			taken = 0;
	TimestampTz now;
	int			i;

	/* error callbacks */
	rd_kafka_poll(src->rk, 0);

	/* new partitions, or the first answer after an outage */
	if (src->last_metadata == 0 ||
		TimestampDifferenceExceeds(src->last_metadata, GetCurrentTimestamp(),
								   METADATA_INTERVAL_MS))
		(void) source_discover(src);
	/* where new partitions start is written before they are consumed */
	if (kafka_source_position_unwritten(src))
		return 0;
	if (!src->assigned && !source_assign(src))
		return 0;
	if (max_messages <= 0)
		return 0;

	if (src->nmsgs + max_messages > src->msgs_capacity)
	{
		int			capacity = Max(src->nmsgs + max_messages, src->msgs_capacity * 2);

		if (src->msgs == NULL)
			src->msgs = MemoryContextAllocHuge(src->cxt, sizeof(rd_kafka_message_t *) * capacity);
		else
			src->msgs = repalloc_huge(src->msgs, sizeof(rd_kafka_message_t *) * capacity);
		src->msgs_capacity = capacity;
	}
	first = src->nmsgs;
	n = rd_kafka_consume_batch_queue(src->queue, 0, &src->msgs[first],
									 max_messages);
	if (n < 0)
	{
		source_set_error(src, "%s", rd_kafka_err2str(rd_kafka_last_error()));
		return 0;
	}
	/* the batch's array is compacted in place: taken ones stay */
	now = GetCurrentTimestamp();
	for (i = 0; i < n; i++)
	{
		rd_kafka_message_t *msg = src->msgs[first + i];

		if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		{
			/*
			 * A refused group lookup says nothing about the stream, which
			 * uses no group (see kafka_source_create).
			 */
			if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
				msg->err != RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED)
				source_set_error(src, "%s", rd_kafka_message_errstr(msg));
			rd_kafka_message_destroy(msg);
			continue;
		}
		source_take(src, msg, now);
		taken++;
	}
	if (taken > 0 && src->error[0] != '\0')
		source_set_error(src, "%s", "");
	return taken;
}

/* A message into the batch, unless it is not the one we wait for. */
static void
source_take(KafkaSource *src, rd_kafka_message_t *msg, TimestampTz now)
{
	int32		p = msg->partition;

	/* after a reassignment, nothing before the next offset counts again */
	if (p < 0 || p >= src->nparts || msg->offset < src->parts[p].consumed)
	{
		rd_kafka_message_destroy(msg);
		return;
	}
	src->parts[p].consumed = msg->offset + 1;
	src->clock->parts[p].active_at = now;
	if (src->nmsgs == 0)
		src->first_taken = now;
	src->msgs[src->nmsgs++] = msg;
	src->bytes += msg->len;
}

TimestampTz
kafka_source_batch_first_taken(KafkaSource *src)
{
	return src->first_taken;
}

int
kafka_source_batch_messages(KafkaSource *src)
{
	return src->nmsgs;
}

Size
kafka_source_batch_bytes(KafkaSource *src)
{
	return src->bytes;
}

StreamEvents *
kafka_source_decode(KafkaSource *src, List **dead_letters)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(src->batch_cxt);
	StreamEvents *events = palloc0(sizeof(StreamEvents));
	SavedPrivileges saved;
	char	   *error;
	bool		armed;
	bool		out_of_time = false;
	int			i;

	/*
	 * A domain's CHECK of a column may call its owner's functions, which
	 * get continuous.view_time_limit, as a view's code does.
	 */
	privileges_become(src->owner, NULL, &saved);
	armed = quarantine_limit_begin(src->relid, true);

	events->relid = src->relid;
	events->kafka = true;
	events->desc = kafka_decoder_tupdesc(src->decoder);
	events->bytes = src->bytes;
	events->capacity = Max(src->nmsgs, 1);
	events->events = MemoryContextAllocHuge(src->batch_cxt,
											sizeof(StreamEvent) * events->capacity);
	*dead_letters = NIL;

	if (!decode_range(src, 0, src->nmsgs, events, dead_letters, &error) &&
		!(out_of_time = quarantine_time_is_up()))
	{
		/* a type's input function threw: find out for which messages */
		events->nevents = 0;
		*dead_letters = NIL;
		for (i = 0; i < src->nmsgs; i++)
		{
			if (decode_range(src, i, i + 1, events, dead_letters, &error))
				continue;
			/* the time ran out: no message's fault */
			if ((out_of_time = quarantine_time_is_up()))
				break;
			*dead_letters = lappend(*dead_letters,
									message_dead_letter(src->msgs[i], error));
		}
	}
	(void) quarantine_limit_end(armed);
	privileges_restore(&saved);
	if (out_of_time)
	{
		*dead_letters = NIL;
		MemoryContextSwitchTo(oldcxt);
		return NULL;
	}

	/*
	 * Messages before the frontier are read again for views behind it: they
	 * are theirs only, and their dead letters were written the first time.
	 */
	src->all_events = NULL;
	for (i = 0; i < src->nmsgs; i++)
	{
		if (src->msgs[i]->offset < src->parts[src->msgs[i]->partition].frontier)
		{
			List	   *kept = NIL;
			ListCell   *lc;

			src->all_events = events;
			events = source_filter_events(src, events, NULL);
			foreach(lc, *dead_letters)
			{
				DeadLetter *dl = lfirst(lc);

				if (dl->offset >= src->parts[dl->partition].frontier)
					kept = lappend(kept, dl);
			}
			*dead_letters = kept;
			break;
		}
	}
	MemoryContextSwitchTo(oldcxt);
	return events;
}

/*
 * The events of all, from where bv counts on each partition (bv NULL: the
 * stream, from its frontier on).  In the batch's memory.
 */
static StreamEvents *
source_filter_events(KafkaSource *src, StreamEvents *all, BehindView *bv)
{
	StreamEvents *events = palloc(sizeof(StreamEvents));
	int			i;

	*events = *all;
	events->events = palloc(sizeof(StreamEvent) * Max(all->nevents, 1));
	events->nevents = 0;
	events->capacity = Max(all->nevents, 1);
	for (i = 0; i < all->nevents; i++)
	{
		StreamEvent *event = &all->events[i];
		int64		from = bv ? behind_from(src, bv, event->partition) :
			src->parts[event->partition].frontier;

		if (event->offset >= from)
			events->events[events->nevents++] = *event;
	}
	/* the bytes of what is counted for the stream */
	if (bv == NULL)
	{
		events->bytes = 0;
		for (i = 0; i < src->nmsgs; i++)
			if (src->msgs[i]->offset >= src->parts[src->msgs[i]->partition].frontier)
				events->bytes += src->msgs[i]->len;
	}
	return events;
}

/* Where a view behind counts from on a partition: the frontier if not behind. */
static int64
behind_from(KafkaSource *src, BehindView *bv, int partition)
{
	return bv->from[partition] >= 0 ? bv->from[partition] :
		src->parts[partition].frontier;
}

StreamEvents *
kafka_source_view_events(KafkaSource *src, Oid view, StreamEvents *stream)
{
	BehindView *bv;
	MemoryContext oldcxt;

	if (src->all_events == NULL ||
		(bv = source_find_behind(src, view)) == NULL || bv->held)
		return stream;
	oldcxt = MemoryContextSwitchTo(src->batch_cxt);
	stream = source_filter_events(src, src->all_events, bv);
	MemoryContextSwitchTo(oldcxt);
	return stream;
}

void
kafka_source_hold_view(KafkaSource *src, Oid view)
{
	BehindView *bv = source_find_behind(src, view);

	if (bv == NULL)
		bv = source_add_behind(src, view, true);
	bv->held = true;
}

static BehindView *
source_find_behind(KafkaSource *src, Oid view)
{
	ListCell   *lc;

	foreach(lc, src->behind)
		if (((BehindView *) lfirst(lc))->view == view)
			return lfirst(lc);
	return NULL;
}

/* A view behind the frontier, on no partition yet. */
static BehindView *
source_add_behind(KafkaSource *src, Oid view, bool held)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(src->cxt);
	BehindView *bv = palloc0(sizeof(BehindView));
	int			p;

	bv->view = view;
	bv->held = held;
	bv->from = palloc(sizeof(int64) * Max(src->nparts, 1));
	bv->next = palloc(sizeof(int64) * Max(src->nparts, 1));
	bv->stored = palloc(sizeof(int64) * Max(src->nparts, 1));
	for (p = 0; p < src->nparts; p++)
		bv->from[p] = bv->next[p] = bv->stored[p] = -1;
	src->behind = lappend(src->behind, bv);
	MemoryContextSwitchTo(oldcxt);
	return bv;
}

/*
 * The views of the stream behind its frontier, as the flushes left them:
 * those held back still (view_progress.c) stay where they are; those the
 * worker maintains (views) are consumed for again from their offsets.
 * Rows of other views (failed, dropped) are left alone.
 */
static void
source_load_behind(KafkaSource *src, List *views)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(src->relid)};
	List	   *held = view_progress_held_views(src->relid);
	ListCell   *lc;
	uint64		i;

	foreach(lc, held)
		(void) source_add_behind(src, lfirst_oid(lc), true);
	if (SPI_execute_with_args("SELECT view, \"partition\", next_offset "
							  "FROM continuous.kafka_view_offsets "
							  "WHERE stream OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.kafka_view_offsets");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Oid			view = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		int32		p = DatumGetInt32(SPI_getbinval(row, desc, 2, &isnull));
		int64		offset = DatumGetInt64(SPI_getbinval(row, desc, 3, &isnull));
		BehindView *bv;

		if (p < 0 || !source_owns(src, p) ||
			(!view_progress_held(view) && !list_member_oid(views, view)))
			continue;
		source_grow(src, p + 1);
		bv = source_find_behind(src, view);
		if (bv == NULL)
			bv = source_add_behind(src, view, false);
		bv->from[p] = bv->next[p] = bv->stored[p] = offset;
		/* the consumer starts where the view furthest behind stands */
		if (!bv->held && offset < src->parts[p].consumed)
			src->parts[p].committed = src->parts[p].consumed = offset;
	}
	list_free(held);
}

/*
 * In the flush transaction, after the batch: where each view behind
 * stands now, on this worker's partitions.  A view held back gets a row
 * where the stream stood before the batch; one consumed for is where the
 * consumer is, and has no row where that reaches the frontier.
 */
static void
source_write_behind(KafkaSource *src)
{
	Oid			argtypes[4] = {OIDOID, OIDARRAYOID, INT4ARRAYOID, INT8ARRAYOID};
	Datum		values[4];
	int			max = list_length(src->behind) * Max(src->nparts, 1);
	Datum	   *views = palloc(sizeof(Datum) * max);
	Datum	   *partitions = palloc(sizeof(Datum) * max);
	Datum	   *offsets = palloc(sizeof(Datum) * max);
	int			n = 0;
	ListCell   *lc;
	int			p;

	foreach(lc, src->behind)
	{
		BehindView *bv = lfirst(lc);

		bv->caught_up = !bv->held;
		for (p = 0; p < src->nparts; p++)
		{
			KafkaPartition *part = &src->parts[p];

			if (!source_owns(src, p))
				continue;
			if (bv->held)
				bv->next[p] = bv->from[p] >= 0 ? bv->from[p] : part->frontier;
			else if (bv->from[p] >= 0 &&
					 Max(bv->from[p], part->consumed) < Max(part->frontier, part->consumed))
				bv->next[p] = Max(bv->from[p], part->consumed);
			else
				bv->next[p] = -1;
			if (bv->next[p] >= 0)
				bv->caught_up = false;
			if (bv->next[p] == bv->stored[p])
				continue;
			/* -1: the row goes */
			views[n] = ObjectIdGetDatum(bv->view);
			partitions[n] = Int32GetDatum(p);
			offsets[n] = Int64GetDatum(bv->next[p]);
			n++;
		}
	}
	if (n == 0)
		return;
	values[0] = ObjectIdGetDatum(src->relid);
	values[1] = PointerGetDatum(construct_array(views, n, OIDOID, sizeof(Oid),
												true, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(partitions, n, INT4OID, 4,
												true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(offsets, n, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_with_args("WITH u AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($2), "
							  "pg_catalog.unnest($3), pg_catalog.unnest($4)) AS u(v, p, o)), "
							  "gone AS (DELETE FROM continuous.kafka_view_offsets k USING u "
							  "  WHERE k.view OPERATOR(pg_catalog.=) u.v "
							  "  AND k.\"partition\" OPERATOR(pg_catalog.=) u.p "
							  "  AND u.o OPERATOR(pg_catalog.<) 0) "
							  "INSERT INTO continuous.kafka_view_offsets AS k "
							  "(view, stream, \"partition\", next_offset) "
							  "SELECT u.v, $1, u.p, u.o FROM u WHERE u.o OPERATOR(pg_catalog.>=) 0 "
							  "ON CONFLICT (view, \"partition\") DO UPDATE SET "
							  "next_offset = excluded.next_offset",
							  4, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "pg_continuous: could not write continuous.kafka_view_offsets");
}

void
kafka_source_forget_dropped_views(void)
{
	/*
	 * Gone from pg_class, not from view_catalog: a restore copies the rows
	 * of a view it has created before its view_catalog row.
	 */
	if (SPI_execute("DELETE FROM continuous.kafka_view_offsets k "
					"WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c "
					"                  WHERE c.oid OPERATOR(pg_catalog.=) k.view)",
					false, 0) != SPI_OK_DELETE)
		elog(ERROR, "pg_continuous: could not write continuous.kafka_view_offsets");
}

/*
 * Decode messages from .. to - 1 in a subtransaction.  False, with the
 * error's message, if decoding threw; what they added is then garbage.
 */
static bool
decode_range(KafkaSource *src, int from, int to, StreamEvents *events,
			 List **dead_letters, char **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int			nevents = events->nevents;
	List	   *dead_before = *dead_letters;
	bool		ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		int			i;

		for (i = from; i < to; i++)
			decode_one(src, src->msgs[i], events, dead_letters);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata = continuous_abort_subtransaction(cxt);

		*error = edata->message;
		events->nevents = nevents;
		*dead_letters = dead_before;
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return ok;
}

static void
decode_one(KafkaSource *src, rd_kafka_message_t *msg, StreamEvents *events,
		   List **dead_letters)
{
	KafkaMessageMeta meta;
	rd_kafka_timestamp_type_t tstype;
	int			natts = events->desc->natts;
	Datum	   *values;
	bool	   *isnull;
	char	   *error;
	StreamEvent *event;

	meta.partition = msg->partition;
	meta.offset = msg->offset;
	meta.timestamp_ms = rd_kafka_message_timestamp(msg, &tstype);
	if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
		meta.timestamp_ms = -1;
	meta.key = msg->key;
	meta.key_len = msg->key_len;

	/* the event keeps the values: one allocation for both arrays */
	values = palloc(Max(natts, 1) * (sizeof(Datum) + sizeof(bool)));
	isnull = (bool *) (values + natts);
	if (!kafka_decode_message(src->decoder, msg->payload, msg->len, &meta,
							  values, isnull, &error))
	{
		pfree(values);
		*dead_letters = lappend(*dead_letters, message_dead_letter(msg, error));
		return;
	}
	event = &events->events[events->nevents++];
	event->tuple = NULL;
	event->values = values;
	event->isnull = isnull;
	event->desc = events->desc;
	event->commit_lsn = InvalidXLogRecPtr;
	event->commit_time = GetCurrentTransactionStartTimestamp();
	event->partition = msg->partition;
	event->relid = InvalidOid;
	event->offset = msg->offset;
}

/* A message as a dead letter: its payload as text, or hex if not text. */
static DeadLetter *
message_dead_letter(rd_kafka_message_t *msg, const char *error)
{
	DeadLetter *dl = palloc(sizeof(DeadLetter));
	const char *payload = msg->payload ? (const char *) msg->payload : "";

	dl->commit_lsn = InvalidXLogRecPtr;
	dl->partition = msg->partition;
	dl->offset = msg->offset;
	if (msg->len < MaxAllocSize / 2 - 3 &&
		pg_verify_mbstr(GetDatabaseEncoding(), payload, (int) msg->len, true))
		dl->payload = pnstrdup(payload, msg->len);
	else
	{
		size_t		len = Min(msg->len, MaxAllocSize / 2 - 3);

		dl->payload = palloc(len * 2 + 3);
		dl->payload[0] = '\\';
		dl->payload[1] = 'x';
		dl->payload[2 + hex_encode(payload, len, dl->payload + 2)] = '\0';
	}
	dl->error = pstrdup(error);
	return dl;
}

void
kafka_source_write_position(KafkaSource *src, bool with_batch)
{
	Oid			argtypes[7] = {OIDOID, INT4ARRAYOID, INT8ARRAYOID,
	TIMESTAMPTZARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, INT4ARRAYOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Datum	   *partitions = palloc(sizeof(Datum) * Max(src->nparts, 1));
	Datum	   *offsets = palloc(sizeof(Datum) * Max(src->nparts, 1));
	Datum	   *event_times = palloc(sizeof(Datum) * Max(src->nparts, 1));
	bool	   *no_event_time = palloc(sizeof(bool) * Max(src->nparts, 1));
	Datum	   *highs = palloc(sizeof(Datum) * Max(src->nparts, 1));
	bool	   *no_high = palloc(sizeof(bool) * Max(src->nparts, 1));
	Datum	   *active = palloc(sizeof(Datum) * Max(src->nparts, 1));
	Datum	   *owners = palloc(sizeof(Datum) * Max(src->nparts, 1));
	int			dims[1];
	int			lbs[1] = {1};
	int			n = 0;
	int			p;

	for (p = 0; p < src->nparts; p++)
	{
		KafkaPartition *part = &src->parts[p];
		int64		low;
		int64		high;

		if (with_batch ? part->consumed < 0 :
			(part->stored || (part->consumed < 0 && part->start < 0)))
			continue;
		partitions[n] = Int32GetDatum(p);
		offsets[n] = Int64GetDatum(with_batch ? Max(part->consumed, part->frontier) :
								   part->consumed >= 0 ? part->frontier : part->start);
		no_event_time[n] = !src->clock->parts[p].seen;
		event_times[n] = TimestampTzGetDatum(src->clock->parts[p].max_event_time);
		if (rd_kafka_get_watermark_offsets(src->rk, src->opts->topic, p,
										   &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
			high >= 0)
			part->high_watermark = high;
		no_high[n] = part->high_watermark < 0;
		highs[n] = Int64GetDatum(part->high_watermark);
		active[n] = TimestampTzGetDatum(src->clock->parts[p].active_at);
		owners[n] = Int32GetDatum(source_owner(src, p) + 1);
		n++;
	}
	if (with_batch && src->behind != NIL)
		source_write_behind(src);
	if (n == 0)
		return;
	dims[0] = n;
	values[0] = ObjectIdGetDatum(src->relid);
	values[1] = PointerGetDatum(construct_array(partitions, n, INT4OID, 4, true, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(offsets, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = PointerGetDatum(construct_md_array(event_times, no_event_time, 1, dims, lbs,
												   TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = PointerGetDatum(construct_md_array(highs, no_high, 1, dims, lbs,
												   INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[5] = PointerGetDatum(construct_array(active, n, TIMESTAMPTZOID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[6] = PointerGetDatum(construct_array(owners, n, INT4OID, 4, true,
												TYPALIGN_INT));
	if (SPI_execute_with_args("INSERT INTO continuous.kafka_offsets AS o "
							  "(stream, \"partition\", next_offset, max_event_time, high_watermark, active_at, worker, updated_at) "
							  "SELECT $1, u.p, u.o, u.t, u.h, u.a, u.w, pg_catalog.now() "
							  "FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
							  "pg_catalog.unnest($4), pg_catalog.unnest($5), "
							  "pg_catalog.unnest($6), pg_catalog.unnest($7)) AS u(p, o, t, h, a, w) "
							  "ON CONFLICT (stream, \"partition\") DO UPDATE SET "
							  "next_offset = excluded.next_offset, "
							  "max_event_time = greatest(o.max_event_time, excluded.max_event_time), "
							  "high_watermark = excluded.high_watermark, "
							  "active_at = excluded.active_at, "
							  "worker = excluded.worker, "
							  "updated_at = excluded.updated_at",
							  7, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "pg_continuous: could not write continuous.kafka_offsets");
}

void
kafka_source_write_error(KafkaSource *src)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	values[0] = ObjectIdGetDatum(src->relid);
	values[1] = CStringGetTextDatum(src->error);
	if (src->error[0] == '\0')
		nulls[1] = 'n';
	if (SPI_execute_with_args("UPDATE continuous.stream_stats SET last_error = $2 "
							  "WHERE stream OPERATOR(pg_catalog.=) $1",
							  2, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "pg_continuous: could not write continuous.stream_stats");
	src->error_changed = false;
}

void
kafka_source_positions_stored(KafkaSource *src)
{
	int			p;

	for (p = 0; p < src->nparts; p++)
		if (src->parts[p].consumed >= 0 || src->parts[p].start >= 0)
		{
			src->parts[p].stored = true;
			src->parts[p].start = -1;
		}
}

void
kafka_source_flushed(KafkaSource *src)
{
	ListCell   *lc;
	int			i;
	int			p;

	for (p = 0; p < src->nparts; p++)
	{
		src->parts[p].committed = src->parts[p].consumed;
		src->parts[p].frontier = Max(src->parts[p].frontier,
									 src->parts[p].consumed);
	}
	foreach(lc, src->behind)
	{
		BehindView *bv = lfirst(lc);

		if (bv->caught_up)
		{
			src->behind = foreach_delete_current(src->behind, lc);
			pfree(bv->from);
			pfree(bv->next);
			pfree(bv->stored);
			pfree(bv);
			continue;
		}
		memcpy(bv->from, bv->next, sizeof(int64) * src->nparts);
		memcpy(bv->stored, bv->next, sizeof(int64) * src->nparts);
	}
	src->all_events = NULL;
	kafka_source_positions_stored(src);
	for (i = 0; i < src->nmsgs; i++)
		rd_kafka_message_destroy(src->msgs[i]);
	src->nmsgs = 0;
	src->bytes = 0;
	MemoryContextReset(src->batch_cxt);
}

bool
kafka_source_capture_sync_target(KafkaSource *src)
{
	int			p;

	bool	   *want;
	int64	   *highs;
	bool		ok;

	/* partitions created since the last look count too */
	if (!source_discover(src))
		return false;
	want = palloc(sizeof(bool) * Max(src->nparts, 1));
	highs = palloc(sizeof(int64) * Max(src->nparts, 1));
	for (p = 0; p < src->nparts; p++)
		want[p] = source_owns(src, p);
	ok = source_query_bounds(src, want, NULL, highs);
	for (p = 0; ok && p < src->nparts; p++)
		if (want[p])
			src->parts[p].sync_target = src->parts[p].high_watermark = highs[p];
	pfree(want);
	pfree(highs);
	return ok;
}

bool
kafka_source_reached_sync_target(KafkaSource *src, bool consumed)
{
	int			p;

	for (p = 0; p < src->nparts; p++)
		if (src->parts[p].sync_target >= 0 &&
			(consumed ? src->parts[p].consumed : src->parts[p].committed) <
			src->parts[p].sync_target)
			return false;
	return true;
}

bool
kafka_source_catch_up(KafkaSource *src)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(src->relid)};
	bool		has_committed = false;
	TimestampTz committed = 0;
	StoredOffset *rows;
	int			n;
	int			i;

	if (src->nworkers == 1)
		return false;			/* every partition is ours */
	rows = source_read_offsets(src, &n);
	for (i = 0; i < n; i++)
	{
		int32		p = rows[i].partition;
		PartitionClock *part;

		if (p < 0 || source_owns(src, p))
			continue;
		source_grow(src, p + 1);
		part = &src->clock->parts[p];
		if (rows[i].has_event_time &&
			(!part->seen || rows[i].max_event_time > part->max_event_time))
		{
			part->seen = true;
			part->max_event_time = rows[i].max_event_time;
		}
		if (rows[i].has_active_at)
			part->active_at = rows[i].active_at;
	}
	pfree(rows);

	if (SPI_execute_with_args("SELECT watermark FROM continuous.stream_stats "
							  "WHERE stream OPERATOR(pg_catalog.=) $1 AND watermark IS NOT NULL",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.stream_stats");
	if (SPI_processed == 1)
	{
		bool		isnull;

		has_committed = true;
		committed = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1,
													  &isnull));
	}
	return stream_clock_catch_up(src->clock, has_committed, committed);
}

bool
kafka_source_awaiting_starts(KafkaSource *src)
{
	return src->awaiting_starts;
}

void
kafka_source_load_starts(KafkaSource *src)
{
	int			n;
	StoredOffset *rows = source_read_offsets(src, &n);
	int			i;
	int			p;

	for (i = 0; i < n; i++)
	{
		KafkaPartition *part;

		p = rows[i].partition;
		if (p < 0 || p >= src->nparts || !source_owns(src, p))
			continue;
		part = &src->parts[p];
		if (part->consumed >= 0)
			continue;
		part->frontier = part->committed = part->consumed = rows[i].next_offset;
		part->stored = true;
		src->assigned = false;
	}
	pfree(rows);
	src->awaiting_starts = false;
	for (p = 0; p < src->nparts; p++)
		if (source_owns(src, p) && src->parts[p].consumed < 0)
			src->awaiting_starts = true;
}
