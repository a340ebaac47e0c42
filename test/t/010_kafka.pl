# Copyright (c) pg_continuous contributors

# Kafka streams, exactly once.  A mock Kafka cluster (kafka/mock_broker)
# serves topic "orders" with 4 partitions.  JSON messages, some malformed
# and some with escapes in keys and strings, are produced in phases; continuous views over the foreign table must equal
# their SELECT run as batch SQL over a plain table holding the valid
# messages, after
#   phase 1: plain consumption;
#   phase 2: kill -9 of the worker while it consumes;
#   phase 3: kill -9 of the postmaster while the worker consumes;
#   phase 4: an outage of the broker (the worker stays up, the error shows,
#            continuous.sync() times out), then the broker back;
#   the rest: consumption to the end.
# Dead letters must be exactly the malformed messages, by partition and
# offset, and the messages without event time, which the windowed view
# cannot place (the other views count them).  A second stream reads a
# topic that does not exist yet: its partitions are picked up when the
# topic appears.
#
# CONTINUOUS_TEST_MESSAGES sets the number of messages (default 1000000).

use strict;
use warnings;

use IPC::Run;
use POSIX qw(strftime);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Oracle;
use PgContinuous::MockKafka;
use PgContinuous::Crash;
use PgContinuous::Node;

my $total      = $ENV{CONTINUOUS_TEST_MESSAGES} // 1_000_000;
my $partitions = 4;
my $nphases    = 8;
# produce.c sends message n of a run to partition n % 4: with runs of a
# multiple of 4 messages, message i lands at offset int(i / 4).
my $per_phase = int($total / $nphases / $partitions) * $partitions;
$per_phase = $partitions if $per_phase < $partitions;

my $tempdir = PostgreSQL::Test::Utils::tempdir;

# --- the broker -----------------------------------------------------------
my $broker    = PgContinuous::MockKafka->start("orders:$partitions");
my $bootstrap = $broker->bootstrap;
ok($bootstrap, "mock broker listens at $bootstrap");

sub broker_command
{
	my ($command) = @_;
	is($broker->command($command), 'ok', "broker: $command");
}

# Produce the lines of $file to $topic; $meanwhile runs while the producer
# does.  Returns the number of messages the broker acknowledged.
sub produce
{
	my ($topic, $file, $meanwhile) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ PgContinuous::MockKafka->tool('produce'), '-b', $bootstrap, '-t', $topic ],
		'<', $file, '>', \$out, '2>', \$err);
	$meanwhile->() if $meanwhile;
	my $ok = $h->finish;
	ok($ok, "produced $file to $topic") or diag $err;
	return $out =~ /produced (\d+)/ ? $1 : 0;
}

# --- the messages ---------------------------------------------------------
# Message i: customer i % 1000, amount with cents, event time 10 ms apart.
# Malformed: not JSON; a customer that is not an integer (the type's input
# function refuses it); an event time that cannot be de-escaped.  A
# message without event time is a row of the batch table, and a dead letter
# of the view with a window.  Every eleventh message has escapes in keys
# and strings.
my $base_epoch = 1_767_225_600;    # 2026-01-01 00:00:00 UTC
my %expected_dead;                 # "partition/offset" => error pattern

sub message
{
	my ($i) = @_;
	my $stamp = strftime('%Y-%m-%d %H:%M:%S', gmtime($base_epoch + int($i / 100)))
	  . sprintf('.%02d+00', $i % 100);
	my $amount = sprintf('%d.%02d', ($i * 7) % 1000, $i % 100);
	my $customer = $i % 1000;
	if ($i % 9973 == 17)
	{
		return ("{\"id\": $i, \"customer\": $customer, oops", 'invalid JSON');
	}
	if ($i % 10007 == 3)
	{
		return (
			"{\"id\": $i, \"customer\": \"c$customer\", \"amount\": $amount, \"ts\": \"epoch\"}",
			'invalid input syntax for type integer');
	}
	if ($i % 50021 == 5)
	{
		return ("{\"id\": $i, \"customer\": $customer, \"amount\": $amount}",
			'event time is NULL', $customer, $amount, '\N');
	}
	if ($i % 10009 == 7)
	{
		return (
			"{\"id\": $i, \"customer\": $customer, \"amount\": $amount, \"ts\": \"\\u0000\"}",
			'\u0000 cannot be converted to text');
	}
	if ($i % 11 == 4)
	{
		# Escapes in a key and in a value the view reads, and in a field it
		# does not read: a \u0000 there is accepted, as by the json type.
		(my $escaped_stamp = $stamp) =~ s/ /\\u0020/;
		return (
			"{\"id\": $i, \"cust\\u006fmer\": $customer, \"amount\": $amount, "
			  . "\"ts\": \"$escaped_stamp\", \"memo\": \"\\u0000 \\ud83d\\ude00 \\\"q\\\"\"}",
			undef, $customer, $amount, $stamp);
	}
	return (
		"{\"id\": $i, \"customer\": $customer, \"amount\": $amount, "
		  . "\"ts\": \"$stamp\", \"note\": {\"x\": [1, 2]}}",
		undef, $customer, $amount, $stamp);
}

# Write phase $p's messages for Kafka, and its valid rows for the batch table.
my $next_i = 0;

sub write_phase
{
	my ($p) = @_;
	my $json = "$tempdir/phase$p.json";
	my $rows = "$tempdir/phase$p.copy";
	open(my $jf, '>', $json) or die $!;
	open(my $rf, '>', $rows) or die $!;
	for my $n (1 .. $per_phase)
	{
		my $i = $next_i++;
		my ($line, $error, $customer, $amount, $stamp) = message($i);
		print $jf "$line\n";
		my ($partition, $offset) = ($i % $partitions, int($i / $partitions));
		$expected_dead{"$partition/$offset"} = $error if defined $error;
		print $rf join("\t", $i, $customer, $amount, $stamp, $partition,
			$offset), "\n"
		  if defined $customer;
	}
	close($jf);
	close($rf);
	return ($json, $rows);
}

# --- the database ---------------------------------------------------------
my $node = continuous_node('kafka');

$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_continuous;
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE orders (
    id bigint, customer int, amount numeric, ts timestamptz,
    part int OPTIONS (kafka_metadata 'partition'),
    off bigint OPTIONS (kafka_metadata 'offset'))
  SERVER mock
  OPTIONS (topic 'orders', format 'json', event_time 'ts',
           watermark_delay '1 hour', start_offset 'earliest');
-- the oracle: the valid messages, loaded as they are produced
CREATE TABLE orders_batch (id bigint, customer int, amount numeric,
                           ts timestamptz, part int, off bigint);
-- the view with a window cannot place messages without event time
CREATE VIEW orders_timed AS SELECT * FROM orders_batch WHERE ts IS NOT NULL;
});

# The views, each with its defining query over the foreign table; the batch
# oracle runs it over orders_batch.
my %views = (
	by_customer => 'SELECT customer, count(*) AS c, sum(amount) AS s, max(id) AS mx '
	  . 'FROM orders GROUP BY customer',
	by_minute => "SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c, "
	  . 'sum(amount) AS s, min(id) AS first_id FROM orders GROUP BY minute',
	by_partition => 'SELECT part, count(*) AS c, max(off) AS last_offset, '
	  . 'sum(off) AS so FROM orders GROUP BY part',
	totals => 'SELECT count(*) AS c, sum(id) AS si, sum(amount) AS s FROM orders',);
foreach my $name (sort keys %views)
{
	$node->safe_psql('postgres',
		"CREATE VIEW $name WITH (continuous) AS $views{$name}");
}
is( $node->safe_psql('postgres',
		"SELECT kind, event_time FROM continuous.streams WHERE stream = 'orders'::regclass"),
	'kafka|ts',
	'the first view registered the foreign table as a Kafka stream');

my $loaded = 0;

sub check_views
{
	my ($when) = @_;
	my %windowed = (by_minute => $views{by_minute});
	my %others = map { $_ => $views{$_} } grep { $_ ne 'by_minute' } keys %views;
	$node->safe_psql('postgres', "SELECT continuous.sync('3 minutes')");
	views_equal_batches($node, \%others, 'orders', 'orders_batch', $when);
	views_equal_batches($node, \%windowed, 'orders', 'orders_timed', $when);
	is($node->safe_psql('postgres', 'SELECT c FROM totals'),
		$loaded, "$when: totals counts every valid message ($loaded)");
}

sub load_phase
{
	my ($p, $meanwhile) = @_;
	my ($json, $rows) = write_phase($p);
	is(produce('orders', $json, $meanwhile), $per_phase,
		"phase $p: $per_phase messages produced");
	$loaded += $node->safe_psql('postgres',
		"COPY orders_batch FROM '$rows'; SELECT count(*) FROM orders_batch")
	  - $loaded;
}

# --- phase 1 --------------------------------------------------------------
load_phase(1);
check_views('phase 1');

# --- phase 2: kill -9 of the worker while it consumes ---------------------
load_phase(
	2,
	sub {
		ok( poll_until($node, 'postgres',
				"SELECT c > $loaded FROM totals"),
			'phase 2: consumption under way');
		my $pid = kill9_worker_and_wait($node);
		ok($pid, 'phase 2: worker killed and restarted');
	});
check_views('phase 2, after kill -9 of the worker');

# --- phase 3: kill -9 of the postmaster while the worker consumes ---------
load_phase(
	3,
	sub {
		ok( poll_until($node, 'postgres',
				"SELECT c > $loaded FROM totals"),
			'phase 3: consumption under way');
		kill9_postmaster_and_restart($node);
	});
check_views('phase 3, after kill -9 of the postmaster');

# --- phase 4: the broker goes away and comes back -------------------------
my $pid_before = worker_pid($node);
broker_command('down');
ok( poll_until($node, 'postgres',
		"SELECT last_error IS NOT NULL FROM continuous.streams WHERE stream = 'orders'::regclass"),
	'outage: the stream shows an error');
my ($ret, $stdout, $stderr) =
  $node->psql('postgres', "SELECT continuous.sync('2 seconds')");
like($stderr, qr/Kafka partitions have not been consumed/,
	'outage: continuous.sync() times out naming Kafka');
is(worker_pid($node), $pid_before, 'outage: the worker did not crash');
broker_command('up');
load_phase(4);
check_views('phase 4, after the outage');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM continuous.kafka_partitions "
		  . "WHERE stream = 'orders'::regclass AND last_error IS NULL AND lag = 0"),
	$partitions,
	'after the outage: every partition caught up, no error');

# --- the rest -------------------------------------------------------------
load_phase($_) foreach 5 .. $nphases;
check_views('at the end');

is( $node->safe_psql('postgres',
		"SELECT string_agg(\"partition\" || ':' || committed_offset, ',' ORDER BY \"partition\") "
		  . "FROM continuous.kafka_partitions WHERE stream = 'orders'::regclass"),
	join(',', map { "$_:" . ($next_i / $partitions) } 0 .. $partitions - 1),
	'committed offsets are at the end of every partition');

# --- dead letters: exactly the malformed messages -------------------------
my %dead;
foreach my $row (split /\n/,
	$node->safe_psql('postgres',
		"SELECT \"partition\" || '/' || \"offset\", error FROM continuous.dead_letters "
		  . "WHERE stream = 'orders'::regclass"))
{
	my ($where, $error) = split /\|/, $row, 2;
	$dead{$where}++;
	like($error, qr/\Q$expected_dead{$where}\E/, "dead letter $where: $error")
	  if defined $expected_dead{$where} && $error !~ /\Q$expected_dead{$where}\E/;
}
is(scalar(keys %dead), scalar(keys %expected_dead),
	'one dead letter per malformed message (' . scalar(keys %expected_dead) . ')');
is(scalar(grep { $dead{$_} != 1 } keys %dead), 0, 'no dead letter written twice');
is(scalar(grep { !exists $dead{$_} } keys %expected_dead), 0,
	'every malformed message is a dead letter');
my $wrong = 0;
foreach my $row (split /\n/,
	$node->safe_psql('postgres',
		"SELECT \"partition\" || '/' || \"offset\", error FROM continuous.dead_letters "
		  . "WHERE stream = 'orders'::regclass"))
{
	my ($where, $error) = split /\|/, $row, 2;
	$wrong++ unless defined $expected_dead{$where} && $error =~ /\Q$expected_dead{$where}\E/;
}
is($wrong, 0, 'every dead letter carries its error');

# --- start_offset 'latest': only what is produced after the first view -----
broker_command('topic later 3');
my %later;
foreach my $round (qw(before after))
{
	open(my $lf, '>', "$tempdir/later_$round.csv") or die $!;
	foreach my $n (1 .. 3000)
	{
		my $word = (qw(alpha beta gamma delta))[ $n % 4 ];
		print $lf "$n,$word\n";
		next if $round eq 'before';
		$later{$word}{c}++;
		$later{$word}{s} += $n;
	}
	close($lf);
}
is(produce('later', "$tempdir/later_before.csv"), 3000,
	'produced to topic later before its stream exists');
$node->safe_psql('postgres', q{
CREATE FOREIGN TABLE later (n int, word text)
  SERVER mock OPTIONS (topic 'later', format 'csv', start_offset 'latest');
CREATE VIEW later_words WITH (continuous) AS
  SELECT word, count(*) AS c, sum(n) AS s FROM later GROUP BY word;
});
# the consumer has resolved where it starts once its partitions are listed
ok( poll_until($node, 'postgres',
		"SELECT count(*) = 3 FROM continuous.kafka_partitions WHERE stream = 'later'::regclass"),
	'the stream lists the topic\'s partitions');
is( $node->safe_psql('postgres',
		"SELECT sum(committed_offset) FROM continuous.kafka_partitions WHERE stream = 'later'::regclass"),
	'3000', 'it starts at the end of each partition');
is(produce('later', "$tempdir/later_after.csv"), 3000, 'produced after the view');
$node->safe_psql('postgres', "SELECT continuous.sync('1 minute')");
is( $node->safe_psql('postgres',
		'SELECT string_agg(word || \'=\' || c || \'/\' || s, \',\' ORDER BY word) FROM later_words'),
	join(',', map { "$_=$later{$_}{c}/$later{$_}{s}" } sort keys %later),
	'the view counts exactly the messages produced after it');

# --- the last view goes, and the stream with it ---------------------------
$node->safe_psql('postgres', 'DROP VIEW later_words');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM continuous.streams WHERE stream = 'later'::regclass"),
	'0', 'dropping the last view of a Kafka stream unregisters it');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM continuous.kafka_offsets WHERE stream = 'later'::regclass"),
	'0', 'and forgets its offsets');

$node->stop;
$broker->stop;
done_testing();
