/*-------------------------------------------------------------------------
 *
 * kafka_json.c
 *	  Kafka streams: the JSON half of format 'json', field collection.
 *
 * Pipeline position: source.  kafka_decode.c calls kafka_json_collect() on
 * each JSON message, then converts the collected text with the columns'
 * input functions.  Whether a message is valid JSON is decided by a
 * parser, never here: simdjson's where it says yes, PostgreSQL's own
 * (common/jsonapi.h) otherwise.  What is read here is text a parser has
 * checked.
 *
 * Only the top-level object's direct fields are looked at.  Every value is
 * recorded as its raw JSON text (what json and jsonb columns take), and a
 * wanted scalar also as text for an input function: a number or boolean as
 * written, a string de-escaped.
 *
 * Most messages take the fast way: one without a backslash (so without
 * escapes), no longer than KAFKA_JSON_FAST_MAX_BYTES and starting with '{'
 * is checked by simdjson (kafka_json_validate.cpp), and when that says it
 * is valid JSON, its top-level fields are found by a scan of its text that
 * can assume so: strings end at the next quote, and nesting is a count of
 * brackets outside strings.  Every other message, and one simdjson refuses,
 * goes the slow way below, whose parser decides and words the error, so
 * that what is accepted is exactly what the json type accepts.
 *
 * The slow way: PostgreSQL's parser, driven by semantic callbacks, parses
 * the message without de-escaping (need_escapes false), as json_in()
 * validates its input: in PostgreSQL 15 the de-escaping lexer
 * copies every character of every string one call at a time, and was most
 * of the cost of a message.  Keys and wanted strings are then taken from
 * the token boundaries the parser reports.  Only the ones that contain a
 * backslash are handed to the parser again, alone and with de-escaping,
 * which also applies the checks that only de-escaping makes (\u0000, lone
 * surrogates): a wanted string that fails them fails the message.
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

#include "source/kafka/kafka_json.h"
#include "source/kafka/kafka_json_validate.h"

static bool collect_parsed(KafkaJsonCollector *c, const char *payload,
						   int len, char **error);
static bool takes_fast_way(const char *payload, int len);
static void collect_valid_object(KafkaJsonCollector *c, const char *payload,
								 int len);
static const char *skip_value(const char *p, const char *end);
static int	match_key(KafkaJsonCollector *c, const char *token, int len);
static void collect_object_start(void *state);
static void collect_field_start(void *state, char *fname, bool isnull);
static void collect_field_end(void *state, char *fname, bool isnull);
static void take_scalar(void *state, char *token, JsonTokenType tokentype);
static char *copy_text(const char *text, int len);
static char *string_token_text(const char *token, int len, int encoding,
							   char **error);
static char *parse_error_message(JsonParseErrorType result,
								 JsonLexContext *lex);

void
kafka_json_collector_init(KafkaJsonCollector *c, int nnames,
						  const char *const *names, KafkaJsonValue *values)
{
	int			i;

	memset(c, 0, sizeof(*c));
	c->nnames = nnames;
	c->names = names;
	c->values = values;
	c->fast_way = true;
	c->name_lens = palloc(sizeof(int) * Max(nnames, 1));
	for (i = 0; i < nnames; i++)
		c->name_lens[i] = names[i] != NULL ? (int) strlen(names[i]) : -1;
}

bool
kafka_json_collect(KafkaJsonCollector *c, const char *payload, int len,
				   int encoding, char **error)
{
	int			i;

	memset(c->values, 0, sizeof(KafkaJsonValue) * c->nnames);
	c->current = -1;
	c->hint = 0;
	c->encoding = encoding;

	if (c->fast_way && takes_fast_way(payload, len) &&
		kafka_json_fast_valid(payload, (size_t) len))
		collect_valid_object(c, payload, len);
	else if (!collect_parsed(c, payload, len, error))
		return false;

	/* text for the wanted scalars */
	for (i = 0; i < c->nnames; i++)
	{
		KafkaJsonValue *v = &c->values[i];

		if (v->kind == KAFKA_JSON_STRING)
		{
			v->text = string_token_text(v->raw, v->rawlen, encoding, error);
			if (v->text == NULL)
				return false;
		}
		else if (v->kind == KAFKA_JSON_NUMBER || v->kind == KAFKA_JSON_BOOL)
			v->text = copy_text(v->raw, v->rawlen);
	}
	return true;
}

/*
 * The slow way's collection: PostgreSQL's parser, with the callbacks
 * below.  False, with *error set, if the message is no JSON object.
 */
static bool
collect_parsed(KafkaJsonCollector *c, const char *payload, int len,
			   char **error)
{
	JsonLexContext *lex;
	JsonSemAction sem;
	JsonParseErrorType result;

	c->not_object = true;		/* until the top-level object starts */
	c->key_search_from = NULL;

	/* the lexer does not write to its input; the API is just not const */
	lex = makeJsonLexContextCstringLen(unconstify(char *, payload), len,
									   c->encoding, false);
	c->lex = lex;

	memset(&sem, 0, sizeof(sem));
	sem.semstate = c;
	sem.object_start = collect_object_start;
	sem.object_field_start = collect_field_start;
	sem.object_field_end = collect_field_end;

	result = pg_parse_json(lex, &sem);
	if (result != JSON_SUCCESS)
	{
		*error = parse_error_message(result, lex);
		return false;
	}
	if (c->not_object)
	{
		*error = pstrdup("invalid JSON message: not an object");
		return false;
	}
	return true;
}

static inline bool
is_json_whitespace(char ch)
{
	/* the four characters JSON allows between tokens */
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static inline const char *
skip_whitespace(const char *p, const char *end)
{
	while (p < end && is_json_whitespace(*p))
		p++;
	return p;
}

/* Is payload one the fast way may take, if simdjson finds it valid? */
static bool
takes_fast_way(const char *payload, int len)
{
	const char *start = skip_whitespace(payload, payload + len);

	return len <= KAFKA_JSON_FAST_MAX_BYTES &&
		start < payload + len && *start == '{' &&
		memchr(payload, '\\', len) == NULL;
}

/*
 * The fast way's collection: payload[0 .. len) is a valid JSON object
 * without a backslash.  Finds what the parser's callbacks below find.
 */
static void
collect_valid_object(KafkaJsonCollector *c, const char *payload, int len)
{
	const char *end = payload + len;
	const char *p = skip_whitespace(payload, end);

	Assert(*p == '{');
	p = skip_whitespace(p + 1, end);
	while (p < end && *p == '"')
	{
		const char *key_end = memchr(p + 1, '"', end - (p + 1));
		const char *value_end;
		int			i;

		Assert(key_end != NULL);
		i = match_key(c, p, (int) (key_end - p + 1));
		p = skip_whitespace(key_end + 1, end);
		Assert(*p == ':');
		p = skip_whitespace(p + 1, end);
		value_end = skip_value(p, end);
		if (i >= 0)
		{
			KafkaJsonValue *v = &c->values[i];

			v->raw = p;
			v->rawlen = (int) (value_end - p);
			switch (*p)
			{
				case '{':
					v->kind = KAFKA_JSON_OBJECT;
					break;
				case '[':
					v->kind = KAFKA_JSON_ARRAY;
					break;
				case '"':
					v->kind = KAFKA_JSON_STRING;
					break;
				case 'n':
					v->kind = KAFKA_JSON_NULL;
					break;
				case 't':
				case 'f':
					v->kind = KAFKA_JSON_BOOL;
					break;
				default:
					v->kind = KAFKA_JSON_NUMBER;
					break;
			}
		}
		p = skip_whitespace(value_end, end);
		if (p < end && *p == ',')
			p = skip_whitespace(p + 1, end);
	}
	Assert(p < end && *p == '}');
}

/*
 * The end of the valid JSON value that starts at p, in a text without
 * backslashes: a string ends at the next quote, an array or object where
 * the brackets outside its strings balance, a literal or number at the
 * first character that cannot continue it.
 */
static const char *
skip_value(const char *p, const char *end)
{
	int			depth = 0;

	if (*p == '"')
		return (const char *) memchr(p + 1, '"', end - (p + 1)) + 1;
	if (*p != '{' && *p != '[')
	{
		while (p < end && *p != ',' && *p != '}' && *p != ']' &&
			   !is_json_whitespace(*p))
			p++;
		return p;
	}
	for (; p < end; p++)
	{
		switch (*p)
		{
			case '"':
				p = memchr(p + 1, '"', end - (p + 1));
				break;
			case '{':
			case '[':
				depth++;
				break;
			case '}':
			case ']':
				if (--depth == 0)
					return p + 1;
				break;
		}
	}
	Assert(false);				/* the text was valid */
	return end;
}

/*
 * Callbacks.  The parser calls object_start before it increments
 * lex_level, and the field callbacks at the level of the object that holds
 * them: fields of the top-level object are at level 1.
 *
 * The parser hands the callbacks no key (without de-escaping it has none
 * to give), so the key is found between tokens.  object_start runs with
 * the lexer on the '{', and a field's end with the lexer on the ',' or '}'
 * after the value: the next key's token starts after that, past
 * whitespace.  A field's start runs with the lexer on the value's first
 * token, just after the ':' that follows the key.  Both ends of the key's
 * token are thus the nearest non-whitespace around it, and are quotes.
 */
static void
collect_object_start(void *state)
{
	KafkaJsonCollector *c = (KafkaJsonCollector *) state;

	if (c->lex->lex_level == 0)
	{
		c->not_object = false;
		c->key_search_from = c->lex->token_terminator;
	}
}

/*
 * Which wanted name, if any, is the key whose string token is
 * token[0 .. len), quotes included: the values[] index, or -1.
 */
static int
match_key(KafkaJsonCollector *c, const char *token, int len)
{
	const char *key = token + 1;
	int			keylen = len - 2;
	int			k;
	int			i;

	if (memchr(key, '\\', keylen) != NULL)
	{
		char	   *error;

		/* a key no column can have (\u0000, say) matches none */
		key = string_token_text(token, len, c->encoding, &error);
		if (key == NULL)
			return -1;
		keylen = strlen(key);
	}

	/*
	 * Producers usually write fields in the same order as the columns, so
	 * the search starts after the previous match and is one comparison per
	 * field in the common case.
	 */
	k = c->hint;
	for (i = 0; i < c->nnames; i++)
	{
		if (c->name_lens[k] == keylen &&
			memcmp(c->names[k], key, keylen) == 0)
		{
			c->hint = k + 1 < c->nnames ? k + 1 : 0;
			return k;
		}
		k = k + 1 < c->nnames ? k + 1 : 0;
	}
	return -1;
}

static void
collect_field_start(void *state, char *fname, bool isnull)
{
	KafkaJsonCollector *c = (KafkaJsonCollector *) state;
	JsonLexContext *lex = c->lex;
	const char *key_start = c->key_search_from;
	const char *key_end = lex->prev_token_terminator - 1;	/* the ':' */
	KafkaJsonValue *v;

	(void) fname;
	if (lex->lex_level != 1)
		return;

	while (is_json_whitespace(*key_start))
		key_start++;
	do
		key_end--;
	while (is_json_whitespace(*key_end));
	Assert(*key_start == '"' && *key_end == '"' && key_end > key_start);

	c->current = match_key(c, key_start, (int) (key_end - key_start + 1));
	if (c->current < 0)
		return;

	/* the lexer is looking at the value's first token */
	v = &c->values[c->current];
	v->raw = lex->token_start;
	v->rawlen = 0;
	switch (lex->token_type)
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

	(void) fname;
	(void) isnull;
	if (c->lex->lex_level != 1)
		return;

	/* the lexer is on the ',' or '}' after the value */
	c->key_search_from = c->lex->token_terminator;
	if (c->current < 0)
		return;

	/* the value's last token ended before it */
	c->values[c->current].rawlen =
		(int) (c->lex->prev_token_terminator - c->values[c->current].raw);
	c->current = -1;
}

/*
 * The de-escaped text of the JSON string token token[0 .. len), quotes
 * included, palloc'd; NULL with *error set if de-escaping fails.  Tokens
 * without a backslash are just copied; the others are parsed alone, as a
 * JSON text of their own, by the de-escaping parser.
 */
static char *
string_token_text(const char *token, int len, int encoding, char **error)
{
	JsonLexContext *lex;
	JsonSemAction sem;
	JsonParseErrorType result;
	char	   *text = NULL;

	if (memchr(token, '\\', len) == NULL)
		return copy_text(token + 1, len - 2);

	lex = makeJsonLexContextCstringLen(unconstify(char *, token), len,
									   encoding, true);
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &text;
	sem.scalar = take_scalar;
	result = pg_parse_json(lex, &sem);
	if (result != JSON_SUCCESS)
	{
		*error = parse_error_message(result, lex);
		return NULL;
	}
	return text;
}

/* text[0 .. len) as a C string: the payload has no zero bytes */
static char *
copy_text(const char *text, int len)
{
	char	   *copy = palloc(len + 1);

	memcpy(copy, text, len);
	copy[len] = '\0';
	return copy;
}

static void
take_scalar(void *state, char *token, JsonTokenType tokentype)
{
	(void) tokentype;
	*(char **) state = token;
}

static char *
parse_error_message(JsonParseErrorType result, JsonLexContext *lex)
{
#ifdef FRONTEND
	/* PostgreSQL 15 builds json_errdetail() into the backend only */
	(void) lex;
	return psprintf("invalid JSON: parser error %d", (int) result);
#else
	return psprintf("invalid JSON: %s", json_errdetail(result, lex));
#endif
}
