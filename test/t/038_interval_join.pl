
# Copyright (c) pg_continuous contributors

# Stream–stream interval joins, exactly once across crashes.  Concurrent
# sessions load two table streams, impressions and clicks, each in event
# time order (the event time comes from a sequence the sessions share, and
# the sessions go in lockstep, so that their skew stays inside the
# watermark delay however they are scheduled: no event is late by
# accident), every seventh transaction rolled back.  After a kill -9 of the
# worker mid-load, a restart, and at the end, every view equals its SELECT
# run as a batch query, and the rows each view keeps (continuous.
# interval_join_rows) are committed events only, once each, at least every
# row the watermarks have not yet passed.  At the end the watermarks are
# moved on and the kept rows must be exactly those within the bound.
#
# CONTINUOUS_INTERVAL_JOIN_EVENTS sets the number of events (default
# 40000).  Not CONTINUOUS_TEST_EVENTS, which .ci/run raises to a million
# for t/001: a load 25 times longer would only make this test longer.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::Lockstep;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $total_events = $ENV{CONTINUOUS_INTERVAL_JOIN_EVENTS} // 40_000;
my $batch = 100;

my $node = continuous_node('interval_join');

# Event n is at 2026-01-01 + n * 100 ms; an impression's id is n / 3 (a
# key comes up to three times), a click's impression is (n - d) / 3 for d
# up to 1500 (two and a half minutes): within the bounds or not.
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE SEQUENCE tick;
CREATE TABLE impressions (id int, campaign int, ts timestamptz NOT NULL);
CREATE TABLE clicks (id int, imp int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('impressions', event_time => 'ts',
                                watermark_delay => '2 minutes');
SELECT continuous.create_stream('clicks', event_time => 'ts',
                                watermark_delay => '2 minutes');
});
lockstep_create($node);

my %views = (
	ij_minutes => "SELECT continuous.tumble(i.ts, '1 minute') AS minute, i.campaign, "
	  . 'count(*) AS n, sum(c.id) AS s FROM impressions i JOIN clicks c '
	  . "ON c.imp = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute' GROUP BY 1, 2",
	ij_pairs => 'SELECT i.id, c.id AS click, c.ts - i.ts AS d FROM clicks c JOIN impressions i '
	  . "ON i.id = c.imp AND i.ts >= c.ts - interval '90 seconds' "
	  . "AND i.ts < c.ts + interval '20 seconds'");
# each view's bound: right.t - left.t in [lo, hi], in seconds
my %bounds = (ij_minutes => [ 0, 60 ], ij_pairs => [ -90, 20 ]);
# each view's left and right stream
my %sides = (
	ij_minutes => [ 'impressions', 'clicks' ],
	ij_pairs => [ 'clicks', 'impressions' ]);
foreach my $name (sort keys %views)
{
	$node->safe_psql('postgres', "CREATE VIEW $name WITH (continuous) AS $views{$name}");
}

sub watermark
{
	my ($stream) = @_;
	return "(SELECT watermark FROM continuous.stream_stats WHERE stream = '$stream'::regclass)";
}

# The kept rows of a side: (event_time, first column).
sub kept_rows
{
	my ($view, $side) = @_;
	return "SELECT event_time, row[1]::int FROM continuous.interval_join_rows "
	  . "WHERE view = '$view'::regclass AND side = $side";
}

# The rows of a side the other stream's watermark has not passed: a left
# row at t can match right rows up to t + hi, a right row left rows from
# t - lo.
sub unpassed_rows
{
	my ($view, $side) = @_;
	my ($lo, $hi) = @{ $bounds{$view} };
	my $stream = $sides{$view}[$side];
	my $cut = $side == 0
	  ? watermark($sides{$view}[1]) . " - interval '$hi seconds'"
	  : watermark($sides{$view}[0]) . " + interval '$lo seconds'";
	return "SELECT ts, id FROM $stream WHERE ts >= coalesce($cut, '-infinity')";
}

sub check_views
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
	foreach my $name (sort keys %views)
	{
		is_same_rows($node, "SELECT * FROM $name", $views{$name}, "$when: $name equals its SELECT");
		foreach my $side (0, 1)
		{
			my $stream = $sides{$name}[$side];
			is( $node->safe_psql('postgres',
					'SELECT count(*) FROM ((' . kept_rows($name, $side) . ") EXCEPT ALL "
					  . "SELECT ts, id FROM $stream) x"),
				'0',
				"$when: $name keeps committed rows of $stream only, once each");
			is( $node->safe_psql('postgres',
					'SELECT count(*) FROM ((' . unpassed_rows($name, $side) . ') EXCEPT ALL ('
					  . kept_rows($name, $side) . ')) x'),
				'0',
				"$when: $name keeps every row of $stream the watermark has not passed");
		}
		is( $node->safe_psql('postgres',
				"SELECT late_events FROM continuous.views WHERE view = '$name'::regclass"),
			'0', "$when: $name has no late events");
	}
	note "$when: "
	  . $node->safe_psql('postgres',
		'SELECT string_agg(view || \': \' || join_rows_left || \'/\' || join_rows_right, \', \') '
		  . 'FROM continuous.views');
	return;
}

my $tempdir = PostgreSQL::Test::Utils::tempdir;
my $script_no = 0;

# Session $session's script: transactions of $batch events to $stream, in
# lockstep with the other sessions (PgContinuous::Lockstep): while one of
# its transactions that took tick n is open, the ticks handed out stay
# below n + (1 + 3 * 3) * $batch = n + 1000, 100 seconds of event time,
# inside the watermark delay of 2 minutes, however the sessions are
# scheduled.
sub writer_script
{
	my ($stream, $events, $session) = @_;
	my $file = "$tempdir/writer_" . ++$script_no . '.sql';
	open(my $fh, '>', $file) or die "could not write $file: $!";
	my $txn = 0;
	while ($events > 0)
	{
		my $rollback = ++$txn % 7 == 0;
		my $select = $stream eq 'impressions'
		  ? 'SELECT n / 3, n % 5'
		  : 'SELECT n, (n - (n * 7919) % 1500) / 3';
		print $fh lockstep_turn_sql($session, $txn)
		  . "BEGIN;\n"
		  . "INSERT INTO $stream $select, '2026-01-01 00:00+00'::timestamptz + n * interval '100 ms' "
		  . "FROM (SELECT nextval('tick') AS n FROM generate_series(1, $batch)) s;\n"
		  . ($rollback ? "ROLLBACK;\n" : "COMMIT;\n")
		  . lockstep_ended_sql($session, $txn);
		$events -= $batch unless $rollback;
	}
	close($fh);
	return $file;
}

# two sessions per stream
sub start_writers
{
	my ($events) = @_;
	my $each = int($events / 4) || 1;
	my @streams = ('impressions', 'clicks', 'impressions', 'clicks');
	lockstep_start($node, scalar @streams);
	return [
		map {
			my ($out, $err) = ('', '');
			my $h = IPC::Run::start(
				[
					'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
					'-d', $node->connstr('postgres'),
					'-f', writer_script($streams[ $_ - 1 ], $each, $_)
				],
				'<', \undef, '>', \$out, '2>', \$err,
				IPC::Run::timeout(20 * $PostgreSQL::Test::Utils::timeout_default));
			{ h => $h, err => \$err }
		} 1 .. @streams
	];
}

sub finish_writers
{
	my ($writers, $what) = @_;
	foreach my $w (@$writers)
	{
		my $ok = $w->{h}->finish;
		ok($ok, "$what: writer completed");
		diag ${ $w->{err} } unless $ok;
	}
	return;
}

my $phase = int($total_events / 3);

# --- a first load ----------------------------------------------------------
finish_writers(start_writers($phase), 'first load');
check_views('after the first load');
cmp_ok($node->safe_psql('postgres', 'SELECT sum(n) FROM ij_minutes'), '>', 0,
	'the streams join');
# a batch after the first load's is judged by the watermarks it reached
finish_writers(start_writers(400), 'a small load');
check_views('after a small load');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) / 2 FROM impressions'), '>',
	$node->safe_psql('postgres',
		"SELECT join_rows_right FROM continuous.views WHERE view = 'ij_pairs'::regclass"),
	'the watermarks passed most rows: they are no longer kept');

# --- kill -9 of the worker while loading -----------------------------------
my $writers = start_writers($phase);
my $before = $node->safe_psql('postgres',
	"SELECT events FROM continuous.views WHERE view = 'ij_minutes'::regclass");
ok( poll_until($node, 'postgres',
		"SELECT events > $before FROM continuous.views WHERE view = 'ij_minutes'::regclass"),
	'worker crash: views flushed new events');
kill9_worker_and_wait($node);
# the postmaster reset every backend, the writers' too
$_->{h}->kill_kill foreach @$writers;
check_views('after kill -9 of the worker');

# --- the rest, then a clean restart: the kept rows are loaded back ----------
finish_writers(start_writers($phase), 'last load');
check_views('at the end');
$node->restart;
finish_writers(start_writers(400), 'after the restart');
check_views('after a restart');

# --- the watermarks move on: exactly the rows within the bound stay ---------
# Two batches at the same time far ahead (a day after the last event loaded,
# however many CONTINUOUS_TEST_EVENTS made): the second batch is judged by
# the watermarks the first one set, as continuous.stream_stats shows them.
my $far = $node->safe_psql('postgres', q{
SELECT date_trunc('minute', greatest((SELECT max(ts) FROM impressions),
                                     (SELECT max(ts) FROM clicks))) + interval '1 day'});
foreach my $i (1, 2)
{
	$node->safe_psql('postgres', qq{
INSERT INTO impressions VALUES (-1, 0, '$far');
INSERT INTO clicks VALUES (-1, -1, '$far');
SELECT continuous.sync();
});
}
foreach my $name (sort keys %views)
{
	foreach my $side (0, 1)
	{
		is( $node->safe_psql('postgres',
				'SELECT count(*) FROM (((' . unpassed_rows($name, $side) . ') EXCEPT ALL ('
				  . kept_rows($name, $side) . ')) UNION ALL ((' . kept_rows($name, $side)
				  . ') EXCEPT ALL (' . unpassed_rows($name, $side) . '))) x'),
			'0',
			"watermarks moved on: $name keeps exactly the rows of $sides{$name}[$side] within the bound");
	}
	is_same_rows($node, "SELECT * FROM $name", $views{$name},
		"watermarks moved on: $name equals its SELECT");
}
is( $node->safe_psql('postgres',
		"SELECT join_rows_left + join_rows_right FROM continuous.views WHERE view = 'ij_minutes'::regclass"),
	'4', 'watermarks moved on: only the last rows are kept');

done_testing();
