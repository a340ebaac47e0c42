# Copyright (c) pg_continuous contributors

# Kafka partitions spread over several workers (continuous.workers = 3):
# each of the 8 partitions of topic "events" is consumed by one worker, and
# the workers' flushes of the same views take turns.  Views over the
# foreign table must equal their batch queries over a plain table of the
# messages after
#   phase 0: produced before the stream exists, not counted;
#   phase 1: produced at once, while workers 2 and 3 may not yet know of
#            the stream;
#   phase 2: kill -9 of worker 2 (one that only consumes Kafka) meanwhile;
#   phase 3: kill -9 of the postmaster meanwhile;
#   phase 4: kill -9 of worker 1 (the one that also reads table streams).
# Some messages are five minutes late.  Every worker judges lateness by
# the stream's watermark, which any of them may have moved: a view with
# emit = 'window_close' must show each closed window once and never change
# it afterwards, and its rows plus its late-events table must hold every
# message of the closed windows exactly once.
#
# CONTINUOUS_TEST_MESSAGES sets the number of messages (default 1000000;
# this test produces a fifth of it).

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

my $partitions = 8;
my $nphases    = 4;
my $total      = int(($ENV{CONTINUOUS_TEST_MESSAGES} // 1_000_000) / 5);
# produce.c sends message n of a run to partition n % 8: with runs of a
# multiple of 8 messages, message i lands in partition i % 8.
my $per_phase = int($total / $nphases / $partitions) * $partitions;
$per_phase = $partitions if $per_phase < $partitions;

my $tempdir = PostgreSQL::Test::Utils::tempdir;

# --- the broker -----------------------------------------------------------
my $broker    = PgContinuous::MockKafka->start("events:$partitions");
my $bootstrap = $broker->bootstrap;
ok($bootstrap, "mock broker listens at $bootstrap");

# --- the messages ---------------------------------------------------------
# Message i: key i % 100, event time 10 ms after message i - 1; every
# 997th is five minutes behind.
my $base_epoch = 1_767_225_600;    # 2026-01-01 00:00:00 UTC
my $next_i     = 0;

sub write_phase
{
	my ($p) = @_;
	my $json = "$tempdir/phase$p.json";
	my $rows = "$tempdir/phase$p.copy";
	open(my $jf, '>', $json) or die $!;
	open(my $rf, '>', $rows) or die $!;
	for (1 .. $per_phase)
	{
		my $i       = $next_i++;
		my $seconds = $base_epoch + int($i / 100) - ($i % 997 == 0 ? 300 : 0);
		my $stamp   = strftime('%Y-%m-%d %H:%M:%S', gmtime($seconds))
		  . sprintf('.%02d+00', $i % 100);
		my ($k, $v) = ($i % 100, $i % 7);
		print $jf "{\"id\": $i, \"k\": $k, \"v\": $v, \"ts\": \"$stamp\"}\n";
		print $rf join("\t", $i, $k, $v, $stamp, $i % $partitions), "\n";
	}
	close($jf);
	close($rf);
	return ($json, $rows);
}

# --- the database ---------------------------------------------------------
my $node = continuous_node(
	'kafka_workers', q{
continuous.workers = 3
});

# The workers run before the stream exists.  Workers 2 and 3 are stopped
# (SIGSTOP) while it is created and phase 1 is produced and consumed by
# worker 1: when they go on, they must consume their partitions from where
# the stream began (start_offset is the default, 'latest'), neither from
# the topic's end by then nor from its beginning, phase 0, which was there
# before the stream and does not count.
$node->safe_psql('postgres', 'CREATE EXTENSION pg_continuous');
ok( poll_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
		  . "AND datname = current_database()", '3'),
	'three workers serve the database');
my @helpers = map { worker_pid_by_name("pg_continuous worker $_") } (2, 3);
ok(kill('STOP', @helpers) == 2, 'workers 2 and 3 stopped');
produce_phase(0, undef, 1);
$node->safe_psql('postgres', qq{
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE events (
    id bigint, k int, v int, ts timestamptz,
    part int OPTIONS (kafka_metadata 'partition'))
  SERVER mock
  OPTIONS (topic 'events', format 'json', event_time 'ts',
           watermark_delay '30 seconds');
CREATE TABLE events_batch (id bigint, k int, v int, ts timestamptz, part int);
CREATE VIEW closed_minutes
    WITH (continuous, emit = 'window_close', late_events = 'late_events') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c, sum(v) AS s
      FROM events GROUP BY minute;
});

# Views that count every message, each with its defining query; the oracle
# runs it over events_batch.
my %views = (
	by_key => 'SELECT k, count(*) AS c, sum(v) AS s, max(id) AS mx FROM events GROUP BY k',
	by_partition => 'SELECT part, count(*) AS c, sum(id) AS si FROM events GROUP BY part',
	all_minutes => "SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c, "
	  . 'sum(v) AS s FROM events GROUP BY minute',
	totals => 'SELECT count(*) AS c, sum(id) AS si FROM events',);
$node->safe_psql('postgres',
	join('',
		map { "CREATE VIEW $_ WITH (continuous"
			  . ($_ eq 'all_minutes' ? ", allowed_lateness = '1 day'" : '')
			  . ") AS $views{$_};\n" } sort keys %views));

my $loaded = 0;
my %closed_before;    # minute => "c|s" as first shown

sub check
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('3 minutes')");
	views_equal_batches($node, \%views, 'events', 'events_batch', $when);
	is($node->safe_psql('postgres', 'SELECT c FROM totals'),
		$loaded, "$when: totals counts every message ($loaded)")
	  or diag $node->safe_psql('postgres',
		'SELECT * FROM continuous.kafka_partitions ORDER BY partition')
	  . "\n"
	  . $node->safe_psql('postgres',
		"SELECT pid, application_name, state FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker'");

	# the closed windows: shown once, with the late ones beside them
	my $wm = "continuous._watermark('events')";
	is_same_rows(
		$node, qq{
    SELECT minute, sum(c), sum(s) FROM (
        SELECT minute, c, s FROM closed_minutes
        UNION ALL
        SELECT continuous.tumble(ts, '1 minute'), count(*), sum(v)
          FROM late_events WHERE continuous.tumble(ts, '1 minute') + interval '1 minute' <= $wm
         GROUP BY 1) u
     GROUP BY minute}, qq{
    SELECT minute, count(*) AS c, sum(v) AS s
      FROM (SELECT continuous.tumble(ts, '1 minute') AS minute, v FROM events_batch) b
     WHERE minute + interval '1 minute' <= $wm GROUP BY minute},
		"$when: closed windows and late events hold each message of the closed windows once");
	is( $node->safe_psql('postgres',
			"SELECT count(*) = count(DISTINCT id) FROM late_events"),
		't', "$when: no late event written twice");
	is( $node->safe_psql('postgres',
			"SELECT late_events FROM continuous.views WHERE view = 'closed_minutes'::regclass"),
		$node->safe_psql('postgres', 'SELECT count(*) FROM late_events'),
		"$when: late events counted");

	my $changed = 0;
	foreach my $row (split /\n/,
		$node->safe_psql('postgres', 'SELECT minute, c, s FROM closed_minutes'))
	{
		my ($minute, $c, $s) = split /\|/, $row;
		$changed++ if exists $closed_before{$minute} && $closed_before{$minute} ne "$c|$s";
		$closed_before{$minute} //= "$c|$s";
	}
	is($changed, 0, "$when: no closed window changed once shown");
}

sub produce_phase
{
	my ($p, $meanwhile, $before_stream) = @_;
	my ($json, $rows) = write_phase($p);
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ PgContinuous::MockKafka->tool('produce'), '-b', $bootstrap, '-t', 'events' ],
		'<', $json, '>', \$out, '2>', \$err);
	$meanwhile->() if $meanwhile;
	ok($h->finish, "phase $p: produced") or diag $err;
	is($out =~ /produced (\d+)/ ? $1 : 0, $per_phase, "phase $p: $per_phase messages");
	return if $before_stream;
	$node->safe_psql('postgres', "COPY events_batch FROM '$rows'");
	$loaded += $per_phase;
}

sub worker_pid_by_name
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE application_name = '$name' "
		  . "AND datname = current_database()");
}

sub kill9_worker_named
{
	my ($name) = @_;
	my $pid = worker_pid_by_name($name);
	ok($pid =~ /^\d+$/, "$name runs ($pid)");
	kill 'KILL', $pid;
	ok( poll_until($node, 'postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = '$name' "
			  . "AND datname = current_database() AND pid <> $pid", '1'),
		"$name restarted after kill -9");
}

sub consuming
{
	my ($p) = @_;
	ok( poll_until($node, 'postgres', "SELECT c > $loaded FROM totals"),
		"phase $p: consumption under way");
}

produce_phase(
	1,
	sub {
		ok( poll_until($node, 'postgres',
				"SELECT count(*) FILTER (WHERE worker = 1 AND lag = 0 AND committed_offset > 0) "
				  . '= count(*) FILTER (WHERE worker = 1) FROM continuous.kafka_partitions'),
			'phase 1: worker 1 consumed its partitions while the others were stopped');
		ok(kill('CONT', @helpers) == 2, 'workers 2 and 3 go on');
	});
check('phase 1');
is( $node->safe_psql('postgres',
		"SELECT string_agg(n::text, ',' ORDER BY n) FROM "
		  . '(SELECT count(*) AS n FROM continuous.kafka_partitions GROUP BY worker) w'),
	'2,3,3',
	'the partitions are spread over the three workers');

produce_phase(2, sub { consuming(2); kill9_worker_named('pg_continuous worker 2'); });
check('phase 2, after kill -9 of worker 2');

produce_phase(3, sub { consuming(3); kill9_postmaster_and_restart($node); });
check('phase 3, after kill -9 of the postmaster');

produce_phase(4, sub { consuming(4); kill9_worker_named('pg_continuous worker'); });
check('phase 4, after kill -9 of worker 1');

ok( $node->safe_psql('postgres', 'SELECT count(*) FROM late_events') > 0,
	'some messages were late');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM continuous.kafka_partitions WHERE lag <> 0"),
	'0', 'every partition consumed to its end');

$node->stop;
$broker->stop;
done_testing();
