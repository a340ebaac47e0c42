# Copyright (c) pg_continuous contributors

# A worker that is behind runs decoded events through the views before the
# flush, keeps only their groups, and decodes on (worker.c's worker_fold,
# batch.c's view_fold_events).  The worker is held back (a view's WHERE
# waits for a lock) while 200,000 events commit in transactions of
# 1,000, some rolled back, so that when it goes on the WAL holds five
# times continuous.state_memory (8MB) of events, whose groups (10,000 at
# most per view) take a fraction of it: it folds several times before a
# flush, whose own events then hold dead letters too.  Views of 10,000
# groups, a text key, a numeric average, a global one, a filter that
# makes dead letters, and events too far ahead that the stream's clock
# makes dead letters of, and every thousandth event with a payload
# stored out of line (the decoder copies such a row into memory of its
# own, which a fold frees too).  Each view must equal its batch query,
# the dead letters and the stream's counters must be exact, and the log
# must show that the worker folded:
#   - after a load;
#   - after kill -9 of the worker while it folds;
#   - with a count window over the stream, which the worker does not fold
#     for (its windows depend on the events' order), and still exact;
#   - with a tumbling window, whose late events' rows the worker keeps;
#   - when a flush after folds fails for one view (its combine function
#     raises against its stored state): the others are written again from
#     what they folded, and that view alone fails; a view whose combine
#     function always raises fails as its runs are combined;
#   - when a column is added to the stream halfway through the events the
#     worker folds;
#   - with views of a group per event, for which folding does not pay.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Oracle;
use PgContinuous::Crash;
use PgContinuous::Node;

my $node = continuous_node('fold_before_flush',
	"continuous.state_memory = '8MB'\nlog_min_messages = debug1\n");

# events ahead of max_future: every 40,000th, dated in 2100
my $future = q{i % 40000 = 11};
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_continuous;
CREATE TABLE events (i bigint, k int, v int, ts timestamptz NOT NULL, payload text);
SELECT continuous.create_stream('events', event_time => 'ts', max_future => '1 day');
CREATE VIEW per_key WITH (continuous) AS
    SELECT k, count(*) AS c, sum(v) AS s, max(v) AS mx FROM events GROUP BY k;
CREATE VIEW filtered WITH (continuous) AS
    SELECT k % 1000 AS b, count(*) AS c, sum(v) AS s FROM events
     WHERE 1000 / (i % 5000 - 7) > -1000000 GROUP BY 1;
CREATE VIEW by_text WITH (continuous) AS
    SELECT (k % 997)::text AS t, count(*) AS c, max(v::text) AS mx, avg(v::numeric) AS a
      FROM events GROUP BY 1;
CREATE VIEW total WITH (continuous) AS
    SELECT count(*) AS c, sum(v) AS s FROM events;
CREATE VIEW payloads WITH (continuous) AS
    SELECT k % 10 AS d, count(payload) AS n, sum(length(payload)) AS len,
           max(md5(payload)) AS h FROM events GROUP BY 1;
CREATE TABLE other (j bigint);
SELECT continuous.create_stream('other');
CREATE VIEW other_sums WITH (continuous) AS
    SELECT j % 10 AS d, count(*) AS c, sum(j) AS s FROM other GROUP BY 1;
CREATE FUNCTION gate() RETURNS boolean STABLE LANGUAGE plpgsql AS \$\$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(4711);
    RETURN true;
END
\$\$;
CREATE VIEW gated WITH (continuous) AS
    SELECT count(*) AS c FROM events WHERE gate();
CREATE PROCEDURE load(lo bigint, hi bigint) LANGUAGE plpgsql AS \$\$
DECLARE
    s bigint := lo;
BEGIN
    WHILE s < hi LOOP
        IF (s / 1000) % 7 = 3 THEN
            INSERT INTO events
            SELECT i, 1, -1000, timestamptz '2026-01-01 00:00:00+00'
              FROM generate_series(s, least(s + 999, hi - 1)) i;
            ROLLBACK;
        END IF;
        INSERT INTO events
        SELECT i, ((i * 7919) % 10000)::int, (i % 97)::int,
               CASE WHEN $future THEN timestamptz '2100-01-01 00:00:00+00'
                    WHEN i % 1000 = 500 THEN timestamptz '2026-01-01 00:00:00+00'
                    ELSE timestamptz '2026-01-01 00:00:00+00' + i * interval '1 ms' END,
               CASE WHEN i % 1000 = 250 THEN
                   (SELECT string_agg(md5(i::text || g), '') FROM generate_series(1, 300) g)
               END
          FROM generate_series(s, least(s + 999, hi - 1)) i;
        COMMIT;
        s := s + 1000;
    END LOOP;
END
\$\$;
});

# the views' own queries over the events the stream's clock let through
my $admitted = "events WHERE NOT ($future)";
my %batch = (
	per_key => "SELECT k, count(*) AS c, sum(v) AS s, max(v) AS mx FROM $admitted GROUP BY k",
	filtered => "SELECT k % 1000 AS b, count(*) AS c, sum(v) AS s FROM $admitted "
	  . "AND i % 5000 <> 7 GROUP BY 1",
	by_text => "SELECT (k % 997)::text AS t, count(*) AS c, max(v::text) AS mx, "
	  . "avg(v::numeric) AS a FROM $admitted GROUP BY 1",
	total => "SELECT count(*) AS c, sum(v) AS s FROM $admitted",
	payloads => "SELECT k % 10 AS d, count(payload) AS n, sum(length(payload)) AS len, "
	  . "max(md5(payload)) AS h FROM $admitted GROUP BY 1",
	gated => "SELECT count(*) AS c FROM $admitted",
	other_sums => "SELECT j % 10 AS d, count(*) AS c, sum(j) AS s FROM other GROUP BY 1");

# what a view is compared by, where it is not the view itself
my %actual;

sub check
{
	my ($when, @failed) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
	foreach my $view (sort keys %batch)
	{
		is_same_rows($node, $actual{$view} // $view, $batch{$view},
			"$when: view $view equals its batch query");
	}
	is( $node->safe_psql('postgres', q{
			SELECT (SELECT count(*) FROM continuous.dead_letters
			         WHERE view = 'filtered'::regclass) = count(*) FILTER (WHERE i % 5000 = 7)
			   AND (SELECT count(*) FROM continuous.dead_letters WHERE view IS NULL)
			       = count(*) FILTER (WHERE i % 40000 = 11)
			  FROM events}),
		't', "$when: a dead letter for each event the filter fails on or dated ahead");
	is( $node->safe_psql('postgres', q{
			SELECT bool_and(s.events = CASE s.stream WHEN 'events'::regclass
			                           THEN (SELECT count(*) FROM events)
			                           ELSE (SELECT count(*) FROM other) END)
			  FROM continuous.stream_stats s}),
		't', "$when: the streams count every committed event once");
	is( $node->safe_psql('postgres',
			"SELECT string_agg(view::text, ',' ORDER BY view::text) "
			  . "FROM continuous.views WHERE status <> 'active'"),
		join(',', sort @failed), "$when: the views that failed are " . (join(',', @failed) || 'none'));
}

# The worker held back (view gated waits for the gate's lock as it reads
# the first of them) while events from .. to - 1 commit, then more than a
# fold's worth of rows of the other stream: the views of events then
# have none left for the flush but what they folded.  Then let go.  With
# events_only, no rows of the other stream: a batch of those alone may
# fold whatever reads events.
sub load_behind
{
	my ($from, $to, $events_only) = @_;
	my $locker = $node->background_psql('postgres');
	$locker->query_safe('SELECT pg_advisory_lock(4711)');
	$node->safe_psql('postgres', "CALL load($from, $to)");
	$node->safe_psql('postgres', "INSERT INTO other SELECT generate_series($from, $from + 59999)")
	  unless $events_only;
	$locker->query_safe('SELECT pg_advisory_unlock(4711)');
	$locker->quit;
	return;
}

sub folds_since
{
	my ($offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	my @n = $log =~ /folded (\d+) events before the flush/g;
	return scalar @n;
}

# --- a load the worker is behind on ------------------------------------------
my $offset = -s $node->logfile;
load_behind(0, 200_000);
check('after a load the worker was behind on');
ok(folds_since($offset) >= 3, 'the worker folded events before its flush');

# --- kill -9 of the worker while it folds -------------------------------------
$offset = -s $node->logfile;
load_behind(200_000, 400_000);
$node->wait_for_log(qr/folded \d+ events before the flush/, $offset);
kill9_worker_and_wait($node);
check('after kill -9 of the worker while it folded');

# --- windows: a count window keeps the worker from folding, a tumbling one
# --- does not, with late events --------------------------------------------
# Every thousandth event is dated at the origin: late for per_minute once
# its first minute has closed, and written to late_minute.  Which events
# are late depends on where runs and batches end; that each is counted
# once, in the view or as a late row, does not.
$node->safe_psql('postgres', q{
CREATE VIEW per_minute WITH (continuous, late_events = 'late_minute') AS
    SELECT continuous.tumble(ts, '1 minute') AS m, count(*) AS c, sum(v) AS s
      FROM events GROUP BY 1;
CREATE VIEW hundreds WITH (continuous) AS
    SELECT k % 7 AS key, continuous.count_window(100) AS run, count(*) AS c
      FROM events GROUP BY key, run});
$batch{per_minute} = "SELECT continuous.tumble(ts, '1 minute') AS m, count(*) AS c, "
  . "sum(v) AS s FROM $admitted GROUP BY 1";
$actual{per_minute} = q{SELECT m, sum(c) AS c, sum(s) AS s FROM (
    SELECT m, c, s FROM per_minute
    UNION ALL
    SELECT continuous.tumble(ts, '1 minute'), count(*), sum(v) FROM late_minute GROUP BY 1) u
  GROUP BY m};
# each key's runs of 100 events, all full but the last
$batch{hundreds} = "SELECT key, run, least(100, n - run * 100) AS c "
  . "FROM (SELECT k % 7 AS key, count(*) AS n FROM $admitted GROUP BY 1) t, "
  . "generate_series(0, (n - 1) / 100) AS run";
$offset = -s $node->logfile;
load_behind(400_000, 500_000, 'events only');
check('with a count window over the stream');
is(folds_since($offset), 0, 'no fold while a count window reads the stream');
$node->safe_psql('postgres', 'DROP VIEW hundreds');
delete $batch{hundreds};

$offset = -s $node->logfile;
load_behind(500_000, 600_000);
check('with a tumbling window over the stream');
ok(folds_since($offset) >= 1, 'the worker folds for a tumbling window');
is( $node->safe_psql('postgres', q{
		SELECT count(*) > 0 AND count(*) = (SELECT late_events FROM continuous.views
		                                     WHERE view = 'per_minute'::regclass)
		  FROM late_minute}),
	't', 'per_minute had late events, each written to late_minute');

# --- a write that fails after folds -------------------------------------------
$node->safe_psql('postgres', q{
CREATE TABLE fragile_limit (lim bigint);
INSERT INTO fragile_limit VALUES (9000000000000000000);
CREATE FUNCTION checked_add(a bigint, b bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    IF a + b > (SELECT lim FROM public.fragile_limit) THEN
        RAISE EXCEPTION 'sum % over the limit', a + b;
    END IF;
    RETURN a + b;
END $$;
CREATE AGGREGATE checked_sum(int) (sfunc = int84pl, stype = bigint,
                                   combinefunc = checked_add, initcond = '0');
CREATE VIEW fragile WITH (continuous, backfill = false) AS
    SELECT checked_sum(v) AS s FROM events});
$node->safe_psql('postgres', 'CALL load(600000, 800000)');
check('before the limit');
is( $node->safe_psql('postgres', 'SELECT s FROM fragile'),
	$node->safe_psql('postgres',
		"SELECT sum(v) FROM $admitted AND i >= 600000"),
	'the fragile view counts what committed after it');
# its stored sum is the limit: only a combine with it goes over; and a
# view whose combine function always raises fails as its runs are folded
$node->safe_psql('postgres', q{
UPDATE fragile_limit SET lim = (SELECT s FROM fragile);
CREATE FUNCTION refuse_combine(a bigint, b bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refusing to combine % and %', a, b;
END $$;
CREATE AGGREGATE never_combined(int) (sfunc = int84pl, stype = bigint,
                                      combinefunc = refuse_combine, initcond = '0');
CREATE VIEW fold_fails WITH (continuous, backfill = false) AS
    SELECT never_combined(v) AS s FROM events});
$offset = -s $node->logfile;
load_behind(800_000, 900_000);
check('after a write that failed after folds', 'fold_fails', 'fragile');
ok(folds_since($offset) >= 1, 'the worker folded before that flush');
like( $node->safe_psql('postgres',
		"SELECT last_error FROM continuous.views WHERE view = 'fragile'::regclass"),
	qr/over the limit/, 'the fragile view failed with its own error');
like( $node->safe_psql('postgres',
		"SELECT last_error FROM continuous.views WHERE view = 'fold_fails'::regclass"),
	qr/refusing to combine/, 'the view whose combine function raises failed with its error');

# --- a column added to the stream while the worker folds -------------------
# Halfway through a load the worker is behind on, the stream gets a
# column (with a default, so no rewrite): the runs it folds, and the late
# rows per_minute keeps until the flush (events dated before its closed
# windows), hold rows of both shapes.
$offset = -s $node->logfile;
my $locker = $node->background_psql('postgres');
$locker->query_safe('SELECT pg_advisory_lock(4711)');
$node->safe_psql('postgres', 'CALL load(100000, 150000)');
$node->safe_psql('postgres', 'ALTER TABLE events ADD COLUMN extra int DEFAULT 7');
$node->safe_psql('postgres', 'CALL load(150000, 200000)');
$locker->query_safe('SELECT pg_advisory_unlock(4711)');
$locker->quit;
check('after a column was added to the stream as the worker folded',
	'fold_fails', 'fragile');
ok(folds_since($offset) >= 1, 'the worker folded across the change');
is( $node->safe_psql('postgres', q{
		SELECT count(*) = (SELECT late_events FROM continuous.views
		                    WHERE view = 'per_minute'::regclass)
		   AND count(*) FILTER (WHERE i BETWEEN 100000 AND 149999) > 0
		   AND count(*) FILTER (WHERE i BETWEEN 150000 AND 199999) > 0
		  FROM late_minute}),
	't', 'per_minute\'s late events of both shapes are each in late_minute');

# --- views of a group per event: folding does not pay -------------------------
# The other views, of few groups, would make up for them: they go.
$node->safe_psql('postgres', q{
DROP VIEW per_key, filtered, by_text, total, payloads, per_minute, other_sums;
CREATE VIEW per_event WITH (continuous, backfill = false) AS
    SELECT i, count(*) AS c, sum(v) AS s FROM events GROUP BY i;
CREATE VIEW per_event_key WITH (continuous, backfill = false) AS
    SELECT i, k, max(v) AS mx FROM events GROUP BY i, k});
$offset = -s $node->logfile;
load_behind(900_000, 1_000_000);
$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
is_same_rows($node, 'per_event',
	"SELECT i, count(*) AS c, sum(v) AS s FROM $admitted AND i >= 900000 GROUP BY i",
	'per_event equals its batch query');
is_same_rows($node, 'per_event_key',
	"SELECT i, k, max(v) AS mx FROM $admitted AND i >= 900000 GROUP BY i, k",
	'per_event_key equals its batch query');
my $log = slurp_file($node->logfile, $offset);
like($log, qr/folding does not pay: the views made \d+ groups of \d+ events/,
	'the worker finds that folding for a group per event does not pay');
unlike($log, qr/folding does not pay.*folded \d+ events before the flush/s,
	'and folds no more after that');

done_testing();
