# Copyright (c) pg_continuous contributors

# A worker that does not decode the WAL (here max_replication_slots = 0; so
# are the further workers of continuous.workers) learns of each change of
# its catalog by invalidation, by the next continuous.sync():
#   - a view over a new Kafka stream is served;
#   - corrected options of a stream's server set its consumer up again.
#     That is an UPDATE of stream_catalog, which leaves the set of streams
#     and views as it was: the fingerprint of the catalog that the worker
#     once compared every second did not see it;
#   - a dropped view's stream goes with it, and a view created again over
#     it counts from start_offset;
#   - DROP EXTENSION stops the worker.
# The worker's long-lived memory hangs off one context, "pg_continuous",
# views included (pg_log_backend_memory_contexts()).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::MockKafka;
use PgContinuous::Node;

my $broker    = PgContinuous::MockKafka->start('first:2', 'second:2');
my $bootstrap = $broker->bootstrap;

sub produce
{
	my ($topic, $n) = @_;
	return $broker->produce($topic,
		map { qq({"k": @{[ $_ % 5 ]}, "v": $_}) } 1 .. $n);
}

is(produce('first',  1000), 1000, 'produced to the first topic');
is(produce('second', 500),  500,  'produced to the second topic');

my $node = continuous_node('catalog_invalidation',
	"max_replication_slots = 0\n");
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_continuous;
CREATE SERVER kafka FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE first (k int, v int) SERVER kafka
    OPTIONS (topic 'first', format 'json', start_offset 'earliest');
CREATE VIEW first_view WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s FROM first GROUP BY k;
SELECT continuous.sync('1 minute');
});
is($node->safe_psql('postgres', 'SELECT sum(n), sum(s) FROM first_view'),
	'1000|500500', 'a view created while the worker runs is served');

# A server whose consumer cannot be created (SASL over SSL without a
# mechanism), then corrected
$node->safe_psql('postgres', qq{
CREATE SERVER broken FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10',
             "kafka.security.protocol" 'SASL_SSL');
CREATE USER MAPPING FOR CURRENT_USER SERVER broken
    OPTIONS (username 'app', password 'secret');
CREATE FOREIGN TABLE second (k int, v int) SERVER broken
    OPTIONS (topic 'second', format 'json', start_offset 'earliest');
CREATE VIEW second_view WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s FROM second GROUP BY k;
});
my ($ret, $out, $err) =
  $node->psql('postgres', q{SELECT continuous.sync('30 seconds')});
like($err, qr/ERROR:  Kafka stream second is not consumed/,
	'a new view over a stream without a consumer: sync() says so');

$node->safe_psql('postgres',
	q{ALTER SERVER broken OPTIONS (DROP "kafka.security.protocol")});
$node->safe_psql('postgres', q{SELECT continuous.sync('1 minute')});
is($node->safe_psql('postgres', 'SELECT sum(n), sum(s) FROM second_view'),
	'500|125250',
	'once the server is corrected, the next sync() finds the stream consumed');

# Dropped and created again: the stream is registered anew
$node->safe_psql('postgres', q{
DROP VIEW second_view;
CREATE VIEW second_again WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s FROM second GROUP BY k;
SELECT continuous.sync('1 minute');
});
is($node->safe_psql('postgres', 'SELECT sum(n), sum(s) FROM second_again'),
	'500|125250', 'a view created again after a drop counts from start_offset');
is(produce('first', 100), 100, 'produced more to the first topic');
$node->safe_psql('postgres', q{SELECT continuous.sync('1 minute')});
is($node->safe_psql('postgres', 'SELECT sum(n), sum(s) FROM first_view'),
	'1100|505550', 'and the other view counted each message once');

# The worker's memory, in its log
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE application_name = 'pg_continuous worker'});
ok($pid =~ /^\d+$/, 'the worker runs');
my $offset = -s $node->logfile;
$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
$node->wait_for_log(qr/Grand total: /, $offset);
my $log = substr(slurp_file($node->logfile), $offset);
like($log, qr/level: 1; pg_continuous: /,
	'the worker\'s long-lived memory hangs off one context');
like($log, qr/level: 2; pg_continuous view: /, 'its views among it');
unlike($log, qr/level: 1; pg_continuous (view|streams|Kafka source|decoded)/,
	'and none beside it');

# DROP EXTENSION stops the worker at once
$offset = -s $node->logfile;
$node->safe_psql('postgres', 'DROP EXTENSION pg_continuous CASCADE');
$node->wait_for_log(qr/extension not present in database \d+, worker exiting/,
	$offset);
ok( poll_until($node, 'postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity
		   WHERE application_name LIKE 'pg_continuous worker%'}),
	'DROP EXTENSION stops the worker');

$broker->stop;
$node->stop;
done_testing();
