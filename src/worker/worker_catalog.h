/*-------------------------------------------------------------------------
 *
 * worker_catalog.h
 *	  The streams and views a database worker serves, as it last read them
 *	  from the continuous catalog, and whether that may have changed since
 *	  (worker_catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_WORKER_CATALOG_H
#define CONTINUOUS_WORKER_CATALOG_H

#include "exec/batch.h"

/*
 * Once, before the first load: this worker's number (0 .. continuous.
 * workers - 1), and whether it decodes the WAL.  From here on, relcache
 * invalidations tell whether the catalog may have changed.
 */
extern void worker_catalog_init(int worker, bool decoding);

/*
 * In a transaction: the runtimes (ViewRuntime) of views, and everything
 * kept with them, are destroyed, and those of the views as the catalog has
 * them now returned; the streams' clocks and the Kafka consumers are made
 * again.  at_startup: the decoder resumes at the last written position;
 * slot_is_new: it starts from scratch; decoder_restarted: at startup, or
 * decoding again for views held back.
 */
extern List *worker_catalog_load(List *views, bool at_startup,
								 bool slot_is_new, bool decoder_restarted);

/* The clock of a stream as last loaded, or NULL (a WorkerClockLookup). */
extern StreamClock *worker_catalog_clock(Oid stream);

/*
 * Where each view begins.  Does one of views begin at a known position not
 * yet written to view_stats (the next flush writes it)?  Is the view's
 * beginning not written yet (known or not; for a decoding worker, known)?
 * After a flush committed: what was known is written.
 */
extern bool worker_catalog_activations_unwritten(List *views);
extern bool worker_catalog_activation_unwritten(ViewRuntime *vr);
extern void worker_catalog_activations_written(List *views);

/* What the invalidations processed since the last look say. */
typedef enum WorkerCatalogNews
{
	CATALOG_NO_NEWS,
	CATALOG_CHANGED,			/* it may have: load it again */
	CATALOG_CHECK_EXTENSION		/* the decoding worker: does the extension
								 * still exist? */
} WorkerCatalogNews;

/* Between transactions, after AcceptInvalidationMessages(). */
extern WorkerCatalogNews worker_catalog_news(void);

#endif							/* CONTINUOUS_WORKER_CATALOG_H */
