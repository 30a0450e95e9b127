// The shipper's HTTP link against a fake standby on 127.0.0.1: whatever the
// peer answers (wrong role, wrong types, not JSON, an error body, nothing),
// the link returns a Status naming it and never throws.
#include "http/standby_link.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

namespace walship::http {
namespace {

class FakeStandby {
 public:
  FakeStandby() {
    server_.Get("/v1/replication/position", [this](const httplib::Request&, httplib::Response& res) {
      res.status = status_;
      res.set_content(body_, "application/json");
    });
    server_.Put("/v1/replication/segments/([0-9]+)", [this](const httplib::Request&, httplib::Response& res) {
      res.status = status_;
      res.set_content(body_, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeStandby() {
    server_.stop();
    thread_.join();
  }
  void Answer(int status, std::string body) {
    status_ = status;
    body_ = std::move(body);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> status_{200};
  std::string body_;  // set before each request, read by the server thread after
};

TEST(HttpStandbyLinkTest, AnswersThatAreNotAStandbysPositionAreErrorsNotCrashes) {
  FakeStandby fake;
  HttpStandbyLink link(fake.url(), 2000, [] { return Position{1, 5}; });
  struct Case {
    int status;
    std::string body;
    std::string reason;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {200, R"({"role":1})", "not_standby", "is not a standby (role 1)"},
      {200, R"({"role":null})", "not_standby", "is not a standby (role null)"},
      {200, R"({"txid":3})", "not_standby", "is not a standby (role none)"},
      {200, R"({"role":"primary","txid":3})", "not_standby", "is not a standby (role \"primary\")"},
      {200, R"({"role":"standby","has_database":"yes","sequence":1,"timeline":1,"txid":1})", "",
       "the answer lacks a field"},
      {200, "not json", "", "the answer is not JSON"},
      {409, R"({"error":{"code":"out_of_order","message":"expected segment 4, got 9"}})", "out_of_order",
       "HTTP 409 out_of_order: expected segment 4, got 9"},
      {500, "<html>oops</html>", "http_500", "HTTP 500 http_500: <html>oops</html>"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    fake.Answer(c.status, c.body);
    auto p = link.FetchPosition();
    ASSERT_FALSE(p.ok());
    if (!c.reason.empty()) {
      EXPECT_EQ(p.status().reason(), c.reason);
    }
    EXPECT_NE(p.status().message().find(c.message_part), std::string::npos) << p.status().message();
  }
  fake.Answer(409, R"({"error":{"code":"out_of_order","message":"expected segment 4, got 9"}})");
  auto pushed = link.PushSegment(9, "bytes");
  ASSERT_FALSE(pushed.ok());
  EXPECT_EQ(pushed.status().code(), Code::kConflict);
  EXPECT_EQ(pushed.status().reason(), "out_of_order");
  fake.Answer(200, R"({"role":"standby","has_database":true,"sequence":4,"timeline":1,"txid":40})");
  auto good = link.FetchPosition();
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->sequence, 4u);
  EXPECT_EQ(good->txid, 40);
  EXPECT_EQ(good->max_segment_bytes, 0) << "not said: no limit known";
  // The standby's push limit, when it says it; nonsense counts as not said.
  for (const auto& [limit, expected] : std::vector<std::pair<std::string, int64_t>>{
           {"1048576", 1048576}, {"-5", 0}, {"\"big\"", 0}, {"1.5", 0}, {"18446744073709551615", 0}}) {
    SCOPED_TRACE(limit);
    fake.Answer(200, R"({"role":"standby","has_database":true,"sequence":4,"timeline":1,"txid":40,"max_segment_bytes":)" +
                         limit + "}");
    auto said = link.FetchPosition();
    ASSERT_TRUE(said.ok()) << said.status().ToString();
    EXPECT_EQ(said->max_segment_bytes, expected);
  }
}

TEST(HttpStandbyLinkTest, NobodyListeningIsUnreachable) {
  int port = 0;
  {
    httplib::Server probe;  // a port that was free a moment ago
    port = probe.bind_to_any_port("127.0.0.1");
  }
  HttpStandbyLink link("http://127.0.0.1:" + std::to_string(port), 500, [] { return Position{1, 0}; });
  auto p = link.FetchPosition();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().reason(), "standby_unreachable");
  EXPECT_TRUE(p.status().message().starts_with("GET http://127.0.0.1:" + std::to_string(port) +
                                               "/v1/replication/position: "))
      << p.status().message();
}

}  // namespace
}  // namespace walship::http
