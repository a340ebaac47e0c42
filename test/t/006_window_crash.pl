# Copyright (c) pg_continuous contributors

# Exactly once for windows: a tumbling-window view as it changes, the same
# with emit = 'window_close' and a late-events table, one with retention,
# hopping windows with emit = 'window_close' and a late-events table of
# their own, and count windows, across kill -9 of the postmaster while
# events load and while late events arrive.  After each restart and
# continuous.sync():
#   - the windows equal the batch query over the events that were not late,
#   - the closed windows shown (tumbling and hopping) are exactly the batch
#     windows the watermark has passed,
#   - each late-events table holds each late event once,
#   - each key's count windows hold 1,000 events each but the last, which
#     holds the rest: nothing numbered twice or skipped,
#   - the watermark has not gone back.
# Events load in event-time order (so none is late by accident); the late
# ones are written in phases of their own, with v = -1.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Oracle;
use PgContinuous::Crash;
use PgContinuous::Node;

my $events_per_phase = 100_000;

my $node = continuous_node('window_crash');

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE events (k bigint, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('events', event_time => 'ts');
CREATE VIEW per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c, sum(v) AS s
      FROM events GROUP BY minute;
CREATE VIEW closed_minutes
    WITH (continuous, emit = 'window_close', late_events = 'late_events') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c, sum(v) AS s
      FROM events GROUP BY minute;
CREATE VIEW recent_minutes WITH (continuous, retention = '30 minutes') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c
      FROM events GROUP BY minute;
CREATE VIEW closed_hops
    WITH (continuous, emit = 'window_close', late_events = 'late_hop_events') AS
    SELECT w.window_start, count(*) AS c, sum(v) AS s
      FROM events CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '2 minutes') AS w
     GROUP BY w.window_start;
CREATE VIEW per_thousand WITH (continuous) AS
    SELECT k % 7 AS key, continuous.count_window(1000) AS run, count(*) AS c
      FROM events GROUP BY key, run;
});

# Event k happens at k * 10 ms after the origin: 6,000 per minute.
my $next_k = 0;

# A session loading events k .. k + n - 1 in transactions of 1,000 rows.
sub start_loader
{
	my ($n) = @_;
	my $from = $next_k;
	$next_k += $n;
	my ($out, $err) = ('', '');
	my $sql = qq{
DO \$\$
BEGIN
    FOR b IN 0 .. $n / 1000 - 1 LOOP
        INSERT INTO events
        SELECT k, (k % 100)::int,
               timestamptz '2026-01-01 00:00:00+00' + k * interval '10 ms'
          FROM generate_series($from + b * 1000, $from + b * 1000 + 999) k;
        COMMIT;
    END LOOP;
END
\$\$;
};
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		  '-c', $sql ],
		'>', \$out, '2>', \$err);
	return $h;
}

# Continue where the committed events end (a crash cuts the loader short).
sub resume_to
{
	my ($target) = @_;
	$next_k = $node->safe_psql('postgres',
		'SELECT coalesce(max(k) + 1, 0) FROM events WHERE v >= 0');
	my $h = start_loader($target - $next_k) if $target > $next_k;
	$h->finish if $h;
}

# Late events: at event times 10 minutes and more behind the watermark.
my $late_k = 1_000_000_000;

sub write_late
{
	my ($n) = @_;
	my $from = $late_k;
	$late_k += $n;
	$node->safe_psql('postgres', qq{
INSERT INTO events
SELECT k, -1, continuous._watermark('events') - interval '10 minutes' - (k % 50) * interval '1 s'
  FROM generate_series($from, $from + $n - 1) k;
});
}

sub watermark
{
	return $node->safe_psql('postgres', "SELECT continuous._watermark('events')");
}

sub check
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
	my $batch = q{SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c,
	                     sum(v) AS s FROM events WHERE v >= 0 GROUP BY 1};
	is_same_rows($node, 'per_minute', $batch,
		"$when: windows equal the batch query over events not late");
	is_same_rows($node, 'closed_minutes',
		"SELECT * FROM ($batch) b WHERE minute + interval '1 minute' <= continuous._watermark('events')",
		"$when: the closed windows shown are the closed batch windows");
	is( $node->safe_psql('postgres',
			"SELECT count(*), count(DISTINCT k) FROM late_events"),
		join('|', ($late_k - 1_000_000_000) x 2),
		"$when: each late event is in the late-events table once");
	is( $node->safe_psql('postgres',
			'SELECT count(*) FROM events WHERE v = -1'),
		$late_k - 1_000_000_000, "$when: (all late events committed)");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM recent_minutes "
			  . "WHERE minute + interval '1 minute' <= continuous._watermark('events') - interval '30 minutes'"),
		'0', "$when: retention left no window older than it");
	is( $node->safe_psql('postgres',
			'SELECT late_events FROM continuous.views WHERE view = \'closed_minutes\'::regclass'),
		$late_k - 1_000_000_000, "$when: late events counted");

	# every late event is in ten-minute windows that all end at or before
	# the watermark: late for the hopping view too
	my $hops = q{SELECT w.window_start, count(*) AS c, sum(v) AS s
	               FROM events CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '2 minutes') AS w
	              WHERE v >= 0 GROUP BY 1};
	my $closed_hops = "SELECT * FROM ($hops) b "
	  . "WHERE window_start + interval '10 minutes' <= continuous._watermark('events')";
	is_same_rows($node, 'closed_hops', $closed_hops,
		"$when: the closed hopping windows shown are the closed batch windows");
	is( $node->safe_psql('postgres',
			"SELECT count(*), count(DISTINCT k) FROM late_hop_events"),
		join('|', ($late_k - 1_000_000_000) x 2),
		"$when: each late event is in the hopping view's late-events table once");

	# count windows take every event, late or not, in delivery order
	my $runs = q{SELECT key, run, least(1000, n - run * 1000) AS c
	               FROM (SELECT k % 7 AS key, count(*) AS n FROM events GROUP BY 1) t,
	                    generate_series(0, (n - 1) / 1000) AS run};
	is_same_rows($node, 'per_thousand', $runs,
		"$when: each key's count windows are full but the last");
}

# --- phase A: crash while loading ------------------------------------------
my $loader = start_loader($events_per_phase);
ok( poll_until($node, 'postgres',
		"SELECT coalesce(sum(c), 0) > 20000 FROM per_minute"),
	'phase A: windows filling');
my $wm_before = watermark();
kill9_postmaster_and_restart($node, sub { $loader->kill_kill });
resume_to($events_per_phase);
check('phase A, after kill -9 of the postmaster while loading');
cmp_ok(watermark(), 'ge', $wm_before, 'phase A: the watermark did not go back');

# --- phase B: late events, then a crash right after them -------------------
write_late(500);
$loader = start_loader($events_per_phase);
ok( poll_until($node, 'postgres',
		"SELECT coalesce(sum(c), 0) > $events_per_phase + 10000 FROM per_minute"),
	'phase B: windows filling');
write_late(300);
$wm_before = watermark();
kill9_postmaster_and_restart($node, sub { $loader->kill_kill });
resume_to(2 * $events_per_phase);
check('phase B, after kill -9 with late events in flight');
cmp_ok(watermark(), 'ge', $wm_before, 'phase B: the watermark did not go back');

# --- phase C: the worker alone ----------------------------------------------
$loader = start_loader($events_per_phase);
write_late(200);
kill9_worker_and_wait($node);
$loader->kill_kill;
resume_to(3 * $events_per_phase);
check('phase C, after kill -9 of the worker');

$node->stop;
done_testing();
