# Copyright (c) pg_continuous contributors

# Large transactions are aggregated while they stream, before they commit
# (early_aggregation.c), and what was aggregated is combined at commit.  The
# result must be exactly what running the rows at commit gives, in every case
# where the two could part:
#   - views of every shape that can take rows early (tumbling and hopping
#     windows, a filter, no GROUP BY) and one that cannot (count windows);
#   - a large transaction whose windows another session's events close while
#     it streams: its rows are late at commit, and must be found late;
#   - a poison event in a large transaction: a dead letter at commit, the
#     rest counted;
#   - savepoints rolled back after their rows were aggregated;
#   - a view whose states would pass their share of continuous.state_memory
#     (a group per row): it gives up and takes the rows at commit;
#   - a column added to the stream in the middle of a large transaction;
#   - large transactions interleaved with each other and with small ones;
#   - kill -9 of the postmaster while a large transaction streams, and
#     right after one commits.
# The oracle: each view equals its SELECT run as batch SQL over the events
# (less those found late), and continuous.views.events_before_commit shows
# which views took rows early.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Oracle;
use PgContinuous::Crash;
use PgContinuous::Node;

my $node = continuous_node(
	'early', q{
logical_decoding_work_mem = '64kB'
continuous.state_memory = '4MB'
});

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE ev (k int, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('ev', event_time => 'ts', watermark_delay => '1 hour');
CREATE VIEW by_minute WITH (continuous, late_events = 'ev_late') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, k % 7 AS g,
           count(*) AS c, sum(v) AS s
      FROM ev GROUP BY 1, 2;
CREATE VIEW hops WITH (continuous) AS
    SELECT w.window_start, count(*) AS c, sum(v) AS s
      FROM ev CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '2 minutes') AS w
     WHERE v >= 0
     GROUP BY w.window_start;
CREATE VIEW totals WITH (continuous) AS
    SELECT count(*) AS c, sum(v) AS s, max(ts) AS last FROM ev;
CREATE VIEW ratios WITH (continuous) AS
    SELECT k % 5 AS g, count(*) AS c, sum(1000 / v) AS q
      FROM ev WHERE v <> 7 GROUP BY 1;
CREATE VIEW per_k WITH (continuous) AS
    SELECT k, count(*) AS c, sum(v) AS s FROM ev GROUP BY k;
CREATE VIEW per_thousand WITH (continuous) AS
    SELECT k % 3 AS key, continuous.count_window(1000) AS run, count(*) AS c
      FROM ev GROUP BY key, run;
});

# Event times: k * 10 ms after the origin, so that rows written in k order
# move the watermark forward, and transactions interleaved here stay well
# within the watermark delay: no row is late by accident.
my $origin = "timestamptz '2026-01-01 00:00:00+00'";
my $next_k = 1;

# INSERT of n rows from the next k on, with v = k % 100 + 1 unless given.
sub rows_sql
{
	my ($n, $v) = @_;
	my $from = $next_k;
	$next_k += $n;
	$v //= '(k % 100) + 1';
	return "INSERT INTO ev SELECT k, $v, $origin + k * interval '10 ms' "
	  . "FROM generate_series($from, $from + $n - 1) k;";
}

sub early_events
{
	my ($view) = @_;
	return $node->safe_psql('postgres',
		"SELECT events_before_commit FROM continuous.views WHERE view = '$view'::regclass");
}

my %batch = (
	by_minute => q{SELECT continuous.tumble(ts, '1 minute'), k % 7, count(*), sum(v)
	                 FROM (SELECT k, v, ts FROM ev EXCEPT ALL SELECT k, v, ts FROM ev_late) e
	                GROUP BY 1, 2},
	hops => q{SELECT w.window_start, count(*), sum(v)
	            FROM ev CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '2 minutes') AS w
	           WHERE v >= 0 GROUP BY 1},
	totals => q{SELECT count(*), sum(v), max(ts) FROM ev},
	per_k => q{SELECT k, count(*), sum(v) FROM ev GROUP BY k},
	ratios => q{SELECT k % 5, count(*), sum(1000 / v) FROM ev WHERE v <> 7 AND v <> 0 GROUP BY 1},
	per_thousand => q{SELECT key, run, least(1000, n - run * 1000)
	                    FROM (SELECT k % 3 AS key, count(*) AS n FROM ev GROUP BY 1) t,
	                         generate_series(0, (n - 1) / 1000) AS run},
);

sub views_equal_batch
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('3 minutes')");
	foreach my $view (sort keys %batch)
	{
		is_same_rows($node, $view, $batch{$view}, "$when: $view equals its batch query");
	}
}

# --- a large transaction after small ones -----------------------------------
$node->safe_psql('postgres', rows_sql(1000)) for 1 .. 3;
$node->safe_psql('postgres', 'BEGIN; ' . rows_sql(60000) . ' COMMIT;');
views_equal_batch('one large transaction');
foreach my $view (qw(by_minute hops totals ratios))
{
	cmp_ok(early_events($view), '>', 0, "$view took rows before their commit");
}
is(early_events('per_thousand'), '0',
	'count windows number events in delivery order: no rows before the commit');
# 60,000 groups take more than a quarter of continuous.state_memory (4 MB)
is(early_events('per_k'), '0',
	'per_k, a group per row, gave up its states before the commit and took the rows at it');

# --- windows closed by another session while the transaction streams ---------
# The large transaction writes rows at event times near the watermark; while
# it is open, small transactions move the watermark hours ahead, closing
# those windows.  At commit its rows are late for by_minute (hops filters
# them out with v = -1), whatever was aggregated before.
my %before = map { $_ => early_events($_) } qw(by_minute totals);
# The sync() after the small transactions returns once the worker has read
# past them, so past the large transaction's streamed rows, which it
# aggregated in the same turn.
my $late_from = $next_k;
my ($part1, $part2) = (rows_sql(40000, '-1'), rows_sql(20000, '-1'));
my $session = $node->background_psql('postgres');
$session->query_safe("BEGIN; $part1");
$next_k += 3 * 3600 * 100;
$node->safe_psql('postgres', rows_sql(1000));
$node->safe_psql('postgres', "SELECT continuous.sync('3 minutes')");
$session->query_safe("$part2 COMMIT;");
views_equal_batch('windows closed while the transaction streamed');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM ev_late WHERE v = -1 AND k >= $late_from"),
	'60000', 'every row of the transaction was found late at its commit');
is(early_events('by_minute'), $before{by_minute},
	'by_minute did not take the rows its closed windows made late');
cmp_ok(early_events('totals'), '>', $before{totals},
	'totals, without windows, took them before the commit');

# --- a poison event ------------------------------------------------------------
%before = map { $_ => early_events($_) } qw(ratios totals);
$node->safe_psql('postgres',
	'BEGIN; ' . rows_sql(30000) . rows_sql(1, '0') . rows_sql(30000) . ' COMMIT;');
views_equal_batch('a poison event in a large transaction');
is( $node->safe_psql('postgres',
		"SELECT errors FROM continuous.views WHERE view = 'ratios'::regclass"),
	'1', 'the poison event is a dead letter of ratios');
is(early_events('ratios'), $before{ratios},
	'ratios ran the transaction at its commit, to find the dead letter');
cmp_ok(early_events('totals'), '>', $before{totals},
	'the other views took it before the commit');

# --- savepoints rolled back after their rows were aggregated -------------------
$node->safe_psql('postgres', 'BEGIN; ' . rows_sql(30000)
	  . ' SAVEPOINT a; ' . rows_sql(30000, '-5') . ' ROLLBACK TO a; '
	  . rows_sql(30000) . ' SAVEPOINT b; ' . rows_sql(20000) . ' RELEASE b; '
	  . ' SAVEPOINT c; ' . rows_sql(30000, '-5') . ' ROLLBACK TO c; COMMIT;');
views_equal_batch('savepoints rolled back');
is($node->safe_psql('postgres', 'SELECT count(*) FROM ev WHERE v = -5'), '0',
	'(the rolled back rows are gone)');

# --- a column added to the stream in the middle of a large transaction ----------
$node->safe_psql('postgres', 'BEGIN; ' . rows_sql(30000)
	  . q{ ALTER TABLE ev ADD COLUMN note text DEFAULT 'x'; } . rows_sql(30000) . ' COMMIT;');
views_equal_batch('a column added in the middle of a large transaction');

# --- interleaved with each other and with small transactions --------------------
my $s1 = $node->background_psql('postgres');
my $s2 = $node->background_psql('postgres');
$s1->query_safe('BEGIN; ' . rows_sql(30000));
$s2->query_safe('BEGIN; ' . rows_sql(30000));
$node->safe_psql('postgres', rows_sql(500)) for 1 .. 5;
$s1->query_safe(rows_sql(30000));
$s2->query_safe('COMMIT');
$node->safe_psql('postgres', rows_sql(500));
$s1->query_safe('COMMIT');
views_equal_batch('interleaved large and small transactions');

# an aborted large transaction leaves nothing
$s2->query_safe('BEGIN; ' . rows_sql(50000, '-9') . ' ROLLBACK;');
views_equal_batch('an aborted large transaction');

# --- kill -9 while a large transaction streams, and right after one commits -----
$s1->query_safe('BEGIN; ' . rows_sql(50000, '-9'));
$node->safe_psql('postgres', rows_sql(100));
$node->safe_psql('postgres', "SELECT continuous.sync('3 minutes')");
kill9_postmaster_and_restart($node, sub { $s1->{run}->kill_kill; $s2->{run}->kill_kill; $session->{run}->kill_kill; });
views_equal_batch('kill -9 while a large transaction streamed');
is($node->safe_psql('postgres', 'SELECT count(*) FROM ev WHERE v = -9'), '0',
	'(its rows went with it)');

$node->safe_psql('postgres', 'BEGIN; ' . rows_sql(80000) . ' COMMIT;');
kill9_postmaster_and_restart($node);
views_equal_batch('kill -9 right after a large transaction committed');

is( $node->safe_psql('postgres', 'SELECT c FROM totals'),
	$node->safe_psql('postgres', 'SELECT count(*) FROM ev'),
	'every committed row counted once');

$node->stop;
done_testing();
