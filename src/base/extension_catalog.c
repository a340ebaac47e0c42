/*-------------------------------------------------------------------------
 *
 * extension_catalog.c
 *	  The OIDs of the extension's own objects, cached until an invalidation
 *	  says they may have changed.
 *
 * Pipeline position: none of its own; every step asks it.  The library is
 * loaded in every database of the cluster and its hooks see every
 * statement, the extension being created in only some databases: whether
 * it exists is asked for every ALTER TABLE, COPY and LOCK of the cluster,
 * the window functions are recognised in every query a continuous view is
 * made of.  So the answers are kept for the process, as the syscache
 * keeps catalog rows, and forgotten when an invalidation may concern them:
 *
 *	 - pg_extension has no syscache, so its own changes send no
 *	   invalidation.  But CREATE EXTENSION pg_continuous creates schema
 *	   continuous_storage, a member of the extension (the install script),
 *	   and DROP EXTENSION drops it: each changes a row of pg_namespace,
 *	   whose syscache invalidation reaches every backend of the database.
 *	   The same covers the schemas' own OIDs.
 *	 - A relcache invalidation of a catalog table (dropped, or made anew by
 *	   an update script), or of every relation, forgets the relids.
 *	 - Any change of a pg_proc row forgets the functions.
 *
 * Inside CREATE or ALTER EXTENSION (of any extension) nothing is cached:
 * the script's own objects appear statement by statement.  An invalidation
 * arriving while a lookup runs (it opens catalogs, which accepts
 * invalidations) leaves that answer unstored, by the generation counters.
 *
 * The writers of stream_catalog and view_catalog also send a relcache
 * invalidation of view_catalog (continuous_catalog_changed()): a worker
 * that does not decode the WAL learns of the change from it (worker_catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "commands/extension.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/catcache.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "base/extension_catalog.h"

/* the catalog tables whose relids are kept */
static const char *const catalog_names[] = {
	CATALOG_STREAMS, CATALOG_VIEWS, CATALOG_POSITION,
	CATALOG_STREAM_STATS, CATALOG_VIEW_STATS, CATALOG_DEAD_LETTERS
};
#define NUM_CATALOGS	lengthof(catalog_names)

/* the functions recognised or called by OID; a name has few overloads */
#define MAX_FUNCTIONS	8
#define MAX_OVERLOADS	4
#define MAX_FUNCTION_ARGS	4

typedef struct CachedOid
{
	uint64		generation;		/* 0: not looked up */
	Oid			oid;
} CachedOid;

typedef struct CachedFunctions
{
	const char *name;			/* a string constant of the caller's */
	uint64		generation;
	int			noids;
	Oid			oids[MAX_OVERLOADS];	/* in schema continuous */
} CachedFunctions;

typedef struct CachedSignature
{
	const char *name;
	int			nargs;
	Oid			argtypes[MAX_FUNCTION_ARGS];
	uint64		generation;
	Oid			oid;
} CachedSignature;

/* bumped by every invalidation that may concern the cached OIDs */
static uint64 objects_generation = 1;
static uint64 functions_generation = 1;
static bool callbacks_registered = false;

static CachedOid extension;
static CachedOid schema;
static CachedOid storage_schema;
static CachedOid catalogs[NUM_CATALOGS];
static CachedFunctions functions[MAX_FUNCTIONS];
static int	nfunctions = 0;
static CachedSignature signatures[MAX_FUNCTIONS];
static int	nsignatures = 0;

static Oid	cached_oid(CachedOid *cached,
					   Oid (*lookup) (const char *name, bool missing_ok),
					   const char *name, bool missing_ok);
static Oid	catalog_relid(const char *name, bool missing_ok);
static void register_callbacks(void);
static void namespace_changed(Datum arg, int cacheid, uint32 hashvalue);
static void function_changed(Datum arg, int cacheid, uint32 hashvalue);
static void relation_changed(Datum arg, Oid relid);
static bool cacheable(void);
static CachedFunctions *functions_named(const char *name);

Oid
continuous_extension_oid(bool missing_ok)
{
	Oid			oid = cached_oid(&extension, get_extension_oid,
								 CONTINUOUS_EXTENSION_NAME, true);

	if (!OidIsValid(oid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"%s\" does not exist",
						CONTINUOUS_EXTENSION_NAME)));
	return oid;
}

bool
continuous_extension_exists(void)
{
	return IsTransactionState() &&
		OidIsValid(continuous_extension_oid(true));
}

Oid
continuous_schema_oid(void)
{
	return cached_oid(&schema, get_namespace_oid, CONTINUOUS_SCHEMA, false);
}

/* InvalidOid if there is no such schema */
Oid
continuous_storage_schema_oid(void)
{
	return cached_oid(&storage_schema, get_namespace_oid,
					  CONTINUOUS_STORAGE_SCHEMA, true);
}

/* Relid of one of the extension's catalog tables in schema continuous. */
Oid
continuous_catalog_relid(const char *name)
{
	int			i;

	for (i = 0; i < NUM_CATALOGS; i++)
		if (strcmp(catalog_names[i], name) == 0)
			return cached_oid(&catalogs[i], catalog_relid, name, false);
	return catalog_relid(name, false);
}

/* Is funcid the function of schema continuous called name (any overload)? */
bool
continuous_function_is(Oid funcid, const char *name)
{
	CachedFunctions *cached = functions_named(name);
	int			i;

	for (i = 0; i < cached->noids; i++)
		if (cached->oids[i] == funcid)
			return true;
	return false;
}

/* The function continuous.name(argtypes); an ERROR if there is none. */
Oid
continuous_function_oid(const char *name, int nargs, const Oid *argtypes)
{
	uint64		generation = functions_generation;
	CachedSignature *sig;
	int			i;

	Assert(nargs <= MAX_FUNCTION_ARGS);
	for (i = 0; i < nsignatures; i++)
		if (strcmp(signatures[i].name, name) == 0 &&
			signatures[i].nargs == nargs &&
			memcmp(signatures[i].argtypes, argtypes, sizeof(Oid) * nargs) == 0)
			break;
	if (i == nsignatures)
	{
		if (nsignatures == MAX_FUNCTIONS)
			elog(ERROR, "pg_continuous: too many functions called by OID");
		signatures[i].name = name;
		signatures[i].nargs = nargs;
		memcpy(signatures[i].argtypes, argtypes, sizeof(Oid) * nargs);
		signatures[nsignatures++].generation = 0;
	}
	sig = &signatures[i];
	if (cacheable() && sig->generation == functions_generation)
		return sig->oid;

	sig->generation = 0;
	sig->oid = LookupFuncName(list_make2(makeString(CONTINUOUS_SCHEMA),
										 makeString(pstrdup(name))),
							  nargs, argtypes, false);
	if (cacheable() && generation == functions_generation)
		sig->generation = generation;
	return sig->oid;
}

/*
 * Sent by whoever writes a row of stream_catalog or view_catalog (DDL,
 * rebuild, restore, upgrade), in its transaction: at its commit, every
 * backend of the database processes a relcache invalidation of
 * view_catalog, which the workers take for a change of their catalog.  No
 * relation is actually rebuilt: nothing keeps view_catalog open.
 */
void
continuous_catalog_changed(void)
{
	CacheInvalidateRelcacheByRelid(continuous_catalog_relid(CATALOG_VIEWS));
}

/* The answer of lookup(name), from the cache or stored there. */
static Oid
cached_oid(CachedOid *cached, Oid (*lookup) (const char *name, bool missing_ok),
		   const char *name, bool missing_ok)
{
	uint64		generation = objects_generation;
	Oid			oid;

	if (cacheable() && cached->generation == generation)
		return cached->oid;
	oid = lookup(name, missing_ok);
	if (cacheable() && generation == objects_generation)
	{
		cached->oid = oid;
		cached->generation = generation;
	}
	return oid;
}

static Oid
catalog_relid(const char *name, bool missing_ok)
{
	Oid			relid = get_relname_relid(name, continuous_schema_oid());

	if (!OidIsValid(relid) && !missing_ok)
		elog(ERROR, "pg_continuous catalog table continuous.%s is missing", name);
	return relid;
}

static CachedFunctions *
functions_named(const char *name)
{
	uint64		generation = functions_generation;
	CachedFunctions *cached;
	CatCList   *list;
	Oid			schema;
	int			i;

	for (i = 0; i < nfunctions; i++)
		if (strcmp(functions[i].name, name) == 0)
			break;
	if (i == nfunctions)
	{
		if (nfunctions == MAX_FUNCTIONS)
			elog(ERROR, "pg_continuous: too many functions recognised by name");
		functions[nfunctions].name = name;
		functions[nfunctions++].generation = 0;
	}
	cached = &functions[i];
	if (cacheable() && cached->generation == functions_generation)
		return cached;

	cached->generation = 0;
	cached->noids = 0;
	schema = get_namespace_oid(CONTINUOUS_SCHEMA, true);
	list = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(name));
	for (i = 0; i < list->n_members && OidIsValid(schema); i++)
	{
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(&list->members[i]->tuple);

		if (proc->pronamespace == schema && cached->noids < MAX_OVERLOADS)
			cached->oids[cached->noids++] = proc->oid;
	}
	ReleaseSysCacheList(list);
	if (cacheable() && generation == functions_generation)
		cached->generation = generation;
	return cached;
}

/*
 * Outside a transaction nothing can be looked up, and inside an extension's
 * script the objects come and go before any invalidation is processed.
 */
static bool
cacheable(void)
{
	register_callbacks();
	return !creating_extension;
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterSyscacheCallback(NAMESPACEOID, namespace_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, function_changed, (Datum) 0);
	CacheRegisterRelcacheCallback(relation_changed, (Datum) 0);
	callbacks_registered = true;
}

static void
namespace_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	objects_generation++;
	functions_generation++;
}

static void
function_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	functions_generation++;
}

static void
relation_changed(Datum arg, Oid relid)
{
	int			i;

	if (!OidIsValid(relid))
	{
		objects_generation++;
		functions_generation++;
		return;
	}
	for (i = 0; i < NUM_CATALOGS; i++)
		if (catalogs[i].oid == relid)
		{
			objects_generation++;
			return;
		}
}
