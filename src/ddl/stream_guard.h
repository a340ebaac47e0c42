/*-------------------------------------------------------------------------
 *
 * stream_guard.h
 *	  DDL on stream tables must not silently cut their continuous views
 *	  off: what it may change, what it may not.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_STREAM_GUARD_H
#define CONTINUOUS_STREAM_GUARD_H

#include "nodes/pg_list.h"
#include "utils/relcache.h"

/*
 * Around every utility statement (utility_hook.c): refuse what would cut a
 * stream's views off, note the streams the statement may change, and
 * check them after it.
 */
extern List *stream_guard_before(Node *parsetree);
extern void stream_guard_after(List *watched, Node *parsetree);

/*
 * continuous.create_stream(): may this table become a stream?  Not with
 * inheritance children, nor as (a partition of) a late-events table, nor
 * as a partition of a stream; a partitioned table not with partitions
 * whose rows would not be its events (locks them).
 */
extern void stream_guard_check_new_stream(Relation rel);

/*
 * The nearest partitioned table above relid (a partition) that is a
 * stream, or InvalidOid.
 */
extern Oid	stream_guard_stream_above(Oid relid);

/* CREATE VIEW ... WITH (continuous): may a view read this stream? */
extern void stream_guard_check_view_stream(Oid stream);

/*
 * CREATE VIEW ... WITH (continuous, late_events = '...'): may this table
 * receive the late events of a view over stream?  Not if it, or a
 * partition of it, is a stream: late events would become events.
 */
extern void stream_guard_check_late_table(Oid late_table, Oid stream);

#endif							/* CONTINUOUS_STREAM_GUARD_H */
