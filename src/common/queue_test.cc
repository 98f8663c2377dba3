#include "common/queue.h"

#include <gtest/gtest.h>

#include <set>

namespace mx {
namespace {

TEST(ParallelFor, CallsEveryIndexOnceAcrossWorkers) {
  std::mutex mu;
  std::multiset<size_t> seen;
  std::set<std::thread::id> threads;
  ASSERT_TRUE(ParallelFor(1000, 4, [&](size_t i) -> Status {
                std::lock_guard<std::mutex> l(mu);
                seen.insert(i);
                threads.insert(std::this_thread::get_id());
                return Ok();
              }).ok());
  ASSERT_EQ(seen.size(), 1000u);
  for (size_t i = 0; i < 1000; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
  EXPECT_LE(threads.size(), 4u);
  EXPECT_TRUE(ParallelFor(0, 4, [](size_t) -> Status { return Ok(); }).ok());
}

TEST(ParallelFor, ReturnsTheFirstErrorAndStopsHandingOutWork) {
  std::atomic<size_t> calls{0};
  Status s = ParallelFor(100000, 3, [&](size_t i) -> Status {
    ++calls;
    if (i == 10) return Error(Code::kIo, "cannot remove", "item 10", "test failure");
    return Ok();
  });
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().Message().find("item 10"), std::string::npos);
  EXPECT_LT(calls.load(), 100000u);
}

}  // namespace
}  // namespace mx
