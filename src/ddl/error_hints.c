/*-------------------------------------------------------------------------
 *
 * error_hints.c
 *	  Hints for the commands users of other streaming systems type first.
 *
 * Pipeline position: before DDL.  A PipelineDB user types CREATE
 * CONTINUOUS VIEW, a TimescaleDB user CREATE MATERIALIZED VIEW ... WITH
 * (continuous); both should learn at once that a continuous view here is
 * CREATE VIEW v WITH (continuous) AS SELECT ... (ddl_view.c).
 *
 * CREATE CONTINUOUS VIEW cannot parse: PostgreSQL's grammar is compiled
 * into the server and PostgreSQL 15 has no hook for an extension to extend
 * it, so the statement fails in the raw parser, before any hook of ours
 * could see it.  What remains is the error report: an emit_log_hook sees
 * every error before it goes to the log and the client, and adds a detail
 * and a hint to a syntax error that the parser raised at the word
 * CONTINUOUS of CREATE CONTINUOUS VIEW.  (PostgreSQL calls emit_log_hook
 * only for reports that go to the server log, so with log_min_messages
 * set above ERROR the bare syntax error remains.)
 *
 * CREATE MATERIALIZED VIEW ... WITH (continuous) does parse; the
 * ProcessUtility hook (ddl_view.c) calls error_hints_check_utility(), which
 * refuses it with an error of its own instead of PostgreSQL's
 * "unrecognized parameter".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/extension.h"
#include "mb/pg_wchar.h"
#include "nodes/parsenodes.h"
#include "nodes/primnodes.h"
#include "parser/parse_node.h"
#include "parser/scansup.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/elog.h"

#include "ddl/error_hints.h"

/* what the hints show; the view's name goes in the %s */
#define CONTINUOUS_VIEW_FORM	"CREATE VIEW %s WITH (continuous) AS SELECT ..."

static emit_log_hook_type prev_emit_log_hook = NULL;

static void error_hints_emit_log(ErrorData *edata);
static void hint_create_continuous_view(ErrorData *edata);
static int	char_offset(const char *text, int charpos);
static const char *after_word(const char *p, const char *word);
static bool word_before(const char *text, int offset, const char *word);
static char *name_at(const char *p);

void
error_hints_install(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = error_hints_emit_log;
}

/*
 * Called for every message that goes to the server log, so it returns at
 * once for all but syntax errors, and it must not raise an error itself.
 */
static void
error_hints_emit_log(ErrorData *edata)
{
	if (edata->elevel == ERROR && edata->sqlerrcode == ERRCODE_SYNTAX_ERROR &&
		edata->hint == NULL)
		hint_create_continuous_view(edata);

	/* after ours, so that the hooks before us log the hint too */
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * A syntax error at CONTINUOUS in CREATE [OR REPLACE] CONTINUOUS VIEW name:
 * say why, and show the statement to write, with the user's view name.
 * The error's position is in the internal query when the statement ran
 * through SPI (PL/pgSQL's EXECUTE), otherwise in the client's statement.
 */
static void
hint_create_continuous_view(ErrorData *edata)
{
	const char *text;
	int			charpos;
	int			offset;
	const char *p;
	char	   *name;

	if (edata->internalquery != NULL && edata->internalpos > 0)
	{
		text = edata->internalquery;
		charpos = edata->internalpos;
	}
	else
	{
		text = debug_query_string;
		charpos = edata->cursorpos;
	}
	if (text == NULL || charpos <= 0)
		return;

	offset = char_offset(text, charpos);
	if (offset < 0 ||
		!(word_before(text, offset, "create") ||
		  word_before(text, offset, "replace")))
		return;
	p = after_word(text + offset, "continuous");
	if (p == NULL)
		return;
	while (scanner_isspace(*p))
		p++;
	p = after_word(p, "view");
	if (p == NULL)
		return;
	while (scanner_isspace(*p))
		p++;
	name = name_at(p);

	if (edata->detail == NULL)
		edata->detail = pstrdup("PostgreSQL's grammar has no CREATE CONTINUOUS VIEW, and extensions cannot add to it.");
	edata->hint = psprintf("Write " CONTINUOUS_VIEW_FORM " instead.",
						   name ? name : "name");
}

/*
 * Byte offset in text of the character at charpos (counted from 1, as
 * error positions are), or -1 past the end.
 */
static int
char_offset(const char *text, int charpos)
{
	int			len = strlen(text);
	int			offset = 0;
	int			i;

	for (i = 1; i < charpos; i++)
	{
		if (offset >= len)
			return -1;
		offset += pg_mblen(text + offset);
	}
	return offset < len ? offset : -1;
}

static bool
is_identifier_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '$' || IS_HIGHBIT_SET(c);
}

/* p past word, if the text at p is that whole word in any case, or NULL */
static const char *
after_word(const char *p, const char *word)
{
	int			len = strlen(word);

	if (pg_strncasecmp(p, word, len) != 0 || is_identifier_char(p[len]))
		return NULL;
	return p + len;
}

/* Is the word before offset in text (spaces between) this one? */
static bool
word_before(const char *text, int offset, const char *word)
{
	int			end = offset;
	int			start;

	while (end > 0 && scanner_isspace(text[end - 1]))
		end--;
	start = end;
	while (start > 0 && is_identifier_char(text[start - 1]))
		start--;
	return end - start == strlen(word) &&
		pg_strncasecmp(text + start, word, end - start) == 0;
}

/*
 * The possibly qualified, possibly quoted name at p, as written, or NULL if
 * there is none there.
 */
static char *
name_at(const char *p)
{
	StringInfoData name;

	initStringInfo(&name);
	for (;;)
	{
		if (*p == '"')
		{
			const char *start = p++;

			for (;;)
			{
				if (*p == '\0')
					return NULL;
				if (*p == '"' && p[1] != '"')
					break;
				p += (*p == '"') ? 2 : 1;
			}
			p++;
			appendBinaryStringInfo(&name, start, p - start);
		}
		else if (is_identifier_char(*p) && !(*p >= '0' && *p <= '9') && *p != '$')
		{
			const char *start = p;

			while (is_identifier_char(*p))
				p++;
			appendBinaryStringInfo(&name, start, p - start);
		}
		else
			return NULL;
		if (name.len > 3 * 2 * NAMEDATALEN)
			return NULL;
		if (*p != '.')
			return name.data;
		appendStringInfoChar(&name, *p++);
	}
}

/*
 * CREATE MATERIALIZED VIEW ... WITH (continuous) or WITH
 * (timescaledb.continuous): a materialized view is refreshed by hand, a
 * continuous view here is a view.  Left to TimescaleDB where it is there,
 * since it is then its own continuous aggregate.
 */
void
error_hints_check_utility(Node *parsetree, const char *queryString)
{
	CreateTableAsStmt *stmt;
	ListCell   *lc;

	if (!IsA(parsetree, CreateTableAsStmt))
		return;
	stmt = (CreateTableAsStmt *) parsetree;
	if (stmt->objtype != OBJECT_MATVIEW || stmt->into == NULL)
		return;

	foreach(lc, stmt->into->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		ParseState *pstate;
		RangeVar   *rel = stmt->into->rel;

		if (strcmp(def->defname, "continuous") != 0 ||
			(def->defnamespace != NULL &&
			 strcmp(def->defnamespace, "timescaledb") != 0))
			continue;
		if (OidIsValid(get_extension_oid("timescaledb", true)))
			return;

		pstate = make_parsestate(NULL);
		pstate->p_sourcetext = queryString;
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a materialized view cannot be continuous"),
				 errdetail("A continuous view is an ordinary view that pg_continuous keeps up to date as events arrive, with nothing to refresh."),
				 errhint("Write " CONTINUOUS_VIEW_FORM " instead.",
						 quote_qualified_identifier(rel->schemaname,
													rel->relname)),
				 parser_errposition(pstate, def->location)));
	}
}
