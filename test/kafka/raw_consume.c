/*
 * raw_consume.c
 *	  Benchmark baseline: how fast a bare librdkafka consumer reads a topic.
 *
 * Usage: raw_consume -b BROKERS -t TOPIC -n MESSAGES [-X name=value]...
 *
 * Assigns every partition of the topic from the beginning (no consumer
 * group: the assign-style consumption pg_continuous's worker does), reads
 * with rd_kafka_consume_batch_queue until MESSAGES messages have arrived,
 * and prints messages, bytes, seconds, messages/s and MB/s, timed from
 * the client's creation, and the setup's share of the seconds (creating
 * the client and reading the topic's metadata).  Comparing
 * this with a continuous view over the same topic shows what decoding and
 * aggregation cost on top of the client library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define BATCH	10000
/* a consumer that gets nothing for this long gives up */
#define STALL_SECONDS 10

static void
usage(void)
{
	fprintf(stderr, "usage: raw_consume -b BROKERS -t TOPIC -n MESSAGES [-X name=value]...\n");
	exit(2);
}

static void
set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char		errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		fprintf(stderr, "raw_consume: %s\n", errstr);
		exit(2);
	}
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_queue_t *queue;
	const struct rd_kafka_metadata *md;
	rd_kafka_message_t **msgs;
	rd_kafka_resp_err_t err;
	const char *brokers = NULL;
	const char *topic = NULL;
	long		want = 0;
	long		messages = 0;
	long long	bytes = 0;
	char		errstr[512];
	double		start;
	double		assigned;
	double		last_progress;
	double		secs;
	int			i;

	/* a consumer at the end of a partition should not sit on its fetch */
	set(conf, "fetch.wait.max.ms", "10");
	set(conf, "enable.partition.eof", "false");
	set(conf, "enable.auto.commit", "false");
	set(conf, "enable.auto.offset.store", "false");

	for (i = 1; i < argc; i++)
	{
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "-b") == 0)
			brokers = argv[++i];
		else if (strcmp(argv[i], "-t") == 0)
			topic = argv[++i];
		else if (strcmp(argv[i], "-n") == 0)
			want = atol(argv[++i]);
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
	if (brokers == NULL || topic == NULL || want <= 0)
		usage();
	set(conf, "bootstrap.servers", brokers);

	/*
	 * Offsets are the application's (pg_continuous keeps them in
	 * PostgreSQL): partitions are assigned, never subscribed, and nothing is
	 * committed.  A group.id is still needed, because without one librdkafka
	 * 2.0.2 has no consumer queue (rd_kafka_queue_get_consumer() returns
	 * NULL) to consume batches from; assign() does not join the group.
	 */
	set(conf, "group.id", "raw_consume");

	/*
	 * The clock starts before the client exists: a continuous view's time
	 * includes setting up its consumer, so this one's does too.
	 */
	start = now();
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		fprintf(stderr, "raw_consume: %s\n", errstr);
		return 1;
	}

	rkt = rd_kafka_topic_new(rk, topic, NULL);
	err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	if (err || md->topic_cnt != 1 || md->topics[0].err)
	{
		fprintf(stderr, "raw_consume: no metadata for topic %s\n", topic);
		return 1;
	}
	parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
	for (i = 0; i < md->topics[0].partition_cnt; i++)
		rd_kafka_topic_partition_list_add(parts, topic,
										  md->topics[0].partitions[i].id)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);

	/* route the main queue's events to the consumer queue as well */
	rd_kafka_poll_set_consumer(rk);
	queue = rd_kafka_queue_get_consumer(rk);
	if (queue == NULL)
	{
		fprintf(stderr, "raw_consume: no consumer queue\n");
		return 1;
	}

	assigned = now();
	err = rd_kafka_assign(rk, parts);
	if (err)
	{
		fprintf(stderr, "raw_consume: assign: %s\n", rd_kafka_err2str(err));
		return 1;
	}

	msgs = malloc(sizeof(*msgs) * BATCH);
	last_progress = start;
	while (messages < want)
	{
		ssize_t		n = rd_kafka_consume_batch_queue(queue, 1000, msgs, BATCH);

		if (n > 0)
			last_progress = now();
		else if (now() - last_progress > STALL_SECONDS)
		{
			fprintf(stderr, "raw_consume: no message for %d s after %ld of %ld "
					"(did the broker drop old messages?)\n",
					STALL_SECONDS, messages, want);
			return 1;
		}

		for (i = 0; i < n; i++)
		{
			if (msgs[i]->err)
			{
				if (msgs[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
					fprintf(stderr, "raw_consume: %s\n",
							rd_kafka_message_errstr(msgs[i]));
			}
			else
			{
				messages++;
				bytes += msgs[i]->len;
			}
			rd_kafka_message_destroy(msgs[i]);
		}
	}
	secs = now() - start;

	printf("messages %ld bytes %lld seconds %.3f msgs/s %.0f MB/s %.1f setup %.3f\n",
		   messages, bytes, secs, messages / secs, bytes / secs / 1e6,
		   assigned - start);
	fflush(stdout);

	free(msgs);
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_queue_destroy(queue);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return 0;
}
