/*-------------------------------------------------------------------------
 *
 * view_access.c
 *	  May a continuous view's owner read what the worker reads for it?
 *
 * Pipeline position: DDL and batch.  The worker decodes a stream's rows
 * (and the emission table of a view read by another view) with the
 * rights of the bootstrap superuser: no privilege and no row-level
 * security policy is applied to them on the way.  So the view's owner
 * must be able to read every row of what its SELECT names, checked as
 * CREATE VIEW analyses it (ddl_view.c) and again before each batch the
 * view runs (batch.c), worker or backfill: after REVOKE SELECT, or once
 * row-level security that applies to the owner is enabled on a stream,
 * the view fails (quarantine.c) instead of counting rows its owner may
 * not read; a rebuild once the cause is gone brings it back.
 *
 * The tables of lookup joins are left out: the stage reads them through
 * SQL as the owner (stage_lookup_join.c), under their policies, and
 * without SELECT their events become dead letters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"

#include "exec/view_access.h"

static bool is_lookup_table(ContinuousPlan *plan, Index rtindex);

void
view_access_check(ContinuousPlan *plan, Oid role, const char *view_name)
{
	ListCell   *lc;

	foreach(lc, plan->query->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		RangeTblEntry as_role;
		List	   *check;
		bool		allowed;
		char		relkind;

		if (rte->rtekind != RTE_RELATION ||
			is_lookup_table(plan, foreach_current_index(lc) + 1))
			continue;
		relkind = get_rel_relkind(rte->relid);

		/* the privileges CREATE VIEW checked, columns included */
		as_role = *rte;
		as_role.checkAsUser = role;
		check = list_make1(&as_role);
		allowed = ExecCheckRTPerms(check, false);
		list_free(check);
		if (!allowed)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for %s \"%s\"",
							relkind == RELKIND_VIEW ? "view" : "table",
							get_rel_name(rte->relid)),
					 errdetail("Role \"%s\", the owner of continuous view \"%s\", may no longer read it.",
							   GetUserNameFromId(role, false), view_name),
					 errhint("Grant SELECT on it to the view's owner, then bring the view back with continuous.rebuild().")));
		if (check_enable_rls(rte->relid, role, true) == RLS_ENABLED)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("continuous view \"%s\" cannot read stream \"%s\" under row-level security",
							view_name, get_rel_name(rte->relid)),
					 errdetail("Row-level security of the stream hides rows from role \"%s\", the view's owner, and a continuous view reads every row of its stream.",
							   GetUserNameFromId(role, false)),
					 errhint("Let a role that the stream's policies do not restrict own the view, or disable row-level security on the stream.")));
	}
}

static bool
is_lookup_table(ContinuousPlan *plan, Index rtindex)
{
	ListCell   *lc;

	foreach(lc, plan->joins)
	{
		if (((PlanJoin *) lfirst(lc))->rtindex == rtindex)
			return true;
	}
	return false;
}
