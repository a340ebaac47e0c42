/*
 * fuzz_json.c
 *	  libFuzzer harness for kafka_json_collect() (src/source/kafka/kafka_json.c), built
 *	  frontend-side against PostgreSQL's libpgcommon, whose JSON parser is
 *	  the one the backend uses.
 *
 * Inputs that are not valid UTF-8 are skipped, as kafka_decode.c rejects
 * them before parsing.  Checks that every collected value lies inside the
 * input and looks like what its kind says, and that wherever PostgreSQL's
 * parser, de-escaping everything, accepts the message, the collector (which
 * de-escapes only what it needs) accepts it too and collects the same.
 *
 * The collector's fast way (simdjson's check, kafka_json_validate.cpp, and
 * a scan of the valid text) must agree with its slow way (PostgreSQL's
 * parser alone) on every input: the same answer, error or not, and the
 * same values at the same places.  And wherever simdjson calls a text
 * without a backslash valid, PostgreSQL's parser, as json_in() runs it,
 * must accept it too.
 *
 * The frontend palloc() is malloc() with nothing to free it per message
 * (the backend resets a memory context), so this file supplies palloc and
 * friends as an arena that is emptied after every input: libpgcommon's
 * versions are then not linked.
 */
#include "postgres_fe.h"

#include <assert.h>
#include <stdint.h>

#include "mb/pg_wchar.h"

#include "source/kafka/kafka_json.h"
#include "source/kafka/kafka_json_validate.h"

/* ---- arena allocator standing in for fe_memutils.c ---- */

typedef struct Chunk
{
	struct Chunk *next;
	size_t		size;
	max_align_t	data[];
} Chunk;

static Chunk *chunks;

static void *
arena_alloc(size_t size)
{
	Chunk	   *c = malloc(sizeof(Chunk) + size);

	if (c == NULL)
		abort();
	c->next = chunks;
	c->size = size;
	chunks = c;
	return c->data;
}

static void
arena_reset(void)
{
	while (chunks)
	{
		Chunk	   *next = chunks->next;

		free(chunks);
		chunks = next;
	}
}

void *
palloc(Size size)
{
	return arena_alloc(size);
}

void *
palloc0(Size size)
{
	return memset(arena_alloc(size), 0, size);
}

void *
palloc_extended(Size size, int flags)
{
	void	   *p = arena_alloc(size);

	if (flags & MCXT_ALLOC_ZERO)
		memset(p, 0, size);
	return p;
}

void
pfree(void *pointer)
{
	(void) pointer;				/* freed with the arena */
}

void *
repalloc(void *pointer, Size size)
{
	Chunk	   *old = (Chunk *) ((char *) pointer - offsetof(Chunk, data));
	void	   *p = arena_alloc(size);

	memcpy(p, pointer, old->size < size ? old->size : size);
	return p;
}

char *
pstrdup(const char *in)
{
	return strcpy(arena_alloc(strlen(in) + 1), in);
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *p;

	len = strnlen(in, len);
	p = arena_alloc(len + 1);
	memcpy(p, in, len);
	p[len] = '\0';
	return p;
}

/* ---- the harness ---- */

static const char *const names[] = {"id", "name", "a", "", "ts", NULL, "id", "\xc3\xa9"};
#define NNAMES ((int) (sizeof(names) / sizeof(names[0])))

/*
 * The reference: the same fields collected the plain way, with the parser
 * de-escaping every key and string.  Where it accepts a message, the
 * collector must too, with the same kinds and texts.
 */
typedef struct Reference
{
	JsonLexContext *lex;
	int			current;
	KafkaJsonKind kind[NNAMES];
	char	   *text[NNAMES];
} Reference;

static void
ref_field_start(void *state, char *fname, bool isnull)
{
	Reference  *r = state;
	int			i;

	r->current = -1;
	if (r->lex->lex_level != 1)
		return;
	for (i = 0; i < NNAMES; i++)
		if (names[i] != NULL && strcmp(names[i], fname) == 0)
			break;
	if (i == NNAMES)
		return;
	r->current = i;
	r->text[i] = NULL;
	switch (r->lex->token_type)
	{
		case JSON_TOKEN_OBJECT_START:
			r->kind[i] = KAFKA_JSON_OBJECT;
			break;
		case JSON_TOKEN_ARRAY_START:
			r->kind[i] = KAFKA_JSON_ARRAY;
			break;
		case JSON_TOKEN_STRING:
			r->kind[i] = KAFKA_JSON_STRING;
			break;
		case JSON_TOKEN_NUMBER:
			r->kind[i] = KAFKA_JSON_NUMBER;
			break;
		default:
			r->kind[i] = isnull ? KAFKA_JSON_NULL : KAFKA_JSON_BOOL;
			break;
	}
}

static void
ref_scalar(void *state, char *token, JsonTokenType tokentype)
{
	Reference  *r = state;

	(void) tokentype;
	if (r->lex->lex_level == 1 && r->current >= 0)
		r->text[r->current] = token;
}

static bool
reference_collect(Reference *r, char *input, int size)
{
	JsonSemAction sem;

	memset(r, 0, sizeof(*r));
	r->lex = makeJsonLexContextCstringLen(input, size, PG_UTF8, true);
	memset(&sem, 0, sizeof(sem));
	sem.semstate = r;
	sem.object_field_start = ref_field_start;
	sem.scalar = ref_scalar;
	if (pg_parse_json(r->lex, &sem) != JSON_SUCCESS)
		return false;
	/* and it is an object */
	while (size > 0 && strchr(" \t\n\r", *input) != NULL)
		input++, size--;
	return size > 0 && *input == '{';
}

/* Does PostgreSQL's parser accept the text as json_in() parses it? */
static bool
postgres_accepts(char *input, int size)
{
	JsonSemAction sem;

	memset(&sem, 0, sizeof(sem));
	return pg_parse_json(makeJsonLexContextCstringLen(input, size, PG_UTF8, false),
						 &sem) == JSON_SUCCESS;
}

/* the fast and the slow way collected the same, at the same places */
static void
assert_same_collection(const KafkaJsonValue *fast, const KafkaJsonValue *slow)
{
	int			i;

	for (i = 0; i < NNAMES; i++)
	{
		assert(fast[i].kind == slow[i].kind);
		if (fast[i].kind == KAFKA_JSON_ABSENT)
			continue;
		assert(fast[i].raw == slow[i].raw && fast[i].rawlen == slow[i].rawlen);
		assert((fast[i].text == NULL) == (slow[i].text == NULL));
		assert(fast[i].text == NULL || strcmp(fast[i].text, slow[i].text) == 0);
	}
}

static bool
name_listed_twice(int i)
{
	int			j;

	for (j = 0; j < NNAMES; j++)
		if (j != i && names[j] != NULL && strcmp(names[j], names[i]) == 0)
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	KafkaJsonValue values[NNAMES];
	KafkaJsonValue slow_values[NNAMES];
	KafkaJsonCollector c;
	KafkaJsonCollector slow;
	bool		slow_ok;
	Reference	ref;
	bool		ok;
	char	   *input;
	char	   *error = NULL;
	int			i;

	if (size > 1000000)
		return 0;
	input = malloc(size ? size : 1);
	memcpy(input, data, size);
	if (pg_encoding_verifymbstr(PG_UTF8, input, (int) size) != (int) size)
		goto done;

	kafka_json_collector_init(&c, NNAMES, names, values);

	ok = kafka_json_collect(&c, input, (int) size, PG_UTF8, &error);

	kafka_json_collector_init(&slow, NNAMES, names, slow_values);
	slow.fast_way = false;
	slow_ok = kafka_json_collect(&slow, input, (int) size, PG_UTF8, &error);
	assert(ok == slow_ok);
	if (ok)
		assert_same_collection(values, slow_values);
	if (memchr(input, '\\', size) == NULL && kafka_json_fast_valid(input, size))
		assert(postgres_accepts(input, (int) size));
	if (reference_collect(&ref, input, (int) size))
	{
		assert(ok);
		for (i = 0; i < NNAMES; i++)
		{
			/* a name listed twice may land in either slot: not compared */
			if (names[i] == NULL || name_listed_twice(i))
				continue;
			assert(values[i].kind == ref.kind[i]);
			/* null and absent need no text, objects and arrays have none */
			if (ref.kind[i] == KAFKA_JSON_STRING ||
				ref.kind[i] == KAFKA_JSON_NUMBER ||
				ref.kind[i] == KAFKA_JSON_BOOL)
				assert(values[i].text != NULL && ref.text[i] != NULL &&
					   strcmp(values[i].text, ref.text[i]) == 0);
		}
	}
	if (!ok)
	{
		assert(error != NULL);
		goto done;
	}
	for (i = 0; i < NNAMES; i++)
	{
		KafkaJsonValue *v = &values[i];

		if (v->kind == KAFKA_JSON_ABSENT)
			continue;
		assert(names[i] != NULL);
		assert(v->raw >= input && v->rawlen > 0 && v->raw + v->rawlen <= input + size);
		switch (v->kind)
		{
			case KAFKA_JSON_OBJECT:
				assert(v->raw[0] == '{' && v->raw[v->rawlen - 1] == '}');
				break;
			case KAFKA_JSON_ARRAY:
				assert(v->raw[0] == '[' && v->raw[v->rawlen - 1] == ']');
				break;
			case KAFKA_JSON_STRING:
				assert(v->text != NULL && v->raw[0] == '"');
				break;
			case KAFKA_JSON_NULL:
				assert(v->rawlen == 4 && memcmp(v->raw, "null", 4) == 0);
				break;
			default:
				assert(v->text != NULL && strlen(v->text) == (size_t) v->rawlen &&
					   memcmp(v->text, v->raw, v->rawlen) == 0);
				break;
		}
	}

done:
	free(input);
	arena_reset();
	return 0;
}
