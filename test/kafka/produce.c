/*
 * produce.c
 *	  Test tool: every line of stdin becomes one Kafka message.
 *
 * Usage: produce -b BROKERS -t TOPIC [-k FIELD] [-d DELIM] [-p PARTITIONS]
 *                [-X name=value]...
 *
 * Without -k, messages go to the topic's partitions in turn (round-robin,
 * so that tests know where each line lands), or with -p N to its first N
 * partitions in turn; with -k N, field N (1-based,
 * split at DELIM, default ',') of each line is the message key and
 * librdkafka's partitioner picks the partition from it.  Messages are
 * batched (linger.ms, lz4 compression when librdkafka has it): the mock
 * cluster keeps only about 100,000 batches per partition.  At the end the
 * producer flushes and prints "produced N" (messages acknowledged), and
 * exits non-zero if any failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

static long delivered;
static long failed;

static void
usage(void)
{
	fprintf(stderr, "usage: produce -b BROKERS -t TOPIC [-k FIELD] [-d DELIM] [-p PARTITIONS] [-X name=value]...\n");
	exit(2);
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	if (msg->err)
	{
		if (failed++ == 0)
			fprintf(stderr, "produce: %s\n", rd_kafka_err2str(msg->err));
	}
	else
		delivered++;
}

static void
set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		fprintf(stderr, "produce: %s\n", errstr);
		exit(2);
	}
}

/* Field n (1-based) of line, split at delim: start and length. */
static const char *
field_of(const char *line, size_t len, int n, char delim, size_t *flen)
{
	const char *p = line;
	const char *end = line + len;

	while (--n > 0)
	{
		const char *d = memchr(p, delim, end - p);

		if (d == NULL)
		{
			*flen = 0;
			return NULL;
		}
		p = d + 1;
	}
	end = memchr(p, delim, end - p) ? memchr(p, delim, end - p) : end;
	*flen = end - p;
	return p;
}

/* How many partitions the topic has; waits for its metadata. */
static int
partition_count(rd_kafka_t *rk, rd_kafka_topic_t *rkt)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;
	int			n;

	err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	if (err || md->topic_cnt != 1 || md->topics[0].err)
	{
		fprintf(stderr, "produce: no metadata for topic %s: %s\n",
				rd_kafka_topic_name(rkt),
				rd_kafka_err2str(err ? err : md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
		exit(1);
	}
	n = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	return n;
}

int
main(int argc, char **argv)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	const char *brokers = NULL;
	const char *topic = NULL;
	int			key_field = 0;
	char		delim = ',';
	char		errstr[512];
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	long		n = 0;
	int			partitions = 0;
	int			first_partitions = 0;	/* -p */
	int			i;

	set(conf, "linger.ms", "20");
	set(conf, "batch.num.messages", "10000");
	set(conf, "queue.buffering.max.messages", "1000000");
	if (rd_kafka_conf_set(conf, "compression.codec", "lz4", errstr,
						  sizeof(errstr)) != RD_KAFKA_CONF_OK)
		fprintf(stderr, "produce: no lz4 in this librdkafka, sending uncompressed\n");

	for (i = 1; i < argc; i++)
	{
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "-b") == 0)
			brokers = argv[++i];
		else if (strcmp(argv[i], "-t") == 0)
			topic = argv[++i];
		else if (strcmp(argv[i], "-k") == 0)
			key_field = atoi(argv[++i]);
		else if (strcmp(argv[i], "-d") == 0)
			delim = argv[++i][0];
		else if (strcmp(argv[i], "-p") == 0)
		{
			first_partitions = atoi(argv[++i]);
			if (first_partitions < 1)
				usage();
		}
		else if (strcmp(argv[i], "-X") == 0)
		{
			char	   *eq = strchr(argv[++i], '=');

			if (eq == NULL)
				usage();
			*eq = '\0';
			set(conf, argv[i], eq + 1);
		}
		else
			usage();
	}
	if (brokers == NULL || topic == NULL)
		usage();
	set(conf, "bootstrap.servers", brokers);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);

	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		fprintf(stderr, "produce: %s\n", errstr);
		return 1;
	}
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (key_field == 0)
		partitions = partition_count(rk, rkt);
	if (first_partitions > 0 && first_partitions < partitions)
		partitions = first_partitions;

	while ((len = getline(&line, &cap, stdin)) >= 0)
	{
		const char *key = NULL;
		size_t		key_len = 0;
		int32_t		partition = RD_KAFKA_PARTITION_UA;

		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (key_field > 0)
			key = field_of(line, len, key_field, delim, &key_len);
		else
			partition = (int32_t) (n % partitions);

		while (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY,
								line, len, key, key_len, NULL) != 0)
		{
			if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			{
				fprintf(stderr, "produce: %s\n",
						rd_kafka_err2str(rd_kafka_last_error()));
				return 1;
			}
			/* let deliveries make room */
			rd_kafka_poll(rk, 100);
		}
		n++;
		rd_kafka_poll(rk, 0);
	}

	while (rd_kafka_outq_len(rk) > 0)
		rd_kafka_flush(rk, 1000);
	rd_kafka_poll(rk, 0);

	printf("produced %ld\n", delivered);
	fflush(stdout);
	free(line);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return failed > 0 ? 1 : 0;
}
