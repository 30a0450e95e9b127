// Who writes the segments: the cluster (kept in the database, so a standby's
// copy carries the primary's) and this node (DATA/node-id, made once).
#pragma once

#include <string>

#include "base/status.h"
#include "node/sqlite_db.h"
#include "replication/wal_capture.h"

namespace walship {

// Reads the cluster id from the cluster_identity table and the node id from
// DATA/node-id, creating that file durably on first use.
// DATA/node-id, made durably on first use.
Result<uint64_t> NodeId(const std::string& data_dir);

Result<CaptureIdentity> ReadCaptureIdentity(SqliteDb& db, const std::string& data_dir, int64_t timeline);

}  // namespace walship
