/*-------------------------------------------------------------------------
 *
 * kafka_decode.c
 *	  Kafka streams: decoding a message into a row of the stream's table.
 *
 * Pipeline position: source.  The worker's Kafka consumer hands each
 * message to kafka_decode_message(); the row it returns becomes a
 * StreamEvent, exactly like a committed row of a table stream, and the
 * rest of the pipeline (batch → windows → state → flush → view) does not
 * know the difference.
 *
 * Formats:
 *	 json  one object per message; top-level fields matched to columns by
 *	       name (case-sensitive), missing fields and JSON null are NULL,
 *	       scalars go through the column type's input function (strings
 *	       de-escaped, numbers and booleans as written), objects and arrays
 *	       only into json or jsonb columns, as their JSON text.  Parsing is
 *	       kafka_json.c, over PostgreSQL's JSON parser.
 *	 csv   fields by position, in column order, metadata columns skipped;
 *	       kafka_csv.c splits them.  An empty unquoted field is NULL.
 *	 text  the whole payload into the one payload column.
 * Columns with option kafka_metadata take the message's partition,
 * offset, timestamp or key instead.
 *
 * See kafka_decode.h for what throws and what does not.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "source/kafka/kafka_csv.h"
#include "source/kafka/kafka_decode.h"
#include "source/kafka/kafka_json.h"
#include "source/kafka/kafka_shortcuts.h"

struct KafkaDecoder
{
	KafkaFormat format;
	char		csv_delimiter;
	TupleDesc	desc;
	int			natts;
	int			encoding;		/* the database's */

	/* per attribute, indexed by attnum - 1 */
	KafkaMetadataKind *metadata;
	Oid		   *basetypes;
	FmgrInfo   *inputs;
	Oid		   *ioparams;
	bool	   *is_json;		/* json or jsonb: takes raw JSON text */
	char	   *shortcut;		/* try kafka_shortcuts.c first: 'z'
								 * timestamptz, 't' timestamp, 'n' numeric;
								 * 0: none */

	/* payload columns in order: attribute indexes */
	int			npayload;
	int		   *payload;

	/* json: names of payload columns (NULL for the others) */
	const char **names;
	KafkaJsonValue *json_values;
	KafkaJsonCollector collector;

	/* csv */
	KafkaCsvField *csv_fields;

	/* reset at every message */
	MemoryContext scratch;
};

static bool decode_json(KafkaDecoder *dec, const char *payload, size_t len,
						MemoryContext callercxt, Datum *values, bool *nulls,
						char **error);
static bool decode_csv(KafkaDecoder *dec, const char *payload, size_t len,
					   MemoryContext callercxt, Datum *values, bool *nulls,
					   char **error);
static void decode_text(KafkaDecoder *dec, const char *payload, size_t len,
						Datum *values, bool *nulls);
static bool decode_metadata(KafkaDecoder *dec, const KafkaMessageMeta *meta,
							Datum *values, bool *nulls, char **error);
static Datum input_value(KafkaDecoder *dec, int i, char *str);
static const char *json_kind_name(KafkaJsonKind kind);

KafkaDecoder *
kafka_decoder_create(const KafkaStreamOptions *opts, TupleDesc desc)
{
	KafkaDecoder *dec = palloc0(sizeof(KafkaDecoder));
	int			i;

	if (desc->natts != opts->natts)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("Kafka stream \"%s\" changed while its decoder was set up",
						opts->relname)));

	dec->format = opts->format;
	dec->csv_delimiter = opts->csv_delimiter;
	dec->desc = CreateTupleDescCopy(desc);
	dec->natts = desc->natts;
	dec->encoding = GetDatabaseEncoding();
	dec->metadata = palloc(sizeof(KafkaMetadataKind) * dec->natts);
	memcpy(dec->metadata, opts->metadata, sizeof(KafkaMetadataKind) * dec->natts);
	dec->basetypes = palloc0(sizeof(Oid) * dec->natts);
	dec->inputs = palloc0(sizeof(FmgrInfo) * dec->natts);
	dec->ioparams = palloc0(sizeof(Oid) * dec->natts);
	dec->is_json = palloc0(sizeof(bool) * dec->natts);
	dec->shortcut = palloc0(sizeof(char) * dec->natts);
	dec->payload = palloc0(sizeof(int) * dec->natts);
	dec->names = palloc0(sizeof(char *) * dec->natts);
	dec->json_values = palloc0(sizeof(KafkaJsonValue) * dec->natts);

	for (i = 0; i < dec->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(dec->desc, i);
		Oid			func;

		if (att->attisdropped)
			continue;
		dec->basetypes[i] = getBaseType(att->atttypid);
		if (dec->metadata[i] != KAFKA_META_NONE)
			continue;

		getTypeInputInfo(att->atttypid, &func, &dec->ioparams[i]);
		fmgr_info(func, &dec->inputs[i]);
		dec->is_json[i] = dec->basetypes[i] == JSONOID ||
			dec->basetypes[i] == JSONBOID;
		/* not through a domain (its checks) nor with a typmod (rounding) */
		if (att->atttypmod == -1 && att->atttypid == TIMESTAMPTZOID)
			dec->shortcut[i] = 'z';
		else if (att->atttypmod == -1 && att->atttypid == TIMESTAMPOID)
			dec->shortcut[i] = 't';
		else if (att->atttypmod == -1 && att->atttypid == NUMERICOID)
			dec->shortcut[i] = 'n';
		dec->names[i] = NameStr(att->attname);
		dec->payload[dec->npayload++] = i;
	}

	if (dec->npayload != opts->npayload)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("Kafka stream \"%s\" changed while its decoder was set up",
						opts->relname)));
	/* kafka_stream_options() checked the column types already */
	if (dec->format == KAFKA_FORMAT_TEXT && dec->npayload != 1)
		elog(ERROR, "format 'text' needs exactly one payload column");

	/*
	 * JSON fields are matched against every column slot, so a metadata
	 * column's name, being NULL here, never takes a field.
	 */
	kafka_json_collector_init(&dec->collector, dec->natts,
							  (const char *const *) dec->names,
							  dec->json_values);
	dec->csv_fields = palloc0(sizeof(KafkaCsvField) * Max(dec->npayload, 1));

	dec->scratch = AllocSetContextCreate(CurrentMemoryContext,
										 "Kafka decoder scratch",
										 ALLOCSET_DEFAULT_SIZES);
	return dec;
}

TupleDesc
kafka_decoder_tupdesc(KafkaDecoder *dec)
{
	return dec->desc;
}

bool
kafka_decode_message(KafkaDecoder *dec, const char *payload, size_t len,
					 const KafkaMessageMeta *meta,
					 Datum *values, bool *nulls, char **error)
{
	MemoryContext callercxt = CurrentMemoryContext;
	bool		ok = true;
	int			i;

	*error = NULL;
	for (i = 0; i < dec->natts; i++)
	{
		values[i] = (Datum) 0;
		nulls[i] = true;
	}
	if (payload == NULL)
		payload = "";

	/* an input function that threw last time left its garbage here */
	MemoryContextReset(dec->scratch);

	/*
	 * Text input functions trust their input to be in the database
	 * encoding, and C strings end at a zero byte: check both once, here,
	 * rather than let a bad byte into the view's state.
	 */
	if (len >= MaxAllocSize)
	{
		*error = psprintf("message of %zu bytes is too large", len);
		return false;
	}
	if (!pg_verify_mbstr(dec->encoding, payload, (int) len, true))
	{
		*error = psprintf("message is not valid %s text (or contains a zero byte)",
						  GetDatabaseEncodingName());
		return false;
	}

	if (!decode_metadata(dec, meta, values, nulls, error))
		return false;

	switch (dec->format)
	{
		case KAFKA_FORMAT_JSON:
			ok = decode_json(dec, payload, len, callercxt, values, nulls, error);
			break;
		case KAFKA_FORMAT_CSV:
			ok = decode_csv(dec, payload, len, callercxt, values, nulls, error);
			break;
		case KAFKA_FORMAT_TEXT:
			decode_text(dec, payload, len, values, nulls);
			break;
	}

	MemoryContextSwitchTo(callercxt);
	MemoryContextReset(dec->scratch);
	return ok;
}

static bool
decode_json(KafkaDecoder *dec, const char *payload, size_t len,
			MemoryContext callercxt, Datum *values, bool *nulls, char **error)
{
	char	   *parse_error;
	int			k;

	MemoryContextSwitchTo(dec->scratch);
	if (!kafka_json_collect(&dec->collector, payload, (int) len,
							dec->encoding, &parse_error))
	{
		MemoryContextSwitchTo(callercxt);
		*error = pstrdup(parse_error);
		return false;
	}

	for (k = 0; k < dec->npayload; k++)
	{
		int			i = dec->payload[k];
		KafkaJsonValue *v = &dec->json_values[i];
		char	   *str;

		if (v->kind == KAFKA_JSON_ABSENT || v->kind == KAFKA_JSON_NULL)
			continue;

		if (dec->is_json[i])
			str = pnstrdup(v->raw, v->rawlen);
		else if (v->kind == KAFKA_JSON_OBJECT || v->kind == KAFKA_JSON_ARRAY)
		{
			Form_pg_attribute att = TupleDescAttr(dec->desc, i);

			MemoryContextSwitchTo(callercxt);
			*error = psprintf("field \"%s\" is a JSON %s, but column \"%s\" is of type %s",
							  dec->names[i], json_kind_name(v->kind),
							  dec->names[i], format_type_be(att->atttypid));
			return false;
		}
		else
			str = v->text;
		if (str == NULL)
			continue;			/* cannot happen: scalars always have text */

		/* the values outlive the scratch context */
		MemoryContextSwitchTo(callercxt);
		values[i] = input_value(dec, i, str);
		nulls[i] = false;
		MemoryContextSwitchTo(dec->scratch);
	}
	MemoryContextSwitchTo(callercxt);
	return true;
}

static bool
decode_csv(KafkaDecoder *dec, const char *payload, size_t len,
		   MemoryContext callercxt, Datum *values, bool *nulls, char **error)
{
	char	   *buf = MemoryContextAlloc(dec->scratch, len + 1);
	const char *split_error;
	int			nfields;
	int			k;

	nfields = kafka_csv_split(payload, len, dec->csv_delimiter, buf,
							  dec->csv_fields, dec->npayload, &split_error);
	if (nfields < 0)
	{
		*error = psprintf("invalid CSV: %s", split_error);
		return false;
	}
	if (nfields != dec->npayload)
	{
		*error = psprintf("CSV message has %d fields, but the stream has %d columns for them",
						  nfields, dec->npayload);
		return false;
	}

	for (k = 0; k < dec->npayload; k++)
	{
		KafkaCsvField *f = &dec->csv_fields[k];
		int			i = dec->payload[k];

		if (!f->quoted && f->len == 0)
			continue;
		values[i] = input_value(dec, i, unconstify(char *, f->value));
		nulls[i] = false;
	}
	return true;
}

static void
decode_text(KafkaDecoder *dec, const char *payload, size_t len,
			Datum *values, bool *nulls)
{
	int			i = dec->payload[0];

	/* text needs no input function; varchar's checks the length */
	if (TupleDescAttr(dec->desc, i)->atttypid == TEXTOID)
		values[i] = PointerGetDatum(cstring_to_text_with_len(payload, (int) len));
	else
		values[i] = input_value(dec, i, pnstrdup(payload, len));
	nulls[i] = false;
}

static bool
decode_metadata(KafkaDecoder *dec, const KafkaMessageMeta *meta,
				Datum *values, bool *nulls, char **error)
{
	int			i;

	for (i = 0; i < dec->natts; i++)
	{
		switch (dec->metadata[i])
		{
			case KAFKA_META_NONE:
				break;
			case KAFKA_META_PARTITION:
				values[i] = dec->basetypes[i] == INT4OID ?
					Int32GetDatum(meta->partition) :
					Int64GetDatum((int64) meta->partition);
				nulls[i] = false;
				break;
			case KAFKA_META_OFFSET:
				values[i] = Int64GetDatum(meta->offset);
				nulls[i] = false;
				break;
			case KAFKA_META_TIMESTAMP:
				{
					/* ms since 1970 to us since 2000, both int64 */
					const int64 shift = (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
					int64		us;

					if (meta->timestamp_ms < 0)
						break;
					if (meta->timestamp_ms > PG_INT64_MAX / 1000 ||
						!IS_VALID_TIMESTAMP(meta->timestamp_ms * 1000 - shift))
					{
						*error = psprintf("message timestamp %lld ms is out of range",
										  (long long) meta->timestamp_ms);
						return false;
					}
					us = meta->timestamp_ms * 1000 - shift;
					values[i] = TimestampTzGetDatum(us);
					nulls[i] = false;
					break;
				}
			case KAFKA_META_KEY:
				if (meta->key == NULL)
					break;
				if (meta->key_len >= MaxAllocSize - VARHDRSZ)
				{
					*error = psprintf("message key of %zu bytes is too large",
									  meta->key_len);
					return false;
				}
				if (dec->basetypes[i] == BYTEAOID)
				{
					bytea	   *b = palloc(VARHDRSZ + meta->key_len);

					SET_VARSIZE(b, VARHDRSZ + meta->key_len);
					memcpy(VARDATA(b), meta->key, meta->key_len);
					values[i] = PointerGetDatum(b);
				}
				else
				{
					if (!pg_verify_mbstr(dec->encoding, meta->key,
										 (int) meta->key_len, true))
					{
						*error = psprintf("message key is not valid %s text (or contains a zero byte)",
										  GetDatabaseEncodingName());
						return false;
					}
					values[i] = PointerGetDatum(cstring_to_text_with_len(meta->key,
																		 (int) meta->key_len));
				}
				nulls[i] = false;
				break;
		}
	}
	return true;
}

/*
 * The column type's input function; may throw (see kafka_decode.h).  The
 * usual forms of timestamps and decimals take a shortcut to the same value.
 */
static Datum
input_value(KafkaDecoder *dec, int i, char *str)
{
	int64_t		timestamp;
	int64_t		digits;
	int			scale;

	switch (dec->shortcut[i])
	{
		case 'z':
		case 't':
			if (kafka_timestamp_parse(str, dec->shortcut[i] == 'z', &timestamp))
				return Int64GetDatum((int64) timestamp);
			break;
		case 'n':
			if (kafka_decimal_parse(str, &digits, &scale))
				return NumericGetDatum(int64_div_fast_to_numeric((int64) digits,
																 scale));
			break;
	}
	return InputFunctionCall(&dec->inputs[i], str, dec->ioparams[i],
							 TupleDescAttr(dec->desc, i)->atttypmod);
}

static const char *
json_kind_name(KafkaJsonKind kind)
{
	return kind == KAFKA_JSON_OBJECT ? "object" : "array";
}
