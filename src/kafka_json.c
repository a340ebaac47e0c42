/*-------------------------------------------------------------------------
 *
 * kafka_json.c
 *	  Kafka streams: the JSON half of format 'json', field collection.
 *
 * Pipeline position: source.  kafka_decode.c calls kafka_json_collect() on
 * each JSON message, then converts the collected text with the columns'
 * input functions.  Parsing is PostgreSQL's own parser (common/jsonapi.h)
 * driven by semantic callbacks; nothing here reads JSON syntax itself.
 *
 * Only the top-level object's direct fields are looked at.  Their values
 * are recorded as text spans: scalars as the parser's de-escaped token,
 * and every value (nested ones included) as its raw JSON text, which is
 * what json and jsonb columns take.
 *
 * The file is also compiled frontend-side for the fuzzer, hence the
 * FRONTEND include dance and the absence of ereport.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <string.h>

#include "kafka_json.h"

static void collect_object_start(void *state);
static void collect_array_start(void *state);
static void collect_field_start(void *state, char *fname, bool isnull);
static void collect_field_end(void *state, char *fname, bool isnull);
static void collect_scalar(void *state, char *token, JsonTokenType tokentype);

bool
kafka_json_collect(KafkaJsonCollector *c, const char *payload, int len,
				   int encoding, char **error)
{
	JsonLexContext *lex;
	JsonSemAction sem;
	JsonParseErrorType result;

	memset(c->values, 0, sizeof(KafkaJsonValue) * c->nnames);
	c->current = -1;
	c->hint = 0;
	c->not_object = false;

	/* the lexer does not write to its input; the API is just not const */
	lex = makeJsonLexContextCstringLen(unconstify(char *, payload), len,
									   encoding, true);
	c->lex = lex;

	memset(&sem, 0, sizeof(sem));
	sem.semstate = c;
	sem.object_start = collect_object_start;
	sem.array_start = collect_array_start;
	sem.object_field_start = collect_field_start;
	sem.object_field_end = collect_field_end;
	sem.scalar = collect_scalar;

	result = pg_parse_json(lex, &sem);
	if (result != JSON_SUCCESS)
	{
#ifdef FRONTEND
		/* PostgreSQL 15 builds json_errdetail() into the backend only */
		*error = psprintf("invalid JSON: parser error %d", (int) result);
#else
		*error = psprintf("invalid JSON: %s", json_errdetail(result, lex));
#endif
		return false;
	}
	if (c->not_object)
	{
		*error = pstrdup("invalid JSON message: not an object");
		return false;
	}
	return true;
}

/*
 * Callbacks.  The parser calls object_start and array_start before it
 * increments lex_level, and field and scalar callbacks at the level of the
 * object or array that holds them: fields of the top-level object are at
 * level 1.
 */
static void
collect_object_start(void *state)
{
	(void) state;
}

static void
collect_array_start(void *state)
{
	KafkaJsonCollector *c = (KafkaJsonCollector *) state;

	if (c->lex->lex_level == 0)
		c->not_object = true;
}

static void
collect_field_start(void *state, char *fname, bool isnull)
{
	KafkaJsonCollector *c = (KafkaJsonCollector *) state;
	KafkaJsonValue *v;
	int			i;

	if (c->lex->lex_level != 1)
		return;

	/*
	 * Producers usually write fields in the same order as the columns, so
	 * the search starts after the previous match and is one comparison per
	 * field in the common case.
	 */
	c->current = -1;
	for (i = 0; i < c->nnames; i++)
	{
		int			k = (c->hint + i) % c->nnames;

		if (c->names[k] != NULL && strcmp(c->names[k], fname) == 0)
		{
			c->current = k;
			c->hint = (k + 1) % c->nnames;
			break;
		}
	}
	if (c->current < 0)
		return;

	/* the lexer is looking at the value's first token */
	v = &c->values[c->current];
	v->text = NULL;
	v->raw = c->lex->token_start;
	v->rawlen = 0;
	switch (c->lex->token_type)
	{
		case JSON_TOKEN_OBJECT_START:
			v->kind = KAFKA_JSON_OBJECT;
			break;
		case JSON_TOKEN_ARRAY_START:
			v->kind = KAFKA_JSON_ARRAY;
			break;
		case JSON_TOKEN_STRING:
			v->kind = KAFKA_JSON_STRING;
			break;
		case JSON_TOKEN_NUMBER:
			v->kind = KAFKA_JSON_NUMBER;
			break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			v->kind = KAFKA_JSON_BOOL;
			break;
		default:
			v->kind = isnull ? KAFKA_JSON_NULL : KAFKA_JSON_ABSENT;
			break;
	}
}

static void
collect_field_end(void *state, char *fname, bool isnull)
{
	KafkaJsonCollector *c = (KafkaJsonCollector *) state;
	KafkaJsonValue *v;

	if (c->lex->lex_level != 1 || c->current < 0)
		return;

	/* the lexer has moved past the value: its last token ended here */
	v = &c->values[c->current];
	v->rawlen = (int) (c->lex->prev_token_terminator - v->raw);
	c->current = -1;
}

static void
collect_scalar(void *state, char *token, JsonTokenType tokentype)
{
	KafkaJsonCollector *c = (KafkaJsonCollector *) state;

	(void) tokentype;
	if (c->lex->lex_level == 0)
		c->not_object = true;
	else if (c->lex->lex_level == 1 && c->current >= 0)
		c->values[c->current].text = token;
}
