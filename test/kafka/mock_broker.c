/*
 * mock_broker.c
 *	  A Kafka cluster for tests: librdkafka's mock cluster in a process of
 *	  its own, listening on 127.0.0.1.
 *
 * Usage: mock_broker [--brokers N] [--port PORT] [--topic NAME:PARTITIONS]...
 *
 * The first line on stdout is the bootstrap address ("127.0.0.1:PORT,...").
 * The cluster then runs until stdin is closed, or SIGTERM or SIGINT arrive.
 * Lines on stdin are commands, each answered by one line, "ok" or
 * "error: ...":
 *
 *	 down                    all brokers refuse connections (an outage)
 *	 up                      all brokers accept connections again
 *	 down N / up N           the same for broker N (1..brokers)
 *	 topic NAME PARTITIONS   create a topic
 *	 rtt MS                  delay every broker's responses by MS ms
 *	 errors API ERROR COUNT  answer the next COUNT requests of Kafka API key
 *	                         API with error code ERROR (as numbers)
 *
 * Growing a topic's partitions is not possible in place: librdkafka
 * 2.0.2's mock cluster has no CreatePartitions support and no API call that
 * adds partitions to an existing topic (rd_kafka_mock_topic_create fails
 * for an existing name and the partition setters refuse unknown
 * partitions).  A test that needs a topic to grow stops this broker and
 * starts another on the same address (--port, one broker) with more
 * partitions, then produces the old messages again at the same offsets:
 * to a client, the topic has grown.  --port works by taking librdkafka's
 * bind() of its listener to port 0 (this program's bind() comes first in
 * symbol lookup) and binding the given port instead, with SO_REUSEADDR.
 *
 * Facts worth knowing (librdkafka 2.0.2): data lives in memory only; each
 * partition keeps about 5 MiB or 100,000 batches and silently drops older
 * data, so produce in batches (test/kafka/produce does) or consume while
 * producing; a consumer at the end of a partition waits fetch.wait.max.ms
 * for more, so set it low in tests.
 */
#define _GNU_SOURCE				/* RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static rd_kafka_mock_cluster_t *mcluster;
static int	nbrokers = 1;
static int	listen_port;		/* --port; 0: any */

static void
usage(void)
{
	fprintf(stderr, "usage: mock_broker [--brokers N] [--port PORT] [--topic NAME:PARTITIONS]...\n");
	exit(2);
}

/*
 * The mock cluster's listener binds 127.0.0.1 port 0; with --port, this
 * bind() gives it the fixed port instead.  Every other bind() passes.
 */
int
bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	static int	(*next_bind) (int, const struct sockaddr *, socklen_t);

	if (next_bind == NULL)
		next_bind = (int (*) (int, const struct sockaddr *, socklen_t))
			dlsym(RTLD_NEXT, "bind");
	if (listen_port > 0 && addr->sa_family == AF_INET &&
		len >= (socklen_t) sizeof(struct sockaddr_in) &&
		((const struct sockaddr_in *) addr)->sin_port == 0)
	{
		struct sockaddr_in fixed = *(const struct sockaddr_in *) addr;
		int			on = 1;

		fixed.sin_port = htons((uint16_t) listen_port);
		(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		return next_bind(fd, (const struct sockaddr *) &fixed, sizeof(fixed));
	}
	return next_bind(fd, addr, len);
}

static int
create_topic(const char *name, int partitions)
{
	rd_kafka_resp_err_t err;

	err = rd_kafka_mock_topic_create(mcluster, name, partitions,
									 nbrokers < 3 ? nbrokers : 3);
	if (err)
	{
		fprintf(stderr, "mock_broker: cannot create topic %s: %s\n",
				name, rd_kafka_err2str(err));
		return -1;
	}
	return 0;
}

static void
answer(rd_kafka_resp_err_t err)
{
	if (err)
		printf("error: %s\n", rd_kafka_err2str(err));
	else
		printf("ok\n");
	fflush(stdout);
}

/* One line of stdin: a command. */
static void
run_command(char *line)
{
	char		word[64];
	char		name[256];
	int			n = -1;

	line[strcspn(line, "\r\n")] = '\0';
	if (sscanf(line, "%63s", word) != 1)
		return;

	if (strcmp(word, "down") == 0 || strcmp(word, "up") == 0)
	{
		/* -1: every broker */
		if (sscanf(line, "%*s %d", &n) != 1)
			n = -1;
		answer(strcmp(word, "down") == 0 ?
			   rd_kafka_mock_broker_set_down(mcluster, n) :
			   rd_kafka_mock_broker_set_up(mcluster, n));
	}
	else if (strcmp(word, "topic") == 0 &&
			 sscanf(line, "%*s %255s %d", name, &n) == 2 && n > 0)
		answer(rd_kafka_mock_topic_create(mcluster, name, n,
										  nbrokers < 3 ? nbrokers : 3));
	else if (strcmp(word, "rtt") == 0 && sscanf(line, "%*s %d", &n) == 1)
		answer(rd_kafka_mock_broker_set_rtt(mcluster, -1, n));
	else if (strcmp(word, "errors") == 0)
	{
		int			api_key;
		int			error;

		if (sscanf(line, "%*s %d %d %d", &api_key, &error, &n) == 3 &&
			n > 0 && n <= 100000)
		{
			rd_kafka_resp_err_t *errors = malloc(sizeof(rd_kafka_resp_err_t) * n);
			int			i;

			for (i = 0; i < n; i++)
				errors[i] = (rd_kafka_resp_err_t) error;
			rd_kafka_mock_push_request_errors_array(mcluster, (int16_t) api_key,
													(size_t) n, errors);
			free(errors);
			answer(RD_KAFKA_RESP_ERR_NO_ERROR);
		}
		else
		{
			printf("error: usage: errors API_KEY ERROR_CODE COUNT\n");
			fflush(stdout);
		}
	}
	else
	{
		printf("error: unknown command \"%s\"\n", line);
		fflush(stdout);
	}
}

/*
 * Commands come from stdin on this thread; its end asks the main thread to
 * stop, through the same signal a test harness would send.
 */
static void *
stdin_thread(void *arg)
{
	char		line[1024];

	(void) arg;
	while (fgets(line, sizeof(line), stdin) != NULL)
		run_command(line);
	kill(getpid(), SIGTERM);
	return NULL;
}

int
main(int argc, char **argv)
{
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	char		errstr[512];
	sigset_t	sigs;
	pthread_t	reader;
	int			sig;
	int			i;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
		{
			nbrokers = atoi(argv[++i]);
			if (nbrokers < 1)
				usage();
		}
		else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
		{
			listen_port = atoi(argv[++i]);
			if (listen_port < 1 || listen_port > 65535)
				usage();
		}
		else if (strcmp(argv[i], "--topic") != 0 || i + 1 >= argc)
			usage();
		else
			i++;				/* topics are created once the cluster runs */
	}

	/* brokers after the first would want the same port */
	if (listen_port > 0 && nbrokers > 1)
		usage();

	/*
	 * Block the signals before librdkafka starts its threads, which inherit
	 * the mask: a signal interrupting the mock cluster's poll() shuts the
	 * cluster down.  The main thread takes them with sigwait().
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	/* the handle only hosts the cluster: no notice that it has no brokers */
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		fprintf(stderr, "mock_broker: %s\n", errstr);
		return 1;
	}
	mcluster = rd_kafka_mock_cluster_new(rk, nbrokers);
	if (mcluster == NULL)
	{
		fprintf(stderr, "mock_broker: cannot create the mock cluster\n");
		return 1;
	}

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--topic") == 0)
		{
			char	   *spec = argv[++i];
			char	   *colon = strrchr(spec, ':');
			int			partitions = colon ? atoi(colon + 1) : 1;

			if (colon)
				*colon = '\0';
			if (partitions < 1 || create_topic(spec, partitions) != 0)
				return 1;
		}
		else if (strcmp(argv[i], "--brokers") == 0 ||
				 strcmp(argv[i], "--port") == 0)
			i++;
	}

	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
	fflush(stdout);

	if (pthread_create(&reader, NULL, stdin_thread, NULL) != 0)
	{
		fprintf(stderr, "mock_broker: cannot start the command reader\n");
		return 1;
	}
	pthread_detach(reader);

	for (;;)
	{
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}

	rd_kafka_mock_cluster_destroy(mcluster);
	rd_kafka_destroy(rk);
	return 0;
}
