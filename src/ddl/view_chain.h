/*-------------------------------------------------------------------------
 *
 * view_chain.h
 *	  Views over views: a continuous view reading an emit = 'window_close'
 *	  continuous view.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_VIEW_CHAIN_H
#define CONTINUOUS_VIEW_CHAIN_H

/*
 * A view in a continuous view's FROM: refuses a continuous view that
 * cannot be read as a stream; false if the view is not continuous.
 */
extern bool view_chain_check_source(Oid view);

/*
 * The view's emission table, which its readers' plans take as their
 * stream: created and filled with the windows closed so far by the first
 * reader's CREATE VIEW.
 */
extern Oid	view_chain_prepare_source(Oid view);

/* The worker, when it starts: dependencies a restore left out. */
extern void view_chain_restore_dependencies(void);

#endif							/* CONTINUOUS_VIEW_CHAIN_H */
