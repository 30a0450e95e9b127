// A test fixture that starts the real binary on a fresh data folder in a
// temporary directory, with a keep-alive client to it (integration tests).
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>
#include <string>

#include "tests/support/node_process.h"
#include "tests/support/temp_dir.h"

namespace walship::testing {

class NodeFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    node_ = NodeProcess::Start({.data_dir = dir_.Sub("data")}, &error);
    ASSERT_NE(node_, nullptr) << error;
    client_ = node_->Client();
  }

  TempDir dir_;
  std::unique_ptr<NodeProcess> node_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace walship::testing
