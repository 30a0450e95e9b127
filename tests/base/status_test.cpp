#include "base/status.h"

#include <gtest/gtest.h>

namespace walship {
namespace {

TEST(StatusTest, WrapAddsContextAndKeepsCodeAndReason) {
  Status s = Status::IOError("disk I/O error").WithReason("writes_stopped").Wrap("commit group of 3 requests");
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "commit group of 3 requests: disk I/O error");
  EXPECT_EQ(s.reason(), "writes_stopped");
  EXPECT_EQ(s.ToString(), "io_error: commit group of 3 requests: disk I/O error");
}

TEST(StatusTest, WrapOfOkStaysOk) {
  Status s = Status::Ok().Wrap("anything");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = Status::NotFound("archive a does not exist");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace walship
