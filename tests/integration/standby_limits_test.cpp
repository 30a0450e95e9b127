// A primary and a standby against the standby's push limit: a segment over
// the standby's replication.max_segment_bytes (here one transaction larger
// than it) is refused with 413 however often it is pushed. The primary stops
// pushing it and starts the standby over from a snapshot taken after it (a
// base has its own, larger limit), and the standby ends with every
// acknowledged write, the large one included.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "tests/integration/standby_fixture.h"

namespace walship::testing {
namespace {

// Random base64 text: zstd leaves it at about three quarters of its size.
std::string IncompressibleText(size_t bytes, uint32_t seed) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::mt19937 g(seed);
  std::string s(bytes, 'A');
  for (char& c : s) c = kAlphabet[g() % 64];
  return s;
}

TEST_F(StandbyTest, ASegmentTheStandbyRefusesAsTooLargeIsCrossedWithASnapshot) {
  standby_ = StartStandby(0, {}, "[replication]\nmax_segment_bytes = 1048576\n");
  ASSERT_NE(standby_, nullptr);
  primary_ = StartPrimary(standby_->url());
  ASSERT_NE(primary_, nullptr);
  Load("first", 2, 20);
  WaitCaughtUp();

  // One transaction of 3 MiB: its segment is over the standby's 1 MiB.
  const std::string big = IncompressibleText(3 << 20, 7);
  auto put = primary_->Client()->Put("/v1/archives/big", big, "text/plain");
  ASSERT_TRUE(put && put->status == 201) << (put ? put->body : "no answer");
  // Writes go on: the first one after the snapshot ships it.
  std::atomic<bool> stop{false};
  std::thread load([&] { Load("second", 2, 1 << 30, &stop); });
  StopLoadOnExit load_guard{stop, load};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool arrived = false;
  while (!arrived && std::chrono::steady_clock::now() < deadline) {
    auto res = standby_->Client()->Get("/v1/archives/big");
    arrived = res && res->status == 200;
    if (!arrived) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  load.join();
  ASSERT_TRUE(arrived) << "the large archive never reached the standby\nprimary log:\n"
                       << LogTail(primary_->log_path()) << "\nstandby log:\n"
                       << LogTail(standby_->log_path());
  WaitCaughtUp();
  ExpectSameArchives();
  EXPECT_EQ(failures_.count(), 0) << failures_.Report();
  auto res = standby_->Client()->Get("/v1/archives/big");
  ASSERT_TRUE(res && res->status == 200);
  EXPECT_EQ(ParseBody(res->body).value("content", ""), big);

  const std::string primary_log = Slurp(primary_->log_path());
  EXPECT_NE(primary_log.find("the standby refused a segment as too large: it will start over from a snapshot"),
            std::string::npos);
  EXPECT_NE(primary_log.find("over the standby's replication.max_segment_bytes (1048576)"), std::string::npos);
  EXPECT_NE(Slurp(standby_->log_path()).find("standby stored a base snapshot"), std::string::npos);
}

}  // namespace
}  // namespace walship::testing
