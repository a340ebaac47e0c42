# test/kafka/kafka.mk: the Kafka test tools, included by the main Makefile.
#
#   make kafka-tools    build test/kafka/{mock_broker,produce,raw_consume}
#
# Standalone programs linked with librdkafka only (no PostgreSQL): the mock
# cluster the TAP tests start, a batching producer, and the raw-consumption
# benchmark baseline.

KAFKA_TOOLS = test/kafka/mock_broker test/kafka/produce test/kafka/raw_consume
KAFKA_TOOLS_CFLAGS = -O2 -g -Wall -Wextra -Wno-unused-parameter

.PHONY: kafka-tools
kafka-tools: $(KAFKA_TOOLS)

test/kafka/mock_broker: test/kafka/mock_broker.c
	$(CC) $(KAFKA_TOOLS_CFLAGS) -o $@ $< -lrdkafka -lpthread

test/kafka/produce: test/kafka/produce.c
	$(CC) $(KAFKA_TOOLS_CFLAGS) -o $@ $< -lrdkafka

test/kafka/raw_consume: test/kafka/raw_consume.c
	$(CC) $(KAFKA_TOOLS_CFLAGS) -o $@ $< -lrdkafka

# for the main Makefile's EXTRA_CLEAN
KAFKA_CLEAN = $(KAFKA_TOOLS) test/fuzz/build
