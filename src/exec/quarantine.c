/*-------------------------------------------------------------------------
 *
 * quarantine.c
 *	  One view's failure stops that view only.
 *
 * Pipeline position: around batch and flush, for each view.  The worker
 * runs each view's steps (processing a batch, writing its storage) through
 * quarantine_run(): in a subtransaction, so that an error that is the
 * view's own -- its aggregate's combine or serialisation function raises,
 * its storage cannot be written, its definition no longer evaluates --
 * rolls back that view's part only.  The view is then marked failed in
 * continuous.view_stats (status, last_error), in the same transaction as
 * the other views' state, and the worker stops maintaining it: its state
 * stays as of its last good flush, and every other view goes on.  A failed
 * view comes back by being dropped and created again.
 *
 * Errors that are nobody's view's fault -- a cancel, a deadlock, a lack of
 * memory or disk, an I/O error -- fail the whole flush instead, and the
 * worker retries it from its last position after a restart: marking a view
 * failed for them would lose it for good.  But a view owner's code can
 * bring a deadlock, a serialization failure or a lock timeout about (its
 * locks, its lock_timeout, RAISE ... USING ERRCODE): so the worker counts
 * in shared memory, across its restarts, the flushes that one view's step
 * failed that way, and the fourth time within ten minutes the view fails
 * instead of every view of the database.  A step of every view at once
 * that fails that way is taken again view by view, to find the view.  A
 * lack of memory or disk, a cancel and an I/O error are not counted
 * (error_may_be_owners()).
 *
 * Owner code that runs too long -- a view's step or set-up, or the input
 * functions and domain checks that decode a Kafka stream's messages -- is
 * cancelled after continuous.view_time_limit: the view fails, the stream
 * is no longer consumed until the catalog changes.  Code that catches the
 * cancel and goes on gets the worker terminated; its successor fails the
 * view, or leaves the stream alone, first.
 *
 * Errors of single events never come here: batch.c turns those into dead
 * letters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "storage/latch.h"
#include "utils/resowner.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "base/guc.h"
#include "base/privileges.h"
#include "base/subxact.h"
#include "exec/quarantine.h"

/*
 * How many times one view's step may fail a flush with a transient error
 * within QUARANTINE_TRANSIENT_WINDOW_MS before the error counts as the
 * view's own (quarantine_rethrow()).  A success in between does not
 * count: after a restart the worker may well flush something else before
 * it comes to the view again.
 */
#define QUARANTINE_TRANSIENT_TRIES 3
#define QUARANTINE_TRANSIENT_WINDOW_MS (10 * 60 * 1000)

/* the worker's, in shared memory; NULL in a backend */
static TransientStrikes *strikes = NULL;

/*
 * continuous.view_time_limit, in the worker only (a backend's backfill has
 * its session's statement_timeout): a timeout armed around each stretch of
 * an owner's code (a view's step or set-up, the decoding of a Kafka
 * stream's messages), which cancels what runs when it fires.  time_up
 * stays set until the cancel's error reaches the code that armed it, so
 * that batch.c, which turns the errors of single events into dead
 * letters, throws it on instead.
 *
 * Code can catch a cancel (plpgsql's EXCEPTION WHEN query_canceled) and go
 * on.  So a second timeout, QUARANTINE_OVERRUN_GRACE_MS later, notes the
 * culprit in shared memory and terminates the worker; its successor fails
 * that view, or leaves that stream unconsumed, before it runs anything.
 */
#define QUARANTINE_OVERRUN_GRACE_MS (5 * 1000)

static TimeoutId view_timeout = MAX_TIMEOUTS;	/* registered at first use */
static TimeoutId overrun_timeout = MAX_TIMEOUTS;
static volatile sig_atomic_t time_up = false;
static Oid	culprit = InvalidOid;	/* whose code runs under the limit */
static bool culprit_is_stream = false;

static void time_limit_reached(void);
static void time_limit_overrun(void);
static void stall_stream(Oid stream);

/* how a failed view comes back, in the worker's log and in sync() */
#define FAILED_VIEW_HINT \
	"Once its cause is removed, bring it back with continuous.rebuild() if it reads a table stream, or drop it and create it again."

/*
 * The rows of a query of views (an oid, then a text) through SPI, as a
 * List of Oid and a List of strings (NULL: "") in cxt.
 */
static void
select_views(const char *sql, bool read_only, MemoryContext cxt,
			 List **views, List **texts)
{
	uint64		i;

	if (SPI_execute(sql, read_only, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_continuous: could not read the continuous catalog");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			view = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 1,
														  &isnull));
		char	   *text = SPI_getvalue(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, 2);
		MemoryContext spicxt = MemoryContextSwitchTo(cxt);

		*views = lappend_oid(*views, view);
		*texts = lappend(*texts, pstrdup(text ? text : ""));
		MemoryContextSwitchTo(spicxt);
	}
}

bool
quarantine_error_is_transient(ErrorData *edata)
{
	switch (ERRCODE_TO_CATEGORY(edata->sqlerrcode))
	{
		case ERRCODE_TRANSACTION_ROLLBACK:	/* deadlock, serialization */
		case ERRCODE_INSUFFICIENT_RESOURCES:	/* memory, disk */
		case ERRCODE_OPERATOR_INTERVENTION: /* cancel, shutdown */
		case ERRCODE_SYSTEM_ERROR:	/* I/O */
			return true;
		default:
			return edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
	}
}

/*
 * Is the transient error one that an owner's code brings about in
 * practice (its locks and lock_timeout, or RAISE of a deadlock or
 * serialization failure)?  A lack of memory or disk, a cancel or an I/O
 * error lasts as long as its cause, for every view alike: counting those
 * would fail view after view for good during a disk-full hour, so they
 * always fail the flush, and a RAISE of one of them (a hostile owner's)
 * still restarts the worker until the view is dropped.
 */
static bool
error_may_be_owners(ErrorData *edata)
{
	return ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_TRANSACTION_ROLLBACK ||
		edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
}

bool
quarantine_rethrow(ErrorData *edata, Oid view)
{
	TimestampTz now = GetCurrentTimestamp();
	int			slot = -1;
	int			i;

	if (!quarantine_error_is_transient(edata))
		return false;
	if (strikes == NULL || !error_may_be_owners(edata))
		return true;
	if (!OidIsValid(view))
		return false;

	/* the view's strikes, or a free slot, or the oldest */
	for (i = 0; i < CONTINUOUS_STRIKE_VIEWS; i++)
	{
		if (strikes->view[i] == view)
		{
			slot = i;
			break;
		}
		if (slot < 0 || !OidIsValid(strikes->view[i]) ||
			(OidIsValid(strikes->view[slot]) &&
			 strikes->since[i] < strikes->since[slot]))
			slot = i;
	}
	if (strikes->view[slot] != view ||
		TimestampDifferenceExceeds(strikes->since[slot], now,
								   QUARANTINE_TRANSIENT_WINDOW_MS))
	{
		strikes->view[slot] = view;
		strikes->failures[slot] = 0;
		strikes->since[slot] = now;
	}
	return ++strikes->failures[slot] <= QUARANTINE_TRANSIENT_TRIES;
}

void
quarantine_use_strikes(TransientStrikes *worker_strikes)
{
	strikes = worker_strikes;
}

/* SIGALRM: the owner's code has run out of time; cancel it */
static void
time_limit_reached(void)
{
	time_up = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/*
 * SIGALRM: the code went on after its cancel.  Only shared memory that
 * this worker alone writes is touched here; the worker exits at its next
 * check for interrupts, which the code cannot catch.
 */
static void
time_limit_overrun(void)
{
	if (culprit_is_stream)
		stall_stream(culprit);
	else
		strikes->overran_view = culprit;
	ProcDiePending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

bool
quarantine_limit_begin(Oid what, bool is_stream)
{
	EnableTimeoutParams timeouts[2];

	if (strikes == NULL || continuous_view_time_limit_ms <= 0)
		return false;
	if (view_timeout == MAX_TIMEOUTS)
	{
		view_timeout = RegisterTimeout(USER_TIMEOUT, time_limit_reached);
		overrun_timeout = RegisterTimeout(USER_TIMEOUT, time_limit_overrun);
	}
	time_up = false;
	culprit = what;
	culprit_is_stream = is_stream;
	timeouts[0].id = view_timeout;
	timeouts[0].type = TMPARAM_AFTER;
	timeouts[0].delay_ms = continuous_view_time_limit_ms;
	timeouts[1].id = overrun_timeout;
	timeouts[1].type = TMPARAM_AFTER;
	timeouts[1].delay_ms = continuous_view_time_limit_ms +
		Min(QUARANTINE_OVERRUN_GRACE_MS, INT_MAX - continuous_view_time_limit_ms);
	enable_timeouts(timeouts, 2);
	return true;
}

void
quarantine_limit_blame(Oid view)
{
	culprit = view;
	culprit_is_stream = false;
}

/* Did the code run out of time?  Its cancel is then spent. */
bool
quarantine_limit_end(bool armed)
{
	DisableTimeoutParams timeouts[2];
	bool		was_up;

	if (!armed)
		return false;
	timeouts[0].id = view_timeout;
	timeouts[0].keep_indicator = false;
	timeouts[1].id = overrun_timeout;
	timeouts[1].keep_indicator = false;
	disable_timeouts(timeouts, 2);
	culprit = InvalidOid;
	was_up = time_up;
	if (was_up)
	{
		time_up = false;
		QueryCancelPending = false;
	}
	return was_up;
}

bool
quarantine_time_is_up(void)
{
	return time_up;
}

char *
quarantine_time_limit_message(const char *what)
{
	return psprintf("%s took longer than continuous.view_time_limit (%d ms)",
					what, continuous_view_time_limit_ms);
}

Oid
quarantine_fail_overran_view(void)
{
	Oid			view;
	char	   *name;

	if (strikes == NULL || !OidIsValid(strikes->overran_view))
		return InvalidOid;
	view = strikes->overran_view;
	name = get_rel_name(view);
	/* a view dropped meanwhile gets no row */
	quarantine_view(view, name,
					psprintf("continuous view \"%s\" went on for %d ms after continuous.view_time_limit (%d ms) cancelled it; the worker was restarted to stop it",
							 name ? name : "?", QUARANTINE_OVERRUN_GRACE_MS,
							 continuous_view_time_limit_ms));
	strikes->overran_view = InvalidOid;
	return view;
}

/* in the signal handler too: a free slot, or else the first */
static void
stall_stream(Oid stream)
{
	int			i;

	for (i = 0; i < CONTINUOUS_STALLED_STREAMS; i++)
	{
		if (strikes->stalled_stream[i] == stream)
			return;
	}
	for (i = 0; i < CONTINUOUS_STALLED_STREAMS - 1; i++)
	{
		if (!OidIsValid(strikes->stalled_stream[i]))
			break;
	}
	strikes->stalled_stream[i] = stream;
}

void
quarantine_stall_stream(Oid stream)
{
	if (strikes != NULL)
		stall_stream(stream);
}

bool
quarantine_stream_stalled(Oid stream)
{
	int			i;

	if (strikes == NULL)
		return false;
	for (i = 0; i < CONTINUOUS_STALLED_STREAMS; i++)
	{
		if (strikes->stalled_stream[i] == stream)
			return true;
	}
	return false;
}

void
quarantine_forget_stalled_streams(void)
{
	if (strikes != NULL)
		memset(strikes->stalled_stream, 0, sizeof(strikes->stalled_stream));
}

ErrorData *
quarantine_attempt(QuarantineStep step, ViewRuntime *vr, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *edata = NULL;
	bool		armed = quarantine_limit_begin(vr ? vr->view : InvalidOid, false);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		step(vr, arg);
		/* a limit reached just as the step ended: it ended in time */
		(void) quarantine_limit_end(armed);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		bool		out_of_time = quarantine_limit_end(armed);

		edata = continuous_abort_subtransaction(cxt);
		CurrentResourceOwner = owner;
		if (out_of_time)
		{
			/* the view's own doing; for every view, each is tried alone */
			edata->sqlerrcode = ERRCODE_QUERY_CANCELED;
			edata->message = vr ?
				psprintf("continuous view \"%s\" took longer than continuous.view_time_limit (%d ms) to process or write its batch",
						 vr->name, continuous_view_time_limit_ms) :
				quarantine_time_limit_message("the views' writes");
		}
		else if (quarantine_rethrow(edata, vr ? vr->view : InvalidOid))
			ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return edata;
}

bool
quarantine_run(ViewRuntime *vr, QuarantineStep step, void *arg)
{
	ErrorData  *edata = quarantine_attempt(step, vr, arg);

	if (edata == NULL)
		return true;
	quarantine_view(vr->view, vr->name, edata->message);
	vr->failed = true;
	return false;
}

void
quarantine_view(Oid view, const char *name, const char *message)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];

	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("pg_continuous: continuous view \"%s\" failed: %s",
					name ? name : "?", message),
			 errdetail("The view keeps its state as of its last flush; the database's other views go on."),
			 errhint("%s continuous.views.last_error keeps this message.", FAILED_VIEW_HINT)));

	values[0] = ObjectIdGetDatum(view);
	values[1] = CStringGetTextDatum(message);
	/* a view dropped meanwhile (its DROP has committed) gets no row */
	if (SPI_execute_with_args("INSERT INTO continuous.view_stats AS s "
							  "(view, status, last_error, failed_at) "
							  "SELECT c.view, 'failed', $2, pg_catalog.now() "
							  "FROM continuous.view_catalog c "
							  "WHERE c.view OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF c "
							  "ON CONFLICT (view) DO UPDATE SET status = excluded.status, "
							  "last_error = excluded.last_error, failed_at = excluded.failed_at",
							  2, argtypes, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "pg_continuous: could not mark continuous view \"%s\" failed",
			 name);
}

void
quarantine_warn_failed_views(void)
{
	MemoryContext callercxt = CurrentMemoryContext;
	ExtensionPrivileges saved;
	List	   *views = NIL;
	List	   *errors = NIL;
	List	   *held = NIL;
	List	   *whys = NIL;
	ListCell   *vc;
	ListCell   *ec;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* not read-only: a new snapshot, which sees the flushes waited for */
	select_views("SELECT s.view, s.last_error "
				 "FROM continuous.view_stats s "
				 "JOIN continuous.view_catalog v ON v.view OPERATOR(pg_catalog.=) s.view "
				 "WHERE s.status OPERATOR(pg_catalog.=) 'failed' ORDER BY s.view",
				 false, callercxt, &views, &errors);
	select_views("SELECT s.view, s.last_error "
				 "FROM continuous.view_stats s "
				 "JOIN continuous.view_catalog v ON v.view OPERATOR(pg_catalog.=) s.view "
				 "WHERE s.status OPERATOR(pg_catalog.=) 'waiting' ORDER BY s.view",
				 false, callercxt, &held, &whys);
	SPI_finish();
	privileges_leave_extension(&saved);

	/*
	 * Named as the caller's search_path shows them; why, only to those who
	 * may read the view, as the error may quote an event.
	 */
	forboth(vc, views, ec, errors)
	{
		Oid			view = lfirst_oid(vc);

		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("continuous view %s has failed and is not up to date",
						DatumGetCString(DirectFunctionCall1(regclassout,
															ObjectIdGetDatum(view)))),
				 pg_class_aclcheck(view, GetUserId(), ACL_SELECT) == ACLCHECK_OK ?
				 errdetail("%s", (char *) lfirst(ec)) : 0,
				 errhint("%s", FAILED_VIEW_HINT)));
	}
	forboth(vc, held, ec, whys)
		ereport(WARNING,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("continuous view %s is held back by a lock and is not up to date",
						DatumGetCString(DirectFunctionCall1(regclassout,
															ObjectIdGetDatum(lfirst_oid(vc))))),
				 errdetail("%s", (char *) lfirst(ec)),
				 errhint("It catches up by itself once the transaction holding the lock ends; pg_locks shows which one.")));
}
