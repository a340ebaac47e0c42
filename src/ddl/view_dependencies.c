/*-------------------------------------------------------------------------
 *
 * view_dependencies.c
 *	  The dependencies that make a continuous view one object: recorded at
 *	  CREATE VIEW, and recorded again by the worker where pg_upgrade (or a
 *	  restore) left them out.
 *
 * Pipeline position: DDL, and the worker's start.  A continuous view is a
 * user's view plus relations of the extension in continuous_storage, held
 * together by pg_depend:
 *
 *	 - its storage table, the table of counts of a count window and its
 *	   definition view (view_definition.c) are internal to it: DROP VIEW
 *	   drops them, dropping one alone is refused, and the worker finds the
 *	   table of counts through its dependency (window_count.c);
 *	 - the view depends on what its SELECT uses, so that dropping the
 *	   stream or one of its columns names the view and needs CASCADE, and
 *	   ALTER COLUMN TYPE is refused naming it (stream_guard.c);
 *	 - the view depends on its late-events table.
 *
 * pg_dump writes no dependencies but those implied by its own statements.
 * pg_upgrade restores the schema from such a dump (keeping relation OIDs,
 * so continuous.view_catalog still names the right relations), and leaves
 * all of the above out.  The worker therefore looks, when it starts, for
 * views whose storage is not internal to them, and records their
 * dependencies again from the catalog and the definition view, which
 * PostgreSQL has analysed afresh.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "ddl/view_definition.h"
#include "ddl/view_dependencies.h"

static void record_internal(Oid part, Oid whole);

void
view_dependencies_record(const ViewCatalogEntry *entry, Query *query)
{
	ObjectAddress view_address;

	record_internal(entry->storage, entry->view);
	record_internal(entry->query_view, entry->view);
	record_internal(entry->counts_table, entry->storage);

	/* stream_guard.c meets these first at ALTER COLUMN TYPE */
	ObjectAddressSet(view_address, RelationRelationId, entry->view);
	if (query != NULL)
		recordDependencyOnExpr(&view_address, (Node *) query, NIL,
							   DEPENDENCY_NORMAL);
	if (OidIsValid(entry->late_table))
	{
		ObjectAddress late_address;

		ObjectAddressSet(late_address, RelationRelationId, entry->late_table);
		recordDependencyOn(&view_address, &late_address, DEPENDENCY_NORMAL);
	}
	CommandCounterIncrement();
}

void
view_dependencies_restore(void)
{
	Oid			argtypes[2] = {OIDOID, CHAROID};
	Datum		values[2] = {ObjectIdGetDatum(RelationRelationId),
	CharGetDatum(DEPENDENCY_INTERNAL)};
	List	   *entries = NIL;
	ListCell   *lc;
	uint64		i;

	if (SPI_execute_with_args("SELECT v.view, v.storage, v.query_view, v.counts_table, v.late_table "
							  "FROM continuous.view_catalog v "
							  "WHERE NOT v.restore_pending AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d "
							  "  WHERE d.classid OPERATOR(pg_catalog.=) $1 "
							  "    AND d.objid OPERATOR(pg_catalog.=) v.storage "
							  "    AND d.refclassid OPERATOR(pg_catalog.=) $1 "
							  "    AND d.refobjid OPERATOR(pg_catalog.=) v.view "
							  "    AND d.deptype OPERATOR(pg_catalog.=) $2) "
							  "ORDER BY v.view",
							  2, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read continuous.view_catalog");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		ViewCatalogEntry *entry = palloc0(sizeof(ViewCatalogEntry));

		ddl_catalog_read_view_row(row, desc, entry);
		entries = lappend(entries, entry);
	}

	foreach(lc, entries)
	{
		ViewCatalogEntry *entry = lfirst(lc);
		char	   *name;

		/* as DROP VIEW does, so that the view cannot go meanwhile */
		LockRelationOid(entry->view, AccessExclusiveLock);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(entry->view)) ||
			!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(entry->storage)) ||
			!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(entry->query_view)))
			continue;			/* loading it will say what is wrong */
		if (OidIsValid(entry->late_table) &&
			!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(entry->late_table)))
			entry->late_table = InvalidOid;

		view_dependencies_record(entry, view_definition_query(entry->query_view));
		name = get_rel_name(entry->view);
		ereport(LOG,
				(errmsg("pg_continuous: recorded the dependencies of continuous view \"%s\" again",
						name),
				 errdetail("Its storage was not internal to it, as after pg_upgrade: pg_dump carries no dependencies.")));
	}
}

/* part is internal to whole, unless part is InvalidOid */
static void
record_internal(Oid part, Oid whole)
{
	ObjectAddress part_address;
	ObjectAddress whole_address;

	if (!OidIsValid(part))
		return;
	ObjectAddressSet(part_address, RelationRelationId, part);
	ObjectAddressSet(whole_address, RelationRelationId, whole);
	recordDependencyOn(&part_address, &whole_address, DEPENDENCY_INTERNAL);
}
