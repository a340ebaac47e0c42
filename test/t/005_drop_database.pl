# Copyright (c) pg_continuous contributors
# DROP DATABASE works on a database that uses the extension: its worker steps
# aside and PostgreSQL drops the (now inactive) replication slot.  A DROP
# DATABASE that fails brings the worker back, and no event is lost.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;

my $node = continuous_node('dropdb');

my $setup = q{
CREATE EXTENSION pg_continuous;
CREATE TABLE e (n int);
SELECT continuous.create_stream('e');
CREATE VIEW c WITH (continuous) AS SELECT count(*) AS n FROM e;
INSERT INTO e SELECT generate_series(1, 100);
SELECT continuous.sync();
};

# a drop that fails: another session is connected
$node->safe_psql('postgres', 'CREATE DATABASE busy');
$node->safe_psql('busy', $setup);
my $other = $node->background_psql('busy');
$other->query_safe('SELECT 1');
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE busy');
isnt($ret, 0, 'DROP DATABASE fails while a session is connected');
like($stderr, qr/is being accessed by other users/, 'for that reason, not because of the worker');
$node->safe_psql('busy', 'INSERT INTO e SELECT generate_series(1, 50)');
is($node->safe_psql('busy', "SELECT continuous.sync('1 minute'); SELECT n FROM c"),
	"\n150", 'the worker came back and no event was lost');
$other->quit;

# a drop that succeeds
$node->safe_psql('postgres', 'DROP DATABASE busy');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'busy'"),
	'0', 'DROP DATABASE succeeds with the extension in use');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots"),
	'0', 'and its replication slot is gone');

$node->stop;
done_testing();
