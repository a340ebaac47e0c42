/*-------------------------------------------------------------------------
 *
 * utility_chain.c
 *	  What pg_continuous's ProcessUtility hook hands a statement on to: the
 *	  hooks installed before it, or PostgreSQL's own processing.
 *
 * Pipeline position: DDL.  The one hook (utility_hook.c) decides what to do
 * around a statement; the handlers it calls (ddl_view.c for CREATE VIEW ...
 * WITH (continuous)) run the statements they make through here, so that
 * other extensions' hooks see them too, as chained hooks should.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/plannodes.h"
#include "tcop/utility.h"

#include "ddl/utility_chain.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

void
utility_chain_install(ProcessUtility_hook_type hook)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = hook;
}

void
utility_chain_next(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

PlannedStmt *
utility_chain_statement(PlannedStmt *pstmt, Node *stmt)
{
	PlannedStmt *result = makeNode(PlannedStmt);

	result->commandType = CMD_UTILITY;
	result->canSetTag = pstmt->canSetTag;
	result->utilityStmt = stmt;
	result->stmt_location = pstmt->stmt_location;
	result->stmt_len = pstmt->stmt_len;
	return result;
}
