/*-------------------------------------------------------------------------
 *
 * group_locations.h
 *	  What the worker knows of a view's storage rows without searching the
 *	  storage index: the groups it knows to be absent (group_locations.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_GROUP_LOCATIONS_H
#define CONTINUOUS_GROUP_LOCATIONS_H

#include "utils/relcache.h"

#include "exec/view_runtime.h"
#include "state/storage_layout.h"

typedef struct GroupLocations GroupLocations;

/* What a flush knows of a group before it searches the storage index. */
typedef enum GroupWhere
{
	GROUP_UNKNOWN,				/* search the index */
	GROUP_ABSENT				/* not in storage: insert it without a search */
} GroupWhere;

/*
 * Keep knowledge for this view, whose storage this process alone writes
 * (the worker that decodes its table stream).  Views without a window
 * key of a supported type keep none.
 */
extern void group_locations_enable(ViewRuntime *vr);

/*
 * At the start of a flush of the view's ngroups groups, in nwindows
 * windows, in the flush transaction, for a view that keeps knowledge
 * (vr->locations): it is loaded from storage the first time.
 */
extern GroupLocations *group_locations_begin(ViewRuntime *vr,
											 Relation storage,
											 StorageLayout *layout,
											 int64 ngroups, int64 nwindows);

/*
 * Where the group of these keys (plan order) stands; a group found absent
 * counts as inserted from here on (if the insert is rolled back, the
 * group is merely searched for again).
 */
extern GroupWhere group_locations_lookup(GroupLocations *gl,
										 const Datum *values,
										 const bool *isnull);

/* After the flush of the view's groups: memory over budget is forgotten. */
extern void group_locations_end(GroupLocations *gl);

/* Memory the knowledge of every view takes in this process. */
extern Size group_locations_memory(void);

#endif							/* CONTINUOUS_GROUP_LOCATIONS_H */
