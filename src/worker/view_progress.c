/*-------------------------------------------------------------------------
 *
 * view_progress.c
 *	  How far each view of a table stream is applied, so that a lock on one
 *	  view's relations holds back that view only.
 *
 * Pipeline position: between the decoder and the flush.  A flush writes
 * each view's storage table, table of counts and late_events table, and
 * another transaction may hold a lock on them that the flush would wait
 * for: an uncommitted DROP VIEW, or a LOCK of the late_events table (the
 * view owner's own table); it reads the tables of its lookup joins too,
 * which their owners may lock.  So before each batch is processed the
 * worker takes those locks without waiting (view_progress_hold_if_locked).  A
 * view whose relations are locked is held back: it leaves the batch, and
 * every other view goes on.  The decoder goes on too, while the slot keeps
 * the WAL from where the held view stands.  A view whose storage table is
 * gone once locked was dropped by a transaction that has committed since
 * the worker read its catalog: it leaves the batch, and nothing is kept of
 * it, until the worker decodes the DROP.  A view whose creation the worker
 * has not decoded yet has no position here; the catalog load sets it up
 * only if its relations are free (worker_catalog.c).
 *
 * What is written with every flush (continuous.decoder_position):
 *   frontier      every view is applied up to here, and the streams'
 *                 counters, dead letters and watermarks are as of here,
 *   behind_views  except these views, each applied up to its entry of
 *   behind_lsns,
 *   lsn           the least of them (or frontier): where decoding resumes,
 *   part_xid      a large transaction applied in parts (worker.c) is
 *   part_lsn      applied up to the rows of its WAL record at part_lsn by
 *   behind_parts  the views that stand in it: those behind whose entry of
 *                 behind_parts is part_lsn, at its commit (it is decoded
 *                 again for views held back before it), or, if none is,
 *                 every view at frontier, where it commits.  Decoded again,
 *                 it passes over those rows (decoder_resume_within()).
 *
 * A view that stands inside a transaction applied in parts (in_part) is
 * not held back there: its position would be inside it.  Before the first
 * part, a view whose relations are locked is held back, before it; the
 * worker takes the locks of every other view and keeps them across the
 * parts' transactions (view_progress_pin()), so that a lock another
 * transaction asks for meanwhile waits for the worker.  A view held back
 * before the transaction is decoded again for once its lock is gone
 * (never while a part is open), and applies the transaction in parts in
 * its turn.  A worker started again inside a transaction decodes from its
 * commit, passing over what the views in it applied, and keeps the views
 * that stand before it back until it is through; their locks may be
 * free.  A lock taken on a view in_part while the worker restarted is
 * waited for (view_progress_hold_if_locked(), and the load), for as long
 * as continuous.view_time_limit allows, as for a view owner's code; then
 * the view fails, and the other views go on.
 *
 * Once a held view's locks are free, the worker decodes again from lsn
 * (decoder_rewind).  Each view counts only the transactions that commit
 * from its own position on, and until the decoder is back at frontier its
 * batches are not counted for the streams again (view_progress_replaying).
 * A restart after a crash resumes the same way.  A view held back judges
 * its events late by the watermark of when it processes them, as though
 * they arrived then: a window its readers saw closed never changes.
 *
 * A view of a Kafka stream is held back the same way, its position kept
 * per partition by the stream's consumer (kafka_source.c, continuous.
 * kafka_view_offsets) rather than here: the consumer goes on for the
 * stream's other views, and once the lock is gone (the catalog is read
 * again) it reads again from the view's offsets for that view alone.
 * Other workers' flushes lock a Kafka view's storage too (worker_take_
 * turn), in modes that an ACCESS SHARE lock does not conflict with, unlike
 * a DROP VIEW's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_extension.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "base/guc.h"
#include "base/memory.h"
#include "exec/quarantine.h"
#include "worker/view_progress.h"

/* how often a lock waited for is tried again */
#define LOCK_RETRY_MS	100

typedef struct ViewProgress
{
	Oid			view;			/* hash key */
	XLogRecPtr	applied;		/* counts what commits from here on */
	bool		in_part;		/* but of the transaction applied in parts,
								 * which commits at applied, only the rows
								 * after its WAL record at part_lsn */
	bool		held;			/* by a lock on one of its relations, or
								 * (locked invalid) until the transaction
								 * applied in parts is through */
	Oid			kafka_stream;	/* of a Kafka stream: no position here */
	Oid			locked;			/* the relation found locked */
	ViewRelations relations;
} ViewProgress;

/* A relation a flush writes or reads for a view, and the lock it takes. */
typedef struct RelationLock
{
	Oid			relid;
	LOCKMODE	mode;
} RelationLock;

/* the views read from the catalog, and those read before (while loading) */
static HTAB *progress = NULL;
static HTAB *previous = NULL;

/* where the lists of the entries of progress and previous are kept */
static MemoryContext progress_cxt = NULL;

/*
 * A large transaction applied in parts (worker.c): the top-level xid of
 * the one that commits at part_commit, and the WAL record whose rows end
 * what is applied of it by the views in_part, as the last flush committed
 * them; InvalidTransactionId: none.  Every flush until one passes
 * part_commit writes them again.
 */
static TransactionId part_xid = InvalidTransactionId;
static XLogRecPtr part_lsn = InvalidXLogRecPtr;
static XLogRecPtr part_commit = InvalidXLogRecPtr;

/* A lock held across transactions. */
typedef struct Pin
{
	LOCKTAG		tag;
	LOCKMODE	mode;
} Pin;

/*
 * The locks (Pin) held from before the first part of a large transaction
 * until its last is flushed: a lock asked for meanwhile waits for the
 * worker, not the worker for it.
 */
static List *pins = NIL;
static MemoryContext previous_cxt = NULL;
static bool load_restarted = false;

/* what view_progress_start() read, for the first load: view -> lsn */
static HTAB *behind_at_start = NULL;

static XLogRecPtr frontier = InvalidXLogRecPtr;
static XLogRecPtr replay_end = InvalidXLogRecPtr;

static HTAB *progress_table(const char *name);
static ViewRelationsState progress_lock(ViewProgress *p, bool wait);
static List *progress_relation_locks(ViewRelations *relations, bool kafka);
static ViewRelationsState progress_lock_each(ViewRelations *relations,
											 List *locks, bool wait,
											 Oid *locked);
static void progress_fail_overdue(ViewProgress *p);
static bool progress_cannot_hold(ViewProgress *p);
static void progress_pin(LOCKTAG *tag, LOCKMODE mode);
static void progress_part_after(XLogRecPtr position, TransactionId *xid,
								XLogRecPtr *lsn);
static void progress_after_flush(ViewProgress *p, XLogRecPtr position,
								 bool part, XLogRecPtr *applied, bool *in_part);
static bool progress_locks_free(ViewProgress *p);
static bool progress_behind(ViewProgress *p);
static bool progress_find_held(bool locks_free);
static void progress_write_resumed(void);

static HTAB *
progress_table(const char *name)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(ViewProgress);
	ctl.hcxt = continuous_memory_context();
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

void
view_progress_start(DecoderProgress *stored)
{
	int			i;

	frontier = stored->frontier;
	part_xid = stored->part_xid;
	part_lsn = stored->part_lsn;

	/*
	 * The transaction applied in parts commits where the views that stand
	 * in it are: at frontier, or where those behind it stand (decoded again
	 * for views that were held back).
	 */
	part_commit = frontier;
	for (i = 0; i < stored->nbehind; i++)
		if (stored->behind_parts[i] != InvalidXLogRecPtr)
			part_commit = stored->behind_lsns[i];
	if (!TransactionIdIsValid(part_xid))
		part_commit = InvalidXLogRecPtr;

	behind_at_start = progress_table("pg_continuous views behind at start");
	for (i = 0; i < stored->nbehind; i++)
	{
		ViewProgress *p = hash_search(behind_at_start, &stored->behind_views[i],
									  HASH_ENTER, NULL);

		p->applied = stored->behind_lsns[i];
		p->in_part = stored->behind_parts[i] != InvalidXLogRecPtr;
	}

	/* decoding resumes at the transaction's commit, before the views kept */
	if (TransactionIdIsValid(part_xid))
		stored->restart = part_commit;
	replay_end = stored->frontier > stored->restart ? stored->frontier :
		InvalidXLogRecPtr;
}

void
view_progress_forget_all(void)
{
	frontier = InvalidXLogRecPtr;
	replay_end = InvalidXLogRecPtr;
	part_xid = InvalidTransactionId;
	part_lsn = InvalidXLogRecPtr;
	part_commit = InvalidXLogRecPtr;
	view_progress_unpin();
	if (behind_at_start)
		hash_destroy(behind_at_start);
	behind_at_start = NULL;
	if (progress)
		hash_destroy(progress);
	progress = NULL;
	if (progress_cxt)
		MemoryContextDelete(progress_cxt);
	progress_cxt = NULL;
}

void
view_progress_begin_load(bool decoder_restarted)
{
	previous = progress;
	progress = progress_table("pg_continuous view progress");
	if (previous_cxt)
		MemoryContextDelete(previous_cxt);	/* of a load that failed */
	previous_cxt = progress_cxt;
	progress_cxt = AllocSetContextCreate(continuous_memory_context(),
										 "pg_continuous view progress lookups",
										 ALLOCSET_SMALL_SIZES);
	load_restarted = decoder_restarted;
}

bool
view_progress_load_view(Oid view, Oid kafka_stream, XLogRecPtr active_from,
						ViewRelations *relations, XLogRecPtr *counts_from)
{
	ViewProgress *p = hash_search(progress, &view, HASH_ENTER, NULL);
	ViewProgress *before = NULL;
	ViewProgress *at_start = NULL;
	MemoryContext oldcxt;

	if (previous)
		before = hash_search(previous, &view, HASH_FIND, NULL);
	if (behind_at_start)
		at_start = hash_search(behind_at_start, &view, HASH_FIND, NULL);

	p->applied = before ? before->applied :
		at_start ? at_start->applied : frontier;
	p->in_part = before ? before->in_part :
		at_start ? at_start->in_part :
		TransactionIdIsValid(part_xid) && frontier == part_commit;
	if (active_from > p->applied)
	{
		p->applied = active_from;
		p->in_part = false;
	}
	p->relations = *relations;
	oldcxt = MemoryContextSwitchTo(progress_cxt);
	p->relations.lookups = list_copy(relations->lookups);
	MemoryContextSwitchTo(oldcxt);
	p->kafka_stream = kafka_stream;
	p->held = false;
	p->locked = InvalidOid;

	/*
	 * A held view of a table stream goes on only where decoding starts
	 * again; a Kafka stream's consumer starts again at every load.
	 */
	if (!OidIsValid(kafka_stream) && before && before->held && !load_restarted)
	{
		p->held = true;
		p->locked = before->locked;
	}
	else if (TransactionIdIsValid(part_xid) && !p->in_part &&
			 p->applied <= part_commit)
	{
		/*
		 * It stands before the transaction applied in parts, or at its
		 * commit without any of it, and needs the rows that decoding,
		 * resumed inside the transaction, passes over: it waits until the
		 * transaction is through, and is then decoded again for
		 * (view_progress_release_due()).
		 */
		p->held = true;
		p->locked = InvalidOid;
	}
	else
	{
		switch (progress_lock(p, progress_cannot_hold(p)))
		{
			case VIEW_RELATIONS_FREE:
				break;
			case VIEW_RELATIONS_LOCKED:
				p->held = true;
				break;
			case VIEW_RELATIONS_OVERDUE:
				progress_fail_overdue(p);
				*counts_from = InvalidXLogRecPtr;
				return false;
			case VIEW_RELATIONS_DROPPED:

				/*
				 * Dropped since this load's snapshot was taken: not set up
				 * (it would fail), and nothing kept of it.
				 */
				(void) hash_search(progress, &view, HASH_REMOVE, NULL);
				*counts_from = InvalidXLogRecPtr;
				return false;
		}
	}

	*counts_from = p->applied;
	return !p->held;
}

void
view_progress_end_load(void)
{
	if (previous)
		hash_destroy(previous);
	previous = NULL;
	if (previous_cxt)
		MemoryContextDelete(previous_cxt);
	previous_cxt = NULL;
	if (behind_at_start)
		hash_destroy(behind_at_start);
	behind_at_start = NULL;
	progress_write_resumed();
}

ViewRelationsState
view_progress_hold_if_locked(Oid view)
{
	ViewProgress *p;

	if (progress == NULL)
		return VIEW_RELATIONS_FREE;
	p = hash_search(progress, &view, HASH_FIND, NULL);
	if (p == NULL || p->held)
		return VIEW_RELATIONS_FREE;
	switch (progress_lock(p, progress_cannot_hold(p)))
	{
		case VIEW_RELATIONS_FREE:
			return VIEW_RELATIONS_FREE;
		case VIEW_RELATIONS_LOCKED:
			p->held = true;
			return VIEW_RELATIONS_LOCKED;
		case VIEW_RELATIONS_OVERDUE:
			progress_fail_overdue(p);
			return VIEW_RELATIONS_OVERDUE;
		case VIEW_RELATIONS_DROPPED:
			/* a Kafka stream's consumer keeps its views until they go */
			if (OidIsValid(p->kafka_stream))
				return VIEW_RELATIONS_FREE;
			(void) hash_search(progress, &view, HASH_REMOVE, NULL);
			return VIEW_RELATIONS_DROPPED;
	}
	return VIEW_RELATIONS_FREE;		/* keep the compiler quiet */
}

/*
 * A view that stands inside the transaction applied in parts cannot be
 * held back there: its locks are waited for (view_progress_hold_if_locked).
 * A view of a Kafka stream may be held back anywhere (kafka_source.c).
 */
static bool
progress_cannot_hold(ViewProgress *p)
{
	return p->in_part && TransactionIdIsValid(part_xid) &&
		!OidIsValid(p->kafka_stream);
}

bool
view_progress_held(Oid view)
{
	ViewProgress *p = progress ? hash_search(progress, &view, HASH_FIND, NULL) : NULL;

	return p != NULL && p->held;
}

/*
 * Each relation the flush writes or reads for a view, in the order it
 * locks them, with the lock it takes: the storage table first, the table
 * of counts, the late_events table, the view itself, and the tables its
 * lookup joins read, partitions too.
 */
static List *
progress_relation_locks(ViewRelations *relations, bool kafka)
{
	Oid			relids[4] = {relations->storage, relations->counts,
	relations->late_table, relations->query_view};
	LOCKMODE	modes[4] = {kafka ? AccessShareLock : RowExclusiveLock,
		RowExclusiveLock, RowExclusiveLock, AccessShareLock};
	List	   *locks = NIL;
	ListCell   *lc;
	int			i;

	for (i = 0; i < lengthof(relids); i++)
	{
		RelationLock *rl;

		if (!OidIsValid(relids[i]))
			continue;
		rl = palloc(sizeof(RelationLock));
		rl->relid = relids[i];
		rl->mode = modes[i];
		locks = lappend(locks, rl);
	}
	foreach(lc, relations->lookups)
	{
		List	   *tables = list_make1_oid(lfirst_oid(lc));
		ListCell   *tc;

		if (has_subclass(lfirst_oid(lc)))
			tables = find_all_inheritors(lfirst_oid(lc), NoLock, NULL);
		foreach(tc, tables)
		{
			RelationLock *rl = palloc(sizeof(RelationLock));

			rl->relid = lfirst_oid(tc);
			rl->mode = AccessShareLock;
			locks = lappend(locks, rl);
		}
		list_free(tables);
	}
	return locks;
}

/*
 * Lock the relation as the flush does: at once, or (wait) for as long as
 * continuous.view_time_limit allows (without end at 0).  The worker tries
 * again every LOCK_RETRY_MS rather than queue, so that its wait can end.
 */
static bool
progress_lock_relation(Oid relid, LOCKMODE mode, bool wait)
{
	TimestampTz started;
	bool		woken = false;
	bool		got = false;

	if (ConditionalLockRelationOid(relid, mode))
		return true;
	if (!wait)
		return false;
	started = GetCurrentTimestamp();
	while (!got && (continuous_view_time_limit_ms <= 0 ||
					!TimestampDifferenceExceeds(started, GetCurrentTimestamp(),
												continuous_view_time_limit_ms)))
	{
		if (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					  LOCK_RETRY_MS, PG_WAIT_EXTENSION) & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			woken = true;
		}
		CHECK_FOR_INTERRUPTS();
		got = ConditionalLockRelationOid(relid, mode);
	}
	/* what woke the worker meanwhile is for its loop */
	if (woken)
		SetLatch(MyLatch);
	return got;
}

/*
 * Lock each of locks (progress_relation_locks() of relations); the locks
 * taken are kept to the end of the transaction.  *locked: the relation
 * found locked or gone.  A storage table that is gone once locked was
 * dropped, with its view, by a transaction that has committed (taking the
 * lock has read its invalidations): the view's catalog row, as this
 * transaction's snapshot or the worker's last load saw it, is out of date,
 * and the worker learns of the DROP when it decodes it.
 */
static ViewRelationsState
progress_lock_each(ViewRelations *relations, List *locks, bool wait,
				   Oid *locked)
{
	ListCell   *lc;

	foreach(lc, locks)
	{
		RelationLock *rl = lfirst(lc);

		*locked = rl->relid;
		if (!progress_lock_relation(rl->relid, rl->mode, wait))
			return wait ? VIEW_RELATIONS_OVERDUE : VIEW_RELATIONS_LOCKED;
		/* the storage table goes with the view only */
		if (rl->relid == relations->storage &&
			!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(rl->relid)))
			return VIEW_RELATIONS_DROPPED;
	}
	*locked = InvalidOid;
	return VIEW_RELATIONS_FREE;
}

ViewRelationsState
view_progress_lock_relations(ViewRelations *relations, bool kafka, bool wait,
							 Oid *locked)
{
	return progress_lock_each(relations,
							  progress_relation_locks(relations, kafka),
							  wait, locked);
}

static ViewRelationsState
progress_lock(ViewProgress *p, bool wait)
{
	Oid			locked;
	ViewRelationsState state;

	state = view_progress_lock_relations(&p->relations,
										 OidIsValid(p->kafka_stream), wait,
										 &locked);
	if (state == VIEW_RELATIONS_LOCKED || state == VIEW_RELATIONS_OVERDUE)
		p->locked = locked;
	return state;
}

/*
 * A view of a table stream whose relation another transaction kept locked
 * past continuous.view_time_limit, while the worker waited for it inside a
 * transaction applied in parts: the view cannot be held back there, and
 * the other views must not wait longer, so it fails, as a view whose
 * owner's code runs too long does; continuous.rebuild() brings it back.
 */
static void
progress_fail_overdue(ViewProgress *p)
{
	Oid			view = p->view;

	quarantine_view(view, get_rel_name(view),
					psprintf("another transaction held a lock on %s for longer than continuous.view_time_limit (%d ms) while a large transaction was applied in parts",
							 DatumGetCString(DirectFunctionCall1(regclassout,
																 ObjectIdGetDatum(p->locked))),
							 continuous_view_time_limit_ms));
	(void) hash_search(progress, &view, HASH_REMOVE, NULL);
}

void
view_progress_pin(Oid extension)
{
	HASH_SEQ_STATUS seq;
	ViewProgress *p;
	LOCKTAG		tag;

	if (progress == NULL || pins != NIL)
		return;
	/* the lock every transaction of the worker takes first (worker.c) */
	if (OidIsValid(extension))
	{
		SET_LOCKTAG_OBJECT(tag, MyDatabaseId, ExtensionRelationId, extension, 0);
		progress_pin(&tag, AccessShareLock);
	}
	hash_seq_init(&seq, progress);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		List	   *locks;
		ListCell   *lc;
		Oid			locked;

		if (p->held || OidIsValid(p->kafka_stream))
			continue;
		locks = progress_relation_locks(&p->relations, false);
		if (progress_lock_each(&p->relations, locks, false, &locked) !=
			VIEW_RELATIONS_FREE)
			continue;
		foreach(lc, locks)
		{
			RelationLock *rl = lfirst(lc);

			SET_LOCKTAG_RELATION(tag, MyDatabaseId, rl->relid);
			progress_pin(&tag, rl->mode);
		}
	}
}

/* Hold a lock this transaction holds already across transactions too. */
static void
progress_pin(LOCKTAG *tag, LOCKMODE mode)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(continuous_memory_context());
	Pin		   *pin = palloc(sizeof(Pin));

	pin->tag = *tag;
	pin->mode = mode;
	pins = lappend(pins, pin);
	MemoryContextSwitchTo(oldcxt);
	/* granted at once, as this transaction holds it */
	(void) LockAcquire(&pin->tag, mode, true, false);
}

void
view_progress_unpin(void)
{
	ListCell   *lc;

	foreach(lc, pins)
	{
		Pin		   *pin = lfirst(lc);

		LockRelease(&pin->tag, pin->mode, true);
	}
	list_free_deep(pins);
	pins = NIL;
}

/* Free, or gone: either way nothing holds the view back any more. */
static bool
progress_locks_free(ViewProgress *p)
{
	return progress_lock(p, false) != VIEW_RELATIONS_LOCKED;
}

/*
 * Is a view held back, and (locks_free) are its locks free now?
 */
static bool
progress_find_held(bool locks_free)
{
	HASH_SEQ_STATUS seq;
	ViewProgress *p;

	if (progress == NULL)
		return false;
	hash_seq_init(&seq, progress);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		if (p->held && (!locks_free || progress_locks_free(p)))
		{
			hash_seq_term(&seq);
			return true;
		}
	}
	return false;
}

List *
view_progress_held_views(Oid kafka_stream)
{
	HASH_SEQ_STATUS seq;
	ViewProgress *p;
	List	   *held = NIL;

	if (progress == NULL)
		return NIL;
	hash_seq_init(&seq, progress);
	while ((p = hash_seq_search(&seq)) != NULL)
		if (p->held && p->kafka_stream == kafka_stream)
			held = lappend_oid(held, p->view);
	return held;
}

bool
view_progress_holding(void)
{
	return progress_find_held(false);
}

bool
view_progress_replaying(XLogRecPtr position)
{
	return !XLogRecPtrIsInvalid(replay_end) && position <= replay_end;
}

XLogRecPtr
view_progress_replay_end(void)
{
	return replay_end;
}

/* Is the view applied less far than the others (or held)? */
static bool
progress_behind(ViewProgress *p)
{
	return !OidIsValid(p->kafka_stream) && (p->held || p->applied < frontier);
}

void
view_progress_write(XLogRecPtr position, TransactionId new_part_xid,
					XLogRecPtr new_part_lsn)
{
	DecoderProgress out;
	XLogRecPtr	new_frontier = Max(frontier, position);
	long		n = progress ? hash_get_num_entries(progress) : 0;
	HASH_SEQ_STATUS seq;
	ViewProgress *p;
	bool		part = TransactionIdIsValid(new_part_xid);

	out.restart = new_frontier;
	out.frontier = new_frontier;
	out.part_xid = new_part_xid;
	out.part_lsn = new_part_lsn;
	progress_part_after(position, &out.part_xid, &out.part_lsn);
	out.nbehind = 0;
	out.behind_views = palloc(sizeof(Oid) * Max(n, 1));
	out.behind_lsns = palloc(sizeof(XLogRecPtr) * Max(n, 1));
	out.behind_parts = palloc(sizeof(XLogRecPtr) * Max(n, 1));
	if (progress)
	{
		hash_seq_init(&seq, progress);
		while ((p = hash_seq_search(&seq)) != NULL)
		{
			XLogRecPtr	applied;
			bool		in_part;

			if (OidIsValid(p->kafka_stream))
				continue;
			progress_after_flush(p, position, part, &applied, &in_part);

			/*
			 * A view held back is written even at frontier: it may stand
			 * at the commit of the transaction applied in parts without
			 * any of it, where the others are inside it.
			 */
			if (p->held || applied < new_frontier)
			{
				out.behind_views[out.nbehind] = p->view;
				out.behind_lsns[out.nbehind] = applied;
				out.behind_parts[out.nbehind] =
					in_part && TransactionIdIsValid(out.part_xid) ?
					out.part_lsn : InvalidXLogRecPtr;
				out.nbehind++;
				out.restart = Min(out.restart, applied);
			}
		}
	}
	flush_write_progress(&out);
	view_progress_write_status();
}

/*
 * The part applied once the flush up to position (*xid and *lsn: the part
 * it ends with, if any) is in: that part; or, for a flush that does not
 * pass the commit of the transaction applied in parts, the transaction is
 * not through yet, and its part stays; otherwise none.
 */
static void
progress_part_after(XLogRecPtr position, TransactionId *xid, XLogRecPtr *lsn)
{
	if (TransactionIdIsValid(*xid))
		return;
	if (TransactionIdIsValid(part_xid) && position <= part_commit)
	{
		*xid = part_xid;
		*lsn = part_lsn;
	}
	else
		*lsn = InvalidXLogRecPtr;
}

/*
 * Where the view stands once the flush up to position, which ends with a
 * part of a large transaction (part) or not, is in: a view not held that
 * stands at or before position moves there, and inside the transaction
 * for a part.  (A flush of other work up to where the view stands leaves
 * it where it is, inside the transaction or not.)
 */
static void
progress_after_flush(ViewProgress *p, XLogRecPtr position, bool part,
					 XLogRecPtr *applied, bool *in_part)
{
	*applied = p->applied;
	*in_part = p->in_part;
	if (p->held || p->applied > position)
		return;
	if (part)
	{
		*applied = position;
		*in_part = true;
	}
	else if (p->applied < position)
	{
		*applied = position;
		*in_part = false;
	}
}

void
view_progress_flushed(XLogRecPtr position, TransactionId new_part_xid,
					  XLogRecPtr new_part_lsn)
{
	HASH_SEQ_STATUS seq;
	ViewProgress *p;
	bool		part = TransactionIdIsValid(new_part_xid);

	if (progress)
	{
		hash_seq_init(&seq, progress);
		while ((p = hash_seq_search(&seq)) != NULL)
			progress_after_flush(p, position, part, &p->applied, &p->in_part);
	}
	if (part)
		part_commit = position;
	progress_part_after(position, &new_part_xid, &new_part_lsn);
	part_xid = new_part_xid;
	part_lsn = new_part_lsn;
	if (!TransactionIdIsValid(part_xid))
	{
		/* through: the views kept before it may be decoded again for */
		part_commit = InvalidXLogRecPtr;
		if (progress)
		{
			hash_seq_init(&seq, progress);
			while ((p = hash_seq_search(&seq)) != NULL)
				p->in_part = false;
		}
	}
	frontier = Max(frontier, position);
	if (!XLogRecPtrIsInvalid(replay_end) && position >= replay_end)
		replay_end = InvalidXLogRecPtr;
}

XLogRecPtr
view_progress_confirmable(XLogRecPtr position)
{
	HASH_SEQ_STATUS seq;
	ViewProgress *p;

	if (progress == NULL)
		return position;
	hash_seq_init(&seq, progress);
	while ((p = hash_seq_search(&seq)) != NULL)
		if (progress_behind(p))
			position = Min(position, p->applied);
	return position;
}

bool
view_progress_release_due(void)
{
	/* decoding again inside the transaction would apply its parts twice */
	if (TransactionIdIsValid(part_xid))
		return false;
	return progress_find_held(true);
}

XLogRecPtr
view_progress_rewind(void)
{
	XLogRecPtr	restart = view_progress_confirmable(frontier);

	if (restart >= frontier)
		return InvalidXLogRecPtr;
	replay_end = frontier;
	return restart;
}

void
view_progress_forget(Oid view)
{
	if (progress)
		(void) hash_search(progress, &view, HASH_REMOVE, NULL);
}

/*
 * The status of the views held back, for continuous.views and sync().
 * Rows the transaction that holds the lock has locked too (an uncommitted
 * DROP VIEW deletes the view's row) are skipped, not waited for.
 */
void
view_progress_write_status(void)
{
	HASH_SEQ_STATUS seq;
	ViewProgress *p;
	List	   *views = NIL;
	List	   *whys = NIL;
	Datum	   *view_datums;
	Datum	   *why_datums;
	Oid			types[2] = {OIDARRAYOID, TEXTARRAYOID};
	Datum		values[2];
	ListCell   *vc;
	ListCell   *wc;
	int			i = 0;

	if (progress == NULL)
		return;
	hash_seq_init(&seq, progress);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		if (!p->held)
			continue;
		views = lappend_oid(views, p->view);
		if (!OidIsValid(p->locked))
			whys = lappend(whys,
						   pstrdup("the view stands before a large transaction that the worker is applying in parts since it started again; the view catches up once that is through"));
		else
			whys = lappend(whys,
						   psprintf("another transaction holds a lock on %s; the view catches up once it is released",
									DatumGetCString(DirectFunctionCall1(regclassout,
																		ObjectIdGetDatum(p->locked)))));
	}
	if (views == NIL)
		return;

	view_datums = palloc(sizeof(Datum) * list_length(views));
	why_datums = palloc(sizeof(Datum) * list_length(views));
	forboth(vc, views, wc, whys)
	{
		view_datums[i] = ObjectIdGetDatum(lfirst_oid(vc));
		why_datums[i] = CStringGetTextDatum(lfirst(wc));
		i++;
	}
	values[0] = PointerGetDatum(construct_array(view_datums, i, OIDOID,
												sizeof(Oid), true, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(why_datums, i, TEXTOID,
												-1, false, TYPALIGN_INT));
	if (SPI_execute_with_args("UPDATE continuous.view_stats s "
							  "SET status = 'waiting', last_error = w.why "
							  "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS w(view, why) "
							  "WHERE s.view OPERATOR(pg_catalog.=) w.view "
							  "AND s.view OPERATOR(pg_catalog.=) ANY ("
							  "  SELECT l.view FROM continuous.view_stats l "
							  "  WHERE l.view OPERATOR(pg_catalog.=) ANY ($1) "
							  "  AND l.status OPERATOR(pg_catalog.<>) 'waiting' "
							  "  FOR UPDATE SKIP LOCKED)",
							  2, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "pg_continuous: could not write the status of views held back");
}

/* Views no longer held back are active again. */
static void
progress_write_resumed(void)
{
	HASH_SEQ_STATUS seq;
	ViewProgress *p;
	Datum	   *held;
	int			n = 0;
	Oid			type = OIDARRAYOID;
	Datum		value;

	held = palloc(sizeof(Datum) * Max(hash_get_num_entries(progress), 1));
	hash_seq_init(&seq, progress);
	while ((p = hash_seq_search(&seq)) != NULL)
		if (p->held)
			held[n++] = ObjectIdGetDatum(p->view);
	value = PointerGetDatum(construct_array(held, n, OIDOID, sizeof(Oid),
											true, TYPALIGN_INT));
	if (SPI_execute_with_args("UPDATE continuous.view_stats "
							  "SET status = 'active', last_error = NULL "
							  "WHERE view OPERATOR(pg_catalog.=) ANY ("
							  "  SELECT l.view FROM continuous.view_stats l "
							  "  WHERE l.status OPERATOR(pg_catalog.=) 'waiting' "
							  "  AND NOT l.view OPERATOR(pg_catalog.=) ANY ($1) "
							  "  FOR UPDATE SKIP LOCKED)",
							  1, &type, &value, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "pg_continuous: could not write the status of views no longer held back");
}
