// The full-text index follows archives once per group (node/fts_sync.h):
// whatever a group did to a row, the index ends up with the row's final
// terms, and FTS5's own integrity check agrees with the table.
#include "node/fts_sync.h"

#include <gtest/gtest.h>

#include "base/sha256.h"
#include "node/schema.h"
#include "node/write_ops.h"
#include "tests/support/store_fixture.h"

namespace walship {
namespace {

using walship::testing::DeleteOp;
using walship::testing::PutOp;

class FtsSyncTest : public walship::testing::MigratedDbTest {
 protected:
  void Apply(const WriteOp& op) {
    auto r = ApplyWriteOp(*db_, op, 1000);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  void Put(const std::string& key, const std::string& content) { Apply(PutOp(key, content)); }
  void Delete(const std::string& key) { Apply(DeleteOp(key)); }

  void Exec(const std::string& sql) {
    Status s = db_->Exec(sql);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // One group: BEGIN, the ops, the flush, COMMIT, as the writer does.
  template <typename Ops>
  void Group(Ops ops) {
    Exec("BEGIN IMMEDIATE");
    ops();
    Status s = FlushFtsChanges(*db_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    Exec("COMMIT");
  }
  int64_t Matches(const std::string& query) {
    auto n = db_->QueryInt("SELECT count(*) FROM archives_fts WHERE archives_fts MATCH '" + query + "'");
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : -1;
  }
  void ExpectIndexConsistent() {
    Status s = db_->Exec("INSERT INTO archives_fts(archives_fts, rank) VALUES ('integrity-check', 1)");
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(*db_->QueryInt("SELECT count(*) FROM temp.fts_old"), 0);
    EXPECT_EQ(*db_->QueryInt("SELECT count(*) FROM temp.fts_touched"), 0);
  }
};

TEST_F(FtsSyncTest, NothingIsIndexedBeforeTheFlush) {
  Exec("BEGIN IMMEDIATE");
  Put("notes/walrus", "the walrus sleeps");
  EXPECT_EQ(Matches("walrus"), 0);
  ASSERT_TRUE(FlushFtsChanges(*db_).ok());
  EXPECT_EQ(Matches("walrus"), 1);
  EXPECT_EQ(Matches("key:notes"), 1);  // the key is indexed too
  Exec("COMMIT");
  ExpectIndexConsistent();
}

TEST_F(FtsSyncTest, UpdateAndDeleteAcrossGroups) {
  Group([&] { Put("k", "the walrus sleeps"); });
  Group([&] { Put("k", "the seal swims"); });
  EXPECT_EQ(Matches("sleeps"), 0);
  EXPECT_EQ(Matches("swims"), 1);
  ExpectIndexConsistent();
  Group([&] { Delete("k"); });
  EXPECT_EQ(Matches("swims"), 0);
  EXPECT_EQ(Matches("k"), 0);
  ExpectIndexConsistent();
}

TEST_F(FtsSyncTest, InsertUpdateDeleteWithinOneGroup) {
  Group([&] { Put("old", "original words"); });
  Group([&] {
    Put("new", "first draft");
    Put("new", "second draft");    // inserted in this group: nothing old to remove
    Put("old", "rewritten once");
    Put("old", "rewritten twice");  // the index holds the group-start terms: remove those
    Put("gone", "never indexed");
    Delete("gone");
  });
  EXPECT_EQ(Matches("first"), 0);
  EXPECT_EQ(Matches("second"), 1);
  EXPECT_EQ(Matches("original"), 0);
  EXPECT_EQ(Matches("once"), 0);
  EXPECT_EQ(Matches("twice"), 1);
  EXPECT_EQ(Matches("never"), 0);
  ExpectIndexConsistent();
}

TEST_F(FtsSyncTest, ARolledBackRequestLeavesNothingStaged) {
  Group([&] { Put("k", "kept words"); });
  Group([&] {
    Exec("SAVEPOINT request");
    Put("k", "discarded words");
    Put("other", "discarded too");
    Exec("ROLLBACK TO request");
    Exec("RELEASE request");
  });
  EXPECT_EQ(Matches("kept"), 1);
  EXPECT_EQ(Matches("discarded"), 0);
  ExpectIndexConsistent();
}

}  // namespace
}  // namespace walship
