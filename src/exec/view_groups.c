/*-------------------------------------------------------------------------
 *
 * view_groups.c
 *	  The groups of a continuous view's batch: a table from group keys to
 *	  partial aggregate states, and hash tables over the view's keys.
 *
 * Pipeline position: batch.  The partial aggregate stage
 * (stage_aggregate.c) creates the groups with the view and fills them
 * event by event; flush.c and the window kinds (a session
 * window merges them, a count window counts by the same keys) read them.
 * The table itself is group_table.c; this module knows the view's keys
 * and their GROUP BY operators, a group's initial states, and how the
 * groups of another batch of the view (a large transaction's, aggregated
 * before its commit: batch.c's EarlyBatch) combine into the view's batch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "exec/view_groups.h"

static void view_key_eqops(ViewRuntime *vr, Oid *eqops);
static TupleHashTable view_key_hash_table_in(ViewRuntime *vr,
											 MemoryContext metacxt,
											 MemoryContext tablecxt);
static GroupStates *group_states_new(ViewRuntime *vr);
static GroupTable *view_groups_table_in(ViewRuntime *vr, MemoryContext metacxt,
										MemoryContext tablecxt);

/* The groups of a batch, by their keys; none without GROUP BY. */
void
view_groups_create(ViewRuntime *vr)
{
	vr->groups = view_groups_table_in(vr, vr->cxt, vr->state_cxt);
}

/*
 * Another table of the view's groups, for a batch of its own
 * (batch.c's EarlyBatch): the table and the groups' keys in cxt.
 */
GroupTable *
view_groups_table(ViewRuntime *vr, MemoryContext cxt)
{
	return view_groups_table_in(vr, cxt, cxt);
}

static GroupTable *
view_groups_table_in(ViewRuntime *vr, MemoryContext metacxt,
					 MemoryContext tablecxt)
{
	GroupTable *table;
	Oid		   *eqops;

	if (vr->nkeys == 0)
		return NULL;
	eqops = palloc(sizeof(Oid) * vr->nkeys);
	view_key_eqops(vr, eqops);
	table = group_table_create(vr->key_desc,
							   group_table_binary_keys(vr->key_desc, eqops) ?
							   NULL : view_key_hash_table_in(vr, metacxt, tablecxt),
							   metacxt);
	pfree(eqops);
	return table;
}

/*
 * The states of the batch's group of these keys (values/isnull, one per
 * key; ignored without GROUP BY), made with the aggregates' initial states
 * if the batch has no such group yet.
 */
GroupStates *
view_groups_find(ViewRuntime *vr, const Datum *values, const bool *isnull)
{
	GroupStates **states;
	bool		isnew;

	if (vr->groups == NULL)
	{
		if (vr->global == NULL)
			vr->global = group_states_new(vr);
		return vr->global;
	}
	states = group_table_lookup(vr->groups, values, isnull, &isnew);
	if (isnew)
		*states = group_states_new(vr);
	return *states;
}

/*
 * A group with the aggregates' initial states, in the batch's state
 * memory: one chunk for the group and its arrays, which every event of the
 * group reads, so that a batch of many groups misses the CPU's caches once
 * per event rather than at each of them.
 */
static GroupStates *
group_states_new(ViewRuntime *vr)
{
	int			naggs = Max(vr->naggs, 1);
	MemoryContext oldcxt = MemoryContextSwitchTo(vr->state_cxt);
	GroupStates *group;
	int			i;

	group = palloc(MAXALIGN(sizeof(GroupStates)) +
				   (sizeof(Datum) + sizeof(bool)) * naggs);
	group->values = (Datum *) ((char *) group + MAXALIGN(sizeof(GroupStates)));
	group->isnull = (bool *) (group->values + naggs);
	for (i = 0; i < vr->naggs; i++)
		group->values[i] = agg_initial_state(vr->aggs[i], &group->isnull[i]);
	MemoryContextSwitchTo(oldcxt);
	return group;
}

/*
 * Combine the groups of another batch of the view (groups, or global
 * without GROUP BY) into the view's batch, by the aggregates' combine
 * functions.  The other batch's states are only read.
 */
void
view_groups_combine(ViewRuntime *vr, GroupTable *groups, GroupStates *global)
{
	GroupTableIterator iter;
	TupleTableSlot *keys;
	GroupStates *states;
	int			i;

	if (groups != NULL)
		group_table_begin(groups, &iter);
	for (;;)
	{
		GroupStates *into;

		if (groups != NULL)
		{
			if (!group_table_next(groups, &iter, &keys, &states))
				break;
			into = view_groups_find(vr, keys->tts_values, keys->tts_isnull);
		}
		else
		{
			if (global == NULL)
				break;
			states = global;
			global = NULL;
			into = view_groups_find(vr, NULL, NULL);
		}
		for (i = 0; i < vr->naggs; i++)
			into->values[i] = agg_combine(vr->aggs[i], into->values[i],
										  &into->isnull[i], states->values[i],
										  states->isnull[i]);
	}
}

/* The equality operator of each group key, from the query's GROUP BY. */
static void
view_key_eqops(ViewRuntime *vr, Oid *eqops)
{
	ListCell   *lc;

	foreach(lc, vr->plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		SortGroupClause *sgc = NULL;
		ListCell   *g;

		foreach(g, vr->plan->query->groupClause)
		{
			SortGroupClause *candidate = lfirst(g);

			if (candidate->tleSortGroupRef == key->sortgroupref)
				sgc = candidate;
		}
		if (sgc == NULL)
			elog(ERROR, "group key %d of continuous view \"%s\" has no GROUP BY clause",
				 foreach_current_index(lc) + 1, vr->name);
		eqops[foreach_current_index(lc)] = sgc->eqop;
	}
}

/*
 * The hash function of each group key (FmgrInfo in the current memory) and
 * its collation, from the GROUP BY's equality operators: keys it finds
 * equal hash alike.
 */
void
view_key_hash_functions(ViewRuntime *vr, FmgrInfo *hashfuncs, Oid *collations)
{
	Oid		   *eqops = palloc(sizeof(Oid) * vr->nkeys);
	ListCell   *lc;

	view_key_eqops(vr, eqops);
	foreach(lc, vr->plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		int			i = foreach_current_index(lc);
		Oid			hashfn;

		if (!get_op_hash_functions(eqops[i], &hashfn, NULL))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("could not identify a hash function for type %s",
							format_type_be(key->type)),
					 errdetail("Continuous views group with hashing.")));
		collations[i] = key->collation;
		fmgr_info(hashfn, &hashfuncs[i]);
	}
	pfree(eqops);
}

/* PostgreSQL's hash table over the keys, with the GROUP BY's operators. */
TupleHashTable
view_key_hash_table(ViewRuntime *vr)
{
	return view_key_hash_table_in(vr, vr->cxt, vr->state_cxt);
}

static TupleHashTable
view_key_hash_table_in(ViewRuntime *vr, MemoryContext metacxt,
					   MemoryContext tablecxt)
{
	AttrNumber *keycols;
	Oid		   *eqops;
	Oid		   *eqfuncs;
	Oid		   *collations;
	FmgrInfo   *hashfuncs;
	int			i;

	keycols = palloc(sizeof(AttrNumber) * vr->nkeys);
	eqops = palloc(sizeof(Oid) * vr->nkeys);
	eqfuncs = palloc(sizeof(Oid) * vr->nkeys);
	collations = palloc(sizeof(Oid) * vr->nkeys);
	hashfuncs = palloc(sizeof(FmgrInfo) * vr->nkeys);
	view_key_eqops(vr, eqops);
	view_key_hash_functions(vr, hashfuncs, collations);
	for (i = 0; i < vr->nkeys; i++)
	{
		keycols[i] = i + 1;
		eqfuncs[i] = get_opcode(eqops[i]);
	}

	return BuildTupleHashTableExt(NULL, vr->key_desc,
								  vr->nkeys, keycols, eqfuncs, hashfuncs,
								  collations, 1024, 0,
								  metacxt, tablecxt,
								  vr->econtext->ecxt_per_tuple_memory,
								  false);
}

int64
view_batch_groups(ViewRuntime *vr)
{
	if (vr->plan->transform)
		return vr->batch_rows;	/* a transform's rows, for groups_in_memory */
	if (vr->groups)
		return group_table_count(vr->groups);
	return vr->global ? 1 : 0;
}

/* ------------------------------------------------------------------------
 * Iterating the groups of a batch, for flush.c and the window kinds
 * ------------------------------------------------------------------------
 */

void
view_groups_begin(ViewRuntime *vr, GroupTableIterator *iter)
{
	if (vr->groups)
		group_table_begin(vr->groups, iter);
	else
		memset(iter, 0, sizeof(GroupTableIterator));
}

bool
view_groups_next(ViewRuntime *vr, GroupTableIterator *iter,
				 TupleTableSlot **keys, GroupStates **states)
{
	if (vr->groups == NULL)
	{
		/* the single group of a view without GROUP BY, once */
		if (iter->next != 0 || vr->global == NULL)
			return false;
		iter->next = 1;
		*keys = NULL;
		*states = vr->global;
		return true;
	}
	return group_table_next(vr->groups, iter, keys, states);
}
