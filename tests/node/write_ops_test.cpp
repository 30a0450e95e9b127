#include "node/write_ops.h"

#include <gtest/gtest.h>

#include "base/sha256.h"
#include "node/fts_sync.h"
#include "node/schema.h"
#include "tests/support/store_fixture.h"

namespace walship {
namespace {

using walship::testing::DeleteOp;
using walship::testing::PutOp;

class WriteOpsTest : public walship::testing::MigratedDbTest {
 protected:
  Result<OpResult> Apply(const WriteOp& op, int64_t now_ms = 1000) { return ApplyWriteOp(*db_, op, now_ms); }

  int64_t Int(const std::string& sql) {
    auto v = db_->QueryInt(sql);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : -1;
  }
};

TEST_F(WriteOpsTest, PutCreatesVersion1) {
  auto r = Apply(PutOp("notes/a", "hello", R"({"tag":"x"})"), 1234);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, WriteOp::Kind::kPut);
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->record.key, "notes/a");
  EXPECT_EQ(r->record.content, "");  // write results never carry the content
  EXPECT_EQ(r->record.content_bytes, 5);
  EXPECT_EQ(r->record.metadata_json, R"({"tag":"x"})");
  EXPECT_EQ(r->record.version, 1);
  EXPECT_EQ(r->record.sha256, Sha256Hex("hello"));
  EXPECT_EQ(r->record.created_at_ms, 1234);
  EXPECT_EQ(r->record.updated_at_ms, 1234);
  EXPECT_EQ(r->record.content_bytes, 5);
  EXPECT_EQ(Int("SELECT version FROM archives WHERE key = 'notes/a'"), 1);
}

TEST_F(WriteOpsTest, PutReplacesAndBumpsVersionKeepingCreatedAt) {
  ASSERT_TRUE(Apply(PutOp("k", "one"), 1000).ok());
  auto r = Apply(PutOp("k", "two"), 2000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->created);
  EXPECT_EQ(r->record.version, 2);
  EXPECT_EQ(r->record.created_at_ms, 1000);
  EXPECT_EQ(r->record.updated_at_ms, 2000);
  EXPECT_EQ(Int("SELECT count(*) FROM archives"), 1);
  EXPECT_EQ(Int("SELECT updated_at FROM archives WHERE key = 'k'"), 2000);
  EXPECT_EQ(Int("SELECT created_at FROM archives WHERE key = 'k'"), 1000);
}

TEST_F(WriteOpsTest, DeleteReportsTheDeletedVersion) {
  ASSERT_TRUE(Apply(PutOp("k", "one")).ok());
  ASSERT_TRUE(Apply(PutOp("k", "two")).ok());
  auto r = Apply(DeleteOp("k"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, WriteOp::Kind::kDelete);
  EXPECT_EQ(r->record.key, "k");
  EXPECT_EQ(r->record.version, 2);
  EXPECT_EQ(Int("SELECT count(*) FROM archives"), 0);
}

TEST_F(WriteOpsTest, DeleteOfMissingKeyIsNotFound) {
  auto r = Apply(DeleteOp("ghost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "archive ghost does not exist");
}

TEST_F(WriteOpsTest, IfNoneMatchAnyCreatesOnlyOnce) {
  WriteOp op = PutOp("k", "one");
  op.if_none_match_any = true;
  ASSERT_TRUE(Apply(op).ok());
  auto again = Apply(op);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kPreconditionFailed);
  EXPECT_EQ(again.status().message(), "archive k already exists (version 1) and If-None-Match: * was given");
}

TEST_F(WriteOpsTest, IfMatchChecksTheVersion) {
  ASSERT_TRUE(Apply(PutOp("k", "one")).ok());
  WriteOp stale = PutOp("k", "two");
  stale.if_match = 2;
  auto r = Apply(stale);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kPreconditionFailed);
  EXPECT_EQ(r.status().message(), "archive k is at version 1, If-Match expected version 2");
  EXPECT_EQ(Int("SELECT version FROM archives WHERE key = 'k'"), 1);

  WriteOp fresh = PutOp("k", "two");
  fresh.if_match = 1;
  auto ok = Apply(fresh);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->record.version, 2);
}

TEST_F(WriteOpsTest, IfMatchOnMissingKeyFails) {
  WriteOp op = PutOp("k", "one");
  op.if_match = 1;
  auto r = Apply(op);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kPreconditionFailed);
  EXPECT_EQ(r.status().message(), "archive k does not exist, but If-Match expected version 1");
  EXPECT_EQ(Int("SELECT count(*) FROM archives"), 0);
}

TEST_F(WriteOpsTest, ConditionalDelete) {
  ASSERT_TRUE(Apply(PutOp("k", "one")).ok());
  WriteOp del = DeleteOp("k");
  del.if_match = 7;
  auto r = Apply(del);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "archive k is at version 1, If-Match expected version 7");
  del.if_match = 1;
  EXPECT_TRUE(Apply(del).ok());
}

TEST_F(WriteOpsTest, RecreatedKeyStartsAgainAtVersion1) {
  ASSERT_TRUE(Apply(PutOp("k", "one")).ok());
  ASSERT_TRUE(Apply(PutOp("k", "two")).ok());
  ASSERT_TRUE(Apply(DeleteOp("k")).ok());
  auto r = Apply(PutOp("k", "three"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->record.version, 1);
}

TEST_F(WriteOpsTest, ContentBytesCountBytesNotCharacters) {
  auto r = Apply(PutOp("k", "été"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->record.content_bytes, 5);
}

TEST_F(WriteOpsTest, PositionStartsAt1Slash0AndAdvancesByOne) {
  auto p = ReadPosition(*db_);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->timeline, 1);
  EXPECT_EQ(p->txid, 0);
  EXPECT_EQ(p->ToString(), "1/0");
  auto t1 = AdvanceTxid(*db_);
  ASSERT_TRUE(t1.ok()) << t1.status().ToString();
  EXPECT_EQ(*t1, 1);
  auto t2 = AdvanceTxid(*db_);
  ASSERT_TRUE(t2.ok()) << t2.status().ToString();
  EXPECT_EQ(*t2, 2);
  auto p2 = ReadPosition(*db_);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->ToString(), "1/2");
  // The RETURNING statement is finished: nothing keeps a transaction open.
  EXPECT_EQ(sqlite3_get_autocommit(db_->raw()), 1);
}

TEST_F(WriteOpsTest, MissingPositionRowIsCorruption) {
  ASSERT_TRUE(db_->Exec("DELETE FROM position").ok());
  auto p = ReadPosition(*db_);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kCorruption);
  EXPECT_EQ(p.status().message(), "position row is missing");
  auto t = AdvanceTxid(*db_);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Code::kCorruption);
  EXPECT_EQ(t.status().message(), "position row is missing");
}

}  // namespace
}  // namespace walship
