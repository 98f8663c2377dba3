// The conformance suite every repo::Backend implementation must pass
// (restic's backend/test/suite.go is the model). An implementation's test
// instantiates it with a factory that returns a fresh, created backend:
//
//   INSTANTIATE_TEST_SUITE_P(Local, BackendSuite, testing::Values(factory));
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <thread>

#include "repo/backend.h"
#include "repo/crypto.h"
#include "repo/id.h"

namespace mx::test {

using BackendFactory = std::function<repo::BackendPtr()>;

class BackendSuite : public testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    be_ = GetParam()();
    if (!be_) GTEST_SKIP() << "backend not available (an S3 server is started by tests/integration/s3_test.py)";
  }
  static std::string Name(const Bytes& data) {
    return repo::Id::Hash(data.data(), data.size()).Hex();
  }
  repo::BackendPtr be_;
};

}  // namespace mx::test
