# Copyright (c) pg_continuous contributors
# The worker's memory: continuous.state_memory bounds a batch's events and
# the views' states of them together (worker_memory.c).  With five views
# of one stream, two of them of nearly a group per event, the worker
# measures at each flush what the batch took and makes the next batch
# smaller when it went over the bound; every view stays exact through
# small batches, folds, a transaction of a group per row that makes the
# group tables grow, and the small batches after it, in which they are
# made small again.  The rows the flushes write into storage are skipped
# by the worker's decoding (they carry PostgreSQL's do-not-replicate
# origin), while a stream's rows written under a replication origin of
# their own, as a subscription's apply worker writes them, are decoded.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Oracle;
use PgContinuous::Node;

my $node = continuous_node(
	'worker_memory', q{
continuous.state_memory = '4MB'
log_min_messages = debug1
});

my %views = (
	per_user => 'SELECT user_id, count(*) AS n, sum(amount) AS total,
	    min(amount) AS low, max(amount) AS high FROM events GROUP BY user_id',
	per_user_minute => q{SELECT continuous.tumble(ts, '1 minute') AS m, user_id,
	    count(*) AS n, sum(amount) AS total FROM events GROUP BY 1, 2},
	overall => 'SELECT count(*) AS n, sum(amount) AS total FROM events',
	per_bucket => 'SELECT user_id % 10 AS bucket, count(*) AS n,
	    sum(amount) AS total FROM events GROUP BY 1',
	per_name => q{SELECT 'user ' || (user_id % 5000) AS name, count(*) AS n,
	    max(amount) AS high FROM events GROUP BY 1},
);

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE events (user_id int NOT NULL, amount int NOT NULL, ts timestamptz NOT NULL);
CREATE TABLE events_copy (LIKE events);
SELECT continuous.create_stream('events', event_time => 'ts', watermark_delay => '1 hour');
});
$node->safe_psql('postgres',
	"CREATE VIEW $_ WITH (continuous) AS $views{$_}") foreach sort keys %views;

# $rows rows from $first on, over $users users, into both tables
sub load_sql
{
	my ($first, $rows, $users, $commit) = @_;
	my $select = "SELECT (g * 7919) % $users, g % 1000,
	    timestamptz '2026-01-01 00:00:00+00' + g * interval '10 milliseconds'
	    FROM generate_series($first, " . ($first + $rows - 1) . ") g";
	return qq{
BEGIN;
INSERT INTO events $select;
INSERT INTO events_copy $select;
} . ($commit ? 'COMMIT;' : 'ROLLBACK;');
}

sub load
{
	$node->safe_psql('postgres', load_sql(@_));
	return;
}

# 1. Batches the memory bounds: 60 transactions of 2,000 rows over 50,000
# users, every sixth rolled back, decoded while the worker is behind (one
# session sends them all, faster than the worker flushes one at a time).
my $next = 1;
my $script = '';
for my $t (1 .. 60)
{
	$script .= load_sql($next, 2000, 50_000, $t % 6 != 0);
	$next += 2000;
}
$node->safe_psql('postgres', $script);
$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
views_equal_batches($node, \%views, 'events', 'events_copy',
	'after batches the memory bounded');

my $log = slurp_file($node->logfile);
my @flushes = $log =~
  /a batch's events took (\d+) bytes, the views' states of them (\d+) and the flush's sort (\d+), of (\d+): the next batch's events may take (\d+)% of it/g;
my @judged;
push @judged, [ splice(@flushes, 0, 5) ] while @flushes;
cmp_ok(scalar(@judged), '>', 0, 'flushes judged the next batch by what theirs took');
ok((grep { my $j = $judged[$_]; $j->[0] + $j->[1] + $j->[2] > $j->[3] && $j->[4] < $judged[$_ - 1][4] } 1 .. $#judged),
	'a batch that took more than continuous.state_memory made the next one smaller');
my @late = @judged[ 2 .. $#judged ];
my @over = grep { $_->[0] + $_->[1] + $_->[2] > 1.5 * $_->[3] } @late;
is(scalar(@over), 0,
	'after two judgements no batch took half as much again as its bound')
  or diag(join("\n", map { "events $_->[0], states $_->[1], sort $_->[2], of $_->[3]" } @over));

# 2. One transaction of a group per row (the group tables grow for it),
# then small batches of 20 users each (the tables are made small again).
load($next, 60_000, 1_000_000, 1);
$next += 60_000;
for my $t (1 .. 30)
{
	load($next, 200, 20, 1);
	$next += 200;
}
$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
views_equal_batches($node, \%views, 'events', 'events_copy',
	'after a transaction of a group per row and small batches after it');

# 3. A stream's rows written under a replication origin are decoded.
$node->safe_psql('postgres', q{
SELECT pg_replication_origin_create('upstream');
SELECT pg_replication_origin_session_setup('upstream');
INSERT INTO events SELECT g, 7, timestamptz '2026-01-02 00:00:00+00' FROM generate_series(1, 500) g;
SELECT pg_replication_origin_session_reset();
INSERT INTO events_copy SELECT g, 7, timestamptz '2026-01-02 00:00:00+00' FROM generate_series(1, 500) g;
});
$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
views_equal_batches($node, \%views, 'events', 'events_copy',
	"with rows a replication origin's session wrote");

# 4. One flush of groups spread over 500 windows: each window's Bloom
# filter of new groups (group_locations.c) is sized for that window's
# groups, not for all of the flush's, so they fit in their half of
# continuous.state_memory and no window is forgotten.
my $forgotten = sub {
	my @lines = slurp_file($node->logfile) =~ /forgot the groups of windows/g;
	return scalar(@lines);
};
my $forgotten_before = $forgotten->();
my $spread = q{SELECT 3000000 + g, 1,
    timestamptz '2026-02-01 00:00:00+00' + (g * 7919 % 500) * interval '1 minute'
    FROM generate_series(1, 20000) g};
$node->safe_psql('postgres', "INSERT INTO events $spread; INSERT INTO events_copy $spread;");
$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
is($forgotten->(), $forgotten_before,
	'the filters of a flush over 500 windows fit in their memory');
is_same_rows($node, 'per_user_minute', $views{per_user_minute} =~ s/FROM events/FROM events_copy/r,
	'and the view equals its batch query');

# 5. The flushes' storage rows are not decoded: the same rows cost the
# worker's decoding about as much in a stream, whose flush writes a row
# per group into five views' storage (about two per row here), as in a
# table that is no stream.  The second sync() waits for the worker to
# decode past its own flush.
sub decoded_after
{
	my ($sql) = @_;
	$node->safe_psql('postgres', $sql);
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')") for 1 .. 2;
	return $node->safe_psql('postgres', q{
SELECT total_bytes FROM pg_stat_replication_slots WHERE slot_name LIKE 'continuous%'});
}
my $rows = q{SELECT 2000000 + g, g % 1000,
    timestamptz '2026-02-02 00:00:00+00' + g * interval '1 second'
    FROM generate_series(1, 20000) g};
my $start = decoded_after('SELECT 1');
my $plain = decoded_after("INSERT INTO events_copy $rows") - $start;
my $stream = decoded_after("INSERT INTO events $rows") - $start - $plain;
cmp_ok($plain, '>', 0, "the worker decoded a table's rows ($plain bytes)");
cmp_ok($stream, '<', 1.5 * $plain,
	"and the same rows in the stream, with the flush of their 40,000 groups, in about as many ($stream bytes)");
is($node->safe_psql('postgres', 'SELECT count(*) FROM per_user_minute WHERE user_id BETWEEN 2000001 AND 2020000'),
	'20000', 'those rows are in the views');

$node->stop;
done_testing();
