/*-------------------------------------------------------------------------
 *
 * view_access.h
 *	  May a continuous view's owner read what the worker reads for it?
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_VIEW_ACCESS_H
#define CONTINUOUS_VIEW_ACCESS_H

#include "plan/plan_types.h"

/*
 * Error unless role may read every row of the streams and continuous views
 * the view's SELECT reads (SELECT privilege, and no row-level security
 * that hides rows from it); the tables of lookup joins are read through
 * SQL as the owner and are not checked here.
 */
extern void view_access_check(ContinuousPlan *plan, Oid role,
							  const char *view_name);

#endif							/* CONTINUOUS_VIEW_ACCESS_H */
