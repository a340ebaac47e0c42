# Copyright (c) pg_continuous contributors

# Failover of the kinds of continuous view that t/026 does not have: a
# physical standby is promoted while writers insert into four table
# streams whose worker flushes only every 10 seconds, so that the primary
# had committed rows no flush applied.  The new primary's worker finds no
# replication slot behind the stored position and computes every view of
# a table stream again from its table (rebuild.c).  The views:
#   - dd_per_k: a deduplicated stream (unique_key, dedup_within), written
#     with copies of its keys on purpose (identical rows, so that any copy
#     kept is the same); state in continuous.dedup_keys;
#   - by_region: a lookup join of a stream to a table;
#   - pairs: an interval join of two table streams, with rows on both;
#     state in continuous.interval_join_rows;
#   - ev_third: a transform with a retention that trims nothing here;
#   - ev_third_per_k: a view over that transform (its storage is a table
#     stream);
#   - ev_seconds: an emit = 'window_close' view, and ev_per_10s, a view
#     over it (its emission table is a table stream).
# After the promotion, and again after more rows and a kill -9 of the new
# primary's worker, each view equals its SELECT run as batch SQL: over the
# distinct keys for dd_per_k, over the closed windows for ev_seconds, and
# over the windows ev_seconds has closed for ev_per_10s (as t/037); the
# emission table holds each closed window once.
#
# Two bugs this test found (both fixed): the view over the transform,
# computed again in the same transaction as the transform, counted the
# transform's rows from before the promotion twice (rebuild.c now computes
# it in a transaction after the transform's); and it made a dead letter of
# the last event, dated 10 seconds ahead, which the transform had appended
# (a transform's storage was a stream with max_future 0, view_chain.c).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;
use PgContinuous::Crash;
use PgContinuous::Failover;

# ev: events at now(), windows of a second that close 2 + 1 + 3 seconds
# after their start (no event is late unless a writer stalls that long);
# dd: event k at 2026-01-01 + k * 100 ms, keys kept a day, none forgotten;
# lhs, rhs: at now(), joined within 10 minutes, nothing expires in an hour.
my $primary = continuous_node('primary', "continuous.flush_interval = '10s'\n");
$primary->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE ev (k int, v int, ts timestamptz NOT NULL DEFAULT now());
SELECT continuous.create_stream('ev', event_time => 'ts', watermark_delay => '2 seconds');
CREATE TABLE dd (id int, k int, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('dd', event_time => 'ts', watermark_delay => '1 hour',
                                unique_key => 'id', dedup_within => '1 day');
CREATE TABLE lhs (k int, v int, ts timestamptz NOT NULL DEFAULT now());
CREATE TABLE rhs (k int, v int, ts timestamptz NOT NULL DEFAULT now());
SELECT continuous.create_stream('lhs', event_time => 'ts', watermark_delay => '1 hour');
SELECT continuous.create_stream('rhs', event_time => 'ts', watermark_delay => '1 hour');
CREATE TABLE regions (k int PRIMARY KEY, region text NOT NULL);
INSERT INTO regions SELECT g, 'r' || g % 4 FROM generate_series(0, 9) g;

CREATE VIEW dd_per_k WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s FROM dd GROUP BY k;
CREATE VIEW by_region WITH (continuous) AS
    SELECT r.region, count(*) AS n, sum(e.v) AS s
      FROM ev e JOIN regions r ON r.k = e.k GROUP BY r.region;
CREATE VIEW pairs WITH (continuous) AS
    SELECT l.k, count(*) AS n, sum(r.v) AS s
      FROM lhs l JOIN rhs r
        ON r.k = l.k AND r.ts BETWEEN l.ts - interval '10 minutes' AND l.ts + interval '10 minutes'
     GROUP BY l.k;
CREATE VIEW ev_third WITH (continuous, retention = '1 day') AS
    SELECT ts, k, v FROM ev WHERE v % 3 = 0;
CREATE VIEW ev_third_per_k WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s FROM ev_third GROUP BY k;
CREATE VIEW ev_seconds WITH (continuous, emit = 'window_close', allowed_lateness = '3 seconds') AS
    SELECT continuous.tumble(ts, '1 second') AS w, count(*) AS n, sum(v) AS s FROM ev GROUP BY w;
CREATE VIEW ev_per_10s WITH (continuous) AS
    SELECT continuous.tumble(w, '10 seconds') AS w10, count(*) AS windows, sum(n) AS n, sum(s) AS s
      FROM ev_seconds GROUP BY w10;
});

# $ev events, dd's events g % $dd_keys for g in $dd_from .. $dd_to (each
# key of dd several times if the range is longer than $dd_keys), and
# $sides events on each side of the interval join
sub rows_sql
{
	my ($ev, $dd_from, $dd_to, $dd_keys, $sides) = @_;
	return qq{
INSERT INTO ev (k, v) SELECT g % 13, g FROM generate_series(1, $ev) g;
INSERT INTO dd SELECT g % $dd_keys, g % $dd_keys % 13, g % $dd_keys,
                      timestamptz '2026-01-01 00:00:00+00' + g % $dd_keys * interval '100 ms'
                 FROM generate_series($dd_from, $dd_to) g;
INSERT INTO lhs (k, v) SELECT g % 100, g FROM generate_series(1, $sides) g;
INSERT INTO rhs (k, v) SELECT g % 100, g FROM generate_series(1, $sides) g;
};
}
$primary->safe_psql('postgres', rows_sql(5000, 1, 3000, 1000, 1000) . 'SELECT continuous.sync();');

my %views = (
	dd_per_k => 'SELECT k, count(*) AS n, sum(v) AS s FROM (SELECT DISTINCT ON (id) * FROM dd) d GROUP BY k',
	by_region => 'SELECT r.region, count(*) AS n, sum(e.v) AS s FROM ev e JOIN regions r ON r.k = e.k GROUP BY r.region',
	pairs => 'SELECT l.k, count(*) AS n, sum(r.v) AS s FROM lhs l JOIN rhs r '
	  . "ON r.k = l.k AND r.ts BETWEEN l.ts - interval '10 minutes' AND l.ts + interval '10 minutes' "
	  . 'GROUP BY l.k',
	ev_third => 'SELECT ts, k, v FROM ev WHERE v % 3 = 0',
	ev_third_per_k => 'SELECT k, count(*) AS n, sum(v) AS s FROM ev_third GROUP BY k',
	# the windows closed: each closes size + allowed_lateness after its start
	ev_seconds => "SELECT * FROM (SELECT continuous.tumble(ts, '1 second') AS w, count(*) AS n, "
	  . 'sum(v) AS s FROM ev GROUP BY 1) b '
	  . "WHERE w + interval '4 seconds' <= continuous._watermark('ev')",
	# over the windows ev_seconds has closed
	ev_per_10s => "SELECT continuous.tumble(w, '10 seconds') AS w10, count(*) AS windows, "
	  . 'sum(n) AS n, sum(s) AS s FROM ev_seconds GROUP BY 1',
);

sub check_views
{
	my ($node, $when) = @_;
	views_equal_definitions($node, \%views, $when);
	# the reader of the transform against the events themselves, so that a
	# transform wrong in the same way as its reader cannot hide it
	is_same_rows($node, 'ev_third_per_k',
		'SELECT k, count(*) AS n, sum(v) AS s FROM ev WHERE v % 3 = 0 GROUP BY k',
		"$when: ev_third_per_k equals its SELECT over the events");
	is_emitted_once($node, 'ev_seconds', 'w', $when);
	is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) > count(DISTINCT id) FROM dd)
   AND (SELECT count(*) > 0 FROM pairs)
   AND (SELECT count(*) > 0 FROM ev_per_10s)
   AND (SELECT count(*) FROM ev_third) > 0}),
		't', "$when: (duplicate keys written, pairs joined, windows closed through the chain)");
	return;
}

my $standby = streaming_standby($primary);

# writers, up to the promotion: every key of dd is written several times
my $writers = start_writers($primary, q{
\set k random(0, 12)
\set id random(0, 3999)
\set j random(0, 99)
INSERT INTO ev (k, v) VALUES (:k, :id);
INSERT INTO dd VALUES (:id, :id % 13, :id, timestamptz '2026-01-01 00:00:00+00' + :id * interval '100 ms');
INSERT INTO lhs (k, v) VALUES (:j, :id);
INSERT INTO rhs (k, v) VALUES (:j, :k);
});
# long enough for the first windows of ev_seconds to close on the primary
ok( poll_until($primary, 'postgres',
		"SELECT count(*) > 7000 AND max(ts) > min(ts) + interval '8 seconds' FROM ev"),
	'the writers are writing');
my $unflushed = $primary->safe_psql('postgres',
	'SELECT (SELECT count(*) FROM ev WHERE v % 3 = 0) - (SELECT count(*) FROM ev_third)');
cmp_ok($unflushed, '>', 0, "the primary has committed rows no flush applied ($unflushed)");
promote_after_writers($primary, $standby, $writers);
check_views($standby, 'after the promotion');
like(slurp_file($standby->logfile),
	qr/computed 7 continuous views again from their stream tables \(\d+ rows\) after the replication slot of this database could not decode/,
	'the new primary computed the seven views again');

# the new primary goes on exactly, through a kill -9 of its worker: copies
# of keys seen before the promotion and new ones, right rows that meet left
# rows from before it, and a last event 10 seconds ahead that closes the
# windows of the others
my $more = rows_sql(1000, 3000, 6000, 5000, 300);
$standby->safe_psql('postgres', $more);
kill9_worker_and_wait($standby);
$standby->safe_psql('postgres',
	$more . "INSERT INTO ev (k, v, ts) VALUES (0, 0, now() + interval '10 seconds');");
check_views($standby, 'after more rows and a kill -9');
active_and_computed_again_once($standby);

$standby->stop;
done_testing();
