# Failover: a physical standby (pg_basebackup -R, streaming) is promoted
# while writers insert into a table stream whose worker flushes only every
# 10 seconds, so that the primary had committed many rows that no flush had
# applied.  Logical replication slots are not replicated (before
# PostgreSQL 17): the new primary's worker finds none behind the stored
# position, computes the views of table streams again from their tables,
# and goes on.  Every view then equals its SELECT over the table, and
# counts what commits on the new primary exactly once, through a kill -9.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;
use PgContinuous::Crash;
use PgContinuous::Failover;

my $primary = continuous_node('primary', "continuous.flush_interval = '10s'\n");
$primary->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE ev (k int, v int, ts timestamptz NOT NULL DEFAULT now());
SELECT continuous.create_stream('ev', event_time => 'ts', watermark_delay => '1 hour');
CREATE VIEW per_key WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k;
CREATE VIEW per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n FROM ev GROUP BY minute;
CREATE VIEW total WITH (continuous) AS SELECT count(*) AS n FROM ev;
INSERT INTO ev (k, v) SELECT g % 13, g FROM generate_series(1, 5000) g;
SELECT continuous.sync();
});
my %views = (
	per_key => 'SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k',
	per_minute => "SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n FROM ev GROUP BY minute",
	total => 'SELECT count(*) AS n FROM ev',
);

my $standby = streaming_standby($primary);

# writers, up to the promotion
my $writers = start_writers($primary, q{
\set k random(0, 12)
INSERT INTO ev (k, v) VALUES (:k, :k);
});
ok( poll_until($primary, 'postgres', 'SELECT count(*) > 7000 FROM ev'),
	'the writers are writing');
my $unflushed = $primary->safe_psql('postgres',
	'SELECT (SELECT count(*) FROM ev) - (SELECT n FROM total)');
cmp_ok($unflushed, '>', 0, "the primary has committed rows no flush applied ($unflushed)");
promote_after_writers($primary, $standby, $writers);
$standby->safe_psql('postgres', 'SELECT continuous.sync()');
foreach my $name (sort keys %views)
{
	is_same_rows($standby, $name, $views{$name},
		"$name equals its SELECT on the promoted standby");
}
like(slurp_file($standby->logfile),
	qr/computed 3 continuous views again from their stream tables \(\d+ rows\) after the replication slot of this database could not decode/,
	'the new primary says why it computed the views again');

# the new primary goes on exactly, through a kill -9 of its worker
$standby->safe_psql('postgres', 'INSERT INTO ev (k, v) SELECT g % 13, g FROM generate_series(1, 1000) g');
kill9_worker_and_wait($standby);
$standby->safe_psql('postgres',
	'INSERT INTO ev (k, v) SELECT g % 13, g FROM generate_series(1, 1000) g; SELECT continuous.sync()');
foreach my $name (sort keys %views)
{
	is_same_rows($standby, $name, $views{$name}, "$name is exact after more rows and a kill -9");
}
active_and_computed_again_once($standby);

$standby->stop;
done_testing();
