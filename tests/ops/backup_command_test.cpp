// `walship backup`: the pure parts (the --node URL, the lines it prints, the
// answers it reads), the loop that follows a backup against a scripted API on
// a manual clock, and the whole command against a fake node: an
// httplib::Server on 127.0.0.1 that scripts the answers.
#include "ops/backup_command.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace walship {
namespace {

constexpr const char* kId = "20261127T043132Z";

// A backup at 24% of its copy.
const std::string kRunning = R"({"id":"20261127T043132Z","state":"running","position":"1/1234",
  "started_at":"2026-11-27T04:31:32.120Z","age_seconds":0.8,
  "progress":{"pages_copied":1200,"page_count":5000,"percent":24.0,"pages_per_second":30000.0,
              "bytes_per_second":122880000.0}})";
// Copied, being checked.
const std::string kVerifying = R"({"id":"20261127T043132Z","state":"verifying","position":"1/1234",
  "started_at":"2026-11-27T04:31:32.120Z",
  "progress":{"pages_copied":5000,"page_count":5000,"percent":100.0,"bytes_per_second":122880000.0}})";
const std::string kVerified = R"({"id":"20261127T043132Z","state":"verified","position":"1/1234",
  "started_at":"2026-11-27T04:31:32.120Z","finished_at":"2026-11-27T04:31:35.320Z","age_seconds":3.2,
  "progress":{"pages_copied":5000,"page_count":5000,"percent":100.0},
  "bytes_compressed":1258291,"bytes_uncompressed":5662310,"manifest":{"sha256":"ab"}})";
const std::string kFailed = R"({"id":"20261127T043132Z","state":"failed","position":"1/1234",
  "started_at":"2026-11-27T04:31:32.120Z","finished_at":"2026-11-27T04:31:33.000Z",
  "error":"verify: integrity_check: row 12 missing from index archives_by_key"})";

const std::string kRunningLine = "backup 20261127T043132Z running: 24.0%, 1200/5000 pages, 117.2 MiB/s";
const std::string kVerifiedLine = "backup 20261127T043132Z verified: position 1/1234, 5.4 MiB -> 1.2 MiB in 3.2 s";
const std::string kFailedLine =
    "backup 20261127T043132Z failed: verify: integrity_check: row 12 missing from index archives_by_key";

std::string Get(const std::string& b) { return R"({"backup":)" + b + "}"; }
std::string Post(const std::string& b, bool already_running = false) {
  return R"({"backup":)" + b + R"(,"already_running":)" + (already_running ? "true" : "false") + "}";
}

BackupView View(const std::string& b) {
  Result<BackupView> v = ParseBackupAnswer(Get(b));
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? v.value() : BackupView{};
}

// --- The --node URL. -------------------------------------------------------

TEST(BackupCommandUrlTest, AcceptsHttpHostPortWithAnOptionalTrailingSlash) {
  struct Case {
    std::string text, host;
    int port;
    std::string base;
  };
  const std::vector<Case> cases = {
      {"http://127.0.0.1:7070", "127.0.0.1", 7070, "http://127.0.0.1:7070"},
      {"http://127.0.0.1:7070/", "127.0.0.1", 7070, "http://127.0.0.1:7070"},
      {"http://localhost:1", "localhost", 1, "http://localhost:1"},
      {"http://node-2.internal:65535", "node-2.internal", 65535, "http://node-2.internal:65535"},
      {"http://[::1]:7070/", "::1", 7070, "http://[::1]:7070"},
      {"HTTP://127.0.0.1:7070", "127.0.0.1", 7070, "http://127.0.0.1:7070"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Result<NodeUrl> url = ParseNodeUrl(c.text);
    ASSERT_TRUE(url.ok()) << url.status().message();
    EXPECT_EQ(url->host, c.host);
    EXPECT_EQ(url->port, c.port);
    EXPECT_EQ(url->base, c.base);
  }
}

TEST(BackupCommandUrlTest, NamesTheProblemWithABadUrl) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "--node is required: the node's http://HOST:PORT, e.g. http://127.0.0.1:7070"},
      {"127.0.0.1:7070", "--node \"127.0.0.1:7070\": must start with http://"},
      {"https://127.0.0.1:7070", "--node \"https://127.0.0.1:7070\": https is not supported; use http://HOST:PORT"},
      {"ftp://127.0.0.1:7070", "--node \"ftp://127.0.0.1:7070\": only http:// is supported; use http://HOST:PORT"},
      {"http://127.0.0.1", "--node \"http://127.0.0.1\": names no port; use http://HOST:PORT"},
      {"http://127.0.0.1:", "--node \"http://127.0.0.1:\": names no port; use http://HOST:PORT"},
      {"http://:7070", "--node \"http://:7070\": names no host; use http://HOST:PORT"},
      {"http://", "--node \"http://\": names no host; use http://HOST:PORT"},
      {"http://127.0.0.1:7070/v1/admin", "--node \"http://127.0.0.1:7070/v1/admin\": must have no path; use http://HOST:PORT"},
      {"http://127.0.0.1:7070//", "--node \"http://127.0.0.1:7070//\": must have no path; use http://HOST:PORT"},
      {"http://127.0.0.1:7070?x=1", "--node \"http://127.0.0.1:7070?x=1\": must have no query or fragment; use http://HOST:PORT"},
      {"http://u:p@127.0.0.1:7070", "--node \"http://u:p@127.0.0.1:7070\": must have no user or password; use http://HOST:PORT"},
      {"http://127.0.0.1:0", "--node \"http://127.0.0.1:0\": port \"0\" is not a number from 1 to 65535"},
      {"http://127.0.0.1:65536", "--node \"http://127.0.0.1:65536\": port \"65536\" is not a number from 1 to 65535"},
      {"http://127.0.0.1:70x", "--node \"http://127.0.0.1:70x\": port \"70x\" is not a number from 1 to 65535"},
      {"http://bad host:7070", "--node \"http://bad host:7070\": host \"bad host\" is not a host name or IP address"},
      {"http://::1:7070", "--node \"http://::1:7070\": an IPv6 address goes in brackets, e.g. http://[::1]:7070"},
      {"http://[::1]", "--node \"http://[::1]\": names no port; use http://HOST:PORT"},
      {"http://[::1:7070", "--node \"http://[::1:7070\": the IPv6 address has no closing ]"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(text);
    Result<NodeUrl> url = ParseNodeUrl(text);
    ASSERT_FALSE(url.ok());
    EXPECT_EQ(url.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(url.status().message(), message);
  }
}

// --- What it prints. ---------------------------------------------------------

TEST(BackupCommandFormatTest, BytesDurationsAndTimestamps) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(1048575), "1.0 MiB");  // not "1024.0 KiB"
  EXPECT_EQ(FormatBytes(5662310), "5.4 MiB");
  EXPECT_EQ(FormatBytes(122880000), "117.2 MiB");
  EXPECT_EQ(FormatBytes(3.0 * 1024 * 1024 * 1024), "3.0 GiB");

  EXPECT_EQ(FormatDuration(3.2), "3.2 s");
  EXPECT_EQ(FormatDuration(0), "0.00 s");
  EXPECT_EQ(FormatDuration(0.055), "0.06 s");
  EXPECT_EQ(FormatDuration(0.96), "1.0 s");
  EXPECT_EQ(FormatDuration(59.96), "1 min 00 s");
  EXPECT_EQ(FormatDuration(725), "12 min 05 s");
  EXPECT_EQ(FormatDuration(7380), "2 h 03 min");

  EXPECT_EQ(ParseRfc3339Millis("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339Millis("2026-11-27T04:31:32.120Z"), 1795753892120);
  EXPECT_EQ(ParseRfc3339Millis("2026-11-27T04:31:32.1Z"), 1795753892100);
  EXPECT_EQ(ParseRfc3339Millis("2026-11-27T04:31:32.123456+00:00"), 1795753892123);
  EXPECT_EQ(ParseRfc3339Millis("2026-11-27T05:31:32.120+01:00"), 1795753892120);
  EXPECT_EQ(ParseRfc3339Millis("2026-11-26T23:01:32.120-05:30"), 1795753892120);
  EXPECT_EQ(ParseRfc3339Millis("2026-11-27T04:31:32+1:00"), std::nullopt);
  EXPECT_EQ(ParseRfc3339Millis("2026-11-27T04:31:32+24:00"), std::nullopt);
  EXPECT_EQ(ParseRfc3339Millis("2026-02-30T04:31:32Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339Millis("2026-11-27 04:31:32Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339Millis(""), std::nullopt);
}

TEST(BackupCommandFormatTest, ProgressBarAndPlainLine) {
  EXPECT_EQ(FormatProgressBar(View(kRunning)),
            "backup 20261127T043132Z  [#####---------------]  24.0%  1200/5000 pages  117.2 MiB/s  running");
  EXPECT_EQ(FormatProgressBar(View(kVerifying)),
            "backup 20261127T043132Z  [####################]  100.0%  5000/5000 pages  117.2 MiB/s  verifying");
  EXPECT_EQ(FormatProgressLine(View(kRunning)), kRunningLine);
  EXPECT_EQ(FormatProgressLine(View(kVerifying)),
            "backup 20261127T043132Z verifying: 100.0%, 5000/5000 pages, 117.2 MiB/s");

  // No percent: it is worked out from the pages; no pages: left out.
  BackupView b = View(R"({"id":"X1","state":"running","progress":{"pages_copied":1910,"page_count":5000}})");
  EXPECT_EQ(FormatProgressBar(b), "backup X1  [########------------]  38.2%  1910/5000 pages  running");
  EXPECT_EQ(FormatProgressLine(b), "backup X1 running: 38.2%, 1910/5000 pages");
  b = View(R"({"id":"X1","state":"running"})");
  EXPECT_EQ(FormatProgressBar(b), "backup X1  running");
  EXPECT_EQ(FormatProgressLine(b), "backup X1 running");
  // A percent out of range is clamped, not drawn past the bar.
  b = View(R"({"id":"X1","state":"running","progress":{"percent":130}})");
  EXPECT_EQ(FormatProgressBar(b), "backup X1  [####################]  100.0%  running");
}

TEST(BackupCommandFormatTest, FinalLines) {
  EXPECT_EQ(FormatFinalLine(View(kVerified)), kVerifiedLine);
  EXPECT_EQ(FormatFinalLine(View(kFailed)), kFailedLine);
  EXPECT_EQ(FormatFinalLine(View(R"({"id":"X1","state":"failed"})")), "backup X1 failed: the node gave no reason");
  EXPECT_EQ(FormatFinalLine(View(R"({"id":"X1","state":"verified"})")), "backup X1 verified");
  EXPECT_EQ(FormatFinalLine(View(R"({"id":"X1","state":"verified","position":"2/9","bytes_compressed":2048})")),
            "backup X1 verified: position 2/9, 2.0 KiB compressed");
  EXPECT_EQ(FormatFinalLine(View(R"({"id":"X1","state":"verified","started_at":"2026-11-27T04:00:00Z",
                                     "finished_at":"2026-11-27T04:12:05Z"})")),
            "backup X1 verified: took 12 min 05 s");
  // A finish before the start, or a timestamp it cannot read: no duration.
  EXPECT_EQ(FormatFinalLine(View(R"({"id":"X1","state":"verified","bytes_uncompressed":512,
                                     "started_at":"2026-11-27T04:00:01Z","finished_at":"2026-11-27T04:00:00Z"})")),
            "backup X1 verified: 512 B uncompressed");
  EXPECT_EQ(FormatFinalLine(View(R"({"id":"X1","state":"verified","started_at":"yesterday","finished_at":"now"})")),
            "backup X1 verified");
}

// --- What it reads. ----------------------------------------------------------

TEST(BackupCommandParseTest, ReadsEveryFieldAndToleratesUnknownOnesAndWrongOptionalTypes) {
  Result<StartAnswer> a = ParseStartAnswer(Post(kRunning, true));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_TRUE(a->already_running);
  const BackupView& b = a->backup;
  EXPECT_EQ(b.id, kId);
  EXPECT_EQ(b.state, "running");
  EXPECT_EQ(b.position, "1/1234");
  EXPECT_EQ(b.started_at, "2026-11-27T04:31:32.120Z");
  EXPECT_EQ(b.finished_at, std::nullopt);
  EXPECT_EQ(b.age_seconds, 0.8);
  EXPECT_EQ(b.pages_copied, 1200);
  EXPECT_EQ(b.page_count, 5000);
  EXPECT_EQ(b.percent, 24.0);
  EXPECT_EQ(b.pages_per_second, 30000.0);
  EXPECT_EQ(b.bytes_per_second, 122880000.0);
  EXPECT_FALSE(b.finished());

  a = ParseStartAnswer(R"({"backup":{"id":"X1","state":"verifying","position":7,"progress":[1,2],"error":null,
                           "bytes_compressed":"12","new_field":{"a":1}},"already_running":"yes","extra":1})");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_FALSE(a->already_running);
  EXPECT_EQ(a->backup.state, "verifying");
  EXPECT_EQ(a->backup.position, std::nullopt);
  EXPECT_EQ(a->backup.percent, std::nullopt);
  EXPECT_EQ(a->backup.error, std::nullopt);
  EXPECT_EQ(a->backup.bytes_compressed, std::nullopt);

  Result<BackupView> v = ParseBackupAnswer(Get(kVerified));
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE(v->verified());
  EXPECT_EQ(v->bytes_compressed, 1258291);
  EXPECT_EQ(v->bytes_uncompressed, 5662310);
  v = ParseBackupAnswer(Get(kFailed));
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->failed());
  EXPECT_EQ(v->error, "verify: integrity_check: row 12 missing from index archives_by_key");
}

TEST(BackupCommandParseTest, MalformedAnswersAreMessagesNotExceptions) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "an empty body, not JSON"},
      {"<html>oops</html>", "not JSON: \"<html>oops</html>\""},
      {"{\"backup\":", "not JSON: \"{\"backup\":\""},
      {"line1\nline2", "not JSON: \"line1 line2\""},
      {"[1,2]", "not a JSON object: \"[1,2]\""},
      {"{}", "no \"backup\" object"},
      {R"({"backup":"20261127T043132Z"})", "no \"backup\" object"},
      {R"({"backup":{"state":"running"}})", "backup has no string \"id\""},
      {R"({"backup":{"id":5,"state":"running"}})", "backup has no string \"id\""},
      {R"({"backup":{"id":"X1"}})", "backup X1 has no string \"state\""},
      {R"({"backup":{"id":"X1","state":""}})", "backup X1 has no string \"state\""},
      {R"({"backup":{"id":"X1","state":["running"]}})", "backup X1 has no string \"state\""},
      {R"({"backup":{"id":"../etc","state":"running"}})",
       "backup id \"../etc\" is not a plain name (letters, digits, '.', '_', '-')"},
      {R"({"backup":{"id":"","state":"running"}})",
       "backup id \"\" is not a plain name (letters, digits, '.', '_', '-')"},
  };
  for (const auto& [body, message] : cases) {
    SCOPED_TRACE(body);
    Result<StartAnswer> a = ParseStartAnswer(body);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.status().message(), message);
    Result<BackupView> v = ParseBackupAnswer(body);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().message(), message);
  }
  const std::string long_body(300, 'x');
  EXPECT_EQ(ParseBackupAnswer(long_body).status().message(), "not JSON: \"" + std::string(200, 'x') + "...\"");
}

TEST(BackupCommandParseTest, ErrorAnswers) {
  EXPECT_EQ(DescribeErrorAnswer(503, R"({"error":{"code":"shutting_down","message":"the node is shutting down"}})"),
            "HTTP 503 shutting_down: the node is shutting down");
  EXPECT_EQ(DescribeErrorAnswer(503, R"({"error":{"code":"backup_unavailable"}})"), "HTTP 503 backup_unavailable");
  EXPECT_EQ(DescribeErrorAnswer(500, R"({"error":{"message":"boom"}})"), "HTTP 500: boom");
  EXPECT_EQ(DescribeErrorAnswer(502, "<html>Bad Gateway</html>"),
            "HTTP 502 (not an error JSON: \"<html>Bad Gateway</html>\")");
  EXPECT_EQ(DescribeErrorAnswer(500, R"({"error":"boom"})"), "HTTP 500 (not an error JSON: \"{\"error\":\"boom\"}\")");
  EXPECT_EQ(DescribeErrorAnswer(404, ""), "HTTP 404 (empty body)");
}

// --- The loop, on a scripted API and a manual clock. ------------------------

class ScriptedApi final : public BackupApi {
 public:
  ScriptedApi(Result<HttpAnswer> start, std::vector<Result<HttpAnswer>> fetches)
      : start_(std::move(start)), fetches_(std::move(fetches)) {}

  Result<HttpAnswer> Start(std::chrono::milliseconds) override {
    ++starts;
    return start_;
  }
  // Answers in order; the last one again and again.
  Result<HttpAnswer> Fetch(const std::string& id, std::chrono::milliseconds budget) override {
    fetched_ids.push_back(id);
    budgets.push_back(budget);
    const size_t i = std::min(fetched_ids.size() - 1, fetches_.size() - 1);
    return fetches_[i];
  }

  int starts = 0;
  std::vector<std::string> fetched_ids;
  std::vector<std::chrono::milliseconds> budgets;

 private:
  Result<HttpAnswer> start_;
  std::vector<Result<HttpAnswer>> fetches_;
};

struct Watched {
  int code;
  std::string out;
  std::string err;
  int64_t slept_ms;
};

class BackupCommandWatchTest : public ::testing::Test {
 protected:
  Watched Watch(const BackupArgs& args, ScriptedApi& api, bool tty = false, int columns = 0) {
    const int64_t t0 = clock_.NowUnixMillis();
    BackupUi ui;
    ui.tty = tty;
    ui.columns = columns;
    ui.clock = &clock_;
    ui.sleep = [this](std::chrono::milliseconds ms) { clock_.AdvanceMillis(ms.count()); };
    NodeUrl node{"127.0.0.1", 7070, "http://127.0.0.1:7070"};
    std::ostringstream out;
    std::ostringstream err;
    const int code = WatchBackup(args, node, api, ui, out, err);
    return {code, out.str(), err.str(), clock_.NowUnixMillis() - t0};
  }

  static BackupArgs Args(double timeout = 3600, int poll_ms = 1000, bool quiet = false) {
    BackupArgs a;
    a.node = "http://127.0.0.1:7070";
    a.timeout_seconds = timeout;
    a.poll_ms = poll_ms;
    a.quiet = quiet;
    return a;
  }

  static HttpAnswer Ok(int status, const std::string& body) { return HttpAnswer{status, body}; }

  ManualClock clock_;
};

TEST_F(BackupCommandWatchTest, PlainLinesComeAtMostEveryFiveSeconds) {
  // Polled each second: running for 12 s, then verifying, then verified.
  std::vector<Result<HttpAnswer>> fetches(12, Ok(200, Get(kRunning)));
  fetches.push_back(Ok(200, Get(kVerifying)));
  fetches.push_back(Ok(200, Get(kVerified)));
  ScriptedApi api(Ok(202, Post(kRunning)), fetches);
  Watched w = Watch(Args(), api);
  EXPECT_EQ(w.code, 0);
  EXPECT_EQ(w.out, kVerifiedLine + "\n");
  // Seen at 0 s, 1 s, ... 12 s (running), 13 s (verifying): lines at 0, 5 and 10 s only.
  EXPECT_EQ(w.err, kRunningLine + "\n" + kRunningLine + "\n" + kRunningLine + "\n");
  EXPECT_EQ(api.fetched_ids.size(), 14u);
  EXPECT_EQ(api.fetched_ids.front(), kId);
  EXPECT_EQ(w.slept_ms, 14'000);
  EXPECT_EQ(api.budgets.front(), std::chrono::milliseconds(30'000));
}

TEST_F(BackupCommandWatchTest, TerminalBarIsRedrawnInPlaceAndWipedBeforeTheFinalLine) {
  ScriptedApi api(Ok(202, Post(R"({"id":"X1","state":"running"})")),
                  {Ok(200, Get(R"({"id":"X1","state":"running","progress":{"percent":50}})")),
                   Ok(200, Get(R"({"id":"X1","state":"verified","position":"1/2"})"))});
  Watched w = Watch(Args(), api, /*tty=*/true);
  EXPECT_EQ(w.code, 0);
  EXPECT_EQ(w.out, "backup X1 verified: position 1/2\n");
  const std::string first = "backup X1  running";                                        // 18 columns
  const std::string second = "backup X1  [##########----------]  50.0%  running";        // 49 columns
  EXPECT_EQ(w.err, "\r" + first + "\r" + second + "\r" + std::string(second.size(), ' ') + "\r");

  // A shorter line after a longer one is padded over; a narrow terminal cuts the bar.
  ScriptedApi shrink(Ok(202, Post(R"({"id":"X1","state":"running","progress":{"percent":50}})")),
                     {Ok(200, Get(R"({"id":"X1","state":"running"})")),
                      Ok(200, Get(R"({"id":"X1","state":"failed","error":"disk full"})"))});
  w = Watch(Args(), shrink, /*tty=*/true, /*columns=*/30);
  EXPECT_EQ(w.code, 1);
  EXPECT_EQ(w.out, "");
  EXPECT_EQ(w.err, "\r" + second.substr(0, 29) + "\r" + first + std::string(11, ' ') + "\r" + std::string(29, ' ') +
                       "\r" + "backup X1 failed: disk full\n");
}

TEST_F(BackupCommandWatchTest, QuietPrintsOnlyTheFinalLineEvenWhenJoining) {
  ScriptedApi api(Ok(202, Post(kRunning, /*already_running=*/true)),
                  {Ok(200, Get(kRunning)), Ok(200, Get(kVerifying)), Ok(200, Get(kVerified))});
  Watched w = Watch(Args(3600, 250, /*quiet=*/true), api, /*tty=*/true);
  EXPECT_EQ(w.code, 0);
  EXPECT_EQ(w.out, kVerifiedLine + "\n");
  EXPECT_EQ(w.err, "");

  ScriptedApi failing(Ok(202, Post(kRunning)), {Ok(200, Get(kFailed))});
  w = Watch(Args(3600, 250, /*quiet=*/true), failing);
  EXPECT_EQ(w.code, 1);
  EXPECT_EQ(w.out, "");
  EXPECT_EQ(w.err, kFailedLine + "\n");
}

TEST_F(BackupCommandWatchTest, ABackupAlreadyFinishedInThePostAnswerNeedsNoPoll) {
  ScriptedApi api(Ok(202, Post(kVerified, /*already_running=*/true)), {Ok(500, "")});
  Watched w = Watch(Args(), api);
  EXPECT_EQ(w.code, 0);
  EXPECT_EQ(w.out, std::string("joined the backup already running: ") + kId + "\n" + kVerifiedLine + "\n");
  EXPECT_EQ(w.err, "");
  EXPECT_TRUE(api.fetched_ids.empty());
}

TEST_F(BackupCommandWatchTest, TimesOutOnTheClockAndTheLastPollIsAtTheDeadline) {
  ScriptedApi api(Ok(202, Post(kRunning)), {Ok(200, Get(kVerifying))});
  Watched w = Watch(Args(/*timeout=*/2.1, /*poll_ms=*/1000), api);
  EXPECT_EQ(w.code, 2);
  EXPECT_EQ(w.out, "");
  EXPECT_EQ(w.err, kRunningLine + "\n" +
                       "timed out after 2.1 s waiting for backup 20261127T043132Z (state verifying); "
                       "the backup goes on in the node\n");
  // Polls at 1 s, 2 s and 2.1 s (the last sleep is cut to the deadline).
  EXPECT_EQ(api.fetched_ids.size(), 3u);
  EXPECT_EQ(w.slept_ms, 2100);
  // Each request may use what is left, but at least 1 s.
  EXPECT_EQ(api.budgets, (std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(1100),
                                                                  std::chrono::milliseconds(1000),
                                                                  std::chrono::milliseconds(1000)}));
}

TEST_F(BackupCommandWatchTest, ATransportFaultWhilePollingSaysTheBackupMayGoOn) {
  ScriptedApi api(Ok(202, Post(kRunning)),
                  {Ok(200, Get(kRunning)), Status::Unavailable("cannot reach http://127.0.0.1:7070: connection refused")});
  Watched w = Watch(Args(3600, 1000, /*quiet=*/true), api);
  EXPECT_EQ(w.code, 2);
  EXPECT_EQ(w.err,
            "cannot reach http://127.0.0.1:7070: connection refused (while waiting for backup 20261127T043132Z, "
            "which may go on in the node)\n");
}

TEST_F(BackupCommandWatchTest, AnAnswerAboutAnotherBackupOrAnHttpErrorWhilePollingExits2) {
  ScriptedApi other(Ok(202, Post(kRunning)), {Ok(200, Get(R"({"id":"X2","state":"verified"})"))});
  Watched w = Watch(Args(3600, 1000, /*quiet=*/true), other);
  EXPECT_EQ(w.code, 2);
  EXPECT_EQ(w.err,
            "malformed answer to GET http://127.0.0.1:7070/v1/admin/backups/20261127T043132Z (HTTP 200): "
            "it describes backup X2, not 20261127T043132Z\n");

  ScriptedApi broken(Ok(202, Post(kRunning)),
                     {Ok(500, R"({"error":{"code":"internal","message":"manifest: disk I/O error"}})")});
  w = Watch(Args(3600, 1000, /*quiet=*/true), broken);
  EXPECT_EQ(w.code, 2);
  EXPECT_EQ(w.err,
            "GET http://127.0.0.1:7070/v1/admin/backups/20261127T043132Z: HTTP 500 internal: "
            "manifest: disk I/O error\n");
}

TEST_F(BackupCommandWatchTest, RejectsATimeoutOrPollThatCannotWork) {
  ScriptedApi api(Ok(202, Post(kRunning)), {Ok(200, Get(kVerified))});
  Watched w = Watch(Args(/*timeout=*/0), api);
  EXPECT_EQ(w.code, 2);
  EXPECT_EQ(w.err, "--timeout must be a number of seconds above 0, not 0\n");
  w = Watch(Args(/*timeout=*/-1.5), api);
  EXPECT_EQ(w.code, 2);
  EXPECT_EQ(w.err, "--timeout must be a number of seconds above 0, not -1.5\n");
  w = Watch(Args(3600, /*poll_ms=*/0), api);
  EXPECT_EQ(w.code, 2);
  EXPECT_EQ(w.err, "--poll-ms must be at least 1, not 0\n");
  EXPECT_EQ(api.starts, 0);
}

TEST(BackupCommandCliTest, ParsesTheOptionsWithTheirDefaults) {
  CLI::App app;
  BackupArgs args;
  CLI::App* backup = AddBackupCommand(app, &args);
  app.parse("backup --node http://127.0.0.1:7070", /*program_name_included=*/false);
  EXPECT_TRUE(backup->parsed());
  EXPECT_EQ(args.node, "http://127.0.0.1:7070");
  EXPECT_EQ(args.timeout_seconds, 3600);
  EXPECT_EQ(args.poll_ms, 250);
  EXPECT_FALSE(args.quiet);

  CLI::App app2;
  BackupArgs args2;
  AddBackupCommand(app2, &args2);
  app2.parse("backup --node http://127.0.0.1:1 --timeout 90.5 --poll-ms 1000 --quiet", /*program_name_included=*/false);
  EXPECT_EQ(args2.timeout_seconds, 90.5);
  EXPECT_EQ(args2.poll_ms, 1000);
  EXPECT_TRUE(args2.quiet);

  CLI::App app3;
  BackupArgs args3;
  AddBackupCommand(app3, &args3);
  app3.parse("backup --node http://127.0.0.1:1 --timeout 0", false);  // the command says what is wrong, exit 2
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunBackup(args3, out, err), 2);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str(), "--timeout must be a number of seconds above 0, not 0\n");
}

// --- The whole command against a fake node on 127.0.0.1. ---------------------

class FakeNode {
 public:
  FakeNode() {
    server_.Post("/v1/admin/backups", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      ++posts_;
      post_body_ = req.body;
      res.status = post_.status;
      res.set_content(post_.body, "application/json");
    });
    server_.Get("/v1/admin/backups/([^/]+)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      gets_.push_back(req.matches[1]);
      HttpAnswer a = gets_script_.empty() ? HttpAnswer{500, "{}"} : gets_script_.front();
      if (gets_script_.size() > 1) gets_script_.pop_front();
      res.status = a.status;
      res.set_content(a.body, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeNode() {
    server_.stop();
    thread_.join();
  }
  FakeNode(const FakeNode&) = delete;
  FakeNode& operator=(const FakeNode&) = delete;

  // The answer to POST, and the answers to the GETs in order (the last repeats).
  void Script(HttpAnswer post, std::vector<HttpAnswer> gets) {
    std::lock_guard<std::mutex> lock(mu_);
    post_ = std::move(post);
    gets_script_.assign(gets.begin(), gets.end());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int posts() {
    std::lock_guard<std::mutex> lock(mu_);
    return posts_;
  }
  std::vector<std::string> gets() {
    std::lock_guard<std::mutex> lock(mu_);
    return gets_;
  }
  std::string post_body() {
    std::lock_guard<std::mutex> lock(mu_);
    return post_body_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  HttpAnswer post_{500, "{}"};
  std::deque<HttpAnswer> gets_script_;
  int posts_ = 0;
  std::string post_body_ = "(none)";
  std::vector<std::string> gets_;
};

struct Ran {
  int code;
  std::string out;
  std::string err;
};

Ran RunCommand(const std::string& node, double timeout = 3600, int poll_ms = 10, bool quiet = false) {
  BackupArgs args;
  args.node = node;
  args.timeout_seconds = timeout;
  args.poll_ms = poll_ms;
  args.quiet = quiet;
  std::ostringstream out;
  std::ostringstream err;
  const int code = RunBackup(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(BackupCommandHttpTest, VerifiedAfterRunningAndVerifyingPollsExits0) {
  FakeNode node;
  node.Script({202, Post(kRunning)}, {{200, Get(kRunning)},
                                      {200, Get(kRunning)},
                                      {200, Get(kVerifying)},
                                      {200, Get(kVerifying)},
                                      {200, Get(kVerified)}});
  Ran r = RunCommand(node.url() + "/");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, kVerifiedLine + "\n");
  EXPECT_EQ(r.err, kRunningLine + "\n");  // not a terminal: one plain line, the next would come after 5 s
  EXPECT_EQ(node.posts(), 1);
  EXPECT_EQ(node.post_body(), "");
  EXPECT_EQ(node.gets(), std::vector<std::string>(5, kId));
}

TEST(BackupCommandHttpTest, FailedBackupExits1WithTheNodesError) {
  FakeNode node;
  node.Script({202, Post(kRunning)}, {{200, Get(kRunning)}, {200, Get(kFailed)}});
  Ran r = RunCommand(node.url());
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, kRunningLine + "\n" + kFailedLine + "\n");
}

TEST(BackupCommandHttpTest, JoinsTheBackupAlreadyRunning) {
  FakeNode node;
  node.Script({202, Post(kVerifying, /*already_running=*/true)}, {{200, Get(kVerifying)}, {200, Get(kVerified)}});
  Ran r = RunCommand(node.url());
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, std::string("joined the backup already running: ") + kId + "\n" + kVerifiedLine + "\n");
  EXPECT_EQ(r.err, "backup 20261127T043132Z verifying: 100.0%, 5000/5000 pages, 117.2 MiB/s\n");
  EXPECT_EQ(node.gets().size(), 2u);
}

TEST(BackupCommandHttpTest, ServiceUnavailableOnPostExits2WithStatusCodeAndMessage) {
  FakeNode node;
  node.Script({503, R"({"error":{"code":"shutting_down","message":"the node is shutting down"}})"}, {});
  Ran r = RunCommand(node.url(), 3600, 10, /*quiet=*/true);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "POST " + node.url() + "/v1/admin/backups: HTTP 503 shutting_down: the node is shutting down\n");
  EXPECT_TRUE(node.gets().empty());

  node.Script({503, R"({"error":{"code":"backup_unavailable","message":"no backup folder configured"}})"}, {});
  r = RunCommand(node.url());
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "POST " + node.url() + "/v1/admin/backups: HTTP 503 backup_unavailable: no backup folder configured\n");
}

TEST(BackupCommandHttpTest, MalformedJsonExits2AndSaysSo) {
  FakeNode node;
  node.Script({202, "<html>oops</html>"}, {});
  Ran r = RunCommand(node.url());
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "malformed answer to POST " + node.url() + "/v1/admin/backups (HTTP 202): not JSON: \"<html>oops</html>\"\n");
  EXPECT_TRUE(node.gets().empty());

  node.Script({202, Post(kRunning)}, {{200, R"({"backup":{"id":"20261127T043132Z","state":null}})"}});
  r = RunCommand(node.url(), 3600, 10, /*quiet=*/true);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "malformed answer to GET " + node.url() +
                       "/v1/admin/backups/20261127T043132Z (HTTP 200): backup 20261127T043132Z has no string "
                       "\"state\"\n");

  node.Script({202, Post(kRunning)}, {{200, R"({"backup":{"id":"20261127T043132Z","state":"runn)"}});
  r = RunCommand(node.url(), 3600, 10, /*quiet=*/true);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "malformed answer to GET " + node.url() +
                       "/v1/admin/backups/20261127T043132Z (HTTP 200): not JSON: "
                       "\"{\"backup\":{\"id\":\"20261127T043132Z\",\"state\":\"runn\"\n");
}

TEST(BackupCommandHttpTest, UnknownIdWhilePollingExits2) {
  FakeNode node;
  node.Script({202, Post(kRunning)},
              {{200, Get(kRunning)},
               {404, R"({"error":{"code":"not_found","message":"no backup 20261127T043132Z"}})"}});
  Ran r = RunCommand(node.url());
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, kRunningLine + "\n" + "GET " + node.url() +
                       "/v1/admin/backups/20261127T043132Z: HTTP 404 not_found: no backup 20261127T043132Z; "
                       "the node does not know backup 20261127T043132Z (did it restart?)\n");
  EXPECT_EQ(node.gets().size(), 2u);
}

TEST(BackupCommandHttpTest, TimesOutAndSaysTheBackupGoesOn) {
  FakeNode node;
  node.Script({202, Post(kRunning)}, {{200, Get(kRunning)}});
  const auto t0 = std::chrono::steady_clock::now();
  Ran r = RunCommand(node.url(), /*timeout=*/0.3, /*poll_ms=*/20);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, kRunningLine + "\n" +
                       "timed out after 0.3 s waiting for backup 20261127T043132Z (state running); "
                       "the backup goes on in the node\n");
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_GE(node.gets().size(), 3u);
}

TEST(BackupCommandHttpTest, NodeNotListeningIsConnectionRefusedExit2) {
  // A socket bound to a port but not listening: connecting to it is refused,
  // and no other test can take the port meanwhile.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  Ran r = RunCommand(url);
  ::close(fd);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "cannot reach " + url + ": connection refused\n");
}

TEST(BackupCommandHttpTest, BadUrlExits2BeforeAnyRequest) {
  FakeNode node;
  node.Script({202, Post(kVerified)}, {});
  Ran r = RunCommand(node.url() + "/v1/admin/backups");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "--node \"" + node.url() + "/v1/admin/backups\": must have no path; use http://HOST:PORT\n");
  r = RunCommand("");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "--node is required: the node's http://HOST:PORT, e.g. http://127.0.0.1:7070\n");
  EXPECT_EQ(node.posts(), 0);
}

}  // namespace
}  // namespace walship
