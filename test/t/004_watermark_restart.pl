# Copyright (c) pg_continuous contributors
# Watermarks are written with the view state: after a clean restart and after
# an immediate stop (crash recovery) they resume where they were and never go back,
# even when the next events are older.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;

my $node = continuous_node('watermark');

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE ticks (n int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('ticks', event_time => 'ts', watermark_delay => '1 minute');
CREATE VIEW tick_count WITH (continuous) AS SELECT count(*) AS n FROM ticks;
INSERT INTO ticks SELECT g, '2026-05-01 00:00:00+00'::timestamptz + g * interval '1 second'
FROM generate_series(1, 1000) g;
});

sub watermark
{
	return $node->safe_psql('postgres', q{
SELECT continuous.sync();
SELECT to_char(watermark AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM continuous.streams});
}

is(watermark(), "\n2026-05-01 00:15:40", 'watermark is the latest event time minus the delay');

$node->restart;
$node->safe_psql('postgres',
	"INSERT INTO ticks VALUES (1001, '2026-04-01 00:00:00+00')");
is(watermark(), "\n2026-05-01 00:15:40", 'after a restart it resumes and an older event does not move it back');

# an immediate stop skips the shutdown checkpoint: recovery replays the WAL,
# as after a crash (001_crash_exactly_once.pl uses kill -9 proper)
$node->stop('immediate');
$node->start;
$node->safe_psql('postgres',
	"INSERT INTO ticks VALUES (1002, '2026-03-01 00:00:00+00')");
is(watermark(), "\n2026-05-01 00:15:40", 'after crash recovery it resumes and does not go back');

$node->safe_psql('postgres',
	"INSERT INTO ticks VALUES (1003, '2026-05-01 01:00:00+00')");
is(watermark(), "\n2026-05-01 00:59:00", 'a newer event moves it on');
is($node->safe_psql('postgres', 'SELECT n FROM tick_count'), '1003', 'every event counted once');

$node->stop;
done_testing();
