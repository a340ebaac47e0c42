# Copyright (c) pg_continuous contributors

# Groups inserted without an index search (src/state/group_locations.c):
# the flush inserts a group of a window after the storage's latest at load
# without searching for it, when the worker itself has not inserted it
# since.  A wrong "absent" would store a group twice (the unique index
# refuses it: the view would fail) or lose its earlier state.  Windowed
# views over 20,000 keys, nearly one event per group, loaded by two
# concurrent sessions that also roll transactions back, with
# continuous.state_memory so small that the worker keeps forgetting the
# windows it knows; through kill -9 of the worker mid-load, a server
# restart, late events into windows stored before it, continuous.rebuild()
# in the middle of a load, and retention deleting old windows meanwhile.
# After each: every view equals its batch query, no view has failed, and
# no storage holds a group twice.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Oracle;
use PgContinuous::Crash;
use PgContinuous::Node;

my $keys = 20_000;

# the least continuous.state_memory: the worker keeps at most 512kB of
# what it knows, and forgets windows as it goes
my $node = continuous_node('flush_locations',
	"continuous.state_memory = '1MB'\nlog_min_messages = debug1\n");

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE events (i bigint, k int, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('events', event_time => 'ts');
CREATE VIEW per_key_minute WITH (continuous, allowed_lateness = '1 hour') AS
    SELECT continuous.tumble(ts, '1 minute') AS m, k, count(*) AS c, sum(v) AS s
      FROM events GROUP BY 1, 2;
CREATE VIEW key_first WITH (continuous, allowed_lateness = '1 hour') AS
    SELECT k % 5000 AS b, date_trunc('minute', ts) AS m, count(*) AS c, sum(v) AS s
      FROM events GROUP BY 1, 2;
CREATE VIEW hops WITH (continuous, allowed_lateness = '1 hour') AS
    SELECT w.window_start, k % 3000 AS b, count(*) AS c, sum(v) AS s
      FROM events CROSS JOIN LATERAL continuous.hop(ts, '3 minutes', '1 minute') AS w
     GROUP BY 1, 2;
CREATE VIEW recent
    WITH (continuous, allowed_lateness = '10 minutes', retention = '2 minutes') AS
    SELECT continuous.tumble(ts, '1 minute') AS m, k % 2000 AS b, count(*) AS c
      FROM events WHERE v >= 0 GROUP BY 1, 2;
});

my %batch = (
	per_key_minute => q{SELECT continuous.tumble(ts, '1 minute') AS m, k,
	                           count(*) AS c, sum(v) AS s FROM events GROUP BY 1, 2},
	key_first => q{SELECT k % 5000 AS b, date_trunc('minute', ts) AS m,
	                      count(*) AS c, sum(v) AS s FROM events GROUP BY 1, 2},
	hops => q{SELECT w.window_start, k % 3000 AS b, count(*) AS c, sum(v) AS s
	            FROM events CROSS JOIN LATERAL continuous.hop(ts, '3 minutes', '1 minute') AS w
	           GROUP BY 1, 2},
	recent => q{SELECT continuous.tumble(ts, '1 minute') AS m, k % 2000 AS b,
	                   count(*) AS c FROM events WHERE v >= 0 GROUP BY 1, 2});
my %storage_keys = (
	per_key_minute => 'm, k',
	key_first => 'b, m',
	hops => 'window_start, b',
	recent => 'm, b');

# Event i: key i % 20,000 at i * 3 ms after the origin, 20,000 a minute.
# A loader writes events from .. to - 1 in transactions of 1,000, in
# order; every seventh transaction first writes its rows with v = -5 and
# rolls them back.  Two loaders split a phase's range, so commits arrive
# up to half a phase (3 minutes of event time) out of order.
sub start_loader
{
	my ($from, $to) = @_;
	my ($out, $err) = ('', '');
	my $sql = qq{
DO \$\$
DECLARE
    lo bigint := $from;
BEGIN
    WHILE lo < $to LOOP
        IF (lo / 1000) % 7 = 3 THEN
            INSERT INTO events
            SELECT i, (i % $keys)::int, -5,
                   timestamptz '2026-01-01 00:00:00+00' + i * interval '3 ms'
              FROM generate_series(lo, least(lo + 999, $to - 1)) i;
            ROLLBACK;
        END IF;
        INSERT INTO events
        SELECT i, (i % $keys)::int, (i % 100)::int,
               timestamptz '2026-01-01 00:00:00+00' + i * interval '3 ms'
          FROM generate_series(lo, least(lo + 999, $to - 1)) i;
        COMMIT;
        lo := lo + 1000;
    END LOOP;
END
\$\$;
};
	return IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		  '-c', $sql ],
		'>', \$out, '2>', \$err);
}

# Two loaders over from .. to - 1, each from where its committed rows end
# (a crash cuts them short; each commits its range in order).
sub start_loaders
{
	my ($from, $to) = @_;
	my $mid = $from + int(($to - $from) / 2000) * 1000;
	my @h;
	foreach my $range ([ $from, $mid ], [ $mid, $to ])
	{
		my ($lo, $hi) = @$range;
		my $next = $node->safe_psql('postgres',
			"SELECT coalesce(max(i) + 1, $lo) FROM events WHERE i >= $lo AND i < $hi");
		push @h, start_loader($next, $hi) if $next < $hi;
	}
	return @h;
}

sub finish_loaders
{
	foreach my $h (@_)
	{
		$h->finish or die "a loader failed: " . join(' ', $h->full_results);
	}
}

sub events_counted
{
	return $node->safe_psql('postgres', 'SELECT coalesce(sum(c), 0) FROM per_key_minute');
}

sub check
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
	foreach my $view (qw(per_key_minute key_first hops))
	{
		is_same_rows($node, $view, $batch{$view}, "$when: view $view equals its batch query");
	}
	# retention deletes closed windows older than 2 minutes; the others
	# are the batch's (no event is late for it: a load's two loaders write
	# 60,000 events 3 ms apart, 3 minutes of event time, so that however
	# far one runs ahead of the other it stays inside the 10 minutes of
	# allowed_lateness; and it leaves out the late events below, v = -1)
	is_same_rows($node, 'recent',
		"SELECT * FROM ($batch{recent}) b WHERE m >= (SELECT min(m) FROM recent)",
		"$when: view recent equals its batch query over the windows it keeps");
	foreach my $view (sort keys %storage_keys)
	{
		is( $node->safe_psql('postgres',
				"SELECT count(*) FROM (SELECT $storage_keys{$view} FROM continuous_storage.${view}_state "
				  . "GROUP BY $storage_keys{$view} HAVING count(*) > 1) d"),
			'0', "$when: storage of $view holds no group twice");
	}
	is( $node->safe_psql('postgres',
			"SELECT string_agg(view::text || ': ' || coalesce(last_error, ''), '; ') "
			  . "FROM continuous.views WHERE status <> 'active'"),
		'', "$when: no view has failed");
}

my $phase = 60_000;

# --- a first load ------------------------------------------------------------
finish_loaders(start_loaders(0, $phase));
check('after a first load');
ok( $node->log_contains(
		qr/continuous view "per_key_minute" inserts groups of windows after/),
	'the flush inserts groups known absent without a search');
ok( $node->log_contains(qr/continuous view "key_first" inserts groups of windows after/),
	'also with the window after another key in the unique index');

# --- kill -9 of the worker while loading -------------------------------------
my @loaders = start_loaders($phase, 2 * $phase);
ok(poll_until($node, 'postgres', 'SELECT coalesce(sum(c), 0) > '
		  . ($phase + 15_000) . ' FROM per_key_minute'),
	'second load: views filling');
kill9_worker_and_wait($node);
$_->kill_kill foreach @loaders;
finish_loaders(start_loaders($phase, 2 * $phase));
check('after kill -9 of the worker while loading');

# --- a restart, then late events into windows stored before it ---------------
$node->restart;
$node->safe_psql('postgres', q{
INSERT INTO events
SELECT 1000000000 + j, (j * 7) % 20000, -1,
       timestamptz '2026-01-01 00:00:00+00' + 20000 * interval '3 ms' + (j % 300) * interval '1 s'
  FROM generate_series(0, 2999) j});
@loaders = start_loaders(2 * $phase, 3 * $phase);
finish_loaders(@loaders);
check('after a restart and late events into windows stored before it');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM events WHERE ts < timestamptz '2026-01-01 00:06:00+00' AND v = -1"),
	'3000', '(the late events are in windows stored before the restart)');

# --- continuous.rebuild() in the middle of a load ----------------------------
@loaders = start_loaders(3 * $phase, 4 * $phase);
ok(poll_until($node, 'postgres', 'SELECT coalesce(sum(c), 0) > '
		  . (3 * $phase + 3000 + 10_000) . ' FROM per_key_minute'),
	'fourth load: views filling');
$node->safe_psql('postgres', q{SELECT continuous.rebuild('per_key_minute')});
$node->safe_psql('postgres', q{SELECT continuous.rebuild('hops')});
finish_loaders(@loaders);
check('after continuous.rebuild() in the middle of a load');

# --- and kill -9 of the postmaster while loading after the rebuild -----------
@loaders = start_loaders(4 * $phase, 5 * $phase);
ok(poll_until($node, 'postgres', 'SELECT coalesce(sum(c), 0) > '
		  . (4 * $phase + 3000 + 15_000) . ' FROM per_key_minute'),
	'fifth load: views filling');
kill9_postmaster_and_restart($node, sub { $_->kill_kill foreach @loaders });
finish_loaders(start_loaders(4 * $phase, 5 * $phase));
check('after kill -9 of the postmaster while loading');

ok( $node->safe_psql('postgres', 'SELECT count(DISTINCT m) FROM recent')
	  < $node->safe_psql('postgres', 'SELECT count(DISTINCT m) FROM per_key_minute'),
	'retention deleted old windows of view recent');
ok(!$node->log_contains(qr/duplicate key value/), 'no group was inserted twice');
ok($node->log_contains(qr/continuous view "\w+" forgot the groups of windows up to/),
	'the worker forgot windows to stay within its memory');

$node->stop;
done_testing();
