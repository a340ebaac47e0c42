/*
 * fuzz_csv.c
 *	  libFuzzer harness for kafka_csv_split() (src/source/kafka/kafka_csv.c).
 *
 * The first input byte picks the delimiter, the rest is the message.
 * Besides what AddressSanitizer catches (reads past the input, writes past
 * the len + 1 byte buffer), it checks that the fields are consistent and
 * that re-quoting every field and splitting again gives the same fields.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "source/kafka/kafka_csv.h"

#define MAXFIELDS 16

static char
pick_delimiter(uint8_t b)
{
	static const char choices[] = {',', ';', '|', '\t', ' ', 'a'};

	return choices[b % sizeof(choices)];
}

/* Every field quoted, quotes doubled, joined by delim. */
static size_t
requote(const KafkaCsvField *fields, int n, char delim, char *out)
{
	char	   *p = out;
	int			i;
	size_t		j;

	for (i = 0; i < n; i++)
	{
		if (i > 0)
			*p++ = delim;
		*p++ = '"';
		for (j = 0; j < fields[i].len; j++)
		{
			if (fields[i].value[j] == '"')
				*p++ = '"';
			*p++ = fields[i].value[j];
		}
		*p++ = '"';
	}
	return p - out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	KafkaCsvField fields[MAXFIELDS];
	KafkaCsvField again[MAXFIELDS];
	const char *error;
	char		delim;
	char	   *input;
	char	   *buf;
	char	   *quoted;
	char	   *buf2;
	size_t		len;
	size_t		qlen;
	int			n;
	int			n2;
	int			i;

	if (size < 1)
		return 0;
	delim = pick_delimiter(data[0]);
	len = size - 1;

	/* exact-size copies, so that ASan sees any overrun */
	input = malloc(len ? len : 1);
	memcpy(input, data + 1, len);
	buf = malloc(len + 1);

	n = kafka_csv_split(input, len, delim, buf, fields, MAXFIELDS, &error);
	if (n < 0)
	{
		assert(error != NULL);
		goto done;
	}
	assert(n >= 1);
	for (i = 0; i < n && i < MAXFIELDS; i++)
	{
		assert(fields[i].value >= buf && fields[i].value + fields[i].len < buf + len + 1);
		assert(fields[i].value[fields[i].len] == '\0');
		assert(strlen(fields[i].value) <= fields[i].len);
	}
	if (n > MAXFIELDS)
		goto done;

	/* round trip: at most every byte doubled, plus quotes and delimiters */
	quoted = malloc(2 * len + 3 * n + 1);
	qlen = requote(fields, n, delim, quoted);
	buf2 = malloc(qlen + 1);
	n2 = kafka_csv_split(quoted, qlen, delim, buf2, again, MAXFIELDS, &error);
	assert(n2 == n);
	for (i = 0; i < n; i++)
	{
		assert(again[i].quoted);
		assert(again[i].len == fields[i].len);
		assert(memcmp(again[i].value, fields[i].value, fields[i].len) == 0);
	}
	free(buf2);
	free(quoted);

done:
	free(buf);
	free(input);
	return 0;
}
