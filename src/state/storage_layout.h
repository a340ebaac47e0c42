/*-------------------------------------------------------------------------
 *
 * storage_layout.h
 *	  How a continuous view's storage table is laid out, for every module
 *	  that creates, writes or reads it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_STORAGE_LAYOUT_H
#define CONTINUOUS_STORAGE_LAYOUT_H

#include "nodes/execnodes.h"
#include "utils/relcache.h"

#include "exec/view_runtime.h"
#include "plan/plan_types.h"

/* A column of the storage table, in table order. */
typedef struct StorageColumn
{
	char	  **name;			/* where the plan keeps its name */
	Oid			type;
	int32		typmod;
	Oid			collation;
} StorageColumn;

/* The storage table's columns (StorageColumn), in order. */
extern List *storage_layout_columns(ContinuousPlan *plan);

/* The column number of a window's stored end. */
extern AttrNumber storage_layout_end_attno(ContinuousPlan *plan,
										   PlanWindow *window);

/* The plan keys (integers) in the order of the unique index's columns. */
extern List *storage_layout_index_keys(ContinuousPlan *plan);

/*
 * The worker's plan of a view takes the names of its storage table's
 * columns, by position; an error if their types differ from the plan's.
 */
extern void storage_layout_bind(ContinuousPlan *plan, Oid storage,
								const char *view_name);

/* How one view's storage table is laid out, resolved per flush. */
typedef struct StorageLayout
{
	AttrNumber *key_attnos;		/* storage column of each plan key */
	AttrNumber *state_attnos;	/* storage column of each aggregate */
	Relation	index;			/* unique index on the keys, or NULL */
	int		   *index_key;		/* plan key of each index column */
	FmgrInfo   *index_eq;		/* equality of each index column */
} StorageLayout;

/* A storage table opened for writing. */
typedef struct StorageTarget
{
	Relation	rel;
	StorageLayout layout;
	EState	   *estate;
	ResultRelInfo *rri;
} StorageTarget;

/*
 * Open the view's storage table for writing (false: the view is gone), and
 * close it again; in the flush transaction.
 */
extern bool storage_target_open(ViewRuntime *vr, StorageTarget *target);
extern void storage_target_close(StorageTarget *target);

#endif							/* CONTINUOUS_STORAGE_LAYOUT_H */
