// A store in a temporary directory with database db01 (64 KiB memtables, so
// a few hundred messages archive several logs) and mailbox a@example.test,
// for the store's unit tests. Deliver(i) delivers a distinct ~3 KB message.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/db/store.h"
#include "tests/support/temp_dir.h"

namespace mx::test {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions o;
    o.data_dir = dir_.path() + "/data";
    o.database.write_buffer_size = 64 << 10;
    o.dismount_bound = std::chrono::milliseconds(5000);
    auto s = store::Store::Open(o);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    ASSERT_TRUE(store_->CreateDatabase("db01", false).ok());
    ASSERT_TRUE(store_->CreateMailbox("a@example.test", "db01").ok());
    db_ = store_->Get("db01");
  }
  static std::string Msg(int i) {
    std::string m = "Subject: " + std::to_string(i) + "\r\n\r\n";
    while (m.size() < 3000) m += "text " + std::to_string(static_cast<uint64_t>(i) * 7919 + m.size()) + "\r\n";
    return m;
  }
  bool Deliver(int i) { return store_->Deliver({"a@example.test"}, Msg(i), 1, 0)[0].uid.ok(); }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<store::Database> db_;
};

}  // namespace mx::test
