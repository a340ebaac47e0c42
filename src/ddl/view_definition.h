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
#include "utils/relcache.h"

/*
 * Create the definition view of continuous view "view" from its analysed
 * SELECT (column aliases applied), owned by the extension; the caller makes
 * it internal to "view" (view_dependencies.c).  Returns its OID, for
 * continuous.view_catalog.query_view.
 */
extern Oid	view_definition_create(Oid view, Query *query);

/*
 * The analysed SELECT the definition view holds, as CREATE VIEW analysed
 * it (or as PostgreSQL analysed the view's SQL again after pg_upgrade or a
 * restore); a copy in CurrentMemoryContext.
 */
extern Query *view_definition_query(Oid definition);

/*
 * The analysed SELECT of a view, as its CREATE VIEW analysed it (a copy,
 * without the rule's placeholder entries), fit for StoreViewQuery().
 */
extern Query *view_rule_query(Relation view);

#endif							/* CONTINUOUS_VIEW_DEFINITION_H */
