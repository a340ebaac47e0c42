/*-------------------------------------------------------------------------
 *
 * ddl_view.h
 *	  The ProcessUtility hook for CREATE VIEW ... WITH (continuous) (ddl_view.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DDL_VIEW_H
#define DDL_VIEW_H

#include "postgres.h"

extern void continuous_install_utility_hook(void);

#endif							/* DDL_VIEW_H */
