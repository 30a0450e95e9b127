# walship: the two commands of the README are `make run` and `make test`.
# Each installs any missing Debian package (idempotent: nothing when all are
# present), configures and builds with CMake, then runs the node or the tests.

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:7070
DATA ?= $(CURDIR)/var/data
STANDBY_LISTEN ?= 127.0.0.1:7071
STANDBY_DATA ?= $(CURDIR)/var/standby

DEB_PACKAGES := cmake make g++ pkg-config ca-certificates curl sqlite3 \
  libsqlite3-dev libuv1-dev libzstd-dev libssl-dev libcpp-httplib-dev \
  libgtest-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev \
  libspdlog-dev libxxhash-dev clang libclang-rt-dev
BENCH_PACKAGES := wrk

.PHONY: all deps configure build build-node run test test-all soak bench sanitize clean

all: build

deps:
	@ops/install-deps.sh $(DEB_PACKAGES)

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Only the binary: `make run` does not wait for the test suite to compile.
build-node: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target walship

run: build-node
	@ops/run-dev.sh $(BUILD_DIR)/walship $(LISTEN) $(DATA) $(STANDBY_LISTEN) $(STANDBY_DATA)

# The default suite: unit and integration tests (CI runs this).
test: build
	@cd $(BUILD_DIR) && ctest -L 'unit|integration' --output-on-failure -j 2 --timeout 600

# Long runs kept out of the default suite (label "soak").
soak: build
	@cd $(BUILD_DIR) && ctest -L soak --output-on-failure --timeout 3600

bench: configure
	@ops/install-deps.sh $(BENCH_PACKAGES)
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target walship walship_bench
	@$(BUILD_DIR)/tests/walship_bench --walship $(BUILD_DIR)/walship

# The default suite under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DWALSHIP_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest -L 'unit|integration' --output-on-failure -j 2 --timeout 1200

clean:
	rm -rf $(BUILD_DIR) build-asan
