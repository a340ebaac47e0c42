
# Copyright (c) pg_continuous contributors

# Interval join views computed from the rows their two streams hold
# (backfill.c): at CREATE VIEW while concurrent sessions write both
# streams, and after pg_dump -Fc / pg_restore into another cluster.
#
#   - Sessions load impressions and clicks in event-time order (a shared
#     sequence; the sessions go in lockstep, so that their skew stays
#     inside the watermark delay however they are scheduled, and no event
#     is late by accident), every seventh transaction rolled back.
#     The views are created while they write: each view then equals its
#     SELECT run as a batch query, nothing counted twice or missed, and
#     keeps every row the watermarks have not passed, once each.
#   - The database, with kept rows, is dumped with pg_dump -Fc and restored
#     with pg_restore into a fresh cluster: the views come back equal to
#     their SELECT over the restored tables, keep the rows the watermarks
#     have not passed, and go on counting new events (whose partners are
#     among the restored rows) once each.
#   - continuous.rebuild() gives the same views again.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Lockstep;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $batch   = 100;
my $tempdir = PostgreSQL::Test::Utils::tempdir;
my $src     = continuous_node('ij_source');

# Event n is at 2026-01-01 + n * 100 ms; an impression's id is n / 3, a
# click's impression (n - d) / 3 for d up to 1500: within the bounds or not.
$src->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE SEQUENCE tick;
CREATE TABLE impressions (id int, campaign int, ts timestamptz NOT NULL);
CREATE TABLE clicks (id int, imp int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('impressions', event_time => 'ts',
                                watermark_delay => '2 minutes');
SELECT continuous.create_stream('clicks', event_time => 'ts',
                                watermark_delay => '2 minutes');
});
# (the clusters restored from its dump have lockstep too)
lockstep_create($src);

my %views = (
	bf_minutes => "SELECT continuous.tumble(i.ts, '1 minute') AS minute, i.campaign, "
	  . 'count(*) AS n, sum(c.id) AS s FROM impressions i JOIN clicks c '
	  . "ON c.imp = i.id AND c.ts BETWEEN i.ts AND i.ts + interval '1 minute' GROUP BY 1, 2",
	bf_pairs => 'SELECT i.id, c.id AS click, c.ts - i.ts AS d FROM clicks c JOIN impressions i '
	  . "ON i.id = c.imp AND i.ts >= c.ts - interval '90 seconds' "
	  . "AND i.ts < c.ts + interval '20 seconds'");
my %bounds = (bf_minutes => [ 0, 60 ], bf_pairs => [ -90, 20 ]);
my %sides = (
	bf_minutes => [ 'impressions', 'clicks' ],
	bf_pairs => [ 'clicks', 'impressions' ]);

my $script_no = 0;

# Session $session's script, as in t/038: in lockstep with the other three,
# so that the ticks handed out while one of its transactions is open stay
# within 100 seconds of event time of its own, inside the watermark delay.
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
	my ($node, $events) = @_;
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

sub kept_rows
{
	my ($view, $side) = @_;
	return "SELECT event_time, row[1]::int FROM continuous.interval_join_rows "
	  . "WHERE view = '$view'::regclass AND side = $side";
}

# a left row at t can match right rows up to t + hi, a right row left rows
# from t - lo
sub unpassed_rows
{
	my ($view, $side) = @_;
	my ($lo, $hi) = @{ $bounds{$view} };
	my $other = $sides{$view}[ 1 - $side ];
	my $cut = "(SELECT watermark FROM continuous.stream_stats WHERE stream = '$other'::regclass)"
	  . ($side == 0 ? " - interval '$hi seconds'" : " + interval '$lo seconds'");
	return "SELECT ts, id FROM $sides{$view}[$side] WHERE ts >= coalesce($cut, '-infinity')";
}

sub check_views
{
	my ($node, $when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
	foreach my $name (sort keys %views)
	{
		is_same_rows($node, "SELECT * FROM $name", $views{$name},
			"$when: $name equals its SELECT");
		foreach my $side (0, 1)
		{
			my $stream = $sides{$name}[$side];
			is( $node->safe_psql('postgres',
					'SELECT count(*) FROM ((' . kept_rows($name, $side) . ") EXCEPT ALL "
					  . "SELECT ts, id FROM $stream) x"),
				'0', "$when: $name keeps committed rows of $stream only, once each");
			is( $node->safe_psql('postgres',
					'SELECT count(*) FROM ((' . unpassed_rows($name, $side) . ') EXCEPT ALL ('
					  . kept_rows($name, $side) . ')) x'),
				'0', "$when: $name keeps every row of $stream the watermark has not passed");
		}
		is( $node->safe_psql('postgres',
				"SELECT late_events, status FROM continuous.views WHERE view = '$name'::regclass"),
			'0|active', "$when: $name is active and has no late events");
	}
	return;
}

# --- rows first, then the views created while sessions write ----------------
finish_writers(start_writers($src, 4000), 'rows before the views');
# A writer's transaction is in progress when the views are created, in one
# transaction that writes rows of its own to both streams first: the
# views' locks wait for it, and the writers started then wait for the
# views' commit.
my $inflight = $src->background_psql('postgres');
$inflight->query_safe('BEGIN; '
	  . "INSERT INTO clicks SELECT n, (n - (n * 7919) % 1500) / 3, "
	  . "'2026-01-01 00:00+00'::timestamptz + n * interval '100 ms' "
	  . "FROM (SELECT nextval('tick') AS n FROM generate_series(1, 50)) s");
my $creator = $src->background_psql('postgres');
$creator->query_until(qr/creating/, "\\echo creating\n"
	  . 'BEGIN; '
	  . "INSERT INTO impressions SELECT n / 3, n % 5, '2026-01-01 00:00+00'::timestamptz + n * interval '100 ms' "
	  . "FROM (SELECT nextval('tick') AS n FROM generate_series(1, 50)) s; "
	  . join(' ', map { "CREATE VIEW $_ WITH (continuous) AS $views{$_};" } sort keys %views)
	  . "\n");
ok( poll_until($src, 'postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
		  . "AND query LIKE '%CREATE VIEW%'"),
	'the views\' creation waits for the writer in progress');
my $writers = start_writers($src, 8000);
$inflight->query_safe('COMMIT');
$inflight->quit;
ok( poll_until($src, 'postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
		  . "AND query LIKE 'INSERT INTO %'"),
	'writers wait for the views\' creation');
my $at_views = $src->safe_psql('postgres', 'SELECT count(*) FROM clicks');
$creator->query_safe('COMMIT');
$creator->quit;
finish_writers($writers, 'writers during CREATE VIEW');
cmp_ok($src->safe_psql('postgres', 'SELECT count(*) FROM clicks'), '>', $at_views,
	'the sessions wrote after the views were created too');
check_views($src, 'backfilled under concurrent writers');
cmp_ok($src->safe_psql('postgres', 'SELECT sum(n) FROM bf_minutes'), '>', 0, 'the streams join');
cmp_ok(
	$src->safe_psql('postgres',
		'SELECT sum(join_rows_left + join_rows_right) FROM continuous.views'),
	'>', 0, 'the views keep rows');
cmp_ok(
	$src->safe_psql('postgres',
		'SELECT sum(join_rows_left + join_rows_right) FROM continuous.views'),
	'<',
	$src->safe_psql('postgres',
		'SELECT 2 * ((SELECT count(*) FROM impressions) + (SELECT count(*) FROM clicks))'),
	'the rows the watermarks passed are not kept');

# --- dump, restore into another cluster, more events -------------------------
my $dump = "$tempdir/ij.dump";
$src->command_ok([ 'pg_dump', '-Fc', '-f', $dump, 'postgres' ], 'pg_dump -Fc');
my $dst = continuous_node('ij_restored');
$dst->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'postgres', $dump ],
	'pg_restore restores the dump without an error');
is($dst->safe_psql('postgres',
		'SELECT count(*) FROM continuous.view_catalog WHERE restore_pending'),
	'0', 'no view is left pending');
check_views($dst, 'restored');
cmp_ok(
	$dst->safe_psql('postgres',
		'SELECT sum(join_rows_left + join_rows_right) FROM continuous.views'),
	'>', 0, 'restored: the views keep rows');
my $before = $dst->safe_psql('postgres', 'SELECT sum(n) FROM bf_minutes');
finish_writers(start_writers($dst, 4000), 'restored, more events');
check_views($dst, 'restored, then more events');
cmp_ok($dst->safe_psql('postgres', 'SELECT sum(n) FROM bf_minutes'), '>', $before,
	'restored: the views go on counting');

# pg_restore -j copies the kept rows and the rest in any order
my $par = continuous_node('ij_parallel');
$par->command_ok([ 'pg_restore', '--exit-on-error', '-j', '4', '-d', 'postgres', $dump ],
	'pg_restore -j 4 restores the dump without an error');
check_views($par, 'restored by pg_restore -j 4');
finish_writers(start_writers($par, 2000), 'restored by pg_restore -j 4, more events');
check_views($par, 'restored by pg_restore -j 4, then more events');
$par->stop;

# --- rebuild -----------------------------------------------------------------
foreach my $name (sort keys %views)
{
	cmp_ok($dst->safe_psql('postgres', "SELECT continuous.rebuild('$name')"),
		'>', 0, "$name is rebuilt");
}
check_views($dst, 'rebuilt');
finish_writers(start_writers($dst, 2000), 'rebuilt, more events');
check_views($dst, 'rebuilt, then more events');

$src->stop;
$dst->stop;
done_testing();
