/*-------------------------------------------------------------------------
 *
 * view_definition.h
 *	  Where a continuous view's defining SELECT is kept: an internal view
 *	  of PostgreSQL's own, continuous_storage.<view>_query.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_VIEW_DEFINITION_H
#define CONTINUOUS_VIEW_DEFINITION_H

#include "nodes/parsenodes.h"

/*
 * Create the definition view of continuous view "view" from its analysed
 * SELECT (column aliases applied), owned by the extension and an internal
 * part of "view".  Returns its OID, for continuous.view_catalog.query_view.
 */
extern Oid	view_definition_create(Oid view, Query *query);

/*
 * The analysed SELECT the definition view holds, as CREATE VIEW analysed
 * it (or as PostgreSQL analysed the view's SQL again after pg_upgrade or a
 * restore); a copy in CurrentMemoryContext.
 */
extern Query *view_definition_query(Oid definition);

#endif							/* CONTINUOUS_VIEW_DEFINITION_H */
