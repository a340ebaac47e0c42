# Copyright (c) pg_continuous contributors

# DDL on a stream across a restart of its worker.  The event-time column is
# renamed while windows are open, then the worker is killed with kill -9:
# the new worker reads its definitions from the catalog, and must find the
# column under its new name.  After more events and continuous.sync():
#   - the watermark has moved on with them,
#   - the windows it passed are closed (emit = 'window_close' shows them),
#   - a late event is judged late by it,
#   - every view equals its batch query over the events that were not late.
# (sql/stream_ddl.sql tests the rest of DDL on streams, without restarts.)

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $node = continuous_node('stream_ddl');

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE readings (sensor int, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('readings', event_time => 'ts',
                                watermark_delay => '10 seconds');
CREATE VIEW per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c, sum(v) AS s
      FROM readings GROUP BY minute;
CREATE VIEW closed_minutes WITH (continuous, emit = 'window_close') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c, sum(v) AS s
      FROM readings GROUP BY minute;
CREATE VIEW per_sensor WITH (continuous) AS
    SELECT sensor, count(*) AS c, sum(v) AS s FROM readings GROUP BY sensor;
});

# Reading g is taken g seconds after 12:00, with v = g.
sub load
{
	my ($from, $to, $column) = @_;
	$node->safe_psql('postgres', qq{
INSERT INTO readings (sensor, v, $column)
SELECT g % 10, g, '2026-05-01 12:00:00+00'::timestamptz + g * interval '1 second'
  FROM generate_series($from, $to) g;
SELECT continuous.sync();});
	return;
}

sub watermark
{
	return $node->safe_psql('postgres',
		"SELECT to_char(watermark AT TIME ZONE 'UTC', 'HH24:MI:SS') FROM continuous.streams");
}

load(0, 299, 'ts');
is(watermark(), '12:04:49', 'before the rename: the latest event time minus the delay');

$node->safe_psql('postgres', 'ALTER TABLE readings RENAME COLUMN ts TO measured_at');
is($node->safe_psql('postgres', 'SELECT event_time FROM continuous.streams'),
	'measured_at', 'the catalog names the column by its new name');

kill9_worker_and_wait($node);
load(300, 599, 'measured_at');
is(watermark(), '12:09:49', 'after the rename and a kill -9 of the worker the watermark moves on');

# 12:01:30 is in a window the watermark has closed: late, in per_minute and
# closed_minutes; per_sensor has no window and counts it.
$node->safe_psql('postgres', q{
INSERT INTO readings VALUES (1, -1, '2026-05-01 12:01:30+00');
SELECT continuous.sync();});
is( $node->safe_psql('postgres',
		"SELECT string_agg(view || '=' || late_events, ',' ORDER BY view::text) FROM continuous.views"),
	'closed_minutes=1,per_minute=1,per_sensor=0',
	'an event for a closed window is late');

my $timely = "(SELECT * FROM readings WHERE v >= 0) r";
is_same_rows($node, 'per_minute',
	"SELECT continuous.tumble(measured_at, '1 minute'), count(*), sum(v) FROM $timely GROUP BY 1",
	'per_minute equals its batch query');
is_same_rows($node, 'closed_minutes',
	"SELECT continuous.tumble(measured_at, '1 minute') AS minute, count(*), sum(v) FROM $timely "
	  . "GROUP BY 1 HAVING continuous.tumble(measured_at, '1 minute') + interval '1 minute' "
	  . "<= (SELECT watermark FROM continuous.streams)",
	'closed_minutes shows exactly the windows the watermark has closed');
is_same_rows($node, 'per_sensor',
	'SELECT sensor, count(*), sum(v) FROM readings GROUP BY sensor',
	'per_sensor equals its batch query');
is($node->safe_psql('postgres', 'SELECT count(*) FROM closed_minutes'),
	'9', 'the windows up to 12:09 are closed');

$node->stop;
done_testing();
