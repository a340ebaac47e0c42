/*-------------------------------------------------------------------------
 *
 * ddl_view_join.h
 *	  Refusals of what a continuous view cannot join to its stream.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_DDL_VIEW_JOIN_H
#define CONTINUOUS_DDL_VIEW_JOIN_H

#include "nodes/parsenodes.h"

/*
 * NULL if the analysed SELECT's FROM joins no table to its first item;
 * otherwise that item, the stream, after refusing, with errors that name
 * the construct, every join the lookup join stage cannot run.
 */
extern RangeTblRef *ddl_view_check_joins(Query *query);

#endif							/* CONTINUOUS_DDL_VIEW_JOIN_H */
