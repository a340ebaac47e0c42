/*-------------------------------------------------------------------------
 *
 * storage_grants.c
 *	  Who may read a continuous view's storage: the view's owner, and
 *	  nobody else.
 *
 * Pipeline position: DDL.  A view's read view runs with its owner's rights
 * (it is an ordinary view), so the owner needs SELECT on the storage table
 * behind it; the worker, which writes the storage, runs as the extension.
 * The grant is made again whenever the view may have changed hands: at
 * CREATE VIEW (ddl_view.c), ALTER VIEW ... OWNER TO and REASSIGN OWNED
 * (ddl_view.c), and when a restored view comes back (restore.c).  The
 * guard that refuses everyone else's writes is storage_guard.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "base/privileges.h"
#include "ddl/ddl_catalog.h"
#include "ddl/storage_grants.h"

/*
 * The view's owner reads its storage; nobody else has any right on it.
 * After CREATE VIEW, and whenever the view may have changed hands.  Runs
 * fixed statements with the extension's rights.
 */
void
storage_grant_reader(Oid storage, Oid view_owner)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(storage)};
	char	   *table;
	List	   *revoke = NIL;
	ListCell   *lc;
	ExtensionPrivileges saved;
	uint64		i;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(storage)),
									   get_rel_name(storage));

	/* every grantee but the table's owner */
	if (SPI_execute_with_args("SELECT DISTINCT CASE a.grantee WHEN 0 THEN 'PUBLIC' "
							  "  ELSE pg_catalog.quote_ident(r.rolname) END "
							  "FROM pg_catalog.pg_class c "
							  "CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a "
							  "LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee "
							  "WHERE c.oid OPERATOR(pg_catalog.=) $1 "
							  "AND a.grantee OPERATOR(pg_catalog.<>) c.relowner",
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the privileges of \"%s\"", table);
	for (i = 0; i < SPI_processed; i++)
		revoke = lappend(revoke, SPI_getvalue(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1));
	foreach(lc, revoke)
		if (SPI_execute(psprintf("REVOKE ALL ON %s FROM %s", table,
								 (char *) lfirst(lc)), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not revoke privileges on \"%s\"", table);
	if (view_owner != BOOTSTRAP_SUPERUSERID &&
		SPI_execute(psprintf("GRANT SELECT ON %s TO %s", table,
							 quote_identifier(GetUserNameFromId(view_owner, false))),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not grant SELECT on \"%s\"", table);
	SPI_finish();
	privileges_leave_extension(&saved);
}

/* After REASSIGN OWNED: every view's storage, for the view's owner now. */
void
storage_grant_all_readers(void)
{
	ListCell   *lc;

	foreach(lc, ddl_catalog_all_views())
	{
		Oid			view = lfirst_oid(lc);
		Oid			storage = ddl_catalog_storage_of_view(view);
		HeapTuple	tuple;

		tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(view));
		if (!HeapTupleIsValid(tuple))
			continue;
		storage_grant_reader(storage,
								   ((Form_pg_class) GETSTRUCT(tuple))->relowner);
		ReleaseSysCache(tuple);
	}
}
