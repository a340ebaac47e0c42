/*-------------------------------------------------------------------------
 *
 * rebuild_request.c
 *	  continuous.rebuild(view), as a user calls it: the checks, the wait for
 *	  the worker, then the rebuild itself (state/rebuild.c).
 *
 * Pipeline position: DDL, on a user's request.  The stream is locked
 * against writers (backfill_lock_stream()); then the call waits until the
 * worker has applied every transaction that committed before (as
 * continuous.sync() does), so that nothing the worker holds for the view
 * is older than the rows about to be read.  A view that a restore left
 * waiting for rows it did not bring (restore.c) comes back instead.
 *
 * The worker learns of the rebuild from the WAL: the rebuild updates the
 * view's catalog row (rebuilt_at), a change of the continuous catalog, on
 * which the worker reloads its views.  The view then counts the
 * transactions that commit after the rebuild (view_stats.active_from is
 * where it began waiting: no transaction of the stream commits between
 * that and the rebuild's own commit), also when it had failed before.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"

#include "base/shmem.h"
#include "ddl/ddl_catalog.h"
#include "ddl/restore.h"
#include "source/kafka/kafka_options.h"
#include "state/backfill.h"
#include "state/rebuild.h"
#include "worker/sync.h"

PG_FUNCTION_INFO_V1(continuous_rebuild);

static void check_may_lock(Oid view, Oid stream);

Datum
continuous_rebuild(PG_FUNCTION_ARGS)
{
	Oid			view = PG_GETARG_OID(0);
	Oid			storage;
	Oid			stream;
	XLogRecPtr	applied;
	int64		rows;

	continuous_require_preload();
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous views are maintained on the primary only"),
				 errhint("Call continuous.rebuild() on the primary.")));

	/* one rebuild of a view at a time; the view stays, readers go on */
	LockRelationOid(view, ShareUpdateExclusiveLock);
	storage = ddl_catalog_storage_of_view(view);
	if (!OidIsValid(storage))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a continuous view",
						ddl_relation_display_name(view))));
	if (!pg_class_ownercheck(view, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_VIEW, get_rel_name(view));
	/* a restored view waiting for rows the restore left out (restore.c) */
	if (restore_view_pending(view))
		PG_RETURN_INT64(restore_bring_back(view));
	stream = ddl_catalog_stream_of_view(view);
	if (kafka_is_stream_table(stream))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot rebuild continuous view \"%s\"",
						ddl_relation_display_name(view)),
				 errdetail("Its stream %s is a Kafka topic: there is no table to compute it from.",
						   ddl_relation_display_name(stream)),
				 errhint("Drop the view and create it again: a new view of a Kafka stream counts the messages consumed after its creation.")));

	/* its rows are another view's events: appending them again counts twice */
	if (ddl_catalog_emission_of_view(view) == storage)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot rebuild continuous transform \"%s\"",
						ddl_relation_display_name(view)),
				 errdetail("Continuous views read its rows as their events; rows appended again would count again."),
				 errhint("Drop the views that read it first, or rebuild those views instead.")));

	/*
	 * Writers of the stream(s) wait from here until the caller's
	 * transaction ends, which only a role that LOCK TABLE would let hold
	 * that lock may make them do.
	 */
	check_may_lock(view, stream);
	if (OidIsValid(ddl_catalog_join_stream_of_view(view)))
		check_may_lock(view, ddl_catalog_join_stream_of_view(view));
	(void) backfill_lock_stream(stream);
	if (OidIsValid(ddl_catalog_join_stream_of_view(view)))
		(void) backfill_lock_stream(ddl_catalog_join_stream_of_view(view));
	applied = continuous_wait_for_worker("continuous.rebuild()");

	rows = rebuild_view(view, storage, applied, BACKFILL_REBUILD);
	PG_RETURN_INT64(rows);
}

/* May the caller hold writers of the view's stream up (backfill.h)? */
static void
check_may_lock(Oid view, Oid stream)
{
	if (!backfill_may_lock_stream(stream, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to rebuild continuous view \"%s\"",
						ddl_relation_display_name(view)),
				 errdetail("A rebuild holds a SHARE lock on stream %s until the transaction ends, which needs the UPDATE, DELETE or TRUNCATE privilege on it and its partitions, as LOCK TABLE does.",
						   ddl_relation_display_name(stream)),
				 errhint("Have a role with one of those privileges rebuild it, or drop the view and create it again.")));
}
