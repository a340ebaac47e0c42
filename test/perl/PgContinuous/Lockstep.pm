# Copyright (c) pg_continuous contributors

# PgContinuous::Lockstep: concurrent loading sessions that cannot run ahead
# of each other, for the TAP tests whose sessions take event times from one
# sequence (037_view_chains.pl, 038_interval_join.pl,
# 039_interval_join_restore.pl).
#
# Such a session's events are in event-time order, but between sessions
# the disorder is what the scheduler makes of it: a session stalled after
# taking its sequence values, while the others commit, commits events
# that are late by the time they are decoded, and the view rightly counts
# them so.  Lockstep bounds it instead: session s begins its transaction b
# only once every other session has ended (committed or rolled back) its
# transaction b - 2.  While a transaction of s is open, each other session
# then runs at most its transactions b - 1, b and b + 1, so that with S
# sessions taking R values per transaction, at most R * (1 + 3 * (S - 1))
# values are handed out from the first of s's until s commits: that, in
# event time, must stay below what the view allows (watermark_delay,
# allowed_lateness).  The sessions still write
# concurrently, up to all of them in a transaction at once.
#
#   lockstep_create($node [, $dbname]);
#       the table lockstep (session, ended) and the functions below, in the
#       schema public of $dbname (postgres by default).
#   lockstep_start($node, $sessions [, $dbname]);
#       a new set of sessions 1 .. $sessions: none has ended a transaction.
#   In session s, transactions counted from 1, rolled back ones included:
#       SELECT lockstep_turn(s, b);    before transaction b: returns once
#                                      the others may be that far (it fails
#                                      after 5 minutes, rather than wait
#                                      forever for a session that failed)
#       SELECT lockstep_ended(s, b);   after its COMMIT or ROLLBACK, in a
#                                      transaction of its own
#   lockstep_turn_sql($s, $b), lockstep_ended_sql($s, $b);
#       those statements, for a psql script.

package PgContinuous::Lockstep;

use strict;
use warnings;

use Exporter 'import';

our @EXPORT = qw(lockstep_create lockstep_start lockstep_turn_sql lockstep_ended_sql);

sub lockstep_create
{
	my ($node, $dbname) = @_;
	$node->safe_psql($dbname // 'postgres', q{
CREATE TABLE public.lockstep (session int PRIMARY KEY, ended int NOT NULL);
CREATE FUNCTION public.lockstep_turn(me int, txn int) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    since timestamptz := clock_timestamp();
BEGIN
    WHILE (SELECT min(ended) FROM public.lockstep WHERE session <> me) < txn - 2 LOOP
        IF clock_timestamp() > since + interval '5 minutes' THEN
            RAISE EXCEPTION 'lockstep: session % waited 5 minutes for the others to end their transaction %',
                me, txn - 2;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
END
$$;
CREATE FUNCTION public.lockstep_ended(me int, txn int) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, public AS
$$ UPDATE public.lockstep SET ended = txn WHERE session = me $$;
});
	return;
}

sub lockstep_start
{
	my ($node, $sessions, $dbname) = @_;
	$node->safe_psql($dbname // 'postgres', qq{
TRUNCATE public.lockstep;
INSERT INTO public.lockstep SELECT s, 0 FROM generate_series(1, $sessions) s;
});
	return;
}

sub lockstep_turn_sql
{
	my ($s, $b) = @_;
	return "SELECT public.lockstep_turn($s, $b);\n";
}

sub lockstep_ended_sql
{
	my ($s, $b) = @_;
	return "SELECT public.lockstep_ended($s, $b);\n";
}

1;
