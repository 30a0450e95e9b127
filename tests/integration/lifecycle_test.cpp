// The node's life over real processes: restart persistence (clean and after
// kill -9), health/readiness/status, metrics, request ids and the access
// log, JSON logs, bad configs, the data-folder lock, and port 0.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/node_process.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

using nlohmann::json;

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Waits for `pid`; returns its exit code, 128+signal, or -1 after killing it
// at the deadline (so a command that should have failed cannot hang a test).
int WaitFor(pid_t pid, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Runs `walship args...` to completion (at most timeout_ms).
int RunWithTimeout(const std::vector<std::string>& args, const std::string& out_path, std::string* output,
                   int timeout_ms = 10000) {
  std::vector<std::string> argv = {WALSHIP_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = SpawnTo(argv, out_path);
  int rc = WaitFor(pid, timeout_ms);
  *output = Slurp(out_path);
  return rc;
}

// Sends raw bytes on a new connection to 127.0.0.1:port and returns what
// comes back until the end of the first response's head plus its
// Content-Length, or until the connection closes or 5 s pass.
std::string RawExchange(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (;;) {
      size_t head_end = out.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::smatch m;
        std::string head = out.substr(0, head_end);
        if (std::regex_search(head, m, std::regex("Content-Length: ([0-9]+)", std::regex::icase)) &&
            out.size() >= head_end + 4 + std::stoul(m[1])) {
          break;
        }
      }
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

// Polls `pred` every 10 ms for up to timeout_ms.
template <typename Pred>
bool Eventually(Pred pred, int timeout_ms = 3000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class LifecycleIntegrationTest : public ::testing::Test {
 protected:
  std::unique_ptr<NodeProcess> StartNode(const std::string& config_toml = "") {
    std::string error;
    auto node = NodeProcess::Start({.data_dir = data_, .config_toml = config_toml}, &error);
    EXPECT_NE(node, nullptr) << error;
    return node;
  }

  static json GetJson(httplib::Client& c, const std::string& path) {
    auto r = c.Get(path.c_str());
    if (!r) return json();
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }

  // Writes a known data set; returns the position of the last write.
  std::string WriteDataSet(httplib::Client& c) {
    std::string pos;
    for (int i = 0; i < 5; ++i) {
      auto r = c.Put(("/v1/archives/life/" + std::to_string(i)).c_str(),
                     json{{"content", "content " + std::to_string(i)}, {"metadata", {{"i", i}}}}.dump(),
                     "application/json");
      EXPECT_TRUE(r);
      if (!r) return "";
      EXPECT_EQ(r->status, 201) << r->body;
      pos = json::parse(r->body)["position"];
    }
    auto replaced = c.Put("/v1/archives/life/0", "replaced", "text/plain");
    EXPECT_EQ(replaced->status, 200);
    auto batch = c.Post("/v1/batch",
                        json{{"ops",
                              {{{"op", "put"}, {"key", "life/b"}, {"content", "from batch"}},
                               {{"op", "delete"}, {"key", "life/4"}}}}}
                            .dump(),
                        "application/json");
    EXPECT_EQ(batch->status, 200) << batch->body;
    return json::parse(batch->body)["position"];
  }

  void ExpectDataSet(httplib::Client& c) {
    json zero = GetJson(c, "/v1/archives/life/0");
    EXPECT_EQ(zero["content"], "replaced");
    EXPECT_EQ(zero["version"], 2);
    for (int i = 1; i < 4; ++i) {
      json rec = GetJson(c, "/v1/archives/life/" + std::to_string(i));
      EXPECT_EQ(rec["content"], "content " + std::to_string(i));
      EXPECT_EQ(rec["metadata"], (json{{"i", i}}));
      EXPECT_EQ(rec["version"], 1);
    }
    EXPECT_EQ(c.Get("/v1/archives/life/4")->status, 404);
    EXPECT_EQ(GetJson(c, "/v1/archives/life/b")["content"], "from batch");
    auto hits = GetJson(c, "/v1/search?q=batch")["hits"];
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0]["key"], "life/b");
  }

  TempDir dir_;
  std::string data_ = dir_.Sub("data");
};

TEST_F(LifecycleIntegrationTest, SigtermExitsZeroAndRestartKeepsDataAndPosition) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  auto c = node->Client();
  const std::string pos = WriteDataSet(*c);
  ASSERT_EQ(pos, "1/7");
  EXPECT_EQ(GetJson(*c, "/v1/status")["position"], "1/7");
  c.reset();
  EXPECT_EQ(node->SignalAndWait(SIGTERM), 0);
  EXPECT_NE(node->ReadLog().find("drained: clean shutdown position=1/7"), std::string::npos) << node->ReadLog();

  node = StartNode();
  ASSERT_NE(node, nullptr);
  c = node->Client();
  ExpectDataSet(*c);
  json status = GetJson(*c, "/v1/status");
  EXPECT_EQ(status["position"], "1/7");
  EXPECT_EQ(status["txid"], 7);
  auto next = c->Put("/v1/archives/life/next", "n", "text/plain");
  ASSERT_EQ(next->status, 201);
  EXPECT_EQ(json::parse(next->body)["position"], "1/8");
  EXPECT_EQ(next->get_header_value("X-Walship-Position"), "1/8");
  c.reset();
  EXPECT_EQ(node->SignalAndWait(SIGTERM), 0);
}

TEST_F(LifecycleIntegrationTest, SigintAlsoDrainsCleanly) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  ASSERT_EQ(node->Client()->Put("/v1/archives/k", "v", "text/plain")->status, 201);
  EXPECT_EQ(node->SignalAndWait(SIGINT), 0);
  node = StartNode();
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(GetJson(*node->Client(), "/v1/archives/k")["content"], "v");
}

TEST_F(LifecycleIntegrationTest, KillNineRestartKeepsAcknowledgedWritesAndPosition) {
  // A long checkpoint interval keeps every acknowledged write in the WAL when
  // the process dies: recovery must bring it back from there.
  const std::string config = "[checkpoint]\ninterval_ms = 3600000\n";
  auto node = StartNode(config);
  ASSERT_NE(node, nullptr);
  auto c = node->Client();
  const std::string pos = WriteDataSet(*c);
  ASSERT_EQ(pos, "1/7");
  EXPECT_GT(GetJson(*c, "/v1/status")["wal_bytes"].get<int64_t>(), 0);
  c.reset();
  node->Kill9();

  node = StartNode(config);
  ASSERT_NE(node, nullptr);
  c = node->Client();
  ExpectDataSet(*c);
  EXPECT_EQ(GetJson(*c, "/v1/status")["position"], "1/7");
  auto next = c->Post("/v1/batch", R"({"ops":[{"op":"put","key":"life/after","content":"x"}]})", "application/json");
  ASSERT_EQ(next->status, 200) << next->body;
  EXPECT_EQ(json::parse(next->body)["position"], "1/8");

  // And once more, after the restart: nothing is lost across two crashes.
  c.reset();
  node->Kill9();
  node = StartNode(config);
  ASSERT_NE(node, nullptr);
  c = node->Client();
  ExpectDataSet(*c);
  EXPECT_EQ(GetJson(*c, "/v1/archives/life/after")["content"], "x");
  EXPECT_EQ(GetJson(*c, "/v1/status")["position"], "1/8");
}

TEST_F(LifecycleIntegrationTest, HealthReadyAndStatus) {
  auto node = StartNode("[checkpoint]\ninterval_ms = 50\n");
  ASSERT_NE(node, nullptr);
  auto c = node->Client();
  auto health = c->Get("/healthz");
  ASSERT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body), (json{{"status", "ok"}}));
  EXPECT_EQ(health->get_header_value("Content-Type"), "application/json");
  auto ready = c->Get("/readyz");
  ASSERT_EQ(ready->status, 200);
  EXPECT_EQ(json::parse(ready->body), (json{{"status", "ready"}}));

  json s = GetJson(*c, "/v1/status");
  EXPECT_EQ(s["role"], "primary");
  EXPECT_EQ(s["version"], WALSHIP_VERSION);
  EXPECT_EQ(s["position"], "1/0");
  EXPECT_EQ(s["timeline"], 1);
  EXPECT_EQ(s["txid"], 0);
  EXPECT_EQ(s["ready"], true);
  EXPECT_TRUE(s["error"].is_null());
  EXPECT_EQ(s["database"], data_ + "/index.db");
  EXPECT_TRUE(s["wal_bytes"].is_number_integer());
  EXPECT_GE(s["wal_bytes"].get<int64_t>(), 0);
  EXPECT_TRUE(s["uptime_seconds"].is_number_integer());
  EXPECT_GE(s["uptime_seconds"].get<int64_t>(), 0);
  EXPECT_LT(s["uptime_seconds"].get<int64_t>(), 60);
  ASSERT_TRUE(s.contains("last_checkpoint"));

  ASSERT_EQ(c->Put("/v1/archives/s", "v", "text/plain")->status, 201);
  s = GetJson(*c, "/v1/status");
  EXPECT_EQ(s["position"], "1/1");
  EXPECT_EQ(s["txid"], 1);
  // The 50 ms checkpoint timer runs a checkpoint that empties the WAL.
  const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  json last;
  EXPECT_TRUE(Eventually([&] {
    last = GetJson(*c, "/v1/status");
    return last["last_checkpoint"].is_string() && last["wal_bytes"] == 0;
  }, 10000)) << last;
  if (last["last_checkpoint"].is_string()) {
    EXPECT_TRUE(std::regex_match(last["last_checkpoint"].get<std::string>(), rfc3339)) << last;
  }

  // The same version as the command line reports.
  std::string out;
  EXPECT_EQ(RunWithTimeout({"--version"}, dir_.Sub("version.out"), &out), 0);
  EXPECT_NE(out.find(std::string("walship ") + WALSHIP_VERSION), std::string::npos) << out;
}

TEST_F(LifecycleIntegrationTest, MetricsExposeRequestsLatenciesCommitsAndCheckpoints) {
  auto node = StartNode("[checkpoint]\ninterval_ms = 50\n");
  ASSERT_NE(node, nullptr);
  auto c = node->Client();
  ASSERT_EQ(c->Get("/healthz")->status, 200);
  ASSERT_EQ(c->Put("/v1/archives/m/1", "v", "text/plain")->status, 201);
  ASSERT_EQ(c->Get("/v1/archives/m/1")->status, 200);
  ASSERT_EQ(c->Get("/v1/archives/m/missing")->status, 404);
  ASSERT_EQ(c->Get("/nope")->status, 404);
  // Let a checkpoint happen.
  ASSERT_TRUE(Eventually([&] { return GetJson(*c, "/v1/status")["last_checkpoint"].is_string(); }, 10000));

  auto r = c->Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  const std::string& m = r->body;
  auto has_line = [&](const std::string& line) {
    return ("\n" + m).find("\n" + line + "\n") != std::string::npos;
  };
  auto has_prefix = [&](const std::string& prefix) { return ("\n" + m).find("\n" + prefix) != std::string::npos; };

  EXPECT_TRUE(has_line("# TYPE walship_http_requests_total counter")) << m;
  EXPECT_TRUE(has_line(R"(walship_http_requests_total{route="/healthz",method="GET",code="200"} 1)")) << m;
  EXPECT_TRUE(has_line(R"(walship_http_requests_total{route="/v1/archives/{key}",method="PUT",code="201"} 1)")) << m;
  EXPECT_TRUE(has_line(R"(walship_http_requests_total{route="/v1/archives/{key}",method="GET",code="200"} 1)")) << m;
  EXPECT_TRUE(has_line(R"(walship_http_requests_total{route="/v1/archives/{key}",method="GET",code="404"} 1)")) << m;
  EXPECT_TRUE(has_line(R"(walship_http_requests_total{route="other",method="GET",code="404"} 1)")) << m;

  EXPECT_TRUE(has_line("# TYPE walship_http_request_seconds histogram")) << m;
  EXPECT_TRUE(has_line(R"(walship_http_request_seconds_bucket{route="/healthz",le="+Inf"} 1)")) << m;
  EXPECT_TRUE(has_prefix(R"(walship_http_request_seconds_sum{route="/healthz"} )")) << m;
  EXPECT_TRUE(has_line(R"(walship_http_request_seconds_count{route="/healthz"} 1)")) << m;
  EXPECT_TRUE(has_line(R"(walship_http_request_seconds_count{route="/v1/archives/{key}"} 3)")) << m;

  EXPECT_TRUE(has_line("# TYPE walship_group_commit_requests histogram")) << m;
  EXPECT_TRUE(has_line(R"(walship_group_commit_requests_bucket{le="1"} 1)")) << m;
  EXPECT_TRUE(has_line("walship_group_commit_requests_count 1")) << m;
  EXPECT_TRUE(has_line("# TYPE walship_commit_seconds histogram")) << m;
  EXPECT_TRUE(has_prefix("walship_commit_seconds_count ")) << m;
  EXPECT_TRUE(has_line("# TYPE walship_fsync_seconds histogram")) << m;
  EXPECT_TRUE(has_prefix("walship_fsync_seconds_count ")) << m;
  EXPECT_FALSE(has_line("walship_fsync_seconds_count 0")) << "a durable commit fsyncs";
  EXPECT_TRUE(has_line("# TYPE walship_wal_bytes gauge")) << m;
  EXPECT_TRUE(has_prefix("walship_wal_bytes ")) << m;
  EXPECT_TRUE(has_line("# TYPE walship_checkpoints_total counter")) << m;
  EXPECT_TRUE(has_prefix(R"(walship_checkpoints_total{result="complete"} )")) << m;
  EXPECT_FALSE(has_line(R"(walship_checkpoints_total{result="complete"} 0)")) << m;
  EXPECT_TRUE(has_line("# TYPE walship_checkpoint_seconds histogram")) << m;
  EXPECT_TRUE(has_prefix("walship_checkpoint_seconds_count ")) << m;
  EXPECT_FALSE(has_line("walship_checkpoint_seconds_count 0")) << m;
  // The part of each checkpoint spent waiting for the WAL capture.
  EXPECT_TRUE(has_line("# TYPE walship_checkpoint_hook_seconds histogram")) << m;
  EXPECT_TRUE(has_prefix("walship_checkpoint_hook_seconds_count ")) << m;
  EXPECT_FALSE(has_line("walship_checkpoint_hook_seconds_count 0")) << m;
}

TEST_F(LifecycleIntegrationTest, ThreadsAreNamedByTheirRole) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  ASSERT_EQ(node->Client()->Get("/healthz")->status, 200);  // a request thread has run
  std::multiset<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(node->pid()) + "/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    names.insert(name);
  }
  std::string all;
  for (const auto& n : names) all += n + " ";
  EXPECT_EQ(names.count("ws-writer"), 1u) << all;
  EXPECT_EQ(names.count("ws-sealer"), 1u) << all;
  EXPECT_EQ(names.count("ws-scrub"), 1u) << all;
  EXPECT_GE(names.count("ws-http"), 2u) << all;  // the accepting thread and its request pool
  EXPECT_EQ(names.count("ws-shipper"), 0u) << "no standby configured: " << all;
}

TEST_F(LifecycleIntegrationTest, RequestIdEchoedOrGeneratedAndInTheAccessLog) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  auto c = node->Client();
  auto given = c->Get("/healthz", {{"X-Request-Id", "trace-42_a.b"}});
  ASSERT_EQ(given->status, 200);
  EXPECT_EQ(given->get_header_value("X-Request-Id"), "trace-42_a.b");

  auto g1 = c->Get("/v1/archives/none");
  auto g2 = c->Get("/v1/archives/none");
  ASSERT_EQ(g1->status, 404);
  const std::string id1 = g1->get_header_value("X-Request-Id");
  const std::string id2 = g2->get_header_value("X-Request-Id");
  const std::regex generated("[0-9a-f]{8}-[0-9]+");
  EXPECT_TRUE(std::regex_match(id1, generated)) << id1;
  EXPECT_TRUE(std::regex_match(id2, generated)) << id2;
  EXPECT_NE(id1, id2);

  // An unusable id (spaces, too long) is replaced, not echoed.
  auto bad = c->Get("/healthz", {{"X-Request-Id", "has spaces"}});
  EXPECT_TRUE(std::regex_match(bad->get_header_value("X-Request-Id"), generated));
  auto too_long = c->Get("/healthz", {{"X-Request-Id", std::string(129, 'a')}});
  const std::string last_id = too_long->get_header_value("X-Request-Id");
  EXPECT_TRUE(std::regex_match(last_id, generated));

  std::string log;
  EXPECT_TRUE(Eventually([&] {
    log = node->ReadLog();
    return log.find("request id=" + last_id + " ") != std::string::npos;
  })) << log;
  EXPECT_NE(log.find("request id=trace-42_a.b method=GET path=/healthz status=200 "), std::string::npos) << log;
  EXPECT_NE(log.find("request id=" + id1 + " method=GET path=/v1/archives/none status=404 "), std::string::npos)
      << log;
  // One access-log line per request.
  size_t lines = 0;
  for (size_t at = log.find(" request id="); at != std::string::npos; at = log.find(" request id=", at + 1)) ++lines;
  EXPECT_EQ(lines, 5u) << log;
}

// A request httplib cannot parse never reaches the pre-routing hook; its
// answer must still carry a request id (docs/API.md: every response does),
// and its access-log line must name that id and a sane duration.
TEST_F(LifecycleIntegrationTest, UnparseableRequestHasARequestIdInHeaderAndAccessLog) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  // Some ordinary traffic first, so the thread that serves the bad request
  // has served others before.
  auto c = node->Client();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c->Get("/healthz")->status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string response = RawExchange(node->port(), "GARBAGE\r\n\r\n");
  ASSERT_EQ(response.rfind("HTTP/1.1 400 ", 0), 0u) << response;
  std::smatch m;
  const bool has_id = std::regex_search(response, m, std::regex("\r\nX-Request-Id: ([^\r]+)\r\n", std::regex::icase));
  EXPECT_TRUE(has_id) << response;
  std::string log;
  Eventually([&] {
    log = node->ReadLog();
    return log.find("status=400") != std::string::npos;
  });
  std::smatch line;
  ASSERT_TRUE(std::regex_search(log, line, std::regex("request id=(\\S*) method=\\S* path=\\S* status=400 ms=([0-9.]+)")))
      << log;
  if (has_id) {
    EXPECT_EQ(line[1].str(), m[1].str());
  }
  EXPECT_NE(line[1].str(), "\"\"") << "the access-log line has no request id: " << line[0];
  EXPECT_LT(std::stod(line[2].str()), 250.0) << "the duration is not this request's: " << line[0];
}

TEST_F(LifecycleIntegrationTest, JsonLogFormatWritesOneJsonObjectPerLine) {
  // NodeProcess waits for the text-format "listening url=..." line, so start
  // this one by hand and find the port in the JSON lines.
  const std::string log_path = dir_.Sub("json.log");
  pid_t pid = SpawnTo({WALSHIP_BINARY, "serve", "--listen", "127.0.0.1:0", "--data", data_, "--log-format", "json"},
                      log_path);
  ASSERT_GT(pid, 0);
  int port = 0;
  bool listening = Eventually(
      [&] {
        std::istringstream lines(Slurp(log_path));
        std::string line;
        while (std::getline(lines, line)) {
          json j = json::parse(line, nullptr, false);
          if (!j.is_discarded() && j.is_object() && j.value("msg", "") == "listening") {
            const json& p = j["port"];
            port = p.is_string() ? std::stoi(p.get<std::string>()) : p.get<int>();
            return true;
          }
        }
        return false;
      },
      10000);
  if (!listening) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    FAIL() << "no JSON \"listening\" line: " << Slurp(log_path);
  }
  ASSERT_GT(port, 0);
  {
    httplib::Client c("127.0.0.1", port);
    c.set_url_encode(false);
    auto r = c.Get("/healthz", {{"X-Request-Id", "json-line-1"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    ASSERT_EQ(c.Put("/v1/archives/say%20%22hi%22", "quoted \"key\"", "text/plain")->status, 201);
  }
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitFor(pid, 20000), 0);

  std::istringstream lines(Slurp(log_path));
  std::string line;
  int parsed = 0;
  bool saw_access = false, saw_listening = false, saw_drained = false, saw_quoted_path = false;
  while (std::getline(lines, line)) {
    json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not a JSON line: " << line;
    ASSERT_TRUE(j.is_object()) << line;
    ++parsed;
    EXPECT_TRUE(j["ts"].is_string()) << line;
    EXPECT_TRUE(j["level"].is_string()) << line;
    EXPECT_TRUE(j["msg"].is_string()) << line;
    const std::string msg = j.value("msg", "");
    if (msg == "listening") {
      saw_listening = true;
      EXPECT_EQ(j["url"], "http://127.0.0.1:" + std::to_string(port));
    }
    if (msg == "request" && j.value("id", "") == "json-line-1") {
      saw_access = true;
      EXPECT_EQ(j["method"], "GET");
      EXPECT_EQ(j["path"], "/healthz");
      EXPECT_EQ(j["status"], "200");
      EXPECT_EQ(j["level"], "info");
    }
    if (msg == "request" && j.value("path", "") == "/v1/archives/say \"hi\"") saw_quoted_path = true;
    if (msg == "drained: clean shutdown") saw_drained = true;
  }
  EXPECT_GT(parsed, 4);
  EXPECT_TRUE(saw_listening);
  EXPECT_TRUE(saw_access);
  EXPECT_TRUE(saw_quoted_path);
  EXPECT_TRUE(saw_drained);
}

TEST_F(LifecycleIntegrationTest, BadConfigExitsNonZeroNamingTheKey) {
  struct Case {
    std::string toml;
    std::string message;  // after "walship: config <path>: "
  };
  const std::vector<Case> cases = {
      {"[server]\nbogus = 1\n", "unknown key server.bogus"},
      {"[limits]\nmax_batch_ops = \"many\"\n", "limits.max_batch_ops: expected an integer"},
      {"[server]\nhttp_threads = 1\n", "server.http_threads: must be between 2 and 4096, got 1"},
      {"[log]\nformat = \"xml\"\n", "log.format: must be \"text\" or \"json\", got \"xml\""},
      {"[log]\naccess_log = \"yes\"\n", "log.access_log: expected true or false"},
      {"[server]\nlisten = \"localhost\"\n", "server.listen: listen address \"localhost\" is not HOST:PORT"},
  };
  int i = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.toml);
    const std::string path = dir_.Sub("bad" + std::to_string(i) + ".toml");
    WriteFile(path, c.toml);
    std::string out;
    int rc = RunWithTimeout({"serve", "--config", path, "--listen", "127.0.0.1:0", "--data", data_},
                            dir_.Sub("bad" + std::to_string(i++) + ".out"), &out);
    EXPECT_EQ(rc, 2) << out;
    EXPECT_EQ(out, "walship: config " + path + ": " + c.message + "\n");
  }
  // Settings that are each fine but contradict one another.
  const std::string path = dir_.Sub("cross.toml");
  WriteFile(path, "[limits]\ndefault_list_limit = 500\nmax_list_limit = 100\n");
  std::string out;
  EXPECT_EQ(RunWithTimeout({"serve", "--config", path, "--listen", "127.0.0.1:0", "--data", data_},
                           dir_.Sub("cross.out"), &out),
            2);
  EXPECT_EQ(out, "walship: config " + path +
                     ": limits.default_list_limit (500) is above limits.max_list_limit (100)\n");
  // A TOML syntax error names the line.
  const std::string syntax = dir_.Sub("syntax.toml");
  WriteFile(syntax, "[server]\nhttp_threads = \n");
  EXPECT_NE(RunWithTimeout({"serve", "--config", syntax, "--listen", "127.0.0.1:0", "--data", data_},
                           dir_.Sub("syntax.out"), &out),
            0);
  EXPECT_NE(out.find("line 2"), std::string::npos) << out;
  // A bad flag is reported the same way.
  EXPECT_EQ(RunWithTimeout({"serve", "--listen", "nowhere", "--data", data_}, dir_.Sub("flag.out"), &out), 2);
  EXPECT_EQ(out, "walship: --listen: listen address \"nowhere\" is not HOST:PORT\n");
}

TEST_F(LifecycleIntegrationTest, SecondNodeOnTheSameDataFolderFailsOnTheLock) {
  auto first = StartNode();
  ASSERT_NE(first, nullptr);
  std::string out;
  int rc = RunWithTimeout({"serve", "--listen", "127.0.0.1:0", "--data", data_}, dir_.Sub("second.out"), &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("data folder " + data_ + " is in use by another walship process (pid " +
                     std::to_string(first->pid()) + "): lock " + data_ + "/LOCK is held"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("listening"), std::string::npos) << out;
  // The first node is unharmed.
  auto c = first->Client();
  auto put = c->Put("/v1/archives/still", "here", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 201);
  c.reset();  // an idle kept-alive connection would hold the drain for the keep-alive timeout
  EXPECT_EQ(first->SignalAndWait(SIGTERM), 0);
  // Once it is gone, the folder can be opened again.
  auto again = StartNode();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(GetJson(*again->Client(), "/v1/archives/still")["content"], "here");
}

TEST_F(LifecycleIntegrationTest, ListenOnPortZeroLogsTheChosenPort) {
  auto node = StartNode();  // NodeProcess passes --listen 127.0.0.1:0
  ASSERT_NE(node, nullptr);
  ASSERT_GT(node->port(), 0);
  const std::string log = node->ReadLog();
  const std::string p = std::to_string(node->port());
  EXPECT_NE(log.find("listening url=http://127.0.0.1:" + p + " port=" + p + "\n"), std::string::npos) << log;
  auto r = node->Client()->Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Two nodes on port 0 get different ports.
  TempDir other;
  std::string error;
  auto second = NodeProcess::Start({.data_dir = other.Sub("data")}, &error);
  ASSERT_NE(second, nullptr) << error;
  EXPECT_NE(second->port(), node->port());
}

}  // namespace
}  // namespace walship::testing
