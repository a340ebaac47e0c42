# Copyright (c) pg_continuous contributors

# A Kafka topic that grows new partitions while a stream consumes it, with
# two workers sharing the partitions:
#   phase A: topic "grow" has 2 partitions;
#   growth:  the broker is replaced by one on the same address whose topic
#            has 4 partitions and the same messages at the same offsets in
#            the first two (librdkafka's mock cluster cannot add partitions
#            in place; see test/kafka/mock_broker.c).  The workers are
#            stopped (SIGSTOP) meanwhile, so they see the old messages
#            where they left them, then the topic with 4 partitions;
#   phase B: messages to all 4 partitions, before the workers go on: the
#            new partitions count from their beginning, whichever worker
#            consumes them;
#   phase C: more messages, with kill -9 of the postmaster meanwhile.
# After each phase the views equal their batch queries over a plain table
# of the messages, with partition and offset as the broker gave them.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::MockKafka;
use PgContinuous::Oracle;
use PgContinuous::Node;

my $per_phase = 4000;
my $tempdir   = PostgreSQL::Test::Utils::tempdir;

my $broker    = PgContinuous::MockKafka->start('grow:2');
my $bootstrap = $broker->bootstrap;
ok($bootstrap, "mock broker listens at $bootstrap");

# Write a phase's messages ("n,word") and the rows the batch table gets for
# them: produce.c sends line i of a run to partition i % $partitions, and
# each partition's offsets go on from %next_offset.
my %next_offset;
my $next_n = 0;

sub write_phase
{
	my ($name, $partitions) = @_;
	my ($csv, $rows) = ("$tempdir/$name.csv", "$tempdir/$name.rows");
	open(my $cf, '>', $csv)  or die $!;
	open(my $rf, '>', $rows) or die $!;
	for my $i (0 .. $per_phase - 1)
	{
		my $n    = $next_n++;
		my $word = ('ant', 'bee', 'cat', 'dog', 'eel')[ $n % 5 ];
		my $part = $i % $partitions;
		my $off  = $next_offset{$part}++ // 0;
		print $cf "$n,$word\n";
		print $rf join("\t", $n, $word, $part, $off), "\n";
	}
	close($cf);
	close($rf);
	return ($csv, $rows);
}

sub produce
{
	my ($csv, @options) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ PgContinuous::MockKafka->tool('produce'), '-b', $bootstrap, '-t', 'grow', @options ],
		'<', $csv, '>', \$out, '2>', \$err)
	  or diag $err;
	is($out, "produced $per_phase\n", "produced $per_phase to grow @options");
}

my $node = continuous_node(
	'kafka_growth', q{
continuous.workers = 2
});

$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_continuous;
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10',
             "kafka.reconnect.backoff.max.ms" '100');
CREATE FOREIGN TABLE grow (
    n int, word text,
    part int OPTIONS (kafka_metadata 'partition'),
    off bigint OPTIONS (kafka_metadata 'offset'))
  SERVER mock OPTIONS (topic 'grow', format 'csv', start_offset 'earliest');
CREATE TABLE grow_batch (n int, word text, part int, off bigint);
});

my %views = (
	by_partition =>
	  'SELECT part, count(*) AS c, sum(n) AS s, min(off) AS first, max(off) AS last FROM grow GROUP BY part',
	by_word => 'SELECT word, count(*) AS c, sum(n) AS s FROM grow GROUP BY word',);
$node->safe_psql('postgres',
	join('', map { "CREATE VIEW $_ WITH (continuous) AS $views{$_};\n" } sort keys %views));

sub check
{
	my ($when, $partitions) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('2 minutes')");
	views_equal_batches($node, \%views, 'grow', 'grow_batch', $when);
	is( $node->safe_psql('postgres',
			"SELECT count(*), sum(lag) FROM continuous.kafka_partitions WHERE stream = 'grow'::regclass"),
		"$partitions|0",
		"$when: $partitions partitions, consumed to their end");
}

# --- phase A ---------------------------------------------------------------
my ($csv_a, $rows_a) = write_phase('a', 2);
produce($csv_a);
$node->safe_psql('postgres', "COPY grow_batch FROM '$rows_a'");
check('phase A', 2);

# --- growth ----------------------------------------------------------------
my @workers = split /\n/,
  $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
	  . 'AND datname = current_database()');
is(scalar(@workers), 2, 'two workers serve the database');
ok(kill('STOP', @workers) == 2, 'workers stopped');
my $port = $broker->port;
$broker->stop;
$broker = PgContinuous::MockKafka->start({ port => $port }, 'grow:4');
is($broker->bootstrap, $bootstrap, 'the new broker listens at the same address');
produce($csv_a, '-p', 2);    # the same messages at the same offsets

# --- phase B ---------------------------------------------------------------
# produced before the workers go on: the new partitions hold messages when
# the stream finds them, and it must read them from their beginning
my ($csv_b, $rows_b) = write_phase('b', 4);
produce($csv_b);
$node->safe_psql('postgres', "COPY grow_batch FROM '$rows_b'");
ok(kill('CONT', @workers) == 2, 'workers go on');
ok( poll_until($node, 'postgres',
		"SELECT count(*) FROM continuous.kafka_partitions WHERE stream = 'grow'::regclass",
		'4'),
	'the stream found the new partitions');
check('phase B', 4);
is( $node->safe_psql('postgres',
		"SELECT count(DISTINCT worker) FROM continuous.kafka_partitions "
		  . "WHERE stream = 'grow'::regclass AND partition >= 2"),
	'2',
	'the new partitions went to both workers');

# --- phase C ---------------------------------------------------------------
my ($csv_c, $rows_c) = write_phase('c', 4);
produce($csv_c);
kill9_postmaster_and_restart($node);
$node->safe_psql('postgres', "COPY grow_batch FROM '$rows_c'");
check('phase C, after kill -9 of the postmaster', 4);

$node->stop;
$broker->stop;
done_testing();
