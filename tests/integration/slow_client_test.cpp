// A client that trickles its request body must hold neither a thread past
// server.body_timeout_ms nor the graceful shutdown.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "tests/support/node_process.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {
namespace {

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool SendAll(int fd, const std::string& s) { return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); }

// Sends one byte every `gap` until the answer arrives; returns the answer.
std::string TrickleUntilAnswered(int fd, std::chrono::milliseconds gap) {
  std::string answer;
  for (int i = 0; i < 100; ++i) {
    SendAll(fd, "x");  // may fail once the node closed the connection
    std::this_thread::sleep_for(gap);
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) answer.append(buf, static_cast<size_t>(n));
    if (answer.find("\r\n\r\n") != std::string::npos && answer.find('}') != std::string::npos) break;
  }
  return answer;
}

const char kHead[] =
    "PUT /v1/archives/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n";

TEST(SlowClientTest, TricklingBodyIsCutOffAtTheBodyTimeout) {
  TempDir dir;
  std::string error;
  auto node = NodeProcess::Start(
      {.data_dir = dir.Sub("data"), .config_toml = "[server]\nbody_timeout_ms = 500\nread_timeout_ms = 5000\n"}, &error);
  ASSERT_NE(node, nullptr) << error;
  int fd = Connect(node->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, kHead));
  auto start = std::chrono::steady_clock::now();
  std::string answer = TrickleUntilAnswered(fd, std::chrono::milliseconds(100));
  auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_NE(answer.find("HTTP/1.1 408"), std::string::npos) << answer;
  EXPECT_NE(answer.find(R"({"error":{"code":"deadline_exceeded","message":"request body did not arrive within 500 ms"}})"),
            std::string::npos)
      << answer;
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(node->Client()->Get("/v1/archives/slow")->status, 404);  // nothing was written
}

TEST(SlowClientTest, TricklingBodyDoesNotHoldTheDrain) {
  TempDir dir;
  std::string error;
  auto node = NodeProcess::Start({.data_dir = dir.Sub("data")}, &error);
  ASSERT_NE(node, nullptr) << error;
  int fd = Connect(node->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, kHead));
  ASSERT_TRUE(SendAll(fd, "x"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(kill(node->pid(), SIGTERM), 0);
  auto start = std::chrono::steady_clock::now();
  std::string answer = TrickleUntilAnswered(fd, std::chrono::milliseconds(100));
  ::close(fd);
  EXPECT_NE(answer.find("HTTP/1.1 503"), std::string::npos) << answer;
  EXPECT_NE(answer.find(R"("code":"shutting_down")"), std::string::npos) << answer;
  // The drain finishes well before server.drain_timeout_ms (10 s) and exits 0.
  EXPECT_EQ(node->SignalAndWait(0, 8000), 0) << node->ReadLog();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(6));
}

// While one client holds 30,000 body bytes, another's 30,000 pass the
// 50,000-byte budget: 503 overloaded, nothing written; once the first is
// done, the retry succeeds.
TEST(SlowClientTest, BodiesInFlightAreBounded) {
  TempDir dir;
  std::string error;
  auto node = NodeProcess::Start({.data_dir = dir.Sub("data"),
                                  .config_toml = "[limits]\nmax_inflight_body_bytes = 50000\n"
                                                 "max_body_bytes = 60000\nmax_metadata_bytes = 1024\n"},
                                 &error);
  ASSERT_NE(node, nullptr) << error;
  int fd = Connect(node->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "PUT /v1/archives/held HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                          "Content-Length: 40000\r\n\r\n" + std::string(30000, 'a')));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  auto client = node->Client();
  auto refused = client->Put("/v1/archives/second", std::string(30000, 'b'), "text/plain");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->body,
            R"({"error":{"code":"overloaded","message":"request bodies in flight are over limits.max_inflight_body_bytes (50000); try again"}})");
  EXPECT_EQ(node->Client()->Get("/v1/archives/second")->status, 404);

  ASSERT_TRUE(SendAll(fd, std::string(10000, 'a')));
  std::string answer;
  char buf[4096];
  for (int i = 0; i < 100 && answer.find("\r\n\r\n") == std::string::npos; ++i) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 201", 0), 0u) << answer;
  auto retry = node->Client()->Put("/v1/archives/second", std::string(30000, 'b'), "text/plain");
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->status, 201) << retry->body;
}

}  // namespace
}  // namespace walship::testing
