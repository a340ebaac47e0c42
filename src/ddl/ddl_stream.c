/*-------------------------------------------------------------------------
 *
 * ddl_stream.c
 *	  continuous.create_stream() and continuous.drop_stream(): turning an
 *	  ordinary table into a table stream, and back.
 *
 * Pipeline position: DDL, before the source.  A stream is a row in
 * continuous.stream_catalog; the worker's logical decoder (decoder.c) sees
 * that row arrive in the WAL and from then on delivers the table's committed
 * inserts to the stream's continuous views.  Nothing about the table itself
 * changes, which is why any client can keep writing to it with INSERT or
 * COPY.  A partitioned table's events are the rows inserted into any of
 * its partitions (partition_route.c).
 *
 * The functions are not SECURITY DEFINER: ownership of the table is checked
 * against the calling role, and only the catalog writes run with the
 * catalog owner's rights (ddl_catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xlog.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "base/extension_catalog.h"
#include "base/shmem.h"
#include "ddl/ddl_catalog.h"
#include "ddl/dedup_options.h"
#include "ddl/stream_guard.h"
#include "source/kafka/kafka_options.h"
#include "worker/sync.h"

PG_FUNCTION_INFO_V1(continuous_create_stream);
PG_FUNCTION_INFO_V1(continuous_drop_stream);

/* what create_stream()'s event_time argument takes */
#define EVENT_TIME_ACCEPTS \
	"Argument event_time must name a column of the table of type timestamp with time zone or timestamp without time zone."

static Relation open_stream_table(FunctionCallInfo fcinfo, LOCKMODE lockmode);
static void check_stream_table(Relation rel);
static void check_event_time_column(Relation rel, const char *column);
static Interval *interval_argument(FunctionCallInfo fcinfo, int argno,
								   const char *name, const char *hint);
static char *relation_list_string(List *relids);

/*
 * continuous.create_stream(stream regclass, event_time name DEFAULT NULL,
 *							watermark_delay interval DEFAULT '0',
 *							max_future interval DEFAULT '1 day',
 *							unique_key text DEFAULT NULL,
 *							dedup_within interval DEFAULT NULL)
 */
Datum
continuous_create_stream(PG_FUNCTION_ARGS)
{
	Relation	rel;
	char	   *event_time = NULL;
	Interval   *watermark_delay;
	Interval   *max_future;
	List	   *unique_key;
	Interval	zero = {0};

	continuous_require_preload();
	PreventCommandDuringRecovery("continuous.create_stream()");

	if (wal_level < WAL_LEVEL_LOGICAL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table streams require wal_level = logical"),
				 errhint("Set wal_level = logical in postgresql.conf and restart the server.")));
	if (max_replication_slots == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table streams require max_replication_slots > 0"),
				 errdetail("The worker of each database with the extension reads its table streams through a replication slot of its own."),
				 errhint("Set max_replication_slots in postgresql.conf to at least the number of such databases, plus the slots replication needs, and restart the server.")));

	/* before taking locks: the worker's slot creation waits for writers */
	continuous_wait_for_decoder();

	/* self-conflicting, so two create_stream calls on a table serialise */
	rel = open_stream_table(fcinfo, ShareUpdateExclusiveLock);
	check_stream_table(rel);
	stream_guard_check_new_stream(rel);

	if (!PG_ARGISNULL(1))
	{
		event_time = NameStr(*PG_GETARG_NAME(1));
		check_event_time_column(rel, event_time);
	}

	watermark_delay = interval_argument(fcinfo, 2, "watermark_delay",
										"Use an interval such as '5 seconds', or '0' for a watermark that follows the latest event time.");
	if (event_time == NULL &&
		!DatumGetBool(DirectFunctionCall2(interval_eq,
										  IntervalPGetDatum(watermark_delay),
										  IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("watermark_delay requires event_time"),
				 errdetail("The watermark is computed from the event time column.")));

	max_future = interval_argument(fcinfo, 3, "max_future",
								   "Give a long interval, such as '100 years', to accept events far ahead of the clock.");

	/* the 0.1 function has four arguments: deduplication came with 0.2 */
	unique_key = PG_NARGS() < 6 ? NIL :
		dedup_check_options(rel,
							PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4)),
							PG_ARGISNULL(5) ? NULL : PG_GETARG_INTERVAL_P(5));

	if (ddl_catalog_is_stream(RelationGetRelid(rel)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table \"%s\" is already a stream",
						RelationGetRelationName(rel))));

	ddl_catalog_add_stream(RelationGetRelid(rel), "table", event_time,
						   watermark_delay, NULL, max_future);
	if (unique_key != NIL)
		ddl_catalog_set_dedup(RelationGetRelid(rel), unique_key,
							  PG_GETARG_INTERVAL_P(5));

	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}

/*
 * continuous.drop_stream(stream regclass, cascade boolean DEFAULT false)
 *
 * The table stays; it stops being a stream.  Continuous views that read it
 * would have nothing left to read, so they block the drop unless cascade is
 * true, like the views of a table block DROP TABLE without CASCADE.
 */
Datum
continuous_drop_stream(PG_FUNCTION_ARGS)
{
	Relation	rel;
	bool		cascade;
	List	   *views;
	ListCell   *lc;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cascade must not be null")));
	cascade = PG_GETARG_BOOL(1);

	rel = open_stream_table(fcinfo, ShareUpdateExclusiveLock);
	if (!pg_class_ownercheck(RelationGetRelid(rel), GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER,
					   get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));

	if (!ddl_catalog_is_stream(RelationGetRelid(rel)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("\"%s\" is not a stream", RelationGetRelationName(rel))));

	views = ddl_catalog_views_of_stream(RelationGetRelid(rel));
	if (views != NIL && !cascade)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop stream \"%s\" because continuous views depend on it",
						RelationGetRelationName(rel)),
				 errdetail("Continuous views reading the stream: %s.",
						   relation_list_string(views)),
				 errhint("Use cascade => true to drop the continuous views too.")));

	if (views != NIL)
	{
		ObjectAddresses *objects = new_object_addresses();

		foreach(lc, views)
		{
			ObjectAddress view;

			ereport(NOTICE,
					(errmsg("drop cascades to continuous view %s",
							ddl_relation_display_name(lfirst_oid(lc)))));
			ObjectAddressSet(view, RelationRelationId, lfirst_oid(lc));
			add_exact_object_address(&view, objects);
		}

		/*
		 * As DROP VIEW ... CASCADE would: the storage tables go with their
		 * views, and so does anything the user built on top of them.  No
		 * sql_drop event fires inside a function, so the catalog rows are
		 * removed here.
		 */
		performMultipleDeletions(objects, DROP_CASCADE, 0);
		foreach(lc, views)
			ddl_catalog_remove_view(lfirst_oid(lc));
	}

	ddl_catalog_remove_stream(RelationGetRelid(rel));

	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}

/* The relation named by argument 0, locked. */
static Relation
open_stream_table(FunctionCallInfo fcinfo, LOCKMODE lockmode)
{
	Oid			relid;
	Relation	rel;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("stream must not be null")));
	relid = PG_GETARG_OID(0);

	rel = try_relation_open(relid, lockmode);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return rel;
}

/* Can this relation's inserts be decoded, and may the caller decide so? */
static void
check_stream_table(Relation rel)
{
	const char *relname = RelationGetRelationName(rel);
	Oid			nspid = RelationGetNamespace(rel);

	/* a partitioned table's events are the rows of its partitions */
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot make \"%s\" a stream", relname),
				 errdetail_relkind_not_supported(rel->rd_rel->relkind),
				 kafka_is_stream_table(RelationGetRelid(rel)) ?
				 errhint("A foreign table of \"%s\" is a stream already: create continuous views over it.",
						 KAFKA_FDW_NAME) : 0));

	if (!pg_class_ownercheck(RelationGetRelid(rel), GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, relname);

	if (IsSystemRelation(rel))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot make system catalog \"%s\" a stream", relname)));

	if (strcmp(get_namespace_name(nspid), CONTINUOUS_SCHEMA) == 0 ||
		strcmp(get_namespace_name(nspid), CONTINUOUS_STORAGE_SCHEMA) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot make \"%s\" a stream", relname),
				 errdetail("Tables in schema \"%s\" belong to pg_continuous.",
						   get_namespace_name(nspid))));

	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot make temporary table \"%s\" a stream", relname),
				 errdetail("Streams are read from the write-ahead log, and temporary tables are not written to it.")));

	if (rel->rd_rel->relpersistence == RELPERSISTENCE_UNLOGGED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot make unlogged table \"%s\" a stream", relname),
				 errdetail("Streams are read from the write-ahead log, and unlogged tables are not written to it."),
				 errhint("Make the table logged with ALTER TABLE %s SET LOGGED.",
						 quote_identifier(relname))));
}

static void
check_event_time_column(Relation rel, const char *column)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), column);
	Oid			type;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						column, RelationGetRelationName(rel)),
				 errdetail(EVENT_TIME_ACCEPTS)));
	if (attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("system column \"%s\" cannot be the event time", column),
				 errdetail(EVENT_TIME_ACCEPTS)));

	type = getBaseType(get_atttype(RelationGetRelid(rel), attnum));
	if (type != TIMESTAMPTZOID && type != TIMESTAMPOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("event time column \"%s\" must be of type timestamp with time zone or timestamp without time zone",
						column),
				 errdetail("Column \"%s\" is of type %s.", column,
						   format_type_be(get_atttype(RelationGetRelid(rel),
													  attnum)))));
}

/* An interval argument that must be neither NULL nor negative. */
static Interval *
interval_argument(FunctionCallInfo fcinfo, int argno, const char *name,
				  const char *hint)
{
	Interval	zero = {0};
	Interval   *value;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name),
				 errhint("%s", hint)));
	value = PG_GETARG_INTERVAL_P(argno);
	if (DatumGetBool(DirectFunctionCall2(interval_lt,
										 IntervalPGetDatum(value),
										 IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", name),
				 errhint("%s", hint)));
	return value;
}

/* "a, b, c" for the messages */
static char *
relation_list_string(List *relids)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, relids)
	{
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, ddl_relation_display_name(lfirst_oid(lc)));
	}
	return buf.data;
}
