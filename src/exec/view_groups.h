/*-------------------------------------------------------------------------
 *
 * view_groups.h
 *	  The groups of a continuous view's batch, by their keys.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_VIEW_GROUPS_H
#define CONTINUOUS_VIEW_GROUPS_H

#include "exec/view_runtime.h"

/* The view's table of groups, in its memory; none without GROUP BY. */
extern void view_groups_create(ViewRuntime *vr);

/* Another table of the view's groups, all in cxt; NULL without GROUP BY. */
extern GroupTable *view_groups_table(ViewRuntime *vr, MemoryContext cxt);

/*
 * The batch's group of these keys (ignored without GROUP BY), made with
 * the aggregates' initial states if it is new.
 */
extern GroupStates *view_groups_find(ViewRuntime *vr, const Datum *values,
									 const bool *isnull);

/*
 * Combine another batch's groups (groups, or global without GROUP BY) into
 * the view's batch.
 */
extern void view_groups_combine(ViewRuntime *vr, GroupTable *groups,
								GroupStates *global);

/*
 * A hash table over the view's group keys, as the batch groups use: in the
 * view's memory, its entries in the batch state's.
 */
extern TupleHashTable view_key_hash_table(ViewRuntime *vr);

/*
 * Each group key's hash function and collation, from the GROUP BY's
 * equality operators: keys it finds equal hash alike.
 */
extern void view_key_hash_functions(ViewRuntime *vr, FmgrInfo *hashfuncs,
									Oid *collations);

/* How many groups the batch holds in memory (continuous.views.groups_in_memory). */
extern int64 view_batch_groups(ViewRuntime *vr);

/* Iterate the groups of the batch: returns false when done. */
extern void view_groups_begin(ViewRuntime *vr, GroupTableIterator *iter);
extern bool view_groups_next(ViewRuntime *vr, GroupTableIterator *iter,
							 TupleTableSlot **keys, GroupStates **states);

#endif							/* CONTINUOUS_VIEW_GROUPS_H */
