# Copyright (c) pg_continuous contributors

# PgContinuous::Hostile: the traps of the hostile-tenant tests (t/016,
# t/046), for a database owner who is not a superuser to create.
#   $node->safe_psql('db', hostile_schema_sql('alice', 'carol'), ...)
#       table public.whoami (fn, usr, sess, at) and schema evil (USAGE to
#       PUBLIC) with evil.trap(fn text), which notes who runs it
#       (current_user, session_user: in the worker, the worker's role) and
#       tries ALTER ROLE ... SUPERUSER for each role given; and operators
#       and functions named like those the worker's SQL uses (=, +, >, <=,
#       now(), format(), unnest()), each calling the trap, for a search_path
#       with evil first.
#   my $pid = restart_worker($node, 'db', $test_name)
#       terminate the database's worker, pass $test_name once another runs
#       (say, under settings the database has now), and return its pid.

package PgContinuous::Hostile;

use strict;
use warnings;

use Exporter 'import';
use Test::More;
use PgContinuous::Node;

our @EXPORT = qw(hostile_schema_sql restart_worker);

sub restart_worker
{
	my ($node, $dbname, $test_name) = @_;
	my $worker_of_db =
	  "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
	  . "AND datname = '$dbname'";
	my $old = $node->safe_psql('postgres', $worker_of_db);

	$node->safe_psql('postgres', "SELECT pg_terminate_backend($old)");
	ok( poll_until($node, 'postgres',
			"SELECT count(*) FROM ($worker_of_db) w WHERE pid <> $old", '1'),
		$test_name);
	return $node->safe_psql('postgres', $worker_of_db);
}

sub hostile_schema_sql
{
	my (@roles) = @_;
	my $tries = join '',
	  map { "    BEGIN\n        EXECUTE 'ALTER ROLE $_ SUPERUSER';\n"
		  . "    EXCEPTION WHEN others THEN NULL;\n    END;\n" } @roles;

	return q{
CREATE TABLE public.whoami (fn text, usr text, sess text, at timestamptz DEFAULT clock_timestamp());
GRANT INSERT, SELECT ON public.whoami TO PUBLIC;
CREATE SCHEMA evil;
GRANT USAGE ON SCHEMA evil TO PUBLIC;

-- one trap, called by every function of a tenant
CREATE FUNCTION evil.trap(fn text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.whoami (fn, usr, sess) VALUES (fn, current_user, session_user);
} . $tries . q{END $$;
GRANT EXECUTE ON FUNCTION evil.trap(text) TO PUBLIC;

-- the operators and functions the worker's SQL uses, shadowed
CREATE FUNCTION evil.texteq(text, text) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('text ='); RETURN pg_catalog.texteq($1, $2); END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq);
CREATE FUNCTION evil.oideq(oid, oid) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('oid ='); RETURN pg_catalog.oideq($1, $2); END $$;
CREATE OPERATOR evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = evil.oideq);
CREATE FUNCTION evil.int4eq(int4, int4) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('int4 ='); RETURN pg_catalog.int4eq($1, $2); END $$;
CREATE OPERATOR evil.= (LEFTARG = int4, RIGHTARG = int4, FUNCTION = evil.int4eq);
CREATE FUNCTION evil.int8pl(int8, int8) RETURNS int8 LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('int8 +'); RETURN pg_catalog.int8pl($1, $2); END $$;
CREATE OPERATOR evil.+ (LEFTARG = int8, RIGHTARG = int8, FUNCTION = evil.int8pl);
CREATE FUNCTION evil.int84gt(int8, int4) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('int8 >'); RETURN pg_catalog.int84gt($1, $2); END $$;
CREATE OPERATOR evil.> (LEFTARG = int8, RIGHTARG = int4, FUNCTION = evil.int84gt);
CREATE FUNCTION evil.tsle(timestamptz, timestamptz) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('timestamptz <='); RETURN pg_catalog.timestamptz_le($1, $2); END $$;
CREATE OPERATOR evil.<= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.tsle);
CREATE FUNCTION evil.tsgt(timestamptz, timestamptz) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('timestamptz >'); RETURN pg_catalog.timestamptz_gt($1, $2); END $$;
CREATE OPERATOR evil.> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.tsgt);
CREATE FUNCTION evil.tspl(timestamptz, interval) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('timestamptz +'); RETURN pg_catalog.timestamptz_pl_interval($1, $2); END $$;
CREATE OPERATOR evil.+ (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = evil.tspl);
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('now()'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION evil.format(text, VARIADIC text[]) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('format()'); RETURN 'x'; END $$;
CREATE FUNCTION evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('unnest()'); RETURN QUERY SELECT * FROM pg_catalog.unnest($1); END $$;
};
}

1;
