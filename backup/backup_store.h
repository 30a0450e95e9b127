// The backup folder (layout in backup/backup_format.h): naming new backups,
// publishing them once verified, setting failed ones aside with their
// error, listing, and pruning for retention.
//
// Thread contract: one taker at a time (the node's backup manager, or the
// offline tools with the node stopped); List may run from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "base/fs.h"
#include "base/status.h"

namespace walship {

enum class BackupState { kVerified, kFailed };
std::string_view BackupStateName(BackupState state);

struct BackupListing {
  std::string id;
  BackupState state = BackupState::kFailed;
  std::string path;                        // the backup's folder
  std::optional<BackupManifest> manifest;  // verified ones always; failed ones when it was written
  std::string error;                       // failed: why (from error.json, or the damage found)
  int64_t failed_unix_ms = 0;
  bool set_aside = false;                  // in failed/ (failed when taken), not damaged since
};

class BackupStore {
 public:
  // Creates the folder and failed/ durably when missing, and locks it
  // (DIR/LOCK, held while the store lives): one node per backup folder, so
  // no node's retention or start-up ever touches another's backups. Folders left by a
  // backup that never finished (tmp-<id>/, a crash) move to failed/ with
  // the error "interrupted: ...", so nothing half-made is ever listed as a
  // backup and nothing is deleted.
  static Result<BackupStore> Open(const std::string& dir, int64_t now_unix_ms);

  // For the offline tools: opens an existing folder and changes nothing
  // (a backup in progress next to a live node stays where it is).
  // kNotFound when the folder does not exist.
  static Result<BackupStore> OpenExisting(const std::string& dir);

  const std::string& dir() const { return dir_; }
  // A new id from the UTC time (unique in this folder, failed ones included).
  std::string NewId(int64_t now_unix_ms) const;
  // DIR/tmp-<id>, created durably.
  Result<std::string> CreateTempDir(const std::string& id) const;
  std::string TempDir(const std::string& id) const;
  std::string FinalDir(const std::string& id) const;
  // Renames tmp-<id> to <id> and fsyncs the folder: the backup is listed.
  Status Publish(const std::string& id) const;
  // Moves tmp-<id> (or <id>) to failed/<id> with error.json; where it went.
  Result<std::string> SetAside(const std::string& id, const std::string& error, int64_t now_unix_ms) const;
  // Removes a published backup (retention): its files, then its folder,
  // then fsyncs DIR.
  Status Remove(const std::string& id) const;

  // Verified backups and failed ones, newest first. A published folder whose
  // manifest does not decode, or whose data file is missing or not the size
  // the manifest says, is listed as failed with that damage (a cheap check;
  // `walship verify` reads everything).
  Result<std::vector<BackupListing>> List() const;

 private:
  explicit BackupStore(std::string dir) : dir_(std::move(dir)) {}
  Status RecoverInterrupted(int64_t now_unix_ms) const;
  std::string dir_;
  std::optional<DirectoryLock> lock_;  // unset for OpenExisting (read-only tools)
};

}  // namespace walship
