/*
 * fuzz_json.c
 *	  libFuzzer harness for kafka_json_collect() (src/kafka_json.c), built
 *	  frontend-side against PostgreSQL's libpgcommon, whose JSON parser is
 *	  the one the backend uses.
 *
 * Inputs that are not valid UTF-8 are skipped, as kafka_decode.c rejects
 * them before parsing.  Checks that every collected value lies inside the
 * input and looks like what its kind says.
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

#include "kafka_json.h"

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

static const char *const names[] = {"id", "name", "a", "", "ts", NULL, "id"};
#define NNAMES ((int) (sizeof(names) / sizeof(names[0])))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	KafkaJsonValue values[NNAMES];
	KafkaJsonCollector c;
	char	   *input;
	char	   *error = NULL;
	int			i;

	if (size > 1000000)
		return 0;
	input = malloc(size ? size : 1);
	memcpy(input, data, size);
	if (pg_encoding_verifymbstr(PG_UTF8, input, (int) size) != (int) size)
		goto done;

	memset(&c, 0, sizeof(c));
	c.nnames = NNAMES;
	c.names = names;
	c.values = values;

	if (!kafka_json_collect(&c, input, (int) size, PG_UTF8, &error))
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
