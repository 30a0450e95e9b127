#include "backup/backup_store.h"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "backup/backup_format.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"

namespace walship {
namespace fs = std::filesystem;

std::string_view BackupStateName(BackupState state) {
  return state == BackupState::kVerified ? "verified" : "failed";
}

namespace {

constexpr const char* kDeletingPrefix = "deleting-";

// An id names a folder: "20261127T043132Z" with an optional "-N".
bool LooksLikeId(const std::string& name) {
  if (name.size() < 16 || name[8] != 'T' || name[15] != 'Z') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (i == 8 || i == 15) continue;
    if (i == 16) {
      if (name[i] != '-') return false;
      continue;
    }
    if (name[i] < '0' || name[i] > '9') return false;
  }
  return name.size() != 17;
}

Result<BackupListing> ReadFailed(const fs::path& folder) {
  BackupListing b;
  b.id = folder.filename().string();
  b.path = folder.string();
  b.state = BackupState::kFailed;
  b.set_aside = true;
  auto err = ReadWholeFile((folder / kBackupErrorFile).string());
  if (err.ok()) {
    auto j = nlohmann::json::parse(*err, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) b.error = j["error"].get<std::string>();
    if (j.is_object() && j.contains("failed_unix_ms") && j["failed_unix_ms"].is_number_integer()) {
      b.failed_unix_ms = j["failed_unix_ms"].get<int64_t>();
    }
  }
  if (b.error.empty()) b.error = "failed (error.json missing or unreadable)";
  auto manifest = ReadWholeFile((folder / kBackupManifestFile).string());
  if (manifest.ok()) {
    auto m = DecodeManifest(*manifest);
    if (m.ok()) b.manifest = std::move(m).value();
  }
  return b;
}

}  // namespace

Result<BackupStore> BackupStore::Open(const std::string& dir, int64_t now_unix_ms) {
  const std::string context = "open backup folder " + dir;
  WALSHIP_RETURN_IF_ERROR(EnsureDirectory(dir).Wrap(context));
  WALSHIP_RETURN_IF_ERROR(EnsureDirectory(dir + "/" + kBackupFailedDir).Wrap(context));
  BackupStore store(dir);
  auto lock = DirectoryLock::Acquire(dir);
  if (!lock.ok()) return lock.status().Wrap(context + " (backup.dir must belong to one node)");
  store.lock_.emplace(std::move(lock).value());
  WALSHIP_RETURN_IF_ERROR(store.RecoverInterrupted(now_unix_ms).Wrap(context));
  return store;
}

Result<BackupStore> BackupStore::OpenExisting(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("no backup folder " + dir);
  return BackupStore(dir);
}

Status BackupStore::RecoverInterrupted(int64_t now_unix_ms) const {
  std::error_code ec;
  std::vector<std::string> leftovers;
  std::vector<std::string> doomed;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind(kBackupTempPrefix, 0) == 0) {
      leftovers.push_back(name.substr(std::string(kBackupTempPrefix).size()));
    }
    if (entry.is_directory() && name.rfind(kDeletingPrefix, 0) == 0) doomed.push_back(entry.path().string());
  }
  if (ec) return Status::IOError("list " + dir_ + ": " + ec.message());
  for (const auto& path : doomed) {
    fs::remove_all(path, ec);  // retention had decided; a crash interrupted it
    if (ec) return Status::IOError("finish removing " + path + ": " + ec.message());
  }
  for (const auto& id : leftovers) {
    // The uncompressed scratch copies are ours (as large as the database);
    // whatever the backup itself wrote is kept with its error.
    fs::remove(TempDir(id) + "/data.db", ec);
    fs::remove(TempDir(id) + "/verify.db", ec);
    fs::remove(TempDir(id) + "/snapshot.db", ec);
    auto where = SetAside(id, "interrupted: the backup never finished (found unfinished at start-up)", now_unix_ms);
    if (!where.ok()) return where.status();
    LogEvent(spdlog::level::warn, "an unfinished backup was set aside", {{"id", id}, {"moved_to", *where}});
  }
  return Status::Ok();
}

std::string BackupStore::NewId(int64_t now_unix_ms) const {
  const std::string base = CompactUtcSeconds(now_unix_ms);
  std::string id = base;
  auto taken = [&](const std::string& candidate) {
    return fs::exists(FinalDir(candidate)) || fs::exists(TempDir(candidate)) ||
           fs::exists(dir_ + "/" + kBackupFailedDir + "/" + candidate);
  };
  for (int n = 2; taken(id); ++n) id = base + "-" + std::to_string(n);
  return id;
}

std::string BackupStore::TempDir(const std::string& id) const { return dir_ + "/" + kBackupTempPrefix + id; }
std::string BackupStore::FinalDir(const std::string& id) const { return dir_ + "/" + id; }

Result<std::string> BackupStore::CreateTempDir(const std::string& id) const {
  const std::string path = TempDir(id);
  WALSHIP_RETURN_IF_ERROR(EnsureDirectory(path));
  return path;
}

Status BackupStore::Publish(const std::string& id) const {
  std::error_code ec;
  fs::rename(TempDir(id), FinalDir(id), ec);
  if (ec) return Status::IOError("publish backup " + id + ": rename " + TempDir(id) + ": " + ec.message());
  return FsyncDirectory(dir_).Wrap("publish backup " + id);
}

Result<std::string> BackupStore::SetAside(const std::string& id, const std::string& error, int64_t now_unix_ms) const {
  const std::string context = "set backup " + id + " aside";
  std::string from = TempDir(id);
  if (!fs::exists(from)) from = FinalDir(id);
  if (!fs::exists(from)) WALSHIP_RETURN_IF_ERROR(EnsureDirectory(from).Wrap(context));
  const nlohmann::json record{{"error", error}, {"failed_at", FormatRfc3339Millis(now_unix_ms)},
                              {"failed_unix_ms", now_unix_ms}};
  const std::string text = record.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  WALSHIP_RETURN_IF_ERROR(WriteFileAtomically(from + "/" + kBackupErrorFile, text).Wrap(context));
  auto moved = MoveIntoFolder(from, dir_ + "/" + kBackupFailedDir, id);
  if (!moved.ok()) return moved.status().Wrap(context);
  return moved;
}

Status BackupStore::Remove(const std::string& id) const {
  // Renamed out of the listing first (durably), then deleted: a crash in
  // between leaves a "deleting-" folder that the next Open finishes, never a
  // half-deleted backup listed as damaged.
  const std::string doomed = dir_ + "/" + kDeletingPrefix + id;
  std::error_code ec;
  fs::rename(FinalDir(id), doomed, ec);
  if (ec) return Status::IOError("remove backup " + id + ": rename: " + ec.message());
  WALSHIP_RETURN_IF_ERROR(FsyncDirectory(dir_).Wrap("remove backup " + id));
  fs::remove_all(doomed, ec);
  if (ec) return Status::IOError("remove backup " + id + ": " + ec.message());
  return FsyncDirectory(dir_).Wrap("remove backup " + id);
}

Result<std::vector<BackupListing>> BackupStore::List() const {
  std::vector<BackupListing> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || !LooksLikeId(name)) continue;  // tmp-*, failed/, scratch files
    BackupListing b;
    b.id = name;
    b.path = entry.path().string();
    auto bytes = ReadWholeFile((entry.path() / kBackupManifestFile).string());
    if (!bytes.ok()) {
      b.error = "manifest.json: " + bytes.status().message();
    } else if (auto m = DecodeManifest(*bytes); !m.ok()) {
      b.error = m.status().message();
    } else {
      const std::string data = (entry.path() / kBackupDataFile).string();
      std::error_code size_ec;
      const auto size = fs::file_size(data, size_ec);
      if (size_ec) {
        b.error = "damaged after it was verified: " + std::string(kBackupDataFile) + " is missing";
      } else if (size != m->bytes_compressed) {
        b.error = "damaged after it was verified: " + std::string(kBackupDataFile) + " is " + std::to_string(size) +
                  " bytes, the manifest says " + std::to_string(m->bytes_compressed);
      } else {
        b.state = BackupState::kVerified;
      }
      b.manifest = std::move(m).value();
    }
    out.push_back(std::move(b));
  }
  if (ec) return Status::IOError("list " + dir_ + ": " + ec.message());
  for (const auto& entry : fs::directory_iterator(dir_ + "/" + kBackupFailedDir, ec)) {
    if (!entry.is_directory()) continue;
    auto b = ReadFailed(entry.path());
    if (b.ok()) out.push_back(std::move(b).value());
  }
  if (ec) return Status::IOError("list " + dir_ + "/" + kBackupFailedDir + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const BackupListing& a, const BackupListing& b) { return a.id > b.id; });
  return out;
}

}  // namespace walship
