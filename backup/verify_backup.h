// Verifying a backup folder, the same way after taking it and offline
// (`walship verify`): the manifest, then the data file's size and SHA-256,
// then a scratch copy decompressed and checked by SQLite's
// PRAGMA integrity_check and by the database checksum.
//
// Every fault has its own reason (Status::reason()), and the message names
// the file and what is wrong:
//   manifest_missing, manifest_unreadable, manifest_checksum_mismatch,
//   manifest_version, manifest_invalid (backup/manifest.h),
//   manifest_id_mismatch        the manifest's id is not its folder's
//   other_cluster               the manifest's cluster is not the node's
//   data_missing                data.db.zst is not there
//   data_truncated              shorter than the manifest says
//   data_appended               longer than the manifest says
//   data_checksum_mismatch      same size, other bytes (a bit flip)
//   data_undecodable            not one whole zstd frame
//   data_uncompressed_mismatch  decompresses to other bytes than recorded
//   db_integrity                PRAGMA integrity_check is not "ok"
//   db_checksum_mismatch        the database checksum is not the manifest's
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "backup/manifest.h"
#include "base/status.h"

namespace walship {

struct VerifyBackupOptions {
  // The node's cluster id (32 hex digits); unchecked when unset.
  std::optional<std::string> expected_cluster;
  // The folder's name must be the manifest's id (after "tmp-" while the
  // backup is being taken).
  std::string expected_id;
  // Where the scratch copy goes (removed afterwards).
  std::string scratch_path;
  // Uncompressed bytes done so far, now and then.
  std::function<void(uint64_t)> progress;
};

// kCorruption (or kNotFound for the missing files) with "<file>: <fault>";
// kIOError when reading or writing the scratch copy fails.
Result<BackupManifest> VerifyBackup(const std::string& backup_dir, const VerifyBackupOptions& options);

// PRAGMA integrity_check on a closed database file, opened immutable (no
// -wal or -shm is made next to it, no lock taken). kCorruption, reason
// "db_integrity", with SQLite's first findings.
Status IntegrityCheckClosedFile(const std::string& path);

}  // namespace walship
