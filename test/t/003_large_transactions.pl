# Copyright (c) pg_continuous contributors
# Large transactions reach the worker before they commit (logical decoding's
# streaming mode, forced here by a tiny logical_decoding_work_mem).  Their
# rows must count only at commit: not when the transaction aborts, not the
# rows of a subtransaction rolled back to a savepoint, exactly once when
# the worker is killed while such a transaction is still open, and once
# for a view created in the middle of one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Oracle;
use PgContinuous::Node;

my $node = continuous_node(
	'large', q{
logical_decoding_work_mem = '64kB'
});

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE t (k int, v bigint, note text, ts timestamptz NOT NULL DEFAULT now());
SELECT continuous.create_stream('t');
CREATE VIEW per_k WITH (continuous) AS
    SELECT k % 13 AS g, count(*) AS n, sum(v) AS s, max(note) AS m FROM t GROUP BY g;
});

# After continuous.sync(): does the view equal its batch query?
sub view_equals_batch
{
	my ($test_name) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('2 minutes')");
	is_same_rows($node, 'per_k',
		'SELECT k % 13, count(*), sum(v), max(note) FROM t GROUP BY 1', $test_name);
}

# committed, with a rolled-back savepoint and a released one in between
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO t (k, v, note) SELECT g, g, repeat('a', 50) FROM generate_series(1, 20000) g;
SAVEPOINT s1;
INSERT INTO t (k, v, note) SELECT g, -1000000, 'rolled back' FROM generate_series(1, 20000) g;
ROLLBACK TO s1;
SAVEPOINT s2;
INSERT INTO t (k, v, note) SELECT g, 7, 'released' FROM generate_series(1, 20000) g;
RELEASE s2;
COMMIT;
});
view_equals_batch('large transaction with savepoints: view equals its batch query');

# rows with a value stored out of line (TOAST) are made from a temporary
# copy, and kept apart from the other rows while they stream: both kinds in
# one transaction, a savepoint of each rolled back in between
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO t (k, v, note) SELECT g, g, 'b' FROM generate_series(1, 20000) g;
SAVEPOINT s1;
INSERT INTO t (k, v, note)
    SELECT g, 5, 'z' || (SELECT string_agg(md5(g::text || i), '') FROM generate_series(1, 200) i)
      FROM generate_series(1, 300) g;
ROLLBACK TO s1;
INSERT INTO t (k, v, note)
    SELECT g, 6, 'y' || (SELECT string_agg(md5(g::text || i), '') FROM generate_series(1, 200) i)
      FROM generate_series(1, 300) g;
SAVEPOINT s2;
INSERT INTO t (k, v, note) SELECT g, -7, 'a' FROM generate_series(1, 20000) g;
ROLLBACK TO s2;
INSERT INTO t (k, v, note) SELECT g, g, 'c' FROM generate_series(1, 20000) g;
COMMIT;
});
is($node->safe_psql('postgres',
		"SELECT pg_relation_size(reltoastrelid) > 0 FROM pg_class WHERE oid = 't'::regclass"),
	't', 'the long notes were stored out of line');
view_equals_batch('large transaction with out-of-line values: view equals its batch query');
is($node->safe_psql('postgres', "SELECT count(*) FROM per_k WHERE m LIKE 'y%'"),
	'13', 'every group shows its longest note, read from the streamed rows');

# aborted as a whole
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO t (k, v, note) SELECT g, -5, 'aborted' FROM generate_series(1, 50000) g;
ROLLBACK;
});
view_equals_batch('aborted large transaction leaves the view alone');
is($node->safe_psql('postgres', "SELECT count(*) FROM per_k WHERE m = 'aborted'"),
	'0', 'no trace of the aborted rows');

# two large transactions interleaved, committed in the opposite order
my $s1 = $node->background_psql('postgres');
my $s2 = $node->background_psql('postgres');
$s1->query_safe("BEGIN; INSERT INTO t (k, v, note) SELECT g, 1, 'first' FROM generate_series(1, 30000) g;");
$s2->query_safe("BEGIN; INSERT INTO t (k, v, note) SELECT g, 2, 'second' FROM generate_series(1, 30000) g;");
$s1->query_safe("INSERT INTO t (k, v, note) SELECT g, 3, 'first' FROM generate_series(1, 30000) g;");
$s2->query_safe('COMMIT');
$s1->query_safe('COMMIT');
view_equals_batch('interleaved large transactions: view equals its batch query');

# the worker dies while a large transaction is open and partly streamed
$s1->query_safe("BEGIN; INSERT INTO t (k, v, note) SELECT g, 11, 'across a crash' FROM generate_series(1, 40000) g;");
my $worker = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' AND datname = 'postgres'");
like($worker, qr/^\d+$/, 'found the worker');
# a kill -9 resets every process, the open transaction's session too: use
# SIGTERM, which ends only the worker; the launcher starts a new one
kill 'TERM', $worker;
ok( poll_until($node, 'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
		  . "AND datname = 'postgres' AND pid <> $worker"),
	'worker restarted');
$s1->query_safe("INSERT INTO t (k, v, note) SELECT g, 12, 'across a crash' FROM generate_series(1, 40000) g;");
$s1->query_safe('COMMIT');
view_equals_batch('large transaction open across a worker restart counts once');
$s1->quit;
$s2->quit;

# a view created inside a large transaction, between its rows: it takes
# the rows before it from its backfill and those after it from the stream,
# once each (the streamed view_catalog row says where it begins)
$node->safe_psql('postgres', q{
BEGIN;
INSERT INTO t (k, v, note) SELECT g, 21, 'around a view' FROM generate_series(1, 30000) g;
CREATE VIEW per_k7 WITH (continuous) AS
    SELECT k % 7 AS g, count(*) AS n, sum(v) AS s FROM t GROUP BY g;
INSERT INTO t (k, v, note) SELECT g, 22, 'around a view' FROM generate_series(1, 30000) g;
COMMIT;
});
view_equals_batch('a view created inside a large transaction: the older view equals its batch query');
is_same_rows($node, 'per_k7', 'SELECT k % 7, count(*), sum(v) FROM t GROUP BY 1',
	'a view created inside a large transaction equals its batch query');

# pgstat may publish the slot's counters a moment later
ok( poll_until($node, 'postgres',
		"SELECT stream_txns > 0 FROM pg_stat_replication_slots WHERE slot_name LIKE 'continuous_%'"),
	'the large transactions were streamed to the worker, not spilled');

cmp_ok($node->safe_psql('postgres',
		"SELECT events_before_commit FROM continuous.views WHERE view = 'per_k'::regclass"),
	'>', 0, 'rows of the large transactions were aggregated before their commit');

is($node->safe_psql('postgres', 'SELECT sum(n) FROM per_k'),
	$node->safe_psql('postgres', 'SELECT count(*) FROM t'), 'every committed row counted');

$node->stop;
done_testing();
