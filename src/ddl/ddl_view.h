/*-------------------------------------------------------------------------
 *
 * ddl_view.h
 *	  CREATE VIEW ... WITH (continuous), and what ALTER may do to a
 *	  continuous view (ddl_view.c); called from the utility hook.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_DDL_VIEW_H
#define CONTINUOUS_DDL_VIEW_H

#include "nodes/parsenodes.h"
#include "tcop/utility.h"

/*
 * CREATE [OR REPLACE] VIEW: true if the statement ran here (a continuous
 * view, or one whose options say continuous = false), false if it is left
 * to run as it is.
 */
extern bool ddl_view_utility(PlannedStmt *pstmt, ViewStmt *stmt,
							 const char *queryString, bool readOnlyTree,
							 ProcessUtilityContext context,
							 ParamListInfo params, QueryEnvironment *queryEnv,
							 DestReceiver *dest, QueryCompletion *qc);

/* ALTER VIEW ... SET/RESET (continuous options): refused, with a hint. */
extern void ddl_view_check_alter(AlterTableStmt *stmt);

/* The storage table of relid if it is a continuous view, else InvalidOid. */
extern Oid	ddl_view_storage(Oid relid);

#endif							/* CONTINUOUS_DDL_VIEW_H */
