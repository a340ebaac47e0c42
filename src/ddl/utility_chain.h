/*-------------------------------------------------------------------------
 *
 * utility_chain.h
 *	  The ProcessUtility hooks before pg_continuous's, or PostgreSQL's own
 *	  processing: what the extension's utility hook hands a statement on to.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_UTILITY_CHAIN_H
#define CONTINUOUS_UTILITY_CHAIN_H

#include "tcop/utility.h"

/* _PG_init (through utility_hook.c): hook in front of the hooks so far. */
extern void utility_chain_install(ProcessUtility_hook_type hook);

/* Run a statement the way it would have run without pg_continuous. */
extern void utility_chain_next(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree,
							   ProcessUtilityContext context,
							   ParamListInfo params,
							   QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);

/* pstmt with its statement replaced by a rewritten one. */
extern PlannedStmt *utility_chain_statement(PlannedStmt *pstmt, Node *stmt);

#endif							/* CONTINUOUS_UTILITY_CHAIN_H */
