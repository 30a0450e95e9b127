#include "node/config.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "tests/support/temp_dir.h"

namespace walship {
namespace {

using walship::testing::TempDir;

const std::string kOrigin = "config t.toml";

Status ParseError(const std::string& toml) {
  auto c = ParseConfig(toml, kOrigin);
  EXPECT_FALSE(c.ok()) << "expected an error for:\n" << toml;
  return c.status();
}

TEST(ConfigTest, DefaultsSuitAMemoryIndex) {
  Config c;
  EXPECT_EQ(c.listen.host, "127.0.0.1");
  EXPECT_EQ(c.listen.port, 7070);
  EXPECT_EQ(c.http_threads, 64);
  EXPECT_EQ(c.keep_alive_max_requests, 100000);
  EXPECT_EQ(c.keep_alive_timeout_s, 2);  // short, so a drain does not wait long for idle connections
  EXPECT_EQ(c.read_timeout_ms, 5000);
  EXPECT_EQ(c.write_timeout_ms, 5000);
  EXPECT_EQ(c.drain_timeout_ms, 10000);
  EXPECT_EQ(c.data_dir, "data");
  EXPECT_EQ(c.read_connections, 4);
  EXPECT_EQ(c.busy_timeout_ms, 5000);
  EXPECT_EQ(c.max_group_requests, 1024);
  EXPECT_EQ(c.checkpoint_interval_ms, 1000);
  EXPECT_EQ(c.checkpoint_wal_bytes, 64ll << 20);
  EXPECT_EQ(c.max_key_bytes, 1024);             // key up to 1 KiB
  EXPECT_EQ(c.max_body_bytes, 16ll << 20);      // body up to 16 MiB
  EXPECT_EQ(c.max_metadata_bytes, 64ll << 10);  // metadata up to 64 KiB
  EXPECT_EQ(c.max_batch_ops, 1000);             // batch up to 1,000 operations
  EXPECT_EQ(c.default_list_limit, 100);
  EXPECT_EQ(c.max_list_limit, 1000);
  EXPECT_EQ(c.default_search_limit, 20);
  EXPECT_EQ(c.max_search_limit, 100);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, LogFormat::kText);
  EXPECT_TRUE(c.access_log);
  EXPECT_EQ(c.DatabasePath(), "data/index.db");
}

TEST(ConfigTest, EmptyTextGivesDefaults) {
  auto c = ParseConfig("", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen.port, 7070);
  EXPECT_EQ(c->data_dir, "data");
}

TEST(ConfigTest, ServerSection) {
  auto c = ParseConfig(R"(
[server]
listen = "0.0.0.0:8080"
http_threads = 8
keep_alive_max_requests = 500
keep_alive_timeout_s = 30
read_timeout_ms = 1500
write_timeout_ms = 2500
drain_timeout_ms = 1
)", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen.host, "0.0.0.0");
  EXPECT_EQ(c->listen.port, 8080);
  EXPECT_EQ(c->http_threads, 8);
  EXPECT_EQ(c->keep_alive_max_requests, 500);
  EXPECT_EQ(c->keep_alive_timeout_s, 30);
  EXPECT_EQ(c->read_timeout_ms, 1500);
  EXPECT_EQ(c->write_timeout_ms, 2500);
  EXPECT_EQ(c->drain_timeout_ms, 1);
}

TEST(ConfigTest, StorageCommitAndCheckpointSections) {
  auto c = ParseConfig(R"(
[storage]
data_dir = "/var/lib/walship"
read_connections = 16
busy_timeout_ms = 250

[commit]
max_group_requests = 64

[checkpoint]
interval_ms = 500
wal_bytes = 1048576
)", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->data_dir, "/var/lib/walship");
  EXPECT_EQ(c->DatabasePath(), "/var/lib/walship/index.db");
  EXPECT_EQ(c->read_connections, 16);
  EXPECT_EQ(c->busy_timeout_ms, 250);
  EXPECT_EQ(c->max_group_requests, 64);
  EXPECT_EQ(c->checkpoint_interval_ms, 500);
  EXPECT_EQ(c->checkpoint_wal_bytes, 1048576);
}

TEST(ConfigTest, SegmentsSection) {
  auto d = ParseConfig("", kOrigin);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->SegmentsPath(), "data/segments");
  EXPECT_EQ(d->segments_zstd_level, 1);
  EXPECT_TRUE(d->segments_capture);
  EXPECT_TRUE(d->segments_retention);
  EXPECT_EQ(d->segments_collect_interval_ms, 100);
  auto c = ParseConfig(
      "[segments]\ndir = \"/mnt/other/segments\"\nzstd_level = 19\ncapture = false\ncollect_interval_ms = 0\n"
      "retention = false\n",
      kOrigin);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->SegmentsPath(), "/mnt/other/segments");
  EXPECT_EQ(c->segments_zstd_level, 19);
  EXPECT_FALSE(c->segments_capture);
  EXPECT_FALSE(c->segments_retention);
  EXPECT_EQ(c->segments_collect_interval_ms, 0);
  EXPECT_EQ(ParseError("[segments]\nzstd_level = 0\n").message(),
            "config t.toml: segments.zstd_level: must be between 1 and 19, got 0");
  EXPECT_EQ(ParseError("[segments]\nretention = \"yes\"\n").message(),
            "config t.toml: segments.retention: expected true or false");
}

TEST(ConfigTest, LimitsSection) {
  auto c = ParseConfig(R"(
[limits]
max_key_bytes = 512
max_body_bytes = 2097152
max_metadata_bytes = 4096
max_batch_ops = 10
default_list_limit = 5
max_list_limit = 50
default_search_limit = 3
max_search_limit = 30
)", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->max_key_bytes, 512);
  EXPECT_EQ(c->max_body_bytes, 2097152);
  EXPECT_EQ(c->max_metadata_bytes, 4096);
  EXPECT_EQ(c->max_batch_ops, 10);
  EXPECT_EQ(c->default_list_limit, 5);
  EXPECT_EQ(c->max_list_limit, 50);
  EXPECT_EQ(c->default_search_limit, 3);
  EXPECT_EQ(c->max_search_limit, 30);
}

TEST(ConfigTest, LogSection) {
  auto c = ParseConfig("[log]\nlevel = \"debug\"\nformat = \"json\"\naccess_log = false\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->log_format, LogFormat::kJson);
  EXPECT_FALSE(c->access_log);
}

TEST(ConfigTest, DottedKeysAndInlineTablesWork) {
  auto c = ParseConfig("server.http_threads = 3\nlimits = { max_batch_ops = 7 }\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->http_threads, 3);
  EXPECT_EQ(c->max_batch_ops, 7);
}

TEST(ConfigTest, UnknownKeyInASectionIsNamed) {
  Status s = ParseError("[server]\nnope = 1\n");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "config t.toml: unknown key server.nope");
}

TEST(ConfigTest, UnknownTopLevelKeyAndSectionAreNamed) {
  EXPECT_EQ(ParseError("listen = \"127.0.0.1:1\"\n").message(), "config t.toml: unknown key listen");
  EXPECT_EQ(ParseError("[srever]\nlisten = \"127.0.0.1:1\"\n").message(),
            "config t.toml: unknown key srever.listen");
  EXPECT_EQ(ParseError("[server.tls]\ncert = \"x\"\n").message(), "config t.toml: unknown key server.tls.cert");
  EXPECT_EQ(ParseError("[[server]]\nlisten = \"127.0.0.1:1\"\n").message(), "config t.toml: unknown key server");
}

TEST(ConfigTest, WrongTypesNameTheKey) {
  Status s = ParseError("[server]\nhttp_threads = \"8\"\n");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "config t.toml: server.http_threads: expected an integer");
  EXPECT_EQ(ParseError("[server]\nhttp_threads = 8.0\n").message(),
            "config t.toml: server.http_threads: expected an integer");
  EXPECT_EQ(ParseError("[server]\nlisten = 7070\n").message(), "config t.toml: server.listen: expected a string");
  EXPECT_EQ(ParseError("[log]\naccess_log = \"yes\"\n").message(),
            "config t.toml: log.access_log: expected true or false");
  EXPECT_EQ(ParseError("[storage]\ndata_dir = [\"a\"]\n").message(),
            "config t.toml: storage.data_dir: expected a string");
}

TEST(ConfigTest, OutOfRangeNamesTheKeyTheRangeAndTheValue) {
  Status s = ParseError("[server]\nhttp_threads = 1\n");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "config t.toml: server.http_threads: must be between 2 and 4096, got 1");
  EXPECT_EQ(ParseError("[storage]\nread_connections = 0\n").message(),
            "config t.toml: storage.read_connections: must be between 1 and 256, got 0");
  EXPECT_EQ(ParseError("[checkpoint]\nwal_bytes = -1\n").message(),
            "config t.toml: checkpoint.wal_bytes: must be between 4096 and 1099511627776, got -1");
  EXPECT_EQ(ParseError("[limits]\nmax_key_bytes = 65537\n").message(),
            "config t.toml: limits.max_key_bytes: must be between 1 and 65536, got 65537");
}

TEST(ConfigTest, RangeBoundsAreInclusive) {
  auto c = ParseConfig("[server]\nhttp_threads = 2\n[limits]\nmax_key_bytes = 65536\n", kOrigin);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->http_threads, 2);
  EXPECT_EQ(c->max_key_bytes, 65536);
}

TEST(ConfigTest, BadStringValuesNameTheKey) {
  EXPECT_EQ(ParseError("[storage]\ndata_dir = \"\"\n").message(), "config t.toml: storage.data_dir: must not be empty");
  EXPECT_EQ(ParseError("[log]\nformat = \"xml\"\n").message(),
            "config t.toml: log.format: must be \"text\" or \"json\", got \"xml\"");
  EXPECT_EQ(ParseError("[log]\nlevel = \"loud\"\n").message(),
            "config t.toml: log.level: must be one of trace, debug, info, warn, error, critical, off; got \"loud\"");
  EXPECT_EQ(ParseError("[server]\nlisten = \"nowhere\"\n").message(),
            "config t.toml: server.listen: listen address \"nowhere\" is not HOST:PORT");
}

TEST(ConfigTest, SyntaxErrorNamesTheLine) {
  Status s = ParseError("[server]\nhttp_threads = 8\n\n[storage\ndata_dir = \"x\"\n");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "config t.toml: line 4: Error while parsing table header: expected ']', saw '\\n'");
  EXPECT_EQ(ParseError("[server]\nlisten = \n").message(),
            "config t.toml: line 2: Error while parsing key-value pair: expected value, saw '\\n'");
  EXPECT_EQ(ParseError("[server]\nhttp_threads = 8\nhttp_threads = 9\n").message(),
            "config t.toml: line 3: Error while parsing key-value pair: cannot redefine existing integer 'http_threads'");
}

TEST(ParseListenAddressTest, GoodAddresses) {
  auto a = ParseListenAddress("127.0.0.1:7070");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7070);

  auto zero = ParseListenAddress("localhost:0");  // 0 picks a free port
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->host, "localhost");
  EXPECT_EQ(zero->port, 0);

  auto v6 = ParseListenAddress("[::1]:8080");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);

  auto max = ParseListenAddress("0.0.0.0:65535");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->port, 65535);
}

TEST(ParseListenAddressTest, MissingHostOrPort) {
  for (const std::string bad : {"", "127.0.0.1", ":8080", "localhost"}) {
    auto a = ParseListenAddress(bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(a.status().message(), "listen address \"" + bad + "\" is not HOST:PORT");
  }
}

TEST(ParseListenAddressTest, BadPorts) {
  for (const std::string bad :
       {"127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x", "127.0.0.1: 80", "127.0.0.1:+80",
        "127.0.0.1:99999999999", "[::1]"}) {
    auto a = ParseListenAddress(bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(a.status().message(), "listen address \"" + bad + "\": port must be a number from 0 to 65535");
  }
}

class LoadConfigTest : public ::testing::Test {
 protected:
  std::string WriteConfig(const std::string& text) {
    std::string path = tmp_.Sub("walship.toml");
    EXPECT_TRUE(WriteFileAtomically(path, text).ok());
    return path;
  }
  TempDir tmp_;
};

TEST_F(LoadConfigTest, NoFileGivesDefaults) {
  auto c = LoadConfig(std::nullopt, {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen.port, 7070);
  EXPECT_EQ(c->data_dir, "data");
}

TEST_F(LoadConfigTest, ReadsTheFile) {
  std::string path = WriteConfig("[server]\nlisten = \"127.0.0.1:9000\"\n[storage]\ndata_dir = \"/srv/w\"\n");
  auto c = LoadConfig(path, {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen.port, 9000);
  EXPECT_EQ(c->data_dir, "/srv/w");
}

TEST_F(LoadConfigTest, FlagsOverrideTheFile) {
  std::string path = WriteConfig(
      "[server]\nlisten = \"127.0.0.1:9000\"\nhttp_threads = 9\n[storage]\ndata_dir = \"/srv/w\"\n"
      "[log]\nlevel = \"warn\"\nformat = \"text\"\n");
  ConfigOverrides flags;
  flags.listen = "0.0.0.0:0";
  flags.data_dir = "/tmp/elsewhere";
  flags.log_level = "debug";
  flags.log_format = "json";
  auto c = LoadConfig(path, flags);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen.host, "0.0.0.0");
  EXPECT_EQ(c->listen.port, 0);
  EXPECT_EQ(c->data_dir, "/tmp/elsewhere");
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->log_format, LogFormat::kJson);
  EXPECT_EQ(c->http_threads, 9);  // not overridden: the file's value stays
}

TEST_F(LoadConfigTest, FileErrorsCarryThePath) {
  std::string path = WriteConfig("[server]\nnope = 1\n");
  auto c = LoadConfig(path, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "config " + path + ": unknown key server.nope");
}

TEST_F(LoadConfigTest, MissingFileIsNotFound) {
  std::string path = tmp_.Sub("missing.toml");
  auto c = LoadConfig(path, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotFound);
  EXPECT_EQ(c.status().message(), "config " + path + ": " + path + ": no such file");
}

TEST_F(LoadConfigTest, BadFlagsNameTheFlag) {
  ConfigOverrides listen;
  listen.listen = "nowhere";
  EXPECT_EQ(LoadConfig(std::nullopt, listen).status().message(),
            "--listen: listen address \"nowhere\" is not HOST:PORT");
  ConfigOverrides data;
  data.data_dir = "";
  EXPECT_EQ(LoadConfig(std::nullopt, data).status().message(), "--data: must not be empty");
  ConfigOverrides level;
  level.log_level = "loud";
  EXPECT_EQ(LoadConfig(std::nullopt, level).status().message(),
            "--log-level: must be one of trace, debug, info, warn, error, critical, off; got \"loud\"");
  ConfigOverrides format;
  format.log_format = "xml";
  EXPECT_EQ(LoadConfig(std::nullopt, format).status().message(),
            "--log-format: must be \"text\" or \"json\", got \"xml\"");
}

TEST_F(LoadConfigTest, ValidatesLimitsAgainstEachOther) {
  std::string path = WriteConfig("[limits]\ndefault_list_limit = 2000\n");
  auto c = LoadConfig(path, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "config " + path + ": limits.default_list_limit (2000) is above limits.max_list_limit (1000)");

  path = WriteConfig("[limits]\nmax_search_limit = 10\n");
  EXPECT_EQ(LoadConfig(path, {}).status().message(),
            "config " + path + ": limits.default_search_limit is above limits.max_search_limit");

  path = WriteConfig("[limits]\nmax_body_bytes = 4096\nmax_metadata_bytes = 8192\n");
  EXPECT_EQ(LoadConfig(path, {}).status().message(),
            "config " + path +
                ": limits.max_body_bytes must be at least limits.max_key_bytes and limits.max_metadata_bytes");
}

}  // namespace
}  // namespace walship

namespace walship {
namespace {

TEST(ConfigTest, ReplicationSection) {
  auto d = ParseConfig("", kOrigin);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->role, "primary");
  EXPECT_FALSE(d->standby());
  EXPECT_EQ(d->standby_url, "");
  EXPECT_EQ(d->replication_mode, "async");
  auto c = ParseConfig(
      "[replication]\nrole = \"standby\"\nprimary = \"http://10.0.0.5:7070/\"\nretry_initial_ms = 50\n"
      "retry_max_ms = 60000\npush_timeout_ms = 1000\nmin_position_wait_ms = 0\nmax_segment_bytes = 1048576\n"
      "max_base_bytes = 2199023255552\n",
      kOrigin);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->standby());
  EXPECT_EQ(c->primary_url, "http://10.0.0.5:7070");  // the trailing '/' dropped
  EXPECT_EQ(c->replication_retry_initial_ms, 50);
  EXPECT_EQ(c->replication_retry_max_ms, 60000);
  EXPECT_EQ(c->replication_push_timeout_ms, 1000);
  EXPECT_EQ(c->replication_min_position_wait_ms, 0);
  EXPECT_EQ(c->replication_max_segment_bytes, 1048576);
  EXPECT_EQ(c->replication_max_base_bytes, 2199023255552);  // 2 TiB: bases are streamed to disk
  EXPECT_EQ(d->replication_max_base_bytes, 64ll << 30);
  EXPECT_EQ(ParseError("[replication]\nmax_base_bytes = 1000\n").message(),
            "config t.toml: replication.max_base_bytes: must be between 1048576 and 1125899906842624, got 1000");
  EXPECT_EQ(ParseError("[replication]\nrole = \"leader\"\n").message(),
            "config t.toml: replication.role: must be \"primary\" or \"standby\", got \"leader\"");
  EXPECT_EQ(ParseError("[replication]\nstandby = \"https://b:1\"\n").message(),
            "config t.toml: replication.standby: peer URL \"https://b:1\" must start with http://");
  EXPECT_EQ(ParseError("[replication]\nstandby = \"http://b:1/v1\"\n").message(),
            "config t.toml: replication.standby: peer URL \"http://b:1/v1\" must be http://HOST:PORT, with no path");
  EXPECT_EQ(ParseError("[replication]\nstandby = \"http://b\"\n").message(),
            "config t.toml: replication.standby: peer URL \"http://b\" must be http://HOST:PORT with a port from 1 "
            "to 65535");
  auto sync = ParseConfig("[replication]\nmode = \"sync\"\nsync_timeout_ms = 250\n", kOrigin);
  ASSERT_TRUE(sync.ok());
  EXPECT_TRUE(sync->sync_replication());
  EXPECT_EQ(sync->replication_sync_timeout_ms, 250);
  EXPECT_EQ(ParseError("[replication]\nmode = \"quorum\"\n").message(),
            "config t.toml: replication.mode: must be \"async\" or \"sync\", got \"quorum\"");
}

TEST(ConfigTest, ReplicationPeersMustFitTheRole) {
  TempDir dir;
  const std::string path = dir.Sub("w.toml");
  ASSERT_TRUE(WriteFileAtomically(path, "[replication]\nrole = \"standby\"\nstandby = \"http://a:1\"\n").ok());
  auto c = LoadConfig(path, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "config " + path +
                                      ": replication.standby is set on a standby: a standby ships to no one (set "
                                      "replication.primary)");
  ConfigOverrides primary_with_primary;
  primary_with_primary.primary_url = "http://a:1";
  auto p = LoadConfig(std::nullopt, primary_with_primary);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "config: replication.primary is set on a primary: did you mean --role standby?");
  const std::string small = dir.Sub("small.toml");
  ASSERT_TRUE(WriteFileAtomically(small, "[limits]\nmax_inflight_body_bytes = 1048576\n").ok());
  EXPECT_TRUE(LoadConfig(small, {}).ok());  // a primary receives no segments
  ConfigOverrides as_standby;
  as_standby.role = "standby";
  auto budget = LoadConfig(small, as_standby);
  ASSERT_FALSE(budget.ok());
  EXPECT_EQ(budget.status().message(),
            "config " + small +
                ": limits.max_inflight_body_bytes (1048576) is below replication.max_segment_bytes (268435456): "
                "this standby could never receive a segment of that size");
  ConfigOverrides sync_alone;
  sync_alone.replication_mode = "sync";
  auto s = LoadConfig(std::nullopt, sync_alone);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "config: replication.mode = \"sync\" needs a primary with replication.standby set: writes wait for that "
            "standby");
}

TEST(ConfigTest, ReplicationFlagsOverrideTheFile) {
  TempDir dir;
  const std::string path = dir.Sub("r.toml");
  ASSERT_TRUE(WriteFileAtomically(path, "[replication]\nstandby = \"http://a:1\"\n").ok());
  ConfigOverrides flags;
  flags.standby_url = "http://127.0.0.1:9999";
  flags.replication_mode = "async";
  auto c = LoadConfig(path, flags);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->standby_url, "http://127.0.0.1:9999");
  ConfigOverrides to_standby;
  to_standby.role = "standby";
  to_standby.standby_url = "";
  auto bad = LoadConfig(std::nullopt, to_standby);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "--standby: peer URL \"\" must start with http://");
  ConfigOverrides wrong_role;
  wrong_role.role = "replica";
  auto r = LoadConfig(std::nullopt, wrong_role);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "--role: must be \"primary\" or \"standby\", got \"replica\"");
}

}  // namespace
}  // namespace walship
