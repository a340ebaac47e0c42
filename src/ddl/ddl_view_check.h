/*-------------------------------------------------------------------------
 *
 * ddl_view_check.h
 *	  Refusals of what a continuous view's SELECT cannot contain.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_DDL_VIEW_CHECK_H
#define CONTINUOUS_DDL_VIEW_CHECK_H

#include "parser/parse_node.h"

#include "plan/plan.h"

/*
 * Errors out, naming the construct, unless the analysed SELECT can be
 * maintained incrementally; returns the stream it reads.
 */
extern Oid	ddl_view_check_query(ParseState *pstate, Query *query);

/* Errors out unless every group key can be a column of a unique index. */
extern void ddl_view_check_keys(ContinuousPlan *plan);

#endif							/* CONTINUOUS_DDL_VIEW_CHECK_H */
