/*-------------------------------------------------------------------------
 *
 * ddl_transform.h
 *	  CREATE VIEW of a continuous transform: what differs from a view that
 *	  aggregates (ddl_view.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_DDL_TRANSFORM_H
#define CONTINUOUS_DDL_TRANSFORM_H

#include "parser/parse_node.h"

#include "ddl/view_options.h"
#include "plan/plan_types.h"

/* Refuse options and output columns a transform cannot have. */
extern void ddl_transform_check(ParseState *pstate, ContinuousPlan *plan,
								ContinuousOptions *opts);

/* The index retention deletes by; with the extension's privileges. */
extern void ddl_transform_create_index(ContinuousPlan *plan, Oid storage,
									   const char *storage_name,
									   ContinuousOptions *opts);

/* The SELECT of the user's view: the output columns of storage. */
extern char *ddl_transform_read_select(ContinuousPlan *plan, Oid storage);

#endif							/* CONTINUOUS_DDL_TRANSFORM_H */
