// Store::PinBackupSnapshot: the read transaction a backup copies from,
// pinned at a position the node can vouch for.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <future>

#include "base/fs.h"

#include "node/store.h"
#include "replication/db_checksum.h"

namespace walship {
namespace {

class ConnectionSnapshot : public PinnedSnapshot {
 public:
  // `live`, when given, counts the snapshots open on the primary's database
  // file (an online restore waits for none to be open).
  explicit ConnectionSnapshot(std::unique_ptr<SqliteDb> db, std::string scratch_copy = "",
                              std::atomic<int>* live = nullptr)
      : db_(std::move(db)), scratch_copy_(std::move(scratch_copy)), live_(live) {
    if (live_ != nullptr) ++*live_;
  }
  ~ConnectionSnapshot() override {
    if (db_) db_->Exec("COMMIT").IgnoreError();  // ends a read transaction; nothing to lose
    db_.reset();
    if (!scratch_copy_.empty()) ::unlink(scratch_copy_.c_str());  // our own copy of the replica
    if (live_ != nullptr) --*live_;
  }
  sqlite3* connection() override { return db_->raw(); }
  SqliteDb& db() { return *db_; }

 private:
  std::unique_ptr<SqliteDb> db_;
  std::string scratch_copy_;
  std::atomic<int>* live_;
};

// A byte copy of `from` into the new file `to` (copy_file_range: no data
// through user space where the file system allows).
Status CopyFile(const std::string& from, const std::string& to) {
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return Status::IOError("create " + to + ": " + ErrnoMessage(errno));
  ScopedFd closer(out);
  return CopyFileBytes(from, out, to);
}

// BEGIN, then a read that starts the read transaction: the position and the
// cluster as this snapshot sees them.
Status BeginAndReadPosition(ConnectionSnapshot& snap) {
  WALSHIP_RETURN_IF_ERROR(snap.db().Exec("BEGIN").Wrap("begin the read transaction"));
  auto pos = snap.db().Prepare("SELECT timeline, txid FROM position WHERE id = 1");
  if (!pos.ok()) return pos.status().Wrap("read the position");
  auto row = (*pos)->Step();
  if (!row.ok()) return row.status().Wrap("read the position");
  if (!*row) return Status::Corruption("read the position: the position row is missing");
  snap.timeline = (*pos)->ColumnInt(0);
  snap.txid = (*pos)->ColumnInt(1);
  auto cluster = snap.db().Prepare("SELECT cluster_id FROM cluster_identity WHERE id = 1");
  if (!cluster.ok()) return cluster.status().Wrap("read the cluster id");
  auto crow = (*cluster)->Step();
  if (!crow.ok()) return crow.status().Wrap("read the cluster id");
  if (!*crow) return Status::Corruption("read the cluster id: the cluster_identity row is missing");
  snap.cluster_id = (*cluster)->ColumnText(0);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<PinnedSnapshot>> Store::PinBackupSnapshot(const std::string& scratch_dir) {
  if (replica_) {
    // State() takes the replica's lock, which an apply waiting at the gate
    // holds: read it first, then enter the gate and check that no apply
    // slipped in between (else try again). Inside the gate only a byte copy
    // of the replica is made; applies and reads wait for no more than that.
    const std::string copy = scratch_dir + "/" + kBackupSnapshotScratchFile;
    for (int attempt = 0; attempt < 20; ++attempt) {
      const ReplicaState state = replica_->State();
      if (!state.has_database) {
        return Status::Unavailable("this standby has not received a database from the primary yet")
            .WithReason("standby_empty");
      }
      int64_t txid = -1;
      {
        ApplyGate::ReadHold hold = replica_->gate().BeginRead();
        if (!replica_->serveable()) {
          return Status::Unavailable("this standby's replica may hold part of a segment after a failed apply")
              .WithReason("replica_diverged");
        }
        auto check = SqliteDb::Open(ImmutableUri(db_path_), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
        if (!check.ok()) return check.status().Wrap("open the replica");
        auto read = (*check)->QueryInt("SELECT txid FROM position WHERE id = 1");
        if (!read.ok()) return read.status().Wrap("read the replica's position");
        txid = *read;
        if (txid == state.txid) WALSHIP_RETURN_IF_ERROR(CopyFile(db_path_, copy).Wrap("copy the replica"));
      }
      if (txid != state.txid) continue;  // an apply came first: its state is newer
      auto db = SqliteDb::Open(ImmutableUri(copy), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
      if (!db.ok()) {
        ::unlink(copy.c_str());
        return db.status().Wrap("open the copy of the replica");
      }
      auto snap = std::make_unique<ConnectionSnapshot>(std::move(db).value(), copy);
      WALSHIP_RETURN_IF_ERROR(BeginAndReadPosition(*snap));
      snap->source = "standby";
      snap->segment_sequence = state.sequence;
      snap->db_checksum = state.db_checksum;
      auto page = ReadPageOneFromFile(copy);
      if (!page.ok()) return page.status().Wrap("read page 1 of the copy");
      snap->page_one = std::move(page).value();
      return std::unique_ptr<PinnedSnapshot>(std::move(snap));
    }
    return Status::Unavailable("the standby applied segments faster than a backup could pin one")
        .WithReason("backup_unavailable");
  }
  // Held while pinning: the writer cannot be replaced under the call below,
  // and the count this snapshot joins is what an online restore checks.
  auto hold = HoldParts();
  if (!hold.ok()) return hold.status();
  if (refused_locked()) return refusal_;
  if (!writer_) return Status::Unavailable("the store is closed").WithReason("shutting_down");
  auto db = SqliteDb::Open(db_path_, SQLITE_OPEN_READONLY);
  if (!db.ok()) return db.status().Wrap("open the backup's read connection");
  auto snap = std::make_unique<ConnectionSnapshot>(std::move(db).value(), "", &live_backup_snapshots_);
  snap->source = "primary";
  std::promise<Status> pinned;
  writer_->RunBetweenGroups([&](const Status& health, sqlite3* writer, CheckpointHook* hook) -> Status {
    if (!health.ok()) {
      pinned.set_value(health);
      return Status::Ok();
    }
    std::optional<CapturePoint> point;
    if (hook != nullptr) {
      auto p = hook->MarkPoint(writer);
      if (!p.ok()) {
        pinned.set_value(p.status());
        return p.status();  // the writer decides whether writes go on (see RunBetweenGroups)
      }
      point = std::move(p).value();
    }
    // No write can come between the point and this read transaction: this
    // runs on the writer thread, between two groups.
    Status s = BeginAndReadPosition(*snap);
    if (s.ok() && point && point->txid != snap->txid) {
      s = Status::Internal("the read transaction sees txid " + std::to_string(snap->txid) + ", the capture " +
                           std::to_string(point->txid));
    }
    if (s.ok() && point) {
      snap->segment_sequence = point->sequence;
      snap->db_checksum = point->db_checksum;
      snap->page_one = std::move(point->page_one);
    }
    pinned.set_value(s);
    return Status::Ok();  // a failure of the backup's own connection is the backup's, not the writer's
  });
  WALSHIP_RETURN_IF_ERROR(pinned.get_future().get().Wrap("pin the backup's snapshot"));
  return std::unique_ptr<PinnedSnapshot>(std::move(snap));
}

}  // namespace walship
