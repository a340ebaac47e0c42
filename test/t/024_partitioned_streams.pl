
# Copyright (c) pg_continuous contributors

# A partitioned table as a stream, under concurrent writers and crashes.
# The stream is range-partitioned by day on its event time, with a default
# partition; one partition has its columns in another order behind a
# dropped column, one is partitioned again (by hash, one of its partitions
# attached with its own column order).  Four writers commit transactions
# through the parent and straight into partitions (every seventh rolled
# back), and each transaction copies its rows into a plain log table,
# events_log: the events delivered.  While they write:
#   phase 0: partitions are created, and a table holding rows is attached
#            (those rows are no events: they are not in the log);
#   phase 1: kill -9 of the worker; then a partition is detached, and rows
#            written into it afterwards are no events;
#   phase 2: a restart of the server; then a partition is dropped;
#   phase 3: rows spread over two days through the parent; a large
#            transaction, streamed to the worker before its commit, that
#            moves some of its rows to another partition by UPDATE; at the
#            end, one into the default partition, a late event and one
#            dated 2099 (a dead letter).
# After each phase every view equals its SELECT over events_log as batch
# SQL: a plain GROUP BY, a tumbling window, and an emit = 'window_close'
# view, which shows exactly the windows the watermark has closed.  Once a
# partition is detached or dropped, the views keep counting its rows,
# which a SELECT over the parent no longer reads.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $n_writers = 4;
my $txns      = 150;    # per writer and phase
my $rows      = 100;    # per transaction
my $base      = '2026-03-01 00:00:00+00';

# A small logical_decoding_work_mem: the reorder buffer streams the larger
# transactions to the worker before they commit (decoder.c holds their rows
# until then), the big one of phase 3 among them.
my $node = continuous_node('partitioned', "logical_decoding_work_mem = '64kB'\n");

# Day d is partition events_d<d>.  Writers of phase p write day p, the last
# phase days 3 and 4; the watermark trails the latest event time by two
# days, so no event of a phase is late, and the windows of earlier days
# close.
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_continuous;
CREATE TABLE events (id bigint, k int, v int, ts timestamptz NOT NULL)
    PARTITION BY RANGE (ts);
CREATE TABLE events_log (id bigint, k int, v int, ts timestamptz NOT NULL);
CREATE TABLE events_d0 PARTITION OF events
    FOR VALUES FROM ('$base') TO (timestamptz '$base' + interval '1 day');
CREATE TABLE events_d1 (ts timestamptz NOT NULL, gone int, v int, k int, id bigint);
ALTER TABLE events_d1 DROP COLUMN gone;
ALTER TABLE events ATTACH PARTITION events_d1
    FOR VALUES FROM (timestamptz '$base' + interval '1 day')
                 TO (timestamptz '$base' + interval '2 days');
CREATE TABLE events_other PARTITION OF events DEFAULT;
SELECT continuous.create_stream('events', event_time => 'ts',
                                watermark_delay => '2 days');
CREATE VIEW by_key WITH (continuous) AS
    SELECT k, count(*) AS c, sum(v) AS s FROM events GROUP BY k;
CREATE VIEW per_hour WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 hour') AS h, count(*) AS c, sum(v) AS s
      FROM events GROUP BY h;
CREATE VIEW closed_hours WITH (continuous, emit = 'window_close') AS
    SELECT continuous.tumble(ts, '1 hour') AS h, count(*) AS c, sum(v) AS s
      FROM events GROUP BY h;
});

# k = -1: the late event, k = -2: the one from the future (phase 3).
my $timely = 'SELECT * FROM events_log WHERE k >= 0';

sub check_views
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
	is_same_rows($node, 'by_key',
		'SELECT k, count(*), sum(v) FROM events_log WHERE k <> -2 GROUP BY k',
		"$when: by_key equals its batch query over the events delivered");
	is_same_rows($node, 'per_hour',
		"SELECT continuous.tumble(ts, '1 hour'), count(*), sum(v) FROM ($timely) e GROUP BY 1",
		"$when: per_hour equals its batch query over the timely events");
	is_same_rows($node, 'closed_hours',
		"SELECT continuous.tumble(ts, '1 hour') AS h, count(*), sum(v) FROM ($timely) e "
		  . "GROUP BY 1 HAVING continuous.tumble(ts, '1 hour') + interval '1 hour' "
		  . "<= (SELECT watermark FROM continuous.streams)",
		"$when: closed_hours shows exactly the windows the watermark has closed");
	is( $node->safe_psql('postgres',
			"SELECT string_agg(DISTINCT status, ',') FROM continuous.views"),
		'active', "$when: every view is active");
	return $node->safe_psql('postgres', 'SELECT count(*) FROM events_log');
}

# Writer scripts: consecutive ids, so every event is distinct; event times
# spread by id over the phase's days (through the parent), or over the day
# of the partition written straight into (a target "table@day").
my $next_id = 1;
my $tempdir = PostgreSQL::Test::Utils::tempdir;

sub writer_script
{
	my ($name, $first_day, $days, @targets) = @_;
	my $file = "$tempdir/$name.sql";
	open(my $fh, '>', $file) or die "could not write $file: $!";
	for my $txn (1 .. $txns)
	{
		my ($lo, $hi) = ($next_id, $next_id + $rows - 1);
		$next_id += $rows;
		my ($target, $day) = split /@/, $targets[ $txn % @targets ];
		my $span = defined $day ? 86400 : $days * 86400;
		$day //= $first_day;
		print $fh "BEGIN;\n"
		  . "WITH ins AS (INSERT INTO $target (id, k, v, ts) "
		  . "SELECT g, g % 97, (g * 7919) % 10007 - 5000, "
		  . "timestamptz '$base' + interval '1 day' * $day "
		  . "+ interval '1 second' * ((g * 7883) % $span) "
		  . "FROM generate_series(${lo}::bigint, $hi) g RETURNING id, k, v, ts) "
		  . "INSERT INTO events_log SELECT id, k, v, ts FROM ins;\n"
		  . ($txn % 7 == 0 ? "ROLLBACK;\n" : "COMMIT;\n");
	}
	close($fh);
	return $file;
}

sub start_writers
{
	my ($phase, $first_day, $days, @targets) = @_;
	my @writers;
	for my $w (1 .. $n_writers)
	{
		my $file = writer_script("writer_${phase}_$w", $first_day, $days, @targets);
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start(
			[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', $file ],
			'<', \undef, '>', \$out, '2>', \$err,
			IPC::Run::timeout(20 * $PostgreSQL::Test::Utils::timeout_default));
		push @writers, { h => $h, err => \$err };
	}
	return \@writers;
}

sub finish_writers
{
	my ($writers, $what) = @_;
	foreach my $w (@$writers)
	{
		my $ok = $w->{h}->finish;
		ok($ok && ${ $w->{err} } eq '', "$what: writer completed without errors");
		diag ${ $w->{err} } unless $ok && ${ $w->{err} } eq '';
	}
}

sub wait_for_events
{
	my ($more_than, $what) = @_;
	ok( poll_until($node, 'postgres',
			"SELECT (SELECT count(*) FROM events_log) > $more_than "
			  . "AND (SELECT coalesce(sum(c), 0) FROM by_key) > $more_than"),
		"$what: writers under way and views flushed");
}

# --- phase 0: partitions created and attached while writers run ----------
my $writers = start_writers(0, 0, 1, 'events', 'events_d0@0');
wait_for_events(0, 'phase 0');
note 'phase 0: writers still running at the DDL: '
  . scalar(grep { $_->{h}->pumpable } @$writers);
$node->safe_psql('postgres', qq{
CREATE TABLE events_d2 PARTITION OF events
    FOR VALUES FROM (timestamptz '$base' + interval '2 days')
                 TO (timestamptz '$base' + interval '3 days');
CREATE TABLE events_d3 (v int, k int, ts timestamptz NOT NULL, id bigint);
INSERT INTO events_d3 SELECT 0, g, timestamptz '$base' + interval '3 days 1 hour', -g
  FROM generate_series(1, 50) g;
ALTER TABLE events ATTACH PARTITION events_d3
    FOR VALUES FROM (timestamptz '$base' + interval '3 days')
                 TO (timestamptz '$base' + interval '4 days');
CREATE TABLE events_d4 PARTITION OF events
    FOR VALUES FROM (timestamptz '$base' + interval '4 days')
                 TO (timestamptz '$base' + interval '5 days')
    PARTITION BY HASH (k);
CREATE TABLE events_d4_h0 PARTITION OF events_d4 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE events_d4_h1 (k int, ts timestamptz NOT NULL, v int, id bigint);
ALTER TABLE events_d4 ATTACH PARTITION events_d4_h1 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
});
finish_writers($writers, 'phase 0');
my $logged = check_views('phase 0');
cmp_ok($logged, '>', 0, "phase 0: $logged events");

# --- phase 1: kill -9 of the worker; a partition detached ----------------
$writers = start_writers(1, 1, 1, 'events', 'events_d1@1');
wait_for_events($logged, 'phase 1');
kill9_worker_and_wait($node);
# the postmaster's reset ended the writers' sessions; the rest write on
$_->{h}->kill_kill foreach @$writers;
$writers = start_writers('1b', 1, 1, 'events_d1@1', 'events');
finish_writers($writers, 'phase 1 after the kill');
$logged = check_views('phase 1, after kill -9 of the worker');

$node->safe_psql('postgres', qq{
ALTER TABLE events DETACH PARTITION events_d0;
INSERT INTO events_d0 SELECT -g, 1, 1, timestamptz '$base' + interval '1 hour'
  FROM generate_series(1, 20) g;
});
check_views('phase 1, after the detach');
is($node->safe_psql('postgres', 'SELECT count(*) < ' . $logged . ' FROM events'),
	't', 'phase 1: the parent no longer reads the detached rows the views count');

# --- phase 2: a restart while writing; a partition dropped ---------------
$writers = start_writers(2, 2, 1, 'events', 'events_d2@2');
wait_for_events($logged, 'phase 2');
$node->restart;
$_->{h}->kill_kill foreach @$writers;
$writers = start_writers('2b', 2, 1, 'events_d2@2', 'events');
finish_writers($writers, 'phase 2 after the restart');
$logged = check_views('phase 2, after a restart');
$node->safe_psql('postgres', 'DROP TABLE events_d1');
check_views('phase 2, after the drop');

# --- phase 3: across partitions, at depth; a late and a future event -----
$writers = start_writers(3, 3, 2, 'events', 'events_d3@3', 'events_d4@4');
finish_writers($writers, 'phase 3');

# One large transaction through the parent, streamed before its commit:
# a subtransaction rolled back, and an UPDATE moving some of its rows (every
# twentieth of those of day 3) to the next day's partition: an ignored
# change each, and no new event.
my $ignored = $node->safe_psql('postgres', 'SELECT ignored_changes FROM continuous.streams');
my ($lo, $hi) = ($next_id, $next_id + 19_999);
$next_id += 20_000;
$node->safe_psql('postgres', qq{
BEGIN;
WITH ins AS (INSERT INTO events
             SELECT g, g % 97, (g * 7919) % 10007 - 5000,
                    timestamptz '$base' + interval '3 days' + interval '1 second' * ((g * 7883) % 172800)
               FROM generate_series(${lo}::bigint, $hi) g
             RETURNING id, k, v, ts)
INSERT INTO events_log SELECT * FROM ins;
SAVEPOINT undone;
INSERT INTO events SELECT -g, 1, 1, timestamptz '$base' + interval '3 days'
  FROM generate_series(1, 5000) g;
ROLLBACK TO undone;
UPDATE events SET ts = ts + interval '1 day'
 WHERE id BETWEEN $lo AND $hi AND ts < timestamptz '$base' + interval '4 days'
   AND id % 20 = 0;
COMMIT;
});
$node->safe_psql('postgres', qq{
BEGIN;
WITH ins AS (INSERT INTO events VALUES
                 (0, 0, 7, timestamptz '$base' + interval '5 days'),
                 (0, -1, 7, timestamptz '$base' + interval '30 minutes'),
                 (0, -2, 7, '2099-01-01 00:00:00+00')
             RETURNING *)
INSERT INTO events_log SELECT * FROM ins;
COMMIT;
});
$logged = check_views('phase 3');
is( $node->safe_psql('postgres', "SELECT ignored_changes - $ignored FROM continuous.streams"),
	$node->safe_psql('postgres',
		"SELECT count(*) FROM events_log WHERE id BETWEEN $lo AND $hi AND id % 20 = 0 "
		  . "AND ts < timestamptz '$base' + interval '4 days'"),
	'phase 3: each row the UPDATE moved to another partition is one ignored change');
ok( poll_until($node, 'postgres',
		'SELECT stream_txns > 0 FROM pg_stat_replication_slots'),
	'phase 3: transactions were streamed to the worker before their commit');
is( $node->safe_psql('postgres',
		"SELECT string_agg(view || '=' || late_events, ',' ORDER BY view::text) FROM continuous.views"),
	'by_key=0,closed_hours=1,per_hour=1',
	'phase 3: the event for a closed window is late in the windowed views');
is($node->safe_psql('postgres', 'SELECT count(*) FROM continuous.dead_letters'),
	'1', 'phase 3: the event from 2099 is the one dead letter');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM closed_hours'),
	'==', 72, 'phase 3: the windows of days 0 to 2 are closed');
is( $node->safe_psql('postgres',
		'SELECT count(DISTINCT tableoid) FROM events WHERE id > 0'),
	'4', 'phase 3: the events the parent still holds are in its four leaf partitions');
cmp_ok($logged, '>=', 4 * $n_writers * $txns * $rows * 0.5,
	"at least half the transactions committed ($logged events)");

$node->stop;
done_testing();
