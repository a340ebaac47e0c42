/*-------------------------------------------------------------------------
 *
 * kafka_shortcuts.c
 *	  Kafka streams: fast paths for the usual forms of timestamps and
 *	  decimal numbers in messages.
 *
 * Pipeline position: source.  kafka_decode.c turns each field of a message
 * into its column's type with the type's input function.  For timestamps,
 * timestamptz_in() (a general date/time parser) was the single largest
 * cost of decoding, and numeric_in() came next, while producers almost
 * always write one fixed form: "2024-05-01T12:00:00.123Z" or
 * "2024-05-01 12:00:00.123+00", and "1234.50".  This file reads exactly
 * those forms and nothing else (kafka_shortcuts.h); anything it does not
 * take goes to the input function, so the values and the errors stay
 * PostgreSQL's.  test/t/011_kafka_partitions.pl compares both shortcuts
 * with SQL casts over thousands of generated values; test/fuzz/ fuzzes
 * them.
 *
 *-------------------------------------------------------------------------
 */
#include "source/kafka/kafka_shortcuts.h"

#define USECS_PER_SECOND	INT64_C(1000000)
#define SECONDS_PER_DAY		INT64_C(86400)
/* days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch */
#define DAYS_1970_TO_2000	10957
#define MAX_ZONE_HOURS		15

/* n digits at *p as a number, or -1 if they are not all digits */
static inline int
read_digits(const char *p, int n)
{
	int			value = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (p[i] < '0' || p[i] > '9')
			return -1;
		value = value * 10 + (p[i] - '0');
	}
	return value;
}

static inline bool
is_leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static inline int
days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

/*
 * Days since 1970-01-01 of a date of the proleptic Gregorian calendar
 * (year >= 1): whole 400-year cycles of 146097 days, then the years and
 * days within the cycle, counting years from March so that February's
 * leap day falls at the end of one.
 */
static int64_t
days_since_1970(int year, int month, int day)
{
	int			y = month <= 2 ? year - 1 : year;
	int			cycle = y / 400;
	int			year_of_cycle = y - cycle * 400;
	int			month_from_march = month <= 2 ? month + 9 : month - 3;
	int			day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
	int			day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 -
		year_of_cycle / 100 + day_of_year;

	/* 719468: days from 0000-03-01 to 1970-01-01 */
	return (int64_t) cycle * 146097 + day_of_cycle - 719468;
}

bool
kafka_timestamp_parse(const char *str, bool with_zone, int64_t *result)
{
	const char *p = str;
	int			year,
				month,
				day,
				hour,
				minute,
				second;
	int64_t		fraction = 0;
	int64_t		zone_seconds = 0;
	bool		has_zone = false;

	/* YYYY-MM-DD */
	if ((year = read_digits(p, 4)) < 1 || p[4] != '-' ||
		(month = read_digits(p + 5, 2)) < 1 || month > 12 || p[7] != '-' ||
		(day = read_digits(p + 8, 2)) < 1 || day > days_in_month(year, month))
		return false;
	p += 10;

	/* T or space, HH:MM:SS */
	if ((*p != 'T' && *p != ' ') ||
		(hour = read_digits(p + 1, 2)) < 0 || hour > 23 || p[3] != ':' ||
		(minute = read_digits(p + 4, 2)) < 0 || minute > 59 || p[6] != ':' ||
		(second = read_digits(p + 7, 2)) < 0 || second > 59)
		return false;
	p += 9;

	/* .F{1,6}, as microseconds */
	if (*p == '.')
	{
		int			ndigits = 0;

		p++;
		while (*p >= '0' && *p <= '9')
		{
			if (++ndigits > 6)
				return false;	/* rounding is the input function's */
			fraction = fraction * 10 + (*p++ - '0');
		}
		if (ndigits == 0)
			return false;
		for (; ndigits < 6; ndigits++)
			fraction *= 10;
	}

	/* Z, or +HH, +HHMM, +HH:MM (and the same with -) */
	if (*p == 'Z')
	{
		has_zone = true;
		p++;
	}
	else if (*p == '+' || *p == '-')
	{
		int			sign = *p == '-' ? -1 : 1;
		int			zone_hours = read_digits(p + 1, 2);
		int			zone_minutes = 0;

		if (zone_hours < 0 || zone_hours > MAX_ZONE_HOURS)
			return false;
		p += 3;
		if (*p != '\0')
		{
			if (*p == ':')
				p++;
			if ((zone_minutes = read_digits(p, 2)) < 0 || zone_minutes > 59)
				return false;
			p += 2;
		}
		has_zone = true;
		zone_seconds = sign * ((int64_t) zone_hours * 3600 + zone_minutes * 60);
	}
	if (*p != '\0' || has_zone != with_zone)
		return false;

	/* local time as written, then (with a zone) to UTC */
	*result = ((days_since_1970(year, month, day) - DAYS_1970_TO_2000) * SECONDS_PER_DAY +
			   hour * 3600 + minute * 60 + second - zone_seconds) * USECS_PER_SECOND +
		fraction;
	return true;
}

/* 18 decimal digits always fit in an int64 */
#define MAX_DECIMAL_DIGITS	18

bool
kafka_decimal_parse(const char *str, int64_t *digits, int *scale)
{
	const char *p = str;
	bool		negative = false;
	int64_t		value = 0;
	int			ndigits = 0;
	int			nbefore;

	if (*p == '-')
	{
		negative = true;
		p++;
	}
	while (*p >= '0' && *p <= '9')
	{
		if (++ndigits > MAX_DECIMAL_DIGITS)
			return false;
		value = value * 10 + (*p++ - '0');
	}
	nbefore = ndigits;
	if (nbefore == 0)
		return false;
	if (*p == '.')
	{
		p++;
		while (*p >= '0' && *p <= '9')
		{
			if (++ndigits > MAX_DECIMAL_DIGITS)
				return false;
			value = value * 10 + (*p++ - '0');
		}
		if (ndigits == nbefore)
			return false;		/* "5." is the input function's */
	}
	if (*p != '\0')
		return false;
	*digits = negative ? -value : value;
	*scale = ndigits - nbefore;
	return true;
}
