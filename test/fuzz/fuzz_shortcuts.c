/*
 * fuzz_shortcuts.c
 *	  libFuzzer harness for src/source/kafka/kafka_shortcuts.c.
 *
 * The input, NUL-terminated, is parsed as a timestamptz, as a timestamp
 * and as a decimal.  Besides what AddressSanitizer catches (reads past the
 * string), it checks that an accepted timestamp lies within years 0001 to
 * 9999 (give or take the largest zone displacement) and that its value
 * written back in the canonical form, "YYYY-MM-DDTHH:MM:SS.ffffffZ" (or
 * without the Z), parses to the same value; and that an accepted decimal
 * has at most 18 digits and, written back, parses to the same digits and
 * scale.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/kafka/kafka_shortcuts.h"

#define USECS_PER_DAY	INT64_C(86400000000)
/* days from 2000-01-01 back to 0001-01-01, and on to 10000-01-01 */
#define DAYS_TO_YEAR_1		(-730119)
#define DAYS_TO_YEAR_10000	2921940
#define MAX_ZONE_USECS		((INT64_C(15) * 3600 + 59 * 60) * 1000000)

/* The civil date of a day count since 2000-01-01 (the inverse of the parser's). */
static void
civil_from_days(int64_t days, int *year, int *month, int *day)
{
	int64_t		z = days + 10957 + 719468;	/* since 0000-03-01 */
	int64_t		cycle = z / 146097;
	int64_t		day_of_cycle = z - cycle * 146097;
	int64_t		year_of_cycle = (day_of_cycle - day_of_cycle / 1460 +
								 day_of_cycle / 36524 - day_of_cycle / 146096) / 365;
	int64_t		day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 -
											  year_of_cycle / 100);
	int64_t		month_from_march = (5 * day_of_year + 2) / 153;

	*day = (int) (day_of_year - (153 * month_from_march + 2) / 5 + 1);
	*month = (int) (month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
	*year = (int) (year_of_cycle + cycle * 400 + (*month <= 2));
}

static void
check_round_trip(int64_t value, int with_zone)
{
	int64_t		days = value / USECS_PER_DAY;
	int64_t		usecs;
	int			year,
				month,
				day;
	char		text[64];
	int64_t		again;

	if (value % USECS_PER_DAY < 0)
		days--;
	usecs = value - days * USECS_PER_DAY;
	civil_from_days(days, &year, &month, &day);
	if (year < 1 || year > 9999)
		return;					/* a zone moved it out of the parser's form */
	snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06d%s",
			 year, month, day,
			 (int) (usecs / INT64_C(3600000000)),
			 (int) (usecs / 60000000 % 60),
			 (int) (usecs / 1000000 % 60),
			 (int) (usecs % 1000000),
			 with_zone ? "Z" : "");
	assert(kafka_timestamp_parse(text, with_zone, &again));
	assert(again == value);
}

static void
check_decimal(const char *str)
{
	int64_t		digits;
	int64_t		again;
	int			scale;
	int			scale_again;
	int64_t		magnitude;
	int64_t		unit = 1;
	char		text[64];
	int			i;

	if (!kafka_decimal_parse(str, &digits, &scale))
		return;
	assert(scale >= 0 && scale <= 17);
	magnitude = digits < 0 ? -digits : digits;
	assert(magnitude <= INT64_C(999999999999999999));
	for (i = 0; i < scale; i++)
		unit *= 10;
	if (scale == 0)
		snprintf(text, sizeof(text), "%s%lld", digits < 0 ? "-" : "",
				 (long long) magnitude);
	else
		snprintf(text, sizeof(text), "%s%lld.%0*lld", digits < 0 ? "-" : "",
				 (long long) (magnitude / unit), scale,
				 (long long) (magnitude % unit));
	assert(kafka_decimal_parse(text, &again, &scale_again));
	assert(again == digits && scale_again == scale);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *str = malloc(size + 1);
	int			with_zone;

	memcpy(str, data, size);
	str[size] = '\0';
	for (with_zone = 0; with_zone <= 1; with_zone++)
	{
		int64_t		value;

		if (!kafka_timestamp_parse(str, with_zone, &value))
			continue;
		assert(value >= DAYS_TO_YEAR_1 * USECS_PER_DAY - MAX_ZONE_USECS);
		assert(value < DAYS_TO_YEAR_10000 * USECS_PER_DAY + MAX_ZONE_USECS);
		check_round_trip(value, with_zone);
	}
	check_decimal(str);
	free(str);
	return 0;
}
