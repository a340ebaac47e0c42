# Copyright (c) pg_continuous contributors

# A Kafka stream whose consumer cannot be created (SASL over SSL without a
# mechanism: librdkafka falls back to GSSAPI and refuses the settings)
# affects that stream only: continuous.streams.last_error says why,
# continuous.sync() fails naming the stream instead of claiming success,
# after applying everything else (a table stream and a healthy Kafka
# stream); correcting the server's options sets the stream up again.  The
# README's SASL example (with sasl.mechanism) gives a consumer.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::MockKafka;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $broker    = PgContinuous::MockKafka->start('good:2', 'bad:2');
my $bootstrap = $broker->bootstrap;

sub produce
{
	my ($topic, $n) = @_;
	return $broker->produce($topic,
		map { qq({"k": @{[ $_ % 5 ]}, "v": $_}) } 1 .. $n);
}

is(produce('good', 1000), 1000, 'produced to the healthy topic');
is(produce('bad',  500),  500,  'produced to the other topic');

my $node = continuous_node('broken_source');
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_continuous;
CREATE SERVER good_server FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
CREATE SERVER bad_server FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10',
             "kafka.security.protocol" 'SASL_SSL');
CREATE USER MAPPING FOR CURRENT_USER SERVER bad_server
    OPTIONS (username 'app', password 'secret');
CREATE FOREIGN TABLE good (k int, v int) SERVER good_server
    OPTIONS (topic 'good', format 'json', start_offset 'earliest');
CREATE FOREIGN TABLE bad (k int, v int) SERVER bad_server
    OPTIONS (topic 'bad', format 'json', start_offset 'earliest');
CREATE TABLE t (k int, v int);
SELECT continuous.create_stream('t');
CREATE VIEW good_view WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM good GROUP BY k;
CREATE VIEW bad_view WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM bad GROUP BY k;
CREATE VIEW t_view WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM t GROUP BY k;
INSERT INTO t SELECT g % 5, g FROM generate_series(1, 2000) g;
});

my ($ret, $out, $err) = $node->psql('postgres', q{SELECT continuous.sync('30 seconds')});
isnt($ret, 0, 'sync() fails while a Kafka stream has no consumer');
like($err, qr/ERROR:  Kafka stream bad is not consumed\nDETAIL:  bad: could not create a consumer: .*sasl/i,
	'and names the stream and why');
unlike($err, qr/timed out/, 'at once, not by timing out');
like( $node->safe_psql('postgres',
		q{SELECT last_error FROM continuous.streams WHERE stream = 'bad'::regclass}),
	qr/^could not create a consumer: .*sasl/i,
	'continuous.streams.last_error says why');

# everything else was applied before sync() failed
is_same_rows($node, 't_view', 'SELECT k, count(*), sum(v) FROM t GROUP BY k',
	'the table stream\'s view is up to date');
is($node->safe_psql('postgres', 'SELECT sum(n), sum(s) FROM good_view'),
	'1000|500500', 'the healthy Kafka stream\'s view is up to date');

# The README's example: SASL over SSL with a mechanism gives a consumer.
# (The mock broker speaks neither, so it only gets as far as connecting.)
$node->safe_psql('postgres', q{
ALTER SERVER bad_server OPTIONS (ADD "kafka.sasl.mechanism" 'SCRAM-SHA-512');
});
ok( poll_until($node, 'postgres',
		q{SELECT NOT consumer_failed FROM continuous.stream_stats WHERE stream = 'bad'::regclass}),
	'with sasl.mechanism, as the README shows it, the consumer is created');
unlike($node->safe_psql('postgres',
		q{SELECT coalesce(last_error, '') FROM continuous.streams WHERE stream = 'bad'::regclass}),
	qr/could not create/, 'and the creation error is gone');

# Plain text again: the stream is consumed from where it stood (nothing yet)
$node->safe_psql('postgres', q{
ALTER SERVER bad_server OPTIONS (DROP "kafka.sasl.mechanism", DROP "kafka.security.protocol");
});
$node->safe_psql('postgres', q{SELECT continuous.sync('1 minute')});
is($node->safe_psql('postgres', 'SELECT sum(n), sum(s) FROM bad_view'),
	'500|125250', 'once its settings are corrected, the stream is consumed');
is($node->safe_psql('postgres', 'SELECT sum(n), sum(s) FROM good_view'),
	'1000|500500', 'and the other stream still counts each message once');

# The last view goes, and the stream with it; a new first view begins anew
# (the worker once wrote the dropped stream's statistics back, and the new
# view's registration then failed on them).
$node->safe_psql('postgres', q{
DROP VIEW bad_view;
CREATE VIEW bad_again WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM bad GROUP BY k;
SELECT continuous.sync('1 minute');
});
is($node->safe_psql('postgres', 'SELECT sum(n), sum(s) FROM bad_again'),
	'500|125250', 'a stream registered again after its last view went counts from start_offset');

$broker->stop;
$node->stop;
done_testing();
