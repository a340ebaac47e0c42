# Copyright (c) pg_continuous contributors
# Bounded memory: with continuous.state_memory at its minimum, a view whose
# groups need many times that memory still equals its batch query.  The
# worker flushes early whenever the events gathered reach the bound, so the
# groups of one batch are merged into storage and the next batch starts from
# nothing; storage, not worker memory, holds the groups.  (A single
# transaction is decoded whole, so its rows are gathered even past the
# bound; the first load below is such a transaction.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Oracle;
use PgContinuous::Node;

my $groups = 200_000;
my $events = 600_000;

my $node = continuous_node(
	'memory', q{
continuous.state_memory = '1MB'
});

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE readings (sensor bigint, site text, value numeric, ts timestamptz NOT NULL DEFAULT now());
SELECT continuous.create_stream('readings');
CREATE VIEW per_sensor WITH (continuous) AS
    SELECT sensor, site, count(*) AS n, sum(value) AS total, avg(value) AS mean
    FROM readings GROUP BY sensor, site;
});

# one transaction far larger than the bound, then many small ones
$node->safe_psql('postgres',
	"INSERT INTO readings (sensor, site, value) "
	  . "SELECT g % $groups, 'site-' || (g % 7), g % 1000 / 7.0 "
	  . "FROM generate_series(1, " . ($events / 2) . ") g");
$node->safe_psql('postgres', qq{
DO \$\$
BEGIN
    FOR i IN 1..30 LOOP
        INSERT INTO readings (sensor, site, value)
        SELECT (g * 7919) % $groups, 'site-' || (g % 7), i
        FROM generate_series(1, } . ($events / 60) . qq{) g;
        COMMIT;
    END LOOP;
END \$\$;
});
$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");

my $view_groups = $node->safe_psql('postgres', 'SELECT count(*) FROM per_sensor');
cmp_ok($view_groups, '>', 100_000, "many groups ($view_groups)");

my $state_bytes = $node->safe_psql('postgres',
	"SELECT state_bytes FROM continuous.views WHERE view = 'per_sensor'::regclass");
cmp_ok($state_bytes, '>', 10 * 1024 * 1024,
	"the view's state ($state_bytes bytes) is over 10 times continuous.state_memory");

is_same_rows($node, 'per_sensor',
	'SELECT sensor, site, count(*), sum(value), avg(value) FROM readings GROUP BY sensor, site',
	'the view equals its batch query');

my $in_memory = $node->safe_psql('postgres',
	"SELECT groups_in_memory FROM continuous.views WHERE view = 'per_sensor'::regclass");
ok($in_memory > 0 && $in_memory < $view_groups / 2,
	"the last flush held $in_memory of the $view_groups groups in memory");

my $flushes_ok = $node->safe_psql('postgres',
	"SELECT events = $events FROM continuous.views WHERE view = 'per_sensor'::regclass");
is($flushes_ok, 't', 'every event was applied');

$node->stop;
done_testing();
