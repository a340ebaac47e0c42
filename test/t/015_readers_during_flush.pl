
# Copyright (c) pg_continuous contributors

# Sessions that read views while the worker writes them.  The worker is held
# in the middle of a flush (its storage rows written, its transaction still
# open: a session holds the row lock its last statement needs), other
# transactions commit, and readers scan every view.  They must see the views
# as of before the flush, and once the flush commits, every view must equal
# its batch query.
#
# This is the bug a worker that decodes WAL itself can fall into: PostgreSQL
# leaves a backend that does logical decoding out of other backends'
# snapshots, so a reader took the worker's open transaction for an aborted
# one and marked its rows so (hint bits): inserted rows vanished for good,
# replaced ones came back, and a session view's index lost entries.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Oracle;
use PgContinuous::Node;

my $node = continuous_node('readers');

my %views = (
	totals => 'SELECT k, count(*) AS n, sum(v) AS total FROM clicks GROUP BY k',
	minutes => q{SELECT k, continuous.tumble(ts, '1 minute') AS minute, count(*) AS n,
       sum(v) AS total FROM clicks GROUP BY k, minute},
	sessions => q{SELECT k, continuous.session(ts, '2 minutes') AS session_start,
       count(*) AS n, sum(v) AS total, max(ts) AS last_ts FROM clicks GROUP BY k, session_start});

# the session view as batch SQL
my $sessions_batch = q{
    WITH marked AS (
        SELECT k, v, ts,
               CASE WHEN ts - lag(ts) OVER w < '2 minutes' THEN 0 ELSE 1 END AS begins
        FROM clicks WHERE round <= %d WINDOW w AS (PARTITION BY k ORDER BY ts)
    ), numbered AS (
        SELECT k, v, ts, sum(begins) OVER (PARTITION BY k ORDER BY ts
                                           ROWS UNBOUNDED PRECEDING) AS session_no
        FROM marked
    )
    SELECT k, min(ts), count(*), sum(v), max(ts) FROM numbered GROUP BY k, session_no};
my %batches = (
	totals => 'SELECT k, count(*), sum(v) FROM clicks WHERE round <= %d GROUP BY k',
	minutes => q{SELECT k, continuous.tumble(ts, '1 minute'), count(*), sum(v)
       FROM clicks WHERE round <= %d GROUP BY 1, 2},
	sessions => $sessions_batch);

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE clicks (round int, k int, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('clicks', event_time => 'ts', watermark_delay => '1 hour');
CREATE TABLE unrelated (x int);
});
$node->safe_psql('postgres', "CREATE VIEW $_ WITH (continuous) AS $views{$_}")
  foreach sort keys %views;

# Round r: 5,000 events over 50 keys and two hours of event time, of which
# the first half hour overlaps the round before (none is late: the
# watermark stays an hour behind).  So the flush updates stored rows and
# merges sessions as well as inserting new ones.
sub load_round
{
	my ($r) = @_;
	$node->safe_psql('postgres',
		"INSERT INTO clicks SELECT $r, g % 50, g + $r, "
		  . "'2026-01-01 00:00+00'::timestamptz + ($r - 1) * interval '2 hours' "
		  . "- interval '30 minutes' + ((g * 7919) % 7200) * interval '1 second' "
		  . "FROM generate_series(1, 5000) g ORDER BY (g * 31) % 97");
}

sub views_equal
{
	my ($round, $when) = @_;
	foreach my $name (sort keys %views)
	{
		is_same_rows($node, $name, sprintf($batches{$name}, $round),
			"$when: $name equals its batch query");
	}
}

load_round(1);
$node->safe_psql('postgres', "SELECT continuous.sync('2 minutes')");
views_equal(1, 'first round');

foreach my $round (2 .. 4)
{
	# hold the worker at the end of its next flush
	my $holder = $node->background_psql('postgres');
	$holder->query_safe('BEGIN; SELECT lsn FROM continuous.decoder_position FOR UPDATE');
	load_round($round);
	ok( poll_until($node, 'postgres', q{
SELECT count(*) FROM pg_stat_activity
WHERE backend_type = 'pg_continuous worker' AND datname = current_database()
  AND wait_event_type = 'Lock' AND backend_xid IS NOT NULL}, '1'),
		"round $round: the worker waits in the middle of a flush");

	# a transaction that commits after the worker's began, then readers
	$node->safe_psql('postgres', 'INSERT INTO unrelated VALUES (1)');
	views_equal($round - 1, "round $round, flush not committed");

	$holder->query_safe('COMMIT');
	$holder->quit;
	$node->safe_psql('postgres', "SELECT continuous.sync('2 minutes')");
	views_equal($round, "round $round, after the flush");
}
is($node->safe_psql('postgres', 'SELECT sum(late_events) FROM continuous.views'),
	'0', 'no event was late');

$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');
cmp_ok(
	$node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    SELECT bt_index_check(i.indexrelid, true)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE c.relnamespace = 'continuous_storage'::regnamespace) checked}),
	'>=', scalar(keys %views),
	'the storage indexes hold every stored row (amcheck)');

$node->stop;
done_testing();
