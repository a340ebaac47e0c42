/*-------------------------------------------------------------------------
 *
 * error_hints.h
 *	  Hints for the commands users of other streaming systems type first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ERROR_HINTS_H
#define ERROR_HINTS_H

#include "nodes/nodes.h"

/* _PG_init(): chain the emit_log_hook that adds the hints */
extern void error_hints_install(void);

/*
 * ProcessUtility hook (ddl_view.c), before anything runs: refuses
 * CREATE MATERIALIZED VIEW ... WITH (continuous) with the form to use.
 */
extern void error_hints_check_utility(Node *parsetree, const char *queryString);

#endif							/* ERROR_HINTS_H */
