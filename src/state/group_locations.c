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
 * since then.  The groups it inserted are kept here, per window, in Bloom
 * filters over their keys' hashes (the GROUP BY's hash functions: keys it
 * finds equal hash alike): a filter may say a group is there that is not,
 * never the reverse.  So a group of such a window that its filters lack
 * is absent; every other group is searched for, as before.  A group found
 * absent is added from then on, also if its insert is rolled back: a
 * group said to be there but not stored is merely searched for, never
 * inserted twice.  Should the rule ever be wrong, the unique index refuses
 * the second row: the flush fails with an error that names the view, and
 * nothing is stored twice.
 *
 * Why filters and not a hash table of the keys: the flush visits groups
 * in index order, so the B-tree pages a search descends are mostly in the
 * CPU's caches, and a lookup in a table of a million keys, a cache miss
 * each, cost as much as the search it saved (measured).  A filter takes
 * two bytes per key, and a window's filters stay in the caches.  Each
 * window's first filter is sized by the flush that makes it, for the
 * groups of a window of that flush on average (sized for all of the
 * flush's groups, a flush of events spread over a thousand windows made
 * a thousand filters each as large as all of them needed); when one is
 * full, a filter twice as large follows.
 *
 * What else writes a view's storage runs with the view's runtime thrown
 * away: continuous.rebuild() and a restore make the worker reload its
 * views (the catalog change it decodes), the worker's own rebuilds run
 * before it loads them, and a backfill before the view's creation commits.
 * A restart starts from storage again.  Kafka streams may be flushed by
 * several workers (continuous.workers): their views keep nothing.
 *
 * Memory.  The filters count against continuous.state_memory (the worker
 * flushes its batch earlier by as much), up to half of it for all views
 * together; over that, a view forgets the older half of its windows by
 * moving its floor up to them: their groups are searched for again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "base/guc.h"
#include "exec/view_groups.h"
#include "state/group_locations.h"
#include "window/window_kind.h"

/* A Bloom filter of the keys of groups inserted into one window. */
typedef struct KeyFilter
{
	struct KeyFilter *older;	/* the window's previous, smaller filter */
	int64		nkeys;
	int64		capacity;		/* keys at FILTER_BITS_PER_KEY bits each */
	uint64		mask;			/* bits - 1, a power of two less one */
	uint64		bits[FLEXIBLE_ARRAY_MEMBER];
} KeyFilter;

/* 16 bits and 4 probes per key: 0.24% of absent keys look present */
#define FILTER_BITS_PER_KEY 16
#define FILTER_PROBES 4
#define FILTER_MIN_KEYS 1024

typedef struct WindowKeys
{
	int64		window;			/* hash key: the window's start */
	KeyFilter  *filters;		/* newest first */
} WindowKeys;

struct GroupLocations
{
	ViewRuntime *vr;
	MemoryContext cxt;			/* this struct's; deleted with the view */
	HTAB	   *windows;		/* WindowKeys, for windows after floor */
	WindowKeys *last;			/* the window of the last lookup */
	int			window_key;		/* the window's key, in plan order */
	Oid			window_type;	/* timestamptz, timestamp or date */
	FmgrInfo   *hashfuncs;		/* per key, the GROUP BY's */
	Oid		   *collations;
	bool		loaded;			/* floor read from storage */
	int64		floor;			/* windows up to here: searched for */
	int64		window_groups;	/* a window's in the flush under way, on
								 * average: a first filter's size */
	Size		bytes;			/* of the filters */
	Size		counted;		/* of it in locations_memory */
	MemoryContextCallback on_delete;
};

/* Memory the knowledge of every view takes in this process. */
static Size locations_memory = 0;

static void locations_deleted(void *arg);
static void locations_new_windows(GroupLocations *gl);
static void locations_load(GroupLocations *gl, Relation storage,
						   StorageLayout *layout);
static void locations_forget(GroupLocations *gl);
static uint64 keys_hash(GroupLocations *gl, const Datum *values,
						const bool *isnull);
static bool filter_lacks(KeyFilter *filter, uint64 hash);
static void filter_add(GroupLocations *gl, WindowKeys *wk, uint64 hash);
static int64 window_value(GroupLocations *gl, Datum value);
static char *window_text(GroupLocations *gl, int64 window);
static int	int64_cmp(const void *a, const void *b);

void
group_locations_enable(ViewRuntime *vr)
{
	PlanWindow *window = vr->plan->window;
	GroupLocations *gl;
	MemoryContext oldcxt;
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
	oldcxt = MemoryContextSwitchTo(gl->cxt);
	gl->hashfuncs = palloc(sizeof(FmgrInfo) * vr->nkeys);
	gl->collations = palloc(sizeof(Oid) * vr->nkeys);
	view_key_hash_functions(vr, gl->hashfuncs, gl->collations);
	MemoryContextSwitchTo(oldcxt);
	locations_new_windows(gl);
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
locations_new_windows(GroupLocations *gl)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(WindowKeys);
	ctl.hcxt = gl->cxt;
	gl->windows = hash_create("pg_continuous windows of group locations", 64,
							  &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	gl->last = NULL;
}

GroupLocations *
group_locations_begin(ViewRuntime *vr, Relation storage, StorageLayout *layout,
					  int64 ngroups, int64 nwindows)
{
	GroupLocations *gl = vr->locations;

	Assert(gl != NULL);
	if (!gl->loaded)
		locations_load(gl, storage, layout);
	gl->window_groups = ngroups / Max(nwindows, 1);
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
	elog(DEBUG1, "continuous view \"%s\" inserts groups of windows after %s without searching",
		 gl->vr->name, window_text(gl, gl->floor));
}

GroupWhere
group_locations_lookup(GroupLocations *gl, const Datum *values,
					   const bool *isnull)
{
	int64		window;
	uint64		hash;
	WindowKeys *wk;
	KeyFilter  *filter;

	Assert(gl->loaded);
	if (isnull[gl->window_key])
		return GROUP_UNKNOWN;
	window = window_value(gl, values[gl->window_key]);
	if (window <= gl->floor)
		return GROUP_UNKNOWN;

	/* the flush visits a window's groups together when it leads the index */
	wk = gl->last;
	if (wk == NULL || wk->window != window)
	{
		bool		found;

		wk = hash_search(gl->windows, &window, HASH_ENTER, &found);
		if (!found)
			wk->filters = NULL;
		gl->last = wk;
	}
	hash = keys_hash(gl, values, isnull);
	for (filter = wk->filters; filter != NULL; filter = filter->older)
	{
		if (!filter_lacks(filter, hash))
			return GROUP_UNKNOWN;
	}
	filter_add(gl, wk, hash);
	return GROUP_ABSENT;
}

void
group_locations_end(GroupLocations *gl)
{
	if (locations_memory - gl->counted + gl->bytes >
		(Size) continuous_state_memory_kb * 1024 / 2)
		locations_forget(gl);
	locations_memory += gl->bytes - gl->counted;
	gl->counted = gl->bytes;
}

/*
 * Forget the older half of the windows kept (the one, if there is one):
 * the floor moves up to the newest window forgotten.
 */
static void
locations_forget(GroupLocations *gl)
{
	long		n = hash_get_num_entries(gl->windows);
	int64	   *windows;
	int64		floor;
	long		i = 0;
	HASH_SEQ_STATUS seq;
	WindowKeys *wk;

	if (n == 0)
		return;
	windows = palloc(sizeof(int64) * n);
	hash_seq_init(&seq, gl->windows);
	while ((wk = hash_seq_search(&seq)) != NULL)
		windows[i++] = wk->window;
	qsort(windows, n, sizeof(int64), int64_cmp);
	floor = windows[(n - 1) / 2];
	for (i = 0; i < n && windows[i] <= floor; i++)
	{
		wk = hash_search(gl->windows, &windows[i], HASH_REMOVE, NULL);
		while (wk->filters != NULL)
		{
			KeyFilter  *older = wk->filters->older;

			gl->bytes -= offsetof(KeyFilter, bits) + (wk->filters->mask + 1) / 8;
			pfree(wk->filters);
			wk->filters = older;
		}
	}
	pfree(windows);
	gl->last = NULL;
	elog(DEBUG1, "continuous view \"%s\" forgot the groups of windows up to %s, keeping %ld windows",
		 gl->vr->name, window_text(gl, floor), hash_get_num_entries(gl->windows));
	gl->floor = Max(gl->floor, floor);
}

Size
group_locations_memory(void)
{
	return locations_memory;
}

/* The keys' hashes by the GROUP BY's functions, mixed into 64 bits. */
static uint64
keys_hash(GroupLocations *gl, const Datum *values, const bool *isnull)
{
	uint64		h = 0;
	int			i;

	for (i = 0; i < gl->vr->nkeys; i++)
	{
		uint32		k = isnull[i] ? 0x9e3779b9 :
			DatumGetUInt32(FunctionCall1Coll(&gl->hashfuncs[i],
											 gl->collations[i], values[i]));

		h = hash_combine64(h, (uint64) k * UINT64CONST(0xbf58476d1ce4e5b9));
	}
	/* the finalizer of splitmix64: every input bit moves every output bit */
	h ^= h >> 30;
	h *= UINT64CONST(0xbf58476d1ce4e5b9);
	h ^= h >> 27;
	h *= UINT64CONST(0x94d049bb133111eb);
	h ^= h >> 31;
	return h;
}

/* Probes by double hashing: the low and the (odd) high half of the hash. */
static bool
filter_lacks(KeyFilter *filter, uint64 hash)
{
	uint64		h1 = (uint32) hash;
	uint64		h2 = (hash >> 32) | 1;
	int			i;

	for (i = 0; i < FILTER_PROBES; i++)
	{
		uint64		bit = (h1 + i * h2) & filter->mask;

		if ((filter->bits[bit / 64] & (UINT64CONST(1) << (bit % 64))) == 0)
			return true;
	}
	return false;
}

static void
filter_add(GroupLocations *gl, WindowKeys *wk, uint64 hash)
{
	KeyFilter  *filter = wk->filters;
	uint64		h1 = (uint32) hash;
	uint64		h2 = (hash >> 32) | 1;
	int			i;

	if (filter == NULL || filter->nkeys >= filter->capacity)
	{
		int64		capacity = Max(FILTER_MIN_KEYS, gl->window_groups);
		uint64		nbits;
		Size		size;

		if (filter != NULL)
			capacity = Max(capacity, filter->capacity * 2);
		nbits = pg_nextpower2_64((uint64) capacity * FILTER_BITS_PER_KEY);
		size = offsetof(KeyFilter, bits) + nbits / 8;
		filter = MemoryContextAllocHuge(gl->cxt, size);
		memset(filter, 0, size);
		filter->capacity = nbits / FILTER_BITS_PER_KEY;
		filter->mask = nbits - 1;
		filter->older = wk->filters;
		wk->filters = filter;
		gl->bytes += size;
	}
	for (i = 0; i < FILTER_PROBES; i++)
	{
		uint64		bit = (h1 + i * h2) & filter->mask;

		filter->bits[bit / 64] |= UINT64CONST(1) << (bit % 64);
	}
	filter->nkeys++;
}

/* A window start as a number that orders as the type does. */
static int64
window_value(GroupLocations *gl, Datum value)
{
	if (gl->window_type == DATEOID)
		return (int64) DatumGetDateADT(value);
	return DatumGetInt64(value);
}

/* For messages. */
static char *
window_text(GroupLocations *gl, int64 window)
{
	Oid			typoutput;
	bool		isvarlena;

	if (window == PG_INT64_MIN)
		return "none";
	getTypeOutputInfo(gl->window_type, &typoutput, &isvarlena);
	return OidOutputFunctionCall(typoutput, gl->window_type == DATEOID ?
								 DateADTGetDatum((DateADT) window) :
								 Int64GetDatum(window));
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}
