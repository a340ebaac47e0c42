/*-------------------------------------------------------------------------
 *
 * worker_write.c
 *	  What the flush transaction writes for each view.
 *
 * Pipeline position: the flush, once the worker (worker.c) has processed
 * the batch into every view (worker_process.c).  For each view: its
 * state merged into storage (batch.c, flush.c), its late rows, the windows
 * it closed for the views that read it (chain_emit.c), and retention
 * (window_expiry.c).  A view whose write fails by its own fault is
 * quarantined (quarantine.c): the flush writes the others, and records
 * the failure; after the commit the worker no longer maintains it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "exec/quarantine.h"
#include "state/chain_emit.h"
#include "window/window_expiry.h"
#include "worker/early_aggregation.h"
#include "worker/view_progress.h"
#include "worker/worker_catalog.h"
#include "worker/worker_process.h"
#include "worker/worker_write.h"

static void worker_step_write(ViewRuntime *vr, void *arg);
static void worker_step_write_all(ViewRuntime *unused, void *arg);

/*
 * What a flush writes for one view: its state, late rows, the windows it
 * closed for the views that read it, retention (not before they are).
 */
static void
worker_step_write(ViewRuntime *vr, void *arg)
{
	view_flush_stages(vr);
	window_expiry_write_late_rows(vr);
	if (chain_emit_closed_windows(vr))
		window_expiry_apply_retention(vr, worker_catalog_clock(vr->stream));
}

/* arg: every view (a List of ViewRuntime) */
static void
worker_step_write_all(ViewRuntime *unused, void *arg)
{
	List	   *views = arg;
	ListCell   *lc;

	foreach(lc, views)
	{
		ViewRuntime *vr = lfirst(lc);

		if (!vr->failed)
		{
			quarantine_limit_blame(vr->view);
			worker_step_write(vr, NULL);
		}
	}
}

/*
 * Every view's writes, in one subtransaction: no view has failed in most
 * flushes, and one subtransaction keeps the flush to one subtransaction
 * id however many views there are.  If a view fails, each view is written
 * again in a subtransaction of its own, so that the failing one can be
 * quarantined; from its events again, as a failed write may have left its
 * batch state changed.
 */
void
worker_write_views(List *views, List *batches)
{
	ListCell   *lc;

	if (quarantine_attempt(worker_step_write_all, NULL, views) == NULL)
		return;

	foreach(lc, views)
	{
		ViewRuntime *vr = lfirst(lc);

		if (vr->failed)
			continue;
		worker_process_view_again(vr, batches);
		if (!vr->failed)
			(void) quarantine_run(vr, worker_step_write, NULL);
	}
}

List *
worker_write_forget_failed(List *views)
{
	ListCell   *lc;

	foreach(lc, views)
	{
		ViewRuntime *vr = lfirst(lc);

		if (vr->failed)
		{
			view_progress_forget(vr->view);
			early_aggregation_forget_view(vr);
			view_runtime_destroy(vr);
			views = foreach_delete_current(views, lc);
		}
	}
	return views;
}
