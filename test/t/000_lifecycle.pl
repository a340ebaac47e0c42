
# Copyright (c) pg_continuous contributors

# Lifecycle of the per-database worker: the launcher starts a worker for a
# database created after server start as soon as the extension is created
# there, restarts it with the server, and stops it on DROP EXTENSION, which
# also removes its replication slot so that the database can be dropped.
# Databases without the extension get no worker.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;

my $node = continuous_node('lifecycle');

sub workers_in
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity "
		  . "WHERE backend_type = 'pg_continuous worker' AND datname = '$db'");
}

ok( poll_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity "
		  . "WHERE backend_type = 'pg_continuous launcher'",
		'1'),
	'launcher is running');

# Both databases exist only after the server (and the launcher) started.
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('app', 'CREATE EXTENSION pg_continuous');

ok( poll_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity "
		  . "WHERE backend_type = 'pg_continuous worker' AND datname = 'app'",
		'1'),
	'CREATE EXTENSION starts a worker for its database');

# The worker does its job: a view over a stream sees committed rows only.
$node->safe_psql(
	'app', q{
CREATE TABLE ev (k int, ts timestamptz NOT NULL DEFAULT now());
SELECT continuous.create_stream('ev', event_time => 'ts');
CREATE VIEW ev_count WITH (continuous) AS SELECT count(*) AS n FROM ev;
INSERT INTO ev (k) SELECT g FROM generate_series(1, 1000) g;
BEGIN;
INSERT INTO ev (k) SELECT g FROM generate_series(1, 500) g;
ROLLBACK;
SELECT continuous.sync();
});
is($node->safe_psql('app', 'SELECT n FROM ev_count'),
	'1000', 'view counts committed rows only');

ok( $node->safe_psql('postgres',
		"SELECT count(*) > 0 FROM pg_replication_slots WHERE database = 'app'")
	  eq 't',
	'the worker holds a replication slot in its database');

is(workers_in('other'), '0', 'no worker where the extension does not exist');
is(workers_in('postgres'), '0', 'no worker in the postgres database');

# A restart brings the worker back, and it carries on where it stopped.
$node->restart;
ok( poll_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity "
		  . "WHERE backend_type = 'pg_continuous worker' AND datname = 'app'",
		'1'),
	'worker is back after restart');
$node->safe_psql(
	'app', q{
INSERT INTO ev (k) SELECT g FROM generate_series(1, 234) g;
SELECT continuous.sync();
});
is($node->safe_psql('app', 'SELECT n FROM ev_count'),
	'1234', 'view is exact across a clean restart');
is(workers_in('other'), '0', 'still no worker in the other database');

# DROP EXTENSION stops the worker and removes its slot.
$node->safe_psql('app', 'DROP EXTENSION pg_continuous CASCADE');
ok( poll_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity "
		  . "WHERE backend_type = 'pg_continuous worker' AND datname = 'app'",
		'0'),
	'DROP EXTENSION stops the worker');
ok( poll_until($node, 'postgres',
		"SELECT count(*) FROM pg_replication_slots WHERE database = 'app'",
		'0'),
	'DROP EXTENSION removes the replication slot');

# With worker and slot gone, nothing holds the database any more.
my ($ret, $stdout, $stderr) =
  $node->psql('postgres', 'DROP DATABASE app');
is($ret, 0, 'database can be dropped after DROP EXTENSION');
diag($stderr) if $ret != 0;

$node->stop;
done_testing();
