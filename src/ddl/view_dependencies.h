/*-------------------------------------------------------------------------
 *
 * view_dependencies.h
 *	  The dependencies that make a continuous view one object, recorded at
 *	  CREATE VIEW and again where pg_upgrade or a restore left them out.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_VIEW_DEPENDENCIES_H
#define CONTINUOUS_VIEW_DEPENDENCIES_H

#include "nodes/parsenodes.h"

#include "ddl/ddl_catalog.h"

/*
 * Storage, table of counts and definition view internal to the view; the
 * view dependent on what its SELECT (query; NULL: left as it is) uses
 * and on its late-events table.  Fields of entry used: view, storage,
 * counts_table, query_view, late_table (InvalidOid: left out).
 */
extern void view_dependencies_record(const ViewCatalogEntry *entry,
									 Query *query);

/*
 * Worker, at start: record the dependencies of every continuous view whose
 * storage is not internal to it (pg_dump carries no dependencies).
 */
extern void view_dependencies_restore(void);

#endif							/* CONTINUOUS_VIEW_DEPENDENCIES_H */
