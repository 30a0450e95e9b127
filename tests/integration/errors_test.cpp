// Every error the v1 API gives, over real HTTP against the real binary:
// the status, the exact JSON body {"error":{"code","message"}} and, where it
// matters, the headers (Allow on 405, Connection: close on 413 and 503).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/support/node_process.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

using nlohmann::json;

// Small limits keep the 413 tests fast; the key limit stays at its 1 KiB default.
constexpr const char* kSmallLimits = R"toml(
[limits]
max_body_bytes = 4096
max_metadata_bytes = 512
max_batch_ops = 3
)toml";

json ErrorJson(const std::string& code, const std::string& message) {
  return json{{"error", {{"code", code}, {"message", message}}}};
}

// Checks the status and that the body is exactly {"error":{"code","message"}}.
void ExpectError(const httplib::Result& r, int status, const std::string& code, const std::string& message) {
  ASSERT_TRUE(r) << "request failed: " << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  json body = json::parse(r->body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << "not JSON: " << r->body;
  EXPECT_EQ(body, ErrorJson(code, message));
}

// A raw HTTP/1.1 exchange on its own TCP connection to 127.0.0.1, for
// requests httplib's client will not send (a Content-Length with no body,
// chunked uploads, Expect: 100-continue, a request sent in two halves).
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  void SetReadTimeoutMs(int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  bool Send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  struct Response {
    int status = 0;
    std::string head;  // the status line and headers, as received
    std::string body;
  };

  // Reads one response: the head, then Content-Length bytes of body.
  // Returns false on timeout or a connection closed before a full response.
  bool ReadResponse(Response* out) {
    std::string buf = pending_;
    pending_.clear();
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadSome(&buf)) return false;
    }
    out->head = buf.substr(0, head_end + 2);
    std::string rest = buf.substr(head_end + 4);
    if (out->head.rfind("HTTP/1.1 ", 0) != 0) return false;
    out->status = std::stoi(out->head.substr(9, 3));
    if (out->status < 200) {  // 100 Continue: no body
      pending_ = rest;
      return true;
    }
    std::string header = Header(*out, "Content-Length");
    if (header.empty()) {
      // Unframed: the body runs until the server closes (or the read times out).
      while (ReadSome(&rest)) {
      }
      out->body = rest;
      return true;
    }
    const size_t length = std::stoul(header);
    while (rest.size() < length) {
      if (!ReadSome(&rest)) return false;
    }
    out->body = rest.substr(0, length);
    pending_ = rest.substr(length);
    return true;
  }

  static std::string Header(const Response& r, const std::string& name) {
    std::istringstream lines(r.head);
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string n = line.substr(0, colon);
      if (n.size() != name.size()) continue;
      bool same = true;
      for (size_t i = 0; i < n.size(); ++i) same = same && std::tolower(n[i]) == std::tolower(name[i]);
      if (!same) continue;
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      return v;
    }
    return "";
  }

 private:
  bool ReadSome(std::string* buf) {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf->append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

void ExpectRawError(const RawConnection::Response& r, int status, const std::string& code,
                    const std::string& message) {
  EXPECT_EQ(r.status, status) << r.head << r.body;
  EXPECT_EQ(RawConnection::Header(r, "Content-Type"), "application/json");
  json body = json::parse(r.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << "not JSON: " << r.body;
  EXPECT_EQ(body, ErrorJson(code, message));
}

class ErrorsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    node_ = NodeProcess::Start({.data_dir = dir_.Sub("data"), .config_toml = kSmallLimits}, &error);
    ASSERT_NE(node_, nullptr) << error;
    client_ = node_->Client();
    // Paths below carry their own percent-encoding; send them as written.
    client_->set_url_encode(false);
    // One connection per request: what an error does to a kept-alive
    // connection is tested on its own below (UnreadBody* tests).
    client_->set_keep_alive(false);
  }

  httplib::Result PutJson(const std::string& path, const std::string& body, const httplib::Headers& h = {}) {
    return client_->Put(path.c_str(), h, body, "application/json");
  }

  TempDir dir_;
  std::unique_ptr<NodeProcess> node_;
  std::unique_ptr<httplib::Client> client_;
};

// ---- 400 -------------------------------------------------------------------

TEST_F(ErrorsApiTest, BadJsonIs400) {
  ExpectError(PutJson("/v1/archives/k", "{\"content\": "), 400, "invalid_argument", "body is not valid JSON");
  ExpectError(PutJson("/v1/archives/k", "[1,2]"), 400, "invalid_argument", "body must be a JSON object");
  ExpectError(PutJson("/v1/archives/k", "{\"metadata\":{}}"), 400, "invalid_argument",
              "\"content\" is required and must be a string");
  ExpectError(PutJson("/v1/archives/k", "{\"content\":7}"), 400, "invalid_argument",
              "\"content\" is required and must be a string");
  ExpectError(PutJson("/v1/archives/k", R"({"content":"x","metadata":[1]})"), 400, "invalid_argument",
              "metadata: must be a JSON object");
  ExpectError(client_->Post("/v1/batch", "{\"ops\": [", "application/json"), 400, "invalid_argument",
              "batch: body is not valid JSON");
  ExpectError(client_->Post("/v1/batch", "{}", "application/json"), 400, "invalid_argument",
              "batch: \"ops\" is required and must be an array");
  ExpectError(client_->Post("/v1/batch", R"({"ops":[]})", "application/json"), 400, "invalid_argument",
              "batch: \"ops\" is empty");
  ExpectError(client_->Post("/v1/batch", R"({"ops":[{"op":"upsert","key":"a"}]})", "application/json"), 400,
              "invalid_argument", "batch: ops[0]: \"op\" must be \"put\" or \"delete\", got \"upsert\"");
  // Nothing was written by any of these.
  EXPECT_EQ(client_->Get("/v1/archives/k")->status, 404);
}

TEST_F(ErrorsApiTest, TextBodyThatIsNotUtf8Is400) {
  ExpectError(client_->Put("/v1/archives/k", std::string("ab\xff\xfe", 4), "text/plain"), 400, "invalid_argument",
              "text/plain body is not valid UTF-8");
}

TEST_F(ErrorsApiTest, KeyWithEmptySegmentIs400) {
  const std::string msg = "key has an empty segment (a leading, trailing or doubled '/')";
  for (const std::string path : {"/v1/archives/a//b", "/v1/archives/a/", "/v1/archives//a", "/v1/archives/a%2F%2Fb"}) {
    SCOPED_TRACE(path);
    ExpectError(PutJson(path, R"({"content":"x"})"), 400, "invalid_argument", msg);
    ExpectError(client_->Get(path.c_str()), 400, "invalid_argument", msg);
    ExpectError(client_->Delete(path.c_str()), 400, "invalid_argument", msg);
  }
  ExpectError(client_->Post("/v1/batch", R"({"ops":[{"op":"put","key":"ok","content":"1"},
                                                 {"op":"delete","key":"x//y"}]})",
                            "application/json"),
              400, "invalid_argument", "batch: ops[1]: " + msg);
  EXPECT_EQ(client_->Get("/v1/archives/ok")->status, 404);
}

TEST_F(ErrorsApiTest, KeyWithControlCharacterIs400) {
  ExpectError(PutJson("/v1/archives/a%01b", R"({"content":"x"})"), 400, "invalid_argument",
              "key has a control character at byte 1");
  ExpectError(client_->Get("/v1/archives/a%7F"), 400, "invalid_argument", "key has a control character at byte 1");
  // U+0080..U+009F are C1 control characters.
  ExpectError(client_->Get("/v1/archives/xy%C2%85"), 400, "invalid_argument",
              "key has a control character at byte 2");
  ExpectError(client_->Post("/v1/batch", "{\"ops\":[{\"op\":\"put\",\"key\":\"a\\u0000b\",\"content\":\"x\"}]}",
                            "application/json"),
              400, "invalid_argument", "batch: ops[0]: key has a control character at byte 1");
}

// Line breaks are control characters like any other: the key must be
// refused as such, not fall through to "no route" (a 404).
TEST_F(ErrorsApiTest, KeyWithLineBreakIs400) {
  ExpectError(PutJson("/v1/archives/ab%0Ac", R"({"content":"x"})"), 400, "invalid_argument",
              "key has a control character at byte 2");
  ExpectError(client_->Get("/v1/archives/ab%0Dc"), 400, "invalid_argument", "key has a control character at byte 2");
  ExpectError(client_->Delete("/v1/archives/%0A"), 400, "invalid_argument", "key has a control character at byte 0");
}

TEST_F(ErrorsApiTest, KeyThatIsNotUtf8Is400) {
  ExpectError(PutJson("/v1/archives/a%FFb", R"({"content":"x"})"), 400, "invalid_argument",
              "key is not valid UTF-8 (byte 1)");
  // An overlong encoding of '/', a lone continuation byte, a UTF-16 surrogate.
  ExpectError(client_->Get("/v1/archives/ab%C0%AF"), 400, "invalid_argument", "key is not valid UTF-8 (byte 2)");
  ExpectError(client_->Get("/v1/archives/%80"), 400, "invalid_argument", "key is not valid UTF-8 (byte 0)");
  ExpectError(client_->Delete("/v1/archives/x%ED%A0%80"), 400, "invalid_argument",
              "key is not valid UTF-8 (byte 1)");
  // Valid multi-byte UTF-8 is fine.
  auto ok = PutJson("/v1/archives/caf%C3%A9/%E2%9C%93", R"({"content":"x"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201) << ok->body;
  EXPECT_EQ(json::parse(ok->body)["key"], "caf\xC3\xA9/\xE2\x9C\x93");
}

TEST_F(ErrorsApiTest, KeyOverOneKibIs400) {
  const std::string at_limit(1024, 'k');
  auto ok = PutJson("/v1/archives/" + at_limit, R"({"content":"x"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201) << ok->body;
  const std::string over(1025, 'k');
  ExpectError(PutJson("/v1/archives/" + over, R"({"content":"x"})"), 400, "invalid_argument",
              "key is 1025 bytes, over the limit of 1024");
  ExpectError(client_->Get(("/v1/archives/" + over).c_str()), 400, "invalid_argument",
              "key is 1025 bytes, over the limit of 1024");
}

TEST_F(ErrorsApiTest, UnknownFieldIs400) {
  ExpectError(PutJson("/v1/archives/k", R"({"content":"x","colour":"red"})"), 400, "invalid_argument",
              "unknown field \"colour\"");
  ExpectError(client_->Post("/v1/batch", R"({"ops":[{"op":"put","key":"a","content":"1"}],"atomic":true})",
                            "application/json"),
              400, "invalid_argument", "batch: unknown field \"atomic\"");
  ExpectError(client_->Post("/v1/batch", R"({"ops":[{"op":"put","key":"a","content":"1","ttl":3}]})",
                            "application/json"),
              400, "invalid_argument", "batch: ops[0]: unknown field \"ttl\"");
  ExpectError(client_->Post("/v1/batch", R"({"ops":[{"op":"delete","key":"a","content":"1"}]})",
                            "application/json"),
              400, "invalid_argument", "batch: ops[0]: unknown field \"content\" for a delete");
  EXPECT_EQ(client_->Get("/v1/archives/k")->status, 404);
  EXPECT_EQ(client_->Get("/v1/archives/a")->status, 404);
}

TEST_F(ErrorsApiTest, BadLimitIs400) {
  for (const std::string v : {"0", "abc", "1001", "-1", "5x", ""}) {
    SCOPED_TRACE("limit=" + v);
    ExpectError(client_->Get(("/v1/archives?limit=" + v).c_str()), 400, "invalid_argument",
                "limit must be a whole number from 1 to 1000, got \"" + v + "\"");
  }
  for (const std::string v : {"0", "101", "ten"}) {
    SCOPED_TRACE("search limit=" + v);
    ExpectError(client_->Get(("/v1/search?q=x&limit=" + v).c_str()), 400, "invalid_argument",
                "limit must be a whole number from 1 to 100, got \"" + v + "\"");
  }
}

TEST_F(ErrorsApiTest, BadCursorIs400) {
  for (const std::string v : {"zz", "abc", "0G", "6A"}) {  // not hex, odd length, not hex, upper case
    SCOPED_TRACE("cursor=" + v);
    ExpectError(client_->Get(("/v1/archives?cursor=" + v).c_str()), 400, "invalid_argument", "cursor is malformed");
  }
}

TEST_F(ErrorsApiTest, MissingQueryIs400) {
  ExpectError(client_->Get("/v1/search"), 400, "invalid_argument", "query parameter q is required");
  ExpectError(client_->Get("/v1/search?q="), 400, "invalid_argument", "query parameter q is required");
  ExpectError(client_->Get("/v1/search?q=%20%20"), 400, "invalid_argument", "search query has no words");
  ExpectError(client_->Get("/v1/search?q=%FF"), 400, "invalid_argument", "q must be valid UTF-8");
}

TEST_F(ErrorsApiTest, BadPreconditionHeadersAre400) {
  ExpectError(PutJson("/v1/archives/k", R"({"content":"x"})", {{"If-Match", "abc"}}), 400, "invalid_argument",
              "If-Match \"abc\" is not a version (an ETag such as \"3\")");
  ExpectError(PutJson("/v1/archives/k", R"({"content":"x"})", {{"If-Match", "\"0\""}}), 400, "invalid_argument",
              "If-Match \"\"0\"\" is not a version (an ETag such as \"3\")");
  ExpectError(PutJson("/v1/archives/k", R"({"content":"x"})", {{"If-Match", "*"}}), 400, "invalid_argument",
              "If-Match: * is not supported; give the version (the ETag) you expect");
  ExpectError(PutJson("/v1/archives/k", R"({"content":"x"})", {{"If-None-Match", "\"3\""}}), 400,
              "invalid_argument", "If-None-Match \"\"3\"\": only * is supported on writes");
  ExpectError(PutJson("/v1/archives/k", R"({"content":"x"})", {{"If-Match", "1"}, {"If-None-Match", "*"}}), 400,
              "invalid_argument", "If-Match and If-None-Match cannot both be given");
  ExpectError(client_->Delete("/v1/archives/k", {{"If-Match", "x1"}}), 400, "invalid_argument",
              "If-Match \"x1\" is not a version (an ETag such as \"3\")");
  ExpectError(client_->Post("/v1/batch", R"({"ops":[{"op":"put","key":"a","content":"1","if_match":0}]})",
                            "application/json"),
              400, "invalid_argument", "batch: ops[0]: \"if_match\" must be a version number (an integer >= 1) or an ETag");
  ExpectError(client_->Post("/v1/batch", R"({"ops":[{"op":"put","key":"a","content":"1","if_none_match":"1"}]})",
                            "application/json"),
              400, "invalid_argument", "batch: ops[0]: \"if_none_match\" must be \"*\"");
}

// ---- 404 -------------------------------------------------------------------

TEST_F(ErrorsApiTest, MissingArchiveIs404) {
  ExpectError(client_->Get("/v1/archives/no/such/key"), 404, "not_found", "archive no/such/key does not exist");
  ExpectError(client_->Delete("/v1/archives/no/such/key"), 404, "not_found", "archive no/such/key does not exist");
}

TEST_F(ErrorsApiTest, UnknownRouteIs404) {
  ExpectError(client_->Get("/v2/archives/k"), 404, "not_found", "no route for GET /v2/archives/k");
  ExpectError(client_->Get("/v1/archive"), 404, "not_found", "no route for GET /v1/archive");
  ExpectError(client_->Get("/"), 404, "not_found", "no route for GET /");
  ExpectError(client_->Post("/v1/nothing", "{}", "application/json"), 404, "not_found",
              "no route for POST /v1/nothing");
}

// ---- 405 -------------------------------------------------------------------

TEST_F(ErrorsApiTest, WrongMethodOnKnownRouteIs405WithAllow) {
  struct Case {
    std::string method;
    std::string path;
    std::string allow;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/archives/k", "GET, PUT, DELETE"},
      {"PATCH", "/v1/archives/k", "GET, PUT, DELETE"},
      {"PUT", "/v1/archives", "GET"},
      {"DELETE", "/v1/archives", "GET"},
      {"POST", "/v1/search", "GET"},
      {"GET", "/v1/batch", "POST"},
      {"PUT", "/v1/batch", "POST"},
      {"DELETE", "/v1/batch", "POST"},
      {"POST", "/healthz", "GET"},
      {"DELETE", "/readyz", "GET"},
      {"PUT", "/v1/status", "GET"},
      {"POST", "/metrics", "GET"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    httplib::Result r{nullptr, httplib::Error::Unknown};
    if (c.method == "POST") r = client_->Post(c.path.c_str(), "{}", "application/json");
    else if (c.method == "PUT") r = client_->Put(c.path.c_str(), "{}", "application/json");
    else if (c.method == "PATCH") r = client_->Patch(c.path.c_str(), "{}", "application/json");
    else if (c.method == "DELETE") r = client_->Delete(c.path.c_str());
    else r = client_->Get(c.path.c_str());
    ExpectError(r, 405, "method_not_allowed",
                "method " + c.method + " is not allowed on " + c.path + " (allowed: " + c.allow + ")");
    if (r) {
      EXPECT_EQ(r->get_header_value("Allow"), c.allow);
    }
  }
  EXPECT_EQ(client_->Get("/v1/archives/k")->status, 404);  // the POST/PATCH wrote nothing
}

// ---- 412 -------------------------------------------------------------------

TEST_F(ErrorsApiTest, FailedPreconditionIs412) {
  ASSERT_EQ(PutJson("/v1/archives/k", R"({"content":"one"})")->status, 201);
  ExpectError(PutJson("/v1/archives/k", R"({"content":"two"})", {{"If-Match", "\"5\""}}), 412,
              "precondition_failed", "archive k is at version 1, If-Match expected version 5");
  ExpectError(PutJson("/v1/archives/k", R"({"content":"two"})", {{"If-None-Match", "*"}}), 412,
              "precondition_failed", "archive k already exists (version 1) and If-None-Match: * was given");
  ExpectError(PutJson("/v1/archives/new", R"({"content":"two"})", {{"If-Match", "\"1\""}}), 412,
              "precondition_failed", "archive new does not exist, but If-Match expected version 1");
  ExpectError(client_->Delete("/v1/archives/k", {{"If-Match", "\"2\""}}), 412, "precondition_failed",
              "archive k is at version 1, If-Match expected version 2");
  auto get = client_->Get("/v1/archives/k");
  ASSERT_EQ(get->status, 200);
  EXPECT_EQ(json::parse(get->body)["content"], "one");
  EXPECT_EQ(json::parse(get->body)["version"], 1);
  EXPECT_EQ(client_->Get("/v1/archives/new")->status, 404);
}

// ---- 413 -------------------------------------------------------------------

TEST_F(ErrorsApiTest, BodyOverTheLimitIs413) {
  auto r = client_->Put("/v1/archives/big", std::string(5000, 'a'), "text/plain");
  ExpectError(r, 413, "too_large", "request body is 5000 bytes, over the limit of 4096 (limits.max_body_bytes)");
  if (r) {
    EXPECT_EQ(r->get_header_value("Connection"), "close");
  }
  // One byte under the limit (the body is the content) is taken.
  client_ = node_->Client();
  auto ok = client_->Put("/v1/archives/big", std::string(4096, 'a'), "text/plain");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201) << ok->body;
}

TEST_F(ErrorsApiTest, ContentLengthOverTheLimitIs413WithoutReadingTheBody) {
  RawConnection conn(node_->port());
  ASSERT_TRUE(conn.connected());
  // Announce a gigabyte and send none of it: the answer must come at once.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(conn.Send("PUT /v1/archives/huge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                        "Content-Length: 1000000000\r\n\r\n"));
  RawConnection::Response r;
  ASSERT_TRUE(conn.ReadResponse(&r)) << "no response without the body";
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ExpectRawError(r, 413, "too_large", "request body is 1000000000 bytes, over the limit of 4096 (limits.max_body_bytes)");
  EXPECT_EQ(RawConnection::Header(r, "Connection"), "close");
  EXPECT_LT(elapsed, std::chrono::seconds(2));
  EXPECT_EQ(client_->Get("/v1/archives/huge")->status, 404);
}

// curl sends Expect: 100-continue for large uploads. The 413 must be a
// complete HTTP answer like the one without Expect: framed by a
// Content-Length (else the client waits for the connection to close),
// Connection: close (the body is never read) and an X-Request-Id.
TEST_F(ErrorsApiTest, ExpectContinueOverTheLimitIs413) {
  RawConnection conn(node_->port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Send("PUT /v1/archives/huge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                        "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n"));
  conn.SetReadTimeoutMs(1000);  // an unframed answer is read until this runs out
  RawConnection::Response r;
  ASSERT_TRUE(conn.ReadResponse(&r));
  ExpectRawError(r, 413, "too_large", "request body is 100000 bytes, over the limit of 4096 (limits.max_body_bytes)");
  EXPECT_EQ(RawConnection::Header(r, "Content-Length"), std::to_string(r.body.size())) << r.head;
  EXPECT_EQ(RawConnection::Header(r, "Connection"), "close") << r.head;
  EXPECT_FALSE(RawConnection::Header(r, "X-Request-Id").empty()) << r.head;
}

TEST_F(ErrorsApiTest, ExpectContinueUnderTheLimitGets100ThenTheAnswer) {
  RawConnection conn(node_->port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Send("PUT /v1/archives/small HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                        "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  RawConnection::Response cont;
  ASSERT_TRUE(conn.ReadResponse(&cont));
  EXPECT_EQ(cont.status, 100);
  ASSERT_TRUE(conn.Send("hello"));
  RawConnection::Response r;
  ASSERT_TRUE(conn.ReadResponse(&r));
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(client_->Get("/v1/archives/small")->body)["content"], "hello");
}

TEST_F(ErrorsApiTest, ChunkedBodyOverTheLimitIs413) {
  RawConnection conn(node_->port());
  ASSERT_TRUE(conn.connected());
  // No Content-Length to check up front: the limit must hold while reading.
  std::string req = "PUT /v1/archives/chunked HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) req += "800\r\n" + std::string(0x800, 'c') + "\r\n";  // 3 x 2 KiB
  req += "0\r\n\r\n";
  ASSERT_TRUE(conn.Send(req));
  RawConnection::Response r;
  ASSERT_TRUE(conn.ReadResponse(&r));
  ExpectRawError(r, 413, "too_large", "request body is over the limit of 4096 bytes");
  EXPECT_EQ(RawConnection::Header(r, "Connection"), "close");
  EXPECT_EQ(client_->Get("/v1/archives/chunked")->status, 404);

  RawConnection batch_conn(node_->port());
  ASSERT_TRUE(batch_conn.connected());
  std::string ops = R"({"ops":[{"op":"put","key":"chunked","content":")" + std::string(5000, 'c') + R"("}]})";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", ops.size());
  ASSERT_TRUE(batch_conn.Send("POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n" + std::string(size) + "\r\n" + ops +
                              "\r\n0\r\n\r\n"));
  RawConnection::Response b;
  ASSERT_TRUE(batch_conn.ReadResponse(&b));
  ExpectRawError(b, 413, "too_large", "batch: request body is over the limit of 4096 bytes");
  EXPECT_EQ(client_->Get("/v1/archives/chunked")->status, 404);
}

TEST_F(ErrorsApiTest, ChunkedBodyUnderTheLimitIsTaken) {
  RawConnection conn(node_->port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Send("PUT /v1/archives/chunked HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  RawConnection::Response r;
  ASSERT_TRUE(conn.ReadResponse(&r));
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(client_->Get("/v1/archives/chunked")->body)["content"], "hello world");
}

// ---- unread bodies on a kept-alive connection -------------------------------

// A PUT refused before its body is read (here: a bad key) must not leave the
// body on the connection to be parsed as the next request. The head and the
// body go in two writes, as httplib's client and most others send them.
TEST_F(ErrorsApiTest, UnreadBodyOfARefusedPutDoesNotBreakTheNextRequest) {
  RawConnection conn(node_->port());
  ASSERT_TRUE(conn.connected());
  const std::string body = R"({"content":"x"})";
  ASSERT_TRUE(conn.Send("PUT /v1/archives/a/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(conn.Send(body));
  RawConnection::Response first;
  ASSERT_TRUE(conn.ReadResponse(&first));
  ExpectRawError(first, 400, "invalid_argument", "key has an empty segment (a leading, trailing or doubled '/')");
  if (RawConnection::Header(first, "Connection") == "close") return;  // closing is a fine answer too
  ASSERT_TRUE(conn.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  RawConnection::Response second;
  ASSERT_TRUE(conn.ReadResponse(&second));
  EXPECT_EQ(second.status, 200) << second.head << second.body;
  EXPECT_EQ(second.body, R"({"status":"ok"})");
}

// The same, as an attack: the unread body of a refused request is itself a
// request. It must never run (request smuggling), neither after a refusal
// before the body is read nor after a 413 that did not read the body.
TEST_F(ErrorsApiTest, UnreadBodyIsNeverRunAsARequest) {
  ASSERT_EQ(client_->Put("/v1/archives/victim", "precious", "text/plain")->status, 201);
  const std::string smuggled =
      "DELETE /v1/archives/victim HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: smuggled\r\n\r\n";
  struct Case {
    std::string name;
    std::string head;
    std::string body;
  };
  const std::string padded = smuggled + std::string(5000 - smuggled.size(), 'x');  // over the 4096 limit
  const std::vector<Case> cases = {
      {"refused before reading (bad key)",
       "PUT /v1/archives/a//b HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: " +
           std::to_string(smuggled.size()) + "\r\n\r\n",
       smuggled},
      {"refused before reading (bad If-Match)",
       "PUT /v1/archives/k HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-Match: nope\r\nContent-Type: text/plain\r\n"
       "Content-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n",
       smuggled},
      {"413 over the limit",
       "PUT /v1/archives/big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n\r\n",
       padded},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    RawConnection conn(node_->port());
    ASSERT_TRUE(conn.connected());
    ASSERT_TRUE(conn.Send(c.head));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    conn.Send(c.body);  // the server may already have closed; that is fine
    RawConnection::Response r;
    ASSERT_TRUE(conn.ReadResponse(&r));
    EXPECT_GE(r.status, 400);
    RawConnection::Response extra;
    conn.SetReadTimeoutMs(300);  // a smuggled answer would follow at once
    const bool second = conn.ReadResponse(&extra);
    EXPECT_FALSE(second && RawConnection::Header(extra, "X-Request-Id") == "smuggled")
        << "the body ran as a request: " << extra.head << extra.body;
    auto victim = client_->Get("/v1/archives/victim");
    ASSERT_TRUE(victim);
    EXPECT_EQ(victim->status, 200) << "the smuggled DELETE ran";
    if (victim->status != 200) {
      ASSERT_EQ(client_->Put("/v1/archives/victim", "precious", "text/plain")->status, 201);
    }
  }
}

// ---- requests httplib cannot parse ------------------------------------------

TEST_F(ErrorsApiTest, UnparseableRequestIs400) {
  RawConnection conn(node_->port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Send("GARBAGE\r\n\r\n"));
  RawConnection::Response r;
  ASSERT_TRUE(conn.ReadResponse(&r));
  ExpectRawError(r, 400, "bad_request", "the request could not be parsed");
}

TEST_F(ErrorsApiTest, OverlongUriIs414) {
  RawConnection conn(node_->port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Send("GET /v1/archives/" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  RawConnection::Response r;
  ASSERT_TRUE(conn.ReadResponse(&r));
  ExpectRawError(r, 414, "uri_too_long", "request URI is too long");
}

TEST_F(ErrorsApiTest, MetadataOverTheLimitIs413) {
  // {"x":"aaa..."} is 600 + 8 = 608 bytes as stored.
  json body = {{"content", "c"}, {"metadata", {{"x", std::string(600, 'a')}}}};
  ExpectError(PutJson("/v1/archives/m", body.dump()), 413, "too_large",
              "metadata: is 608 bytes, over the limit of 512");
  json batch = {{"ops", {{{"op", "put"}, {"key", "m"}, {"content", "c"}, {"metadata", {{"x", std::string(600, 'a')}}}}}}};
  ExpectError(client_->Post("/v1/batch", batch.dump(), "application/json"), 413, "too_large",
              "batch: ops[0]: metadata: is 608 bytes, over the limit of 512");
  // At the limit exactly: {"x":"..."} with 504 characters is 512 bytes.
  json ok_body = {{"content", "c"}, {"metadata", {{"x", std::string(504, 'a')}}}};
  auto ok = PutJson("/v1/archives/m", ok_body.dump());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201) << ok->body;
}

TEST_F(ErrorsApiTest, BatchOverTheOpLimitIs413) {
  json ops = json::array();
  for (int i = 0; i < 4; ++i) ops.push_back({{"op", "put"}, {"key", "b/" + std::to_string(i)}, {"content", "x"}});
  ExpectError(client_->Post("/v1/batch", json{{"ops", ops}}.dump(), "application/json"), 413, "too_large",
              "batch: batch has 4 operations, over the limit of 3");
  auto list = client_->Get("/v1/archives?prefix=b/");
  ASSERT_EQ(list->status, 200);
  EXPECT_TRUE(json::parse(list->body)["items"].empty());
  ops.erase(ops.end() - 1);
  auto ok = client_->Post("/v1/batch", json{{"ops", ops}}.dump(), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

// ---- 415 -------------------------------------------------------------------

TEST_F(ErrorsApiTest, UnsupportedContentTypeIs415) {
  ExpectError(client_->Put("/v1/archives/k", "<a/>", "application/xml"), 415, "unsupported",
              "Content-Type \"application/xml\" is not supported: send application/json or text/plain");
  ExpectError(client_->Put("/v1/archives/k", "x", "application/octet-stream"), 415, "unsupported",
              "Content-Type \"application/octet-stream\" is not supported: send application/json or text/plain");
  ExpectError(client_->Post("/v1/batch", R"({"ops":[{"op":"put","key":"a","content":"1"}]})", "text/plain"), 415,
              "unsupported", "batch: Content-Type \"text/plain\" is not supported: send application/json");
  EXPECT_EQ(client_->Get("/v1/archives/k")->status, 404);
  EXPECT_EQ(client_->Get("/v1/archives/a")->status, 404);
  {
    // No Content-Type at all (httplib's client would add one, so send it raw).
    RawConnection conn(node_->port());
    ASSERT_TRUE(conn.connected());
    ASSERT_TRUE(conn.Send("PUT /v1/archives/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\nx"));
    RawConnection::Response r;
    ASSERT_TRUE(conn.ReadResponse(&r));
    ExpectRawError(r, 415, "unsupported", "Content-Type \"\" is not supported: send application/json or text/plain");
  }
  EXPECT_EQ(client_->Get("/v1/archives/k")->status, 404);
  // Parameters and case in the media type are fine.
  auto json_ok = client_->Put("/v1/archives/k", R"({"content":"x"})", "Application/JSON; charset=utf-8");
  ASSERT_TRUE(json_ok);
  EXPECT_EQ(json_ok->status, 201) << json_ok->body;
  auto text_ok = client_->Put("/v1/archives/t", "plain words", "text/plain; charset=utf-8");
  ASSERT_TRUE(text_ok);
  EXPECT_EQ(text_ok->status, 201) << text_ok->body;
  EXPECT_EQ(json::parse(client_->Get("/v1/archives/t")->body)["content"], "plain words");
}

// ---- 503 -------------------------------------------------------------------

// A request whose head is still arriving when SIGTERM comes in is answered
// 503 shutting_down once it is complete: the worker thread reading it keeps
// the drain waiting, so the timing is deterministic.
TEST_F(ErrorsApiTest, RequestDuringDrainIs503) {
  RawConnection conn(node_->port());
  ASSERT_TRUE(conn.connected());
  // A first full request proves the connection has been accepted and is
  // being served by a worker thread.
  ASSERT_TRUE(conn.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  RawConnection::Response first;
  ASSERT_TRUE(conn.ReadResponse(&first));
  ASSERT_EQ(first.status, 200);
  // Half of the next request: the worker is now blocked reading its headers.
  ASSERT_TRUE(conn.Send("GET /v1/archives/k HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  ASSERT_EQ(kill(node_->pid(), SIGTERM), 0);
  // Wait for the node to say it is draining.
  bool draining = false;
  for (int i = 0; i < 300 && !draining; ++i) {
    draining = node_->ReadLog().find("draining") != std::string::npos;
    if (!draining) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(draining) << node_->ReadLog();
  ASSERT_TRUE(conn.Send("X-Request-Id: during-drain\r\n\r\n"));
  RawConnection::Response r;
  ASSERT_TRUE(conn.ReadResponse(&r));
  ExpectRawError(r, 503, "shutting_down", "the node is shutting down");
  EXPECT_EQ(RawConnection::Header(r, "Connection"), "close");
  EXPECT_EQ(RawConnection::Header(r, "X-Request-Id"), "during-drain");
  EXPECT_EQ(node_->SignalAndWait(0, 20000), 0) << node_->ReadLog();
}

}  // namespace
}  // namespace walship::testing
