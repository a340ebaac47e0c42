/*-------------------------------------------------------------------------
 *
 * storage_layout.c
 *	  How a continuous view's storage table is laid out: its columns in
 *	  order, their names, and the order of its unique index.
 *
 * Pipeline position: state.  One table per view, written by flush.c and
 * the window kinds that merge or expire windows, read by the read view
 * that ddl_view.c creates over it.  Every one of them asks this module
 * for the layout:
 *
 *	 the group keys, in plan order (plan.c);
 *	 one transition state per aggregate, in plan order;
 *	 the stored end of each window that keeps one (PlanWindow.end_column),
 *	 in the order of the plan's windows.
 *
 * The unique index is on the keys in plan order, except that the key of
 * a window with a stored end comes last, so that a group's windows are an
 * index range ordered by start.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "state/storage_key.h"
#include "state/storage_layout.h"

static char *bind_storage_column(Relation storage, int *attno, Oid type,
								 const char *view_name);
static void storage_layout_resolve(ViewRuntime *vr, Relation rel,
								   StorageLayout *layout);
static EState *storage_estate(ViewRuntime *vr, Relation rel,
							  StorageLayout *layout);

List *
storage_layout_columns(ContinuousPlan *plan)
{
	List	   *columns = NIL;
	ListCell   *lc;

	/* a transform: its output columns, then the event's time */
	foreach(lc, plan->outputs)
	{
		ContinuousOutput *output = lfirst(lc);
		StorageColumn *column = palloc(sizeof(StorageColumn));

		column->name = &output->column;
		column->type = output->type;
		column->typmod = output->typmod;
		column->collation = output->collation;
		columns = lappend(columns, column);
	}
	if (plan->event_time_column != NULL)
	{
		StorageColumn *column = palloc(sizeof(StorageColumn));

		column->name = &plan->event_time_column;
		column->type = get_atttype(plan->stream, plan->event_time_attnum);
		column->typmod = -1;
		column->collation = InvalidOid;
		columns = lappend(columns, column);
	}

	foreach(lc, plan->keys)
	{
		ContinuousKey *key = lfirst(lc);
		StorageColumn *column = palloc(sizeof(StorageColumn));

		column->name = &key->column;
		column->type = key->type;
		column->typmod = key->typmod;
		column->collation = key->collation;
		columns = lappend(columns, column);
	}
	foreach(lc, plan->aggregates)
	{
		ContinuousAggregate *agg = lfirst(lc);
		StorageColumn *column = palloc(sizeof(StorageColumn));

		column->name = &agg->column;
		column->type = agg->storage_type;
		column->typmod = -1;
		column->collation = InvalidOid;
		columns = lappend(columns, column);
	}
	foreach(lc, plan->windows)
	{
		PlanWindow *window = lfirst(lc);
		ContinuousKey *key = list_nth(plan->keys, window->key);
		StorageColumn *column;

		if (window->end_column == NULL)
			continue;
		column = palloc(sizeof(StorageColumn));
		column->name = &window->end_column;
		column->type = key->type;
		column->typmod = key->typmod;
		column->collation = InvalidOid;
		columns = lappend(columns, column);
	}
	return columns;
}

AttrNumber
storage_layout_end_attno(ContinuousPlan *plan, PlanWindow *window)
{
	AttrNumber	attno = list_length(plan->keys) + list_length(plan->aggregates);
	ListCell   *lc;

	foreach(lc, plan->windows)
	{
		PlanWindow *other = lfirst(lc);

		if (other->end_column != NULL)
			attno++;
		if (other == window)
			return attno;
	}
	elog(ERROR, "window of continuous view plan has no stored end");
	return InvalidAttrNumber;	/* keep compiler quiet */
}

List *
storage_layout_index_keys(ContinuousPlan *plan)
{
	List	   *keys = NIL;
	List	   *last = NIL;
	ListCell   *lc;
	int			i;

	for (i = 0; i < list_length(plan->keys); i++)
	{
		bool		ends_index = false;

		foreach(lc, plan->windows)
		{
			PlanWindow *window = lfirst(lc);

			if (window->key == i && window->end_column != NULL)
				ends_index = true;
		}
		if (ends_index)
			last = lappend_int(last, i);
		else
			keys = lappend_int(keys, i);
	}
	return list_concat(keys, last);
}


/*
 * The worker's plan names its columns after the storage table's, by
 * position, in the order storage_layout_columns() gives.  The names plan.c
 * derives come from the query, and a query analysed again from its SQL (pg_upgrade, a restore:
 * view_definition.c) names a group key that is not in the SELECT list
 * after the stream column's current name, while the storage column keeps
 * the name the stream column had at CREATE VIEW.  The types must agree,
 * or the storage was not laid out for this plan.
 */
void
storage_layout_bind(ContinuousPlan *plan, Oid storage, const char *view_name)
{
	Relation	rel = RelationIdGetRelation(storage);
	int			attno = 0;
	ListCell   *lc;

	if (!RelationIsValid(rel))
		elog(ERROR, "could not open the storage of continuous view \"%s\"",
			 view_name);
	foreach(lc, storage_layout_columns(plan))
	{
		StorageColumn *column = lfirst(lc);

		*column->name = bind_storage_column(rel, &attno, column->type,
											view_name);
	}
	/* and no column after them */
	(void) bind_storage_column(rel, &attno, InvalidOid, view_name);
	RelationClose(rel);
}

/*
 * The name of the next column of storage after *attno, which must be of
 * type (InvalidOid: there must be none; NULL is returned then).
 */
static char *
bind_storage_column(Relation storage, int *attno, Oid type,
					const char *view_name)
{
	TupleDesc	desc = RelationGetDescr(storage);
	Form_pg_attribute att = NULL;

	while (*attno < desc->natts)
	{
		att = TupleDescAttr(desc, (*attno)++);
		if (!att->attisdropped)
			break;
		att = NULL;
	}
	if (att == NULL && !OidIsValid(type))
		return NULL;
	if (att == NULL || att->atttypid != type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("storage of continuous view \"%s\" does not match its definition",
						view_name),
				 att == NULL ?
				 errdetail("Storage table \"%s\" has fewer columns than the view's SELECT computes.",
						   RelationGetRelationName(storage)) :
				 !OidIsValid(type) ?
				 errdetail("Storage table \"%s\" has more columns than the view's SELECT computes.",
						   RelationGetRelationName(storage)) :
				 errdetail("Column \"%s\" of storage table \"%s\" is of type %s, where the view's SELECT computes %s.",
						   NameStr(att->attname),
						   RelationGetRelationName(storage),
						   format_type_be(att->atttypid),
						   format_type_be(type))));
	return pstrdup(NameStr(att->attname));
}

/*
 * Open a view's storage table, its key index and what index maintenance
 * needs; false if the view has been dropped since the batch began.
 */
bool
storage_target_open(ViewRuntime *vr, StorageTarget *target)
{
	LockRelationOid(vr->storage, RowExclusiveLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(vr->storage)))
	{
		UnlockRelationOid(vr->storage, RowExclusiveLock);
		return false;
	}
	target->rel = table_open(vr->storage, NoLock);
	storage_layout_resolve(vr, target->rel, &target->layout);
	target->estate = storage_estate(vr, target->rel, &target->layout);
	target->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(target->rri, target->rel, 1, NULL, 0);
	ExecOpenIndices(target->rri, false);
	return true;
}

void
storage_target_close(StorageTarget *target)
{
	ExecCloseIndices(target->rri);
	FreeExecutorState(target->estate);
	if (target->layout.index)
		index_close(target->layout.index, NoLock);
	table_close(target->rel, NoLock);
}

/*
 * An executor state whose range table names the storage table, with only
 * the state columns updated: index maintenance learns from it that the key
 * index is unchanged by a flush, which lets btree delete old versions
 * bottom-up instead of splitting pages.
 */
static EState *
storage_estate(ViewRuntime *vr, Relation rel, StorageLayout *layout)
{
	EState	   *estate = CreateExecutorState();
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	int			i;

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	for (i = 0; i < vr->naggs; i++)
		rte->updatedCols = bms_add_member(rte->updatedCols,
										  layout->state_attnos[i] - FirstLowInvalidHeapAttributeNumber);
	ExecInitRangeTable(estate, list_make1(rte));
	estate->es_output_cid = GetCurrentCommandId(true);
	return estate;
}

/* The attribute number of a column of the view's storage, which must exist. */
static AttrNumber
storage_attno(ViewRuntime *vr, const char *column)
{
	AttrNumber	attno = get_attnum(vr->storage, column);

	if (attno == InvalidAttrNumber)
		elog(ERROR, "storage of continuous view \"%s\" has no column \"%s\"",
			 vr->name, column);
	return attno;
}

static void
storage_layout_resolve(ViewRuntime *vr, Relation rel, StorageLayout *layout)
{
	ListCell   *lc;
	int			i;

	layout->key_attnos = palloc(sizeof(AttrNumber) * Max(vr->nkeys, 1));
	layout->state_attnos = palloc(sizeof(AttrNumber) * Max(vr->naggs, 1));
	i = 0;
	foreach(lc, vr->plan->keys)
	{
		ContinuousKey *key = lfirst(lc);

		layout->key_attnos[i++] = storage_attno(vr, key->column);
	}
	i = 0;
	foreach(lc, vr->plan->aggregates)
	{
		ContinuousAggregate *agg = lfirst(lc);

		layout->state_attnos[i++] = storage_attno(vr, agg->column);
	}

	layout->index = NULL;
	if (vr->nkeys == 0)
		return;

	layout->index_key = palloc(sizeof(int) * vr->nkeys);
	layout->index = storage_key_index(rel, vr->plan->keys, vr->name,
									  layout->index_key);
	layout->index_eq = palloc(sizeof(FmgrInfo) * vr->nkeys);
	for (i = 0; i < vr->nkeys; i++)
	{
		Relation	index = layout->index;
		Oid			eqop;

		eqop = get_opfamily_member(index->rd_opfamily[i],
								   index->rd_opcintype[i],
								   index->rd_opcintype[i],
								   BTEqualStrategyNumber);
		if (!OidIsValid(eqop))
			elog(ERROR, "missing equality operator for index column %d of continuous view \"%s\"",
				 i + 1, vr->name);
		fmgr_info(get_opcode(eqop), &layout->index_eq[i]);
	}
}

