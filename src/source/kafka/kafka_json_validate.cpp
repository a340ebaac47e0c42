/*-------------------------------------------------------------------------
 *
 * kafka_json_validate.cpp
 *	  Kafka streams: a fast check that a JSON message is valid, with
 *	  simdjson (Debian: libsimdjson-dev).
 *
 * Pipeline position: source.  kafka_json.c asks this before it collects a
 * message's fields the fast way; when the answer is no, PostgreSQL's own
 * parser looks at the message instead and decides, error message included.
 * So a yes must mean that PostgreSQL's json type accepts the text too, and
 * a no may be wrong (simdjson refuses numbers PostgreSQL keeps, and nesting
 * deeper than its limit).  kafka_json.c asks only about messages without a
 * backslash, whose strings have no escapes: the escapes are where the two
 * parsers' checks differ (PostgreSQL checks \u escapes' surrogate pairs,
 * and de-escapes lazily).  test/fuzz/fuzz_json.c holds the two to that
 * over random messages.
 *
 * The only C++ unit of the extension.  It includes no PostgreSQL header,
 * and no exception leaves it: everything that could throw is caught and
 * answered "no".  Its memory is simdjson's own (operator new), outside
 * PostgreSQL's memory contexts: one parser per process, made at the first
 * message and kept, whose buffers are sized for the longest message it
 * takes, KAFKA_JSON_FAST_MAX_BYTES (about 1 MB in all).
 *
 *-------------------------------------------------------------------------
 */
#include "source/kafka/kafka_json_validate.h"

#include <new>

#include <simdjson.h>

namespace
{

/* nested arrays and objects the fast check follows; deeper goes the slow way */
constexpr size_t fast_max_depth = 256;

simdjson::dom::parser *fast_parser;
bool		fast_parser_failed;

simdjson::dom::parser *
get_fast_parser() noexcept
{
	if (fast_parser == nullptr && !fast_parser_failed)
	{
		try
		{
			auto	   *p = new simdjson::dom::parser(KAFKA_JSON_FAST_MAX_BYTES);

			if (p->allocate(KAFKA_JSON_FAST_MAX_BYTES, fast_max_depth) != simdjson::SUCCESS)
				delete p;
			else
				fast_parser = p;
		}
		catch (...)
		{
		}
		/* not again in this process: every message goes the slow way */
		fast_parser_failed = fast_parser == nullptr;
	}
	return fast_parser;
}

}								/* namespace */

extern "C" bool
kafka_json_fast_valid(const char *text, size_t len)
{
	try
	{
		simdjson::dom::parser *parser;

		if (len > KAFKA_JSON_FAST_MAX_BYTES)
			return false;
		parser = get_fast_parser();
		if (parser == nullptr)
			return false;

		/*
		 * The parser copies the text into a padded buffer of its own
		 * (simdjson reads up to SIMDJSON_PADDING bytes past the end), which
		 * it keeps, and enlarges to the longest message it has been given.
		 */
		return parser->parse(text, len, true).error() == simdjson::SUCCESS;
	}
	catch (...)
	{
		return false;
	}
}
