// Restoring forward from a backup: the backup's database, then every segment
// of the store after its position, each checked on the way (the chain links,
// the database checksum before and after), up to a txid or to the end.
//
// The backup's own checks (backup/verify_backup.h) are the caller's; here the
// data file is decompressed and its SHA-256 compared with the manifest once
// more, since that is the copy that gets written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "backup/manifest.h"
#include "base/status.h"
#include "replication/segment_store.h"

namespace walship {

struct RestoreSummary {
  std::string backup_id;
  int64_t backup_txid = 0;
  uint64_t segments_applied = 0;
  int64_t last_txid = 0;     // the restored database's position
  uint64_t db_checksum = 0;  // of the restored file
};

// Writes the database to `out_path`, which must not exist. Errors name the
// segment and the fault: a gap after the backup ("no segment starts at txid
// N"), a new chain start (a base the backup cannot continue into), a broken
// link, a checksum that does not match.
Result<RestoreSummary> RestoreFromBackup(const std::string& backup_dir, const SegmentStore& segments,
                                         const std::string& out_path, std::optional<uint64_t> to_txid);

}  // namespace walship
