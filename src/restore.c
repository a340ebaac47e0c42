/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  Continuous views brought back by pg_restore or psql from a dump.
 *
 * Pipeline position: DDL, in the restoring session.  pg_dump writes a
 * continuous view as ordinary objects: the read view (first as a
 * placeholder, at the end of the dump by CREATE OR REPLACE VIEW, since it
 * and its storage depend on each other), the storage table and the table
 * of counts with their rows and indexes, the definition view, and the
 * extension's catalog as data of its configuration tables, relations
 * named by regclass.  It writes no dependency of pg_depend.
 *
 * So a catalog row restored by COPY comes without the dependencies that
 * CREATE VIEW records first, and a trigger marks it restore_pending
 * (pg_continuous--0.1--0.2.sql).  The worker leaves pending views alone;
 * storage_guard.c lets a superuser restore into storage relations that no
 * view claims yet.  The read view's CREATE OR REPLACE VIEW, which pg_dump
 * places after the rows and indexes of the storage, brings the view back
 * here, in that statement's transaction:
 *
 *	 - its dependencies are recorded again (view_dependencies.c), and its
 *	   owner's SELECT on the storage granted;
 *	 - a view of a table stream is computed again from the restored table,
 *	   as continuous.rebuild() does (rebuild.c): the table is the source of
 *	   truth, and the worker, which may have decoded the restore's COPY of
 *	   the table already, counts for the view only what commits after;
 *	 - a view of a Kafka stream keeps its dumped state, watermark and
 *	   offsets, which the worker wrote in one transaction and pg_dump read
 *	   in one snapshot, and resumes from those offsets;
 *	 - restore_pending is cleared; the worker sees that change of its
 *	   catalog in the WAL and loads the view.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "ddl_catalog.h"
#include "kafka_options.h"
#include "pg_continuous.h"
#include "privileges.h"
#include "rebuild.h"
#include "restore.h"
#include "storage_guard.h"
#include "view_definition.h"
#include "view_dependencies.h"

static bool read_pending_entry(Oid view, ViewCatalogEntry *entry);

/*
 * Is relid (a relation of continuous_storage, or an index of one) part of
 * no continuous view yet, as while a restore builds it?  Every storage
 * table, table of counts and definition view is internal to its view or
 * its storage from CREATE VIEW on.
 */
bool
restore_storage_unclaimed(Oid relid)
{
	Relation	depend;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		claimed = false;

	if (get_rel_relkind(relid) == RELKIND_INDEX)
		relid = IndexGetRelation(relid, false);

	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(depend, DependDependerIndexId, true, NULL, 2, key);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tuple);

		if (dep->deptype == DEPENDENCY_INTERNAL &&
			dep->refclassid == RelationRelationId)
		{
			claimed = true;
			break;
		}
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);
	return !claimed;
}

/* Is view a continuous view restored from a dump and not yet brought back? */
bool
restore_view_pending(Oid view)
{
	ViewCatalogEntry entry;

	return OidIsValid(view) && read_pending_entry(view, &entry);
}

/*
 * After the restore's CREATE OR REPLACE VIEW of the read view: bring the
 * view back (see the header comment).
 */
void
restore_activate_view(Oid view)
{
	ViewCatalogEntry entry;
	ExtensionPrivileges saved;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(view)};

	if (!read_pending_entry(view, &entry))
		return;
	if (!OidIsValid(get_rel_namespace(entry.storage)) ||
		!OidIsValid(get_rel_namespace(entry.query_view)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot restore continuous view \"%s\"", get_rel_name(view)),
				 errdetail("Its storage or definition view was not restored."),
				 errhint("Restore the whole dump, schema continuous_storage included.")));
	if (OidIsValid(entry.late_table) &&
		!OidIsValid(get_rel_namespace(entry.late_table)))
		entry.late_table = InvalidOid;

	view_dependencies_record(&entry, view_definition_query(entry.query_view));
	storage_guard_grant_reader(entry.storage, ddl_relation_owner(view));

	if (!kafka_is_stream_table(entry.stream))
		(void) rebuild_restored_view(view, entry.storage, entry.stream);

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("UPDATE continuous.view_catalog SET restore_pending = false "
							  "WHERE view OPERATOR(pg_catalog.=) $1",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "pg_continuous: could not update continuous.view_catalog");
	SPI_finish();
	privileges_leave_extension(&saved);
	CommandCounterIncrement();
}

/* The catalog row of view if it is pending a restore. */
static bool
read_pending_entry(Oid view, ViewCatalogEntry *entry)
{
	ExtensionPrivileges saved;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(view)};
	bool		found = false;

	memset(entry, 0, sizeof(*entry));
	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT v.view, v.storage, v.query_view, v.counts_table, v.late_table, "
							  "v.stream FROM continuous.view_catalog v "
							  "WHERE v.view OPERATOR(pg_catalog.=) $1 AND v.restore_pending",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.view_catalog");
	if (SPI_processed == 1)
	{
		bool		isnull;

		found = true;
		ddl_catalog_read_view_row(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, entry);
		entry->stream = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 6, &isnull));
	}
	SPI_finish();
	privileges_leave_extension(&saved);
	return found;
}
