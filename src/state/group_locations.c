/*-------------------------------------------------------------------------
 *
 * group_locations.c
 *	  The groups of a windowed view that the worker knows are not in its
 *	  storage, so that the flush inserts them without searching the index.
 *
 * Pipeline position: flush (flush.c asks, per group of the batch, before
 * it searches the storage's unique index).  In a view by key and window
 * over many keys nearly every group of a batch is new, and its index
 * search, a descent from the root that finds nothing, was the largest part
 * of the flush.
 *
 * The rule.  A view of a table stream has one writer of its storage: the
 * worker that decodes the stream, through flush.c (retention deletes rows,
 * which can make no group absent that is stored).  When the flush first
 * runs for the view after the worker loaded it, it reads the latest window
 * start its storage holds, the floor.  From then on a group whose window
 * starts after the floor is in storage exactly if this worker inserted it
 * since then: the groups it inserted are kept here, by their keys.  So a
 * group of such a window that is not kept here is absent; every other
 * group is searched for, as before.  A group found absent is kept from
 * then on, also if its insert is rolled back: a group kept but not stored
 * is merely searched for, never inserted twice.  And should the rule ever
 * be wrong, the unique index refuses the second row: the flush fails with
 * an error that names the view, and nothing is stored twice.
 *
 * What else writes a view's storage runs with the view's runtime thrown
 * away: continuous.rebuild() and a restore make the worker reload its
 * views (the catalog change it decodes), the worker's own rebuilds run
 * before it loads them, and a backfill before the view's creation commits.
 * A restart starts from storage again.  Kafka streams may be flushed by
 * several workers (continuous.workers): their views keep nothing.
 *
 * Memory.  The groups kept count against continuous.state_memory (the
 * worker flushes its batch earlier by as much), up to half of it for all
 * views together; over that, a view forgets the older half of its windows
 * by moving its floor up to them: their groups are searched for again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "base/guc.h"
#include "exec/view_groups.h"
#include "state/group_locations.h"
#include "window/window_kind.h"

struct GroupLocations
{
	ViewRuntime *vr;
	MemoryContext cxt;			/* this struct's; deleted with the view */
	MemoryContext table_cxt;	/* the kept groups', made anew to forget */
	GroupTable *known;			/* groups inserted into windows after floor */
	int			window_key;		/* the window's key, in plan order */
	Oid			window_type;	/* timestamptz, timestamp or date */
	bool		loaded;			/* floor read from storage */
	int64		floor;			/* windows up to here: searched for */
	Size		counted;		/* bytes of it in locations_memory */
	MemoryContextCallback on_delete;
};

/* Memory the knowledge of every view takes in this process. */
static Size locations_memory = 0;

static void locations_deleted(void *arg);
static void locations_new_table(GroupLocations *gl);
static void locations_load(GroupLocations *gl, Relation storage,
						   StorageLayout *layout);
static void locations_forget(GroupLocations *gl);
static int64 window_value(GroupLocations *gl, Datum value);
static int	int64_cmp(const void *a, const void *b);

void
group_locations_enable(ViewRuntime *vr)
{
	PlanWindow *window = vr->plan->window;
	GroupLocations *gl;
	Oid			type;

	/* a window kind that merges its groups has a flush of its own */
	if (window == NULL || window->key < 0 || window->kind->flush_groups != NULL)
		return;
	type = TupleDescAttr(vr->key_desc, window->key)->atttypid;
	if (type != TIMESTAMPTZOID && type != TIMESTAMPOID && type != DATEOID)
		return;

	gl = MemoryContextAllocZero(vr->cxt, sizeof(GroupLocations));
	gl->vr = vr;
	gl->window_key = window->key;
	gl->window_type = type;
	gl->cxt = AllocSetContextCreate(vr->cxt, "pg_continuous group locations",
									ALLOCSET_DEFAULT_SIZES);
	gl->on_delete.func = locations_deleted;
	gl->on_delete.arg = gl;
	MemoryContextRegisterResetCallback(gl->cxt, &gl->on_delete);
	locations_new_table(gl);
	vr->locations = gl;
}

/* The view's memory goes: so does what it counted. */
static void
locations_deleted(void *arg)
{
	GroupLocations *gl = arg;

	locations_memory -= gl->counted;
	gl->counted = 0;
}

static void
locations_new_table(GroupLocations *gl)
{
	MemoryContext oldcxt;

	gl->table_cxt = AllocSetContextCreate(gl->cxt, "pg_continuous group locations table",
										  ALLOCSET_DEFAULT_SIZES);
	/* the table keeps pointers to what it is built with: all in its memory */
	oldcxt = MemoryContextSwitchTo(gl->table_cxt);
	gl->known = view_key_group_table(gl->vr, gl->table_cxt, gl->table_cxt);
	MemoryContextSwitchTo(oldcxt);
}

GroupLocations *
group_locations_begin(ViewRuntime *vr, Relation storage, StorageLayout *layout)
{
	GroupLocations *gl = vr->locations;

	if (gl == NULL)
		return NULL;
	if (!gl->loaded)
		locations_load(gl, storage, layout);
	return gl;
}

/*
 * The floor: the latest window start in storage, as the flush transaction
 * sees it (rows of its own not committed yet only raise it).  The planner
 * reads it from the end of the unique index when the window leads it.
 */
static void
locations_load(GroupLocations *gl, Relation storage, StorageLayout *layout)
{
	AttrNumber	attno = layout->key_attnos[gl->window_key];
	char	   *column = NameStr(TupleDescAttr(RelationGetDescr(storage), attno - 1)->attname);
	char	   *sql;
	bool		isnull;
	Datum		value;

	sql = psprintf("SELECT pg_catalog.max(%s) FROM %s.%s",
				   quote_identifier(column),
				   quote_identifier(get_namespace_name(RelationGetNamespace(storage))),
				   quote_identifier(RelationGetRelationName(storage)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_continuous: SPI_connect failed");
	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pg_continuous: could not read the latest window of continuous view \"%s\"",
			 gl->vr->name);
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	gl->floor = isnull ? PG_INT64_MIN : window_value(gl, value);
	SPI_finish();
	pfree(sql);
	gl->loaded = true;
	elog(DEBUG1, "continuous view \"%s\" inserts groups of windows after " INT64_FORMAT " without searching",
		 gl->vr->name, gl->floor);
}

GroupWhere
group_locations_lookup(GroupLocations *gl, const Datum *values,
					   const bool *isnull)
{
	bool		isnew;

	Assert(gl->loaded);
	if (isnull[gl->window_key] ||
		window_value(gl, values[gl->window_key]) <= gl->floor)
		return GROUP_UNKNOWN;
	(void) group_table_lookup(gl->known, values, isnull, &isnew);
	return isnew ? GROUP_ABSENT : GROUP_UNKNOWN;
}

void
group_locations_end(GroupLocations *gl)
{
	Size		bytes = MemoryContextMemAllocated(gl->cxt, true);

	locations_memory += bytes - gl->counted;
	gl->counted = bytes;
	if (locations_memory > (Size) continuous_state_memory_kb * 1024 / 2)
	{
		locations_forget(gl);
		bytes = MemoryContextMemAllocated(gl->cxt, true);
		locations_memory += bytes - gl->counted;
		gl->counted = bytes;
	}
}

/*
 * Forget the older half of the windows kept (all of them if there is one):
 * the floor moves up to the newest window forgotten.
 */
static void
locations_forget(GroupLocations *gl)
{
	int64		n = group_table_count(gl->known);
	int64	   *windows;
	int64		i = 0;
	int64		floor;
	GroupTableIterator iter;
	TupleTableSlot *keys;
	GroupStates *states;
	GroupTable *old = gl->known;
	MemoryContext old_cxt = gl->table_cxt;

	if (n == 0)
		return;
	windows = palloc(sizeof(int64) * n);
	group_table_begin(old, &iter);
	while (group_table_next(old, &iter, &keys, &states))
		windows[i++] = window_value(gl, keys->tts_values[gl->window_key]);
	Assert(i == n);
	qsort(windows, n, sizeof(int64), int64_cmp);
	floor = windows[(n - 1) / 2];
	pfree(windows);

	locations_new_table(gl);
	group_table_begin(old, &iter);
	while (group_table_next(old, &iter, &keys, &states))
	{
		bool		isnew;

		if (window_value(gl, keys->tts_values[gl->window_key]) > floor)
			(void) group_table_lookup(gl->known, keys->tts_values,
									  keys->tts_isnull, &isnew);
	}
	MemoryContextDelete(old_cxt);
	elog(DEBUG1, "continuous view \"%s\" forgot the groups of windows up to " INT64_FORMAT ", keeping " INT64_FORMAT,
		 gl->vr->name, floor, group_table_count(gl->known));
	gl->floor = Max(gl->floor, floor);
}

Size
group_locations_memory(void)
{
	return locations_memory;
}

/* A window start as a number that orders as the type does. */
static int64
window_value(GroupLocations *gl, Datum value)
{
	if (gl->window_type == DATEOID)
		return (int64) DatumGetDateADT(value);
	return DatumGetInt64(value);
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}
