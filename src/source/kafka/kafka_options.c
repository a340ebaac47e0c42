/*-------------------------------------------------------------------------
 *
 * kafka_options.c
 *	  Kafka streams: the continuous_kafka foreign-data wrapper, its option
 *	  validator, and the gathering of one stream's options for a consumer.
 *
 * Pipeline position: DDL, before the source.  A Kafka stream is a foreign
 * table of the continuous_kafka wrapper: its server names the brokers, the
 * table names the topic and the payload format, user mappings hold the
 * credentials.  The wrapper exists to carry those options through
 * PostgreSQL's own DDL, dependency tracking and privileges; it cannot scan,
 * because a topic is not a relation one can read twice the same way.  The
 * worker's Kafka consumer calls kafka_stream_options() for everything it
 * needs, and the decoder (kafka_decode.c) turns messages into rows.
 *
 * Where options live, and why:
 *	 server        brokers, and "kafka."-prefixed librdkafka settings.
 *	               pg_foreign_server.srvoptions is readable by every user, so
 *	               settings that are secrets are refused here.
 *	 user mapping  username, password (SASL) and "kafka." settings.
 *	               pg_user_mapping is not readable by PUBLIC, and the view
 *	               pg_user_mappings shows a mapping's options only to its
 *	               own user (if that user may use the server), to
 *	               superusers, and for a PUBLIC mapping to the server's
 *	               owner; sql/kafka_fdw.sql checks this.
 *	 table         topic, format, event_time, watermark_delay, idle_timeout,
 *	               max_future, start_offset, csv_delimiter, unique_key and
 *	               dedup_within (checked against the columns by
 *	               dedup_options.c).
 *	 column        kafka_metadata: fill the column from the message's
 *	               partition, offset, timestamp or key.
 *
 * Settings passed to librdkafka are checked by librdkafka itself, on a
 * scratch configuration.  Some settings make librdkafka run a program, load
 * a library or read a file of the database server; setting them needs the
 * privileges PostgreSQL asks for the same powers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <librdkafka/rdkafka.h>

#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "source/kafka/kafka_options.h"

PG_FUNCTION_INFO_V1(continuous_kafka_handler);
PG_FUNCTION_INFO_V1(continuous_kafka_validator);

/* The options PostgreSQL's catalogs may hold, by catalog. */
typedef struct KafkaOption
{
	const char *name;
	Oid			context;		/* catalog: pg_foreign_server etc. */
} KafkaOption;

static const KafkaOption kafka_options[] = {
	{"brokers", ForeignServerRelationId},
	{"username", UserMappingRelationId},
	{"password", UserMappingRelationId},
	{"topic", ForeignTableRelationId},
	{"format", ForeignTableRelationId},
	{"event_time", ForeignTableRelationId},
	{"watermark_delay", ForeignTableRelationId},
	{"idle_timeout", ForeignTableRelationId},
	{"max_future", ForeignTableRelationId},
	{"start_offset", ForeignTableRelationId},
	{"csv_delimiter", ForeignTableRelationId},
	{"unique_key", ForeignTableRelationId},
	{"dedup_within", ForeignTableRelationId},
	{"kafka_metadata", AttributeRelationId},
	{NULL, InvalidOid}
};

/* librdkafka settings that run programs or load code: superusers only */
static const char *const kafka_superuser_settings[] = {
	"plugin.library.paths",
	"sasl.kerberos.kinit.cmd",
	"ssl.engine.location",
	"ssl.providers",
	NULL
};

/* secrets not matched by the "password"/"secret" rule below */
static const char *const kafka_secret_settings[] = {
	"ssl.key.pem",
	"sasl.oauthbearer.config",
	NULL
};

static void kafka_scan_refused(Oid foreigntableid);
static void kafka_GetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
									Oid foreigntableid);
static void kafka_GetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
								  Oid foreigntableid);
static ForeignScan *kafka_GetForeignPlan(PlannerInfo *root,
										 RelOptInfo *baserel,
										 Oid foreigntableid,
										 ForeignPath *best_path,
										 List *tlist, List *scan_clauses,
										 Plan *outer_plan);
static void kafka_BeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *kafka_IterateForeignScan(ForeignScanState *node);
static void kafka_ReScanForeignScan(ForeignScanState *node);
static void kafka_EndForeignScan(ForeignScanState *node);

static bool is_kafka_setting(const char *name);
static bool is_valid_option(const char *name, Oid context);
static char *valid_options_string(Oid context);
static void check_kafka_setting(const char *option, const char *value,
								Oid context);
static bool in_list(const char *name, const char *const *list);
static void trim_trailing_space(char *str);
static KafkaFormat parse_format(const char *value);
static KafkaStartOffset parse_start_offset(const char *value);
static KafkaMetadataKind parse_metadata_kind(const char *value);
static Interval *parse_interval_option(const char *option, const char *value);
static void check_topic_name(const char *value);
static char parse_csv_delimiter(const char *value);
static List *user_mapping_options(Oid userid, Oid serverid);
static void check_columns(KafkaStreamOptions *opts, Relation rel);

/* ------------------------------------------------------------------------
 * The handler: a wrapper that refuses to scan
 * ------------------------------------------------------------------------ */

Datum
continuous_kafka_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	/*
	 * Planning is where a plain SELECT first reaches the wrapper, so the
	 * error comes from there; the executor callbacks only guard against a
	 * plan made some other way.
	 */
	routine->GetForeignRelSize = kafka_GetForeignRelSize;
	routine->GetForeignPaths = kafka_GetForeignPaths;
	routine->GetForeignPlan = kafka_GetForeignPlan;
	routine->BeginForeignScan = kafka_BeginForeignScan;
	routine->IterateForeignScan = kafka_IterateForeignScan;
	routine->ReScanForeignScan = kafka_ReScanForeignScan;
	routine->EndForeignScan = kafka_EndForeignScan;

	PG_RETURN_POINTER(routine);
}

static void
kafka_scan_refused(Oid foreigntableid)
{
	char	   *relname = get_rel_name(foreigntableid);

	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot read Kafka stream \"%s\" directly",
					relname ? relname : "?"),
			 errhint("Create a continuous view over it: CREATE VIEW ... WITH (continuous) AS SELECT ... FROM %s.",
					 relname ? quote_identifier(relname) : "<table>")));
}

static void
kafka_GetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
						Oid foreigntableid)
{
	kafka_scan_refused(foreigntableid);
}

static void
kafka_GetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
					  Oid foreigntableid)
{
	kafka_scan_refused(foreigntableid);
}

static ForeignScan *
kafka_GetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
					 Oid foreigntableid, ForeignPath *best_path,
					 List *tlist, List *scan_clauses, Plan *outer_plan)
{
	kafka_scan_refused(foreigntableid);
	return NULL;				/* keep the compiler quiet */
}

static void
kafka_BeginForeignScan(ForeignScanState *node, int eflags)
{
	kafka_scan_refused(RelationGetRelid(node->ss.ss_currentRelation));
}

static TupleTableSlot *
kafka_IterateForeignScan(ForeignScanState *node)
{
	kafka_scan_refused(RelationGetRelid(node->ss.ss_currentRelation));
	return NULL;
}

static void
kafka_ReScanForeignScan(ForeignScanState *node)
{
	kafka_scan_refused(RelationGetRelid(node->ss.ss_currentRelation));
}

static void
kafka_EndForeignScan(ForeignScanState *node)
{
	/* nothing was begun */
}

/* ------------------------------------------------------------------------
 * The validator
 * ------------------------------------------------------------------------ */

/*
 * Called by CREATE/ALTER of the wrapper, servers, user mappings, foreign
 * tables and their columns, with the complete resulting option list, so
 * required options and combinations can be checked here.  What depends on
 * the table's columns cannot: kafka_stream_options() checks that.
 */
Datum
continuous_kafka_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;
	bool		have_brokers = false;
	bool		have_topic = false;
	const char *format = NULL;
	bool		have_delimiter = false;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const char *name = def->defname;
		const char *value = defGetString(def);

		if (!is_valid_option(name, catalog))
		{
			char	   *valid = valid_options_string(catalog);

			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", name),
					 valid[0] != '\0' ?
					 errhint("Valid options in this context are: %s.", valid) :
					 errhint("There are no valid options in this context.")));
		}

		if (is_kafka_setting(name))
			check_kafka_setting(name, value, catalog);
		else if (strcmp(name, "brokers") == 0)
		{
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"brokers\" must not be empty"),
						 errhint("List the bootstrap brokers as host:port, separated by commas.")));
			have_brokers = true;
		}
		else if (strcmp(name, "topic") == 0)
		{
			check_topic_name(value);
			have_topic = true;
		}
		else if (strcmp(name, "format") == 0)
		{
			(void) parse_format(value);
			format = value;
		}
		else if (strcmp(name, "event_time") == 0)
		{
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"event_time\" must name a column")));
		}
		else if (strcmp(name, "watermark_delay") == 0 ||
				 strcmp(name, "idle_timeout") == 0 ||
				 strcmp(name, "max_future") == 0 ||
				 strcmp(name, "dedup_within") == 0)
			(void) parse_interval_option(name, value);
		else if (strcmp(name, "start_offset") == 0)
			(void) parse_start_offset(value);
		else if (strcmp(name, "csv_delimiter") == 0)
		{
			(void) parse_csv_delimiter(value);
			have_delimiter = true;
		}
		else if (strcmp(name, "kafka_metadata") == 0)
			(void) parse_metadata_kind(value);
		/* username and password: any text */
	}

	if (catalog == ForeignServerRelationId && !have_brokers)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("option \"brokers\" is required for a Kafka server"),
				 errhint("Add OPTIONS (brokers 'host:port').")));
	if (catalog == ForeignTableRelationId && !have_topic)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("option \"topic\" is required for a Kafka stream"),
				 errhint("Add OPTIONS (topic 'name').")));
	if (have_delimiter && (format == NULL || strcmp(format, "csv") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"csv_delimiter\" requires format 'csv'")));

	PG_RETURN_VOID();
}

static bool
is_kafka_setting(const char *name)
{
	return strncmp(name, KAFKA_SETTING_PREFIX,
				   strlen(KAFKA_SETTING_PREFIX)) == 0;
}

static bool
is_valid_option(const char *name, Oid context)
{
	const KafkaOption *opt;

	if (is_kafka_setting(name))
		return context == ForeignServerRelationId ||
			context == UserMappingRelationId;

	for (opt = kafka_options; opt->name != NULL; opt++)
		if (opt->context == context && strcmp(opt->name, name) == 0)
			return true;
	return false;
}

/* "brokers, kafka.<librdkafka setting>" for the hint; "" when none */
static char *
valid_options_string(Oid context)
{
	StringInfoData buf;
	const KafkaOption *opt;

	initStringInfo(&buf);
	for (opt = kafka_options; opt->name != NULL; opt++)
	{
		if (opt->context != context)
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, opt->name);
	}
	if (context == ForeignServerRelationId ||
		context == UserMappingRelationId)
		appendStringInfoString(&buf, ", " KAFKA_SETTING_PREFIX "<librdkafka setting>");
	return buf.data;
}

static bool
in_list(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

/* librdkafka ends some messages with a newline; error details do not */
static void
trim_trailing_space(char *str)
{
	size_t		len = strlen(str);

	while (len > 0 && (str[len - 1] == '\n' || str[len - 1] == ' '))
		str[--len] = '\0';
}

/*
 * A "kafka."-prefixed option: may it be set here, by this user, and does
 * librdkafka accept it?
 */
static void
check_kafka_setting(const char *option, const char *value, Oid context)
{
	const char *setting = option + strlen(KAFKA_SETTING_PREFIX);
	rd_kafka_conf_t *conf;
	rd_kafka_conf_res_t res;
	char		errstr[512];

	if (setting[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", option),
				 errhint("Name a librdkafka setting after the prefix, as in \"kafka.fetch.wait.max.ms\".")));

	if (strcmp(setting, "bootstrap.servers") == 0 ||
		strcmp(setting, "metadata.broker.list") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", option),
				 errhint("Use the server option \"brokers\".")));
	if (strcmp(setting, "sasl.username") == 0 ||
		strcmp(setting, "sasl.password") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", option),
				 errhint("Use the user mapping options \"username\" and \"password\".")));

	/* server options are world-readable: no secrets there */
	if (context == ForeignServerRelationId &&
		(strstr(setting, "password") != NULL ||
		 strstr(setting, "secret") != NULL ||
		 in_list(setting, kafka_secret_settings)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"%s\" is only allowed in a user mapping", option),
				 errdetail("Every user can read a server's options; a user mapping's are shown only to its own user."),
				 errhint("Set it with CREATE USER MAPPING ... OPTIONS (\"%s\" '...').",
						 option)));

	/*
	 * librdkafka would run this program, or load this library, inside the
	 * worker: the powers of a superuser.  Checked before rd_kafka_conf_set,
	 * which loads plugins as soon as they are set.
	 */
	if (in_list(setting, kafka_superuser_settings))
	{
		if (!superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to set option \"%s\"", option),
					 errdetail("Only superusers may set librdkafka settings that run programs or load libraries in the database server.")));
		/* not tried on the scratch configuration: that would load it now */
		return;
	}

	/* as COPY FROM a file asks */
	if ((strlen(setting) > strlen(".location") &&
		 strcmp(setting + strlen(setting) - strlen(".location"), ".location") == 0) ||
		strcmp(setting, "sasl.kerberos.keytab") == 0)
	{
		if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to set option \"%s\"", option),
					 errdetail("Only superusers and members of pg_read_server_files may name files of the database server.")));
	}

	/*
	 * librdkafka checks names, types and ranges here; some values (such as
	 * sasl.mechanism) it checks only when a client is created.
	 */
	conf = rd_kafka_conf_new();
	res = rd_kafka_conf_set(conf, setting, value, errstr, sizeof(errstr));
	rd_kafka_conf_destroy(conf);
	trim_trailing_space(errstr);

	if (res == RD_KAFKA_CONF_UNKNOWN)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", option),
				 errdetail("librdkafka: %s", errstr),
				 errhint("Options starting with \"%s\" are librdkafka configuration properties.",
						 KAFKA_SETTING_PREFIX)));
	if (res != RD_KAFKA_CONF_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", option, value),
				 errdetail("librdkafka: %s", errstr)));
}

static KafkaFormat
parse_format(const char *value)
{
	if (strcmp(value, "json") == 0)
		return KAFKA_FORMAT_JSON;
	if (strcmp(value, "csv") == 0)
		return KAFKA_FORMAT_CSV;
	if (strcmp(value, "text") == 0)
		return KAFKA_FORMAT_TEXT;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"format\": \"%s\"", value),
			 errhint("Valid values are \"json\", \"csv\" and \"text\".")));
	return KAFKA_FORMAT_JSON;	/* keep the compiler quiet */
}

static KafkaStartOffset
parse_start_offset(const char *value)
{
	if (strcmp(value, "latest") == 0)
		return KAFKA_START_LATEST;
	if (strcmp(value, "earliest") == 0)
		return KAFKA_START_EARLIEST;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"start_offset\": \"%s\"", value),
			 errhint("Valid values are \"earliest\" and \"latest\".")));
	return KAFKA_START_LATEST;	/* keep the compiler quiet */
}

static KafkaMetadataKind
parse_metadata_kind(const char *value)
{
	if (strcmp(value, "partition") == 0)
		return KAFKA_META_PARTITION;
	if (strcmp(value, "offset") == 0)
		return KAFKA_META_OFFSET;
	if (strcmp(value, "timestamp") == 0)
		return KAFKA_META_TIMESTAMP;
	if (strcmp(value, "key") == 0)
		return KAFKA_META_KEY;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"kafka_metadata\": \"%s\"", value),
			 errhint("Valid values are \"partition\", \"offset\", \"timestamp\" and \"key\".")));
	return KAFKA_META_NONE;		/* keep the compiler quiet */
}

const char *
kafka_metadata_kind_name(KafkaMetadataKind kind)
{
	switch (kind)
	{
		case KAFKA_META_PARTITION:
			return "partition";
		case KAFKA_META_OFFSET:
			return "offset";
		case KAFKA_META_TIMESTAMP:
			return "timestamp";
		case KAFKA_META_KEY:
			return "key";
		case KAFKA_META_NONE:
			break;
	}
	return "none";
}

/*
 * An interval, not negative.  Parsed with the datetime routines rather
 * than interval_in so that a typo gets the FDW error code and names the
 * option, instead of a bare "invalid input syntax for type interval".
 */
static Interval *
parse_interval_option(const char *option, const char *value)
{
	char		workbuf[256];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype = 0;
	struct pg_itm_in itm;
	int			dterr;
	Interval   *result = palloc0(sizeof(Interval));
	Interval	zero = {0};

	dterr = ParseDateTime(value, workbuf, sizeof(workbuf), field, ftype,
						  MAXDATEFIELDS, &nf);
	if (dterr == 0)
		dterr = DecodeInterval(field, ftype, nf, INTERVAL_FULL_RANGE,
							   &dtype, &itm);
	/* ISO 8601 ("PT10S") is what DecodeInterval calls a bad format */
	if (dterr == DTERR_BAD_FORMAT)
		dterr = DecodeISO8601Interval(unconstify(char *, value), &dtype, &itm);
	if (dterr != 0 || dtype != DTK_DELTA || itmin2interval(&itm, result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", option, value),
				 errhint("Give an interval, as in '10 seconds'.")));

	if (DatumGetBool(DirectFunctionCall2(interval_lt,
										 IntervalPGetDatum(result),
										 IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" must not be negative", option)));
	return result;
}

/* Kafka's own rule: 1 to 249 of [a-zA-Z0-9._-], and not "." or "..". */
static void
check_topic_name(const char *value)
{
	size_t		len = strlen(value);
	const char *p;
	bool		ok = len > 0 && len <= 249 &&
		strcmp(value, ".") != 0 && strcmp(value, "..") != 0;

	for (p = value; ok && *p != '\0'; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"topic\": \"%s\"", value),
				 errdetail("Kafka topic names are 1 to 249 ASCII letters, digits, '.', '_' and '-'.")));
}

static char
parse_csv_delimiter(const char *value)
{
	if (strlen(value) != 1 || value[0] == '"' ||
		value[0] == '\n' || value[0] == '\r')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"csv_delimiter\": \"%s\"", value),
				 errhint("Give a single one-byte character other than a quote or a line break.")));
	return value[0];
}

/* ------------------------------------------------------------------------
 * One stream's options, for the consumer
 * ------------------------------------------------------------------------ */

bool
kafka_is_stream_table(Oid relid)
{
	Oid			serverid;
	ForeignServer *server;
	ForeignDataWrapper *fdw;

	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		return false;
	serverid = GetForeignServerIdByRelId(relid);
	server = GetForeignServer(serverid);
	fdw = GetForeignDataWrapper(server->fdwid);
	return strcmp(fdw->fdwname, KAFKA_FDW_NAME) == 0;
}

KafkaStreamOptions *
kafka_stream_options(Oid foreigntableid)
{
	return kafka_stream_options_for_user(foreigntableid, GetUserId());
}

KafkaStreamOptions *
kafka_stream_options_for_user(Oid foreigntableid, Oid userid)
{
	KafkaStreamOptions *opts = palloc0(sizeof(KafkaStreamOptions));
	ForeignTable *table;
	ForeignServer *server;
	Relation	rel;
	ListCell   *lc;

	if (!kafka_is_stream_table(foreigntableid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a Kafka stream",
						get_rel_name(foreigntableid)),
				 errdetail("Kafka streams are foreign tables of foreign-data wrapper \"%s\".",
						   KAFKA_FDW_NAME)));

	table = GetForeignTable(foreigntableid);
	server = GetForeignServer(table->serverid);

	opts->relid = foreigntableid;
	opts->relname = get_rel_name(foreigntableid);
	opts->serverid = server->serverid;
	opts->format = KAFKA_FORMAT_JSON;
	opts->start_offset = KAFKA_START_LATEST;
	opts->csv_delimiter = ',';
	opts->watermark_delay = palloc0(sizeof(Interval));
	opts->max_future = palloc0(sizeof(Interval));
	opts->max_future->day = 1;	/* as continuous.create_stream()'s default */

	/* the server's settings first, so that the user mapping's win */
	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "brokers") == 0)
			opts->brokers = defGetString(def);
		else if (is_kafka_setting(def->defname))
			opts->settings = lappend(opts->settings,
									 makeDefElem(pstrdup(def->defname + strlen(KAFKA_SETTING_PREFIX)),
												 (Node *) makeString(defGetString(def)), -1));
	}
	foreach(lc, user_mapping_options(userid, server->serverid))
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "username") == 0)
			opts->username = defGetString(def);
		else if (strcmp(def->defname, "password") == 0)
			opts->password = defGetString(def);
		else if (is_kafka_setting(def->defname))
			opts->settings = lappend(opts->settings,
									 makeDefElem(pstrdup(def->defname + strlen(KAFKA_SETTING_PREFIX)),
												 (Node *) makeString(defGetString(def)), -1));
	}
	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const char *value = defGetString(def);

		if (strcmp(def->defname, "topic") == 0)
			opts->topic = pstrdup(value);
		else if (strcmp(def->defname, "format") == 0)
			opts->format = parse_format(value);
		else if (strcmp(def->defname, "event_time") == 0)
			opts->event_time = pstrdup(value);
		else if (strcmp(def->defname, "watermark_delay") == 0)
			opts->watermark_delay = parse_interval_option(def->defname, value);
		else if (strcmp(def->defname, "idle_timeout") == 0)
			opts->idle_timeout = parse_interval_option(def->defname, value);
		else if (strcmp(def->defname, "max_future") == 0)
			opts->max_future = parse_interval_option(def->defname, value);
		else if (strcmp(def->defname, "start_offset") == 0)
			opts->start_offset = parse_start_offset(value);
		else if (strcmp(def->defname, "csv_delimiter") == 0)
			opts->csv_delimiter = parse_csv_delimiter(value);
	}

	/* the validator saw to it; a catalog edited by hand did not */
	if (opts->brokers == NULL || opts->topic == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("Kafka stream \"%s\" lacks option \"%s\"",
						opts->relname,
						opts->brokers == NULL ? "brokers" : "topic")));

	/*
	 * Its columns, without a lock: the worker reads these options for every
	 * Kafka stream of the database at once, and a lock the table's owner
	 * holds must not hold up the others.  DDL has locked it already.
	 */
	rel = RelationIdGetRelation(foreigntableid);
	if (!RelationIsValid(rel))
		elog(ERROR, "could not open Kafka stream %u", foreigntableid);
	check_columns(opts, rel);
	RelationClose(rel);

	return opts;
}

/*
 * The options of the user mapping for userid, or else for PUBLIC, or else
 * none: unlike GetUserMapping(), a missing mapping is no error, since a
 * broker without authentication needs none.
 */
static List *
user_mapping_options(Oid userid, Oid serverid)
{
	HeapTuple	tp;
	Datum		datum;
	bool		isnull;
	List	   *options = NIL;

	tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
						 ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
		tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							 ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
		return NIL;

	datum = SysCacheGetAttr(USERMAPPINGUSERSERVER, tp,
							Anum_pg_user_mapping_umoptions, &isnull);
	if (!isnull)
		options = untransformRelOptions(datum);
	ReleaseSysCache(tp);
	return options;
}

/* What the validator could not check: the options against the columns. */
static void
check_columns(KafkaStreamOptions *opts, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;
	Form_pg_attribute payload_att = NULL;

	opts->natts = desc->natts;
	opts->metadata = palloc0(sizeof(KafkaMetadataKind) * desc->natts);

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		ListCell   *lc;
		Oid			type;
		bool		ok = true;
		const char *wanted = NULL;

		if (att->attisdropped)
			continue;

		foreach(lc, GetForeignColumnOptions(RelationGetRelid(rel), att->attnum))
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (strcmp(def->defname, "kafka_metadata") == 0)
				opts->metadata[i] = parse_metadata_kind(defGetString(def));
		}

		type = getBaseType(att->atttypid);
		switch (opts->metadata[i])
		{
			case KAFKA_META_NONE:
				opts->npayload++;
				payload_att = att;
				break;
			case KAFKA_META_PARTITION:
				ok = type == INT4OID || type == INT8OID;
				wanted = "integer or bigint";
				break;
			case KAFKA_META_OFFSET:
				ok = type == INT8OID;
				wanted = "bigint";
				break;
			case KAFKA_META_TIMESTAMP:
				ok = type == TIMESTAMPTZOID;
				wanted = "timestamp with time zone";
				break;
			case KAFKA_META_KEY:
				ok = type == TEXTOID || type == BYTEAOID;
				wanted = "text or bytea";
				break;
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of Kafka stream \"%s\" cannot hold the message %s",
							NameStr(att->attname), opts->relname,
							kafka_metadata_kind_name(opts->metadata[i])),
					 errdetail("Column \"%s\" is of type %s; kafka_metadata '%s' needs %s.",
							   NameStr(att->attname),
							   format_type_be(att->atttypid),
							   kafka_metadata_kind_name(opts->metadata[i]),
							   wanted)));
	}

	if (opts->event_time != NULL)
	{
		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!att->attisdropped &&
				strcmp(NameStr(att->attname), opts->event_time) == 0)
			{
				opts->event_time_attnum = att->attnum;
				opts->event_time_type = getBaseType(att->atttypid);
				break;
			}
		}
		if (opts->event_time_attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("event time column \"%s\" of Kafka stream \"%s\" does not exist",
							opts->event_time, opts->relname),
					 errhint("Change the table's option with ALTER FOREIGN TABLE %s OPTIONS (SET event_time '...').",
							 quote_identifier(opts->relname))));
		if (opts->event_time_type != TIMESTAMPTZOID &&
			opts->event_time_type != TIMESTAMPOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("event time column \"%s\" must be of type timestamp with time zone or timestamp without time zone",
							opts->event_time),
					 errdetail("Column \"%s\" is of type %s.", opts->event_time,
							   format_type_be(TupleDescAttr(desc, opts->event_time_attnum - 1)->atttypid))));
	}

	if (opts->format == KAFKA_FORMAT_TEXT)
	{
		Oid			type = payload_att ? getBaseType(payload_att->atttypid) : InvalidOid;

		if (opts->npayload != 1 || (type != TEXTOID && type != VARCHAROID))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("Kafka stream \"%s\" of format 'text' needs exactly one text or varchar column for the message",
							opts->relname),
					 errdetail("The stream has %d columns without option kafka_metadata.",
							   opts->npayload)));
	}
	else if (opts->format == KAFKA_FORMAT_CSV && opts->npayload == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("Kafka stream \"%s\" of format 'csv' has no column for the message's fields",
						opts->relname)));
}

rd_kafka_conf_t *
kafka_stream_conf(const KafkaStreamOptions *opts)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char		errstr[512];
	const char *failed = NULL;
	ListCell   *lc;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", opts->brokers,
						  errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		failed = "brokers";
	else if (opts->username != NULL &&
			 rd_kafka_conf_set(conf, "sasl.username", opts->username,
							   errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		failed = "username";
	else if (opts->password != NULL &&
			 rd_kafka_conf_set(conf, "sasl.password", opts->password,
							   errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		failed = "password";
	else
	{
		foreach(lc, opts->settings)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (rd_kafka_conf_set(conf, def->defname, defGetString(def),
								  errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
			{
				failed = def->defname;
				break;
			}
		}
	}

	if (failed != NULL)
	{
		/* librdkafka's memory: free it before throwing */
		rd_kafka_conf_destroy(conf);
		trim_trailing_space(errstr);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("Kafka stream \"%s\": librdkafka refuses setting \"%s\"",
						opts->relname, failed),
				 errdetail("librdkafka: %s", errstr)));
	}
	return conf;
}
