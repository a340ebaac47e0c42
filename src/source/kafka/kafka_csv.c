/*-------------------------------------------------------------------------
 *
 * kafka_csv.c
 *	  Kafka streams: the CSV field splitter behind format 'csv'.
 *
 * Pipeline position: source.  The Kafka consumer hands each message to
 * kafka_decode.c, which calls kafka_csv_split() for CSV payloads and then
 * runs each column type's input function over the fields.
 *
 * This file is deliberately plain C (no palloc, no ereport): a malformed
 * message must be cheap to reject, since a topic may be full of them, and
 * the fuzzer in test/fuzz/ links this file without a server.  All output
 * goes to a buffer the caller sized from the input, so nothing here
 * allocates and nothing can run past the input.
 *
 *-------------------------------------------------------------------------
 */
#include "source/kafka/kafka_csv.h"

/* Remember a finished field if the caller has room for it. */
static inline void
csv_store(KafkaCsvField *fields, int maxfields, int nfields,
		  const char *value, size_t len, bool quoted)
{
	if (nfields < maxfields)
	{
		fields[nfields].value = value;
		fields[nfields].len = len;
		fields[nfields].quoted = quoted;
	}
}

int
kafka_csv_split(const char *input, size_t len, char delimiter,
				char *buf, KafkaCsvField *fields, int maxfields,
				const char **error)
{
	const char *p = input;
	const char *end = input + len;
	char	   *out = buf;
	int			nfields = 0;

	*error = NULL;

	/*
	 * A producer writing lines often keeps the line end; it ends the record
	 * rather than being part of its last field.  Only one is dropped: a
	 * blank line after it would be a second record.
	 */
	if (end > p && end[-1] == '\n')
	{
		end--;
		if (end > p && end[-1] == '\r')
			end--;
	}

	for (;;)
	{
		char	   *field = out;
		bool		quoted = false;

		if (p < end && *p == '"')
		{
			quoted = true;
			p++;
			for (;;)
			{
				if (p >= end)
				{
					*error = "unterminated quoted field";
					return -1;
				}
				if (*p == '"')
				{
					/* "" inside quotes is one quote; a lone one closes */
					if (p + 1 < end && p[1] == '"')
					{
						*out++ = '"';
						p += 2;
						continue;
					}
					p++;
					break;
				}
				*out++ = *p++;
			}
			if (p < end && *p != delimiter)
			{
				*error = "unexpected character after closing quote";
				return -1;
			}
		}
		else
		{
			while (p < end && *p != delimiter)
			{
				if (*p == '"')
				{
					*error = "quote inside unquoted field";
					return -1;
				}
				if (*p == '\n' || *p == '\r')
				{
					*error = "unquoted line break: a message must hold one record";
					return -1;
				}
				*out++ = *p++;
			}
		}

		/*
		 * Every field's text plus its terminator fits: the text is no longer
		 * than its input, and each terminator takes the place of the
		 * delimiter after it, or of the extra byte at the end of buf.
		 */
		*out++ = '\0';
		csv_store(fields, maxfields, nfields, field,
				  (size_t) (out - field - 1), quoted);
		nfields++;

		if (p >= end)
			break;
		p++;					/* the delimiter */
	}

	return nfields;
}
