# pg_continuous: PGXS build, plus the project's harness targets.
#
#   make              build (PGXS)            make install   install (PGXS)
#   make installcheck pg_regress (sql/), isolation (test/isolation/specs/)
#                     and TAP (test/t/) tests (PGXS), against a running server
#                     configured like test/regress.conf; see below
#   make test         install missing Debian packages, build, install, then
#                     the same tests through PGXS's installcheck, on temporary
#                     instances, and the fuzzers; ends "N passed, N failed"
#   make demo         scratch cluster in .demo/ with a live event generator
#   make demo-stop    stop the demo's generator and server (keeps .demo/)
#   make demo-clean   stop the demo and remove .demo/
#   make bench        throughput benchmarks (test/bench/): table streams
#                     (make bench-tables), Kafka streams (make bench-kafka),
#                     memory of windowed views (make bench-windows),
#                     backfill and rebuild (make bench-backfill), many
#                     groups (make bench-groups: 100k and 1M users, 18 h
#                     of windows, each also written by batch SQL, and a
#                     5M-row COPY);
#   make bench-nexmark  the Nexmark queries continuous views express
#
# The harness scripts live in test/harness/; see README.md.

MODULE_big = pg_continuous
# The sources and headers are in src/ and its folders, two levels down at
# most (src/source/kafka/).  The objects and the header rule below both
# follow this one list, so that a new level cannot be added to one only.
SRC_DIRS = src src/* src/*/*
# One unit is C++ (src/source/kafka/kafka_json_validate.cpp, over simdjson).
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard $(addsuffix /*.c,$(SRC_DIRS))))) \
	$(patsubst %.cpp,%.o,$(sort $(wildcard $(addsuffix /*.cpp,$(SRC_DIRS)))))
HEADERS = $(wildcard $(addsuffix /*.h,$(SRC_DIRS)))
EXTENSION = pg_continuous
DATA = $(sort $(wildcard src/sql/*.sql))
PGFILEDESC = "pg_continuous - continuous views over event streams"

PG_CPPFLAGS = -I$(srcdir)/src
# Kafka streams use librdkafka (Debian: librdkafka-dev), and their JSON
# messages simdjson (libsimdjson-dev), from C++.
SHLIB_LINK = -lrdkafka -lsimdjson -lstdc++
PG_CXXFLAGS = -std=c++17 -fvisibility=hidden -fvisibility-inlines-hidden

# The tests, PGXS's way: `make installcheck` runs them against a running
# server configured like test/regress.conf (the extension preloaded,
# wal_level = logical).  `make test` runs the same targets on temporary
# instances instead (test/harness/test.sh).  Empty a variable to skip a
# suite, e.g. `make installcheck TAP_TESTS=`.
#   REGRESS     every sql/NAME.sql, against expected/NAME.out (pg_regress)
#   ISOLATION   every test/isolation/specs/NAME.spec, against
#               test/isolation/expected/NAME.out (pg_isolation_regress)
#   TAP_TESTS   test/t/*.pl with prove; they start their own servers
#               (PostgreSQL::Test::Cluster), with our modules in test/perl.
#               PROVE_TESTS picks some, PROVE_FLAGS passes options to prove.
REGRESS ?= $(sort $(basename $(notdir $(wildcard sql/*.sql))))
ISOLATION ?= $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
# the last --inputdir wins over PGXS's own (this directory)
ISOLATION_OPTS = --inputdir=$(srcdir)/test/isolation
# the expected files assume a C locale and UTF8 test databases
NO_LOCALE = 1
ENCODING = UTF8
TAP_TESTS = 1
# PGXS runs prove here, where there is no t/: the tests are test/t/*.pl, and
# t/NAME.pl, as PostgreSQL's own trees name a test, means test/t/NAME.pl.
PROVE_TESTS ?= test/t/*.pl
override PROVE_TESTS := $(patsubst t/%,test/t/%,$(PROVE_TESTS))
EXTRA_CLEAN = results log regression.diffs regression.out tmp_check tmp_check_regress tmp_check_iso output_iso

# PostgreSQL 15's own pg_config when present: /usr/bin/pg_config follows the
# newest installed server, which need not be 15.
PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# Fresh machine: the harness targets below install the build dependencies.
all install installcheck:
	@echo "PGXS not found via $(PG_CONFIG): install postgresql-server-dev-15," >&2
	@echo "or run 'make test' or 'make demo', which install what they need." >&2
	@exit 1
endif

# prove -I for the tests' own modules (PgContinuous::*)
PG_PROVE_FLAGS += -I $(srcdir)/test/perl

HARNESS = test/harness

.PHONY: test demo demo-stop demo-clean bench bench-tables bench-kafka bench-windows bench-backfill bench-groups bench-nexmark deps

deps:
	@$(HARNESS)/deps.sh

# REGRESS=... and ISOLATION=... reach the harness as make exports them; the
# override of PROVE_TESTS above keeps make from exporting that one.
test:
	@PROVE_TESTS='$(PROVE_TESTS)' $(HARNESS)/test.sh

demo:
	@$(HARNESS)/demo.sh start

demo-stop:
	@$(HARNESS)/demo.sh stop

demo-clean:
	@$(HARNESS)/demo.sh clean

bench: bench-tables bench-kafka bench-windows bench-backfill bench-groups

bench-tables:
	@test/bench/table_streams.sh

bench-kafka:
	@test/bench/kafka_streams.sh

bench-windows:
	@test/bench/window_memory.sh

bench-backfill:
	@test/bench/backfill.sh

bench-groups:
	@test/bench/groups.sh

bench-nexmark:
	@test/bench/nexmark.sh

# PGXS tracks no header dependencies: rebuild every object when a header of
# ours changes, so no two objects disagree on a struct's layout.  (Objects
# built before and after a field was added to a struct read its fields at
# different offsets: a worker built so read part of a timestamp as a
# transaction id.)  test/harness/header_deps.sh checks this rule.
$(OBJS) $(OBJS:.o=.bc): $(HEADERS)

# Kafka test tools (mock broker, producer, raw consumer); `make test` builds
# them with the extension.
include test/kafka/kafka.mk
EXTRA_CLEAN += $(KAFKA_CLEAN)
