#include "backup/restore_swap.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/log.h"

namespace walship {
namespace {

constexpr const char* kDatabaseFile = "index.db";
// The database's companions first: from the first move on, only the intent
// says where things are, so the order only has to be the same every time.
constexpr const char* kDatabaseFiles[] = {"index.db-wal", "index.db-shm", "index.db"};

struct SwapIntent {
  std::string id;
  std::string restored;  // relative to the data folder: restore/<id>/index.db
};

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Whether `path` exists; an error other than "no such file" (a permission,
// an I/O error) is not taken for an answer.
Result<bool> PathExists(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return Status::IOError("stat " + path + ": " + ErrnoMessage(errno));
}

bool SafeId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

Result<SwapIntent> ReadIntent(const std::string& path) {
  auto bytes = ReadWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  auto j = nlohmann::json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  const std::string bad = path + ": not a restore swap intent (move it away only once you know which database is "
                                 "the right one)";
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string() || !j.contains("restored") ||
      !j["restored"].is_string()) {
    return Status::Corruption(bad);
  }
  SwapIntent intent{j["id"].get<std::string>(), j["restored"].get<std::string>()};
  if (!SafeId(intent.id) ||
      intent.restored != std::string(kRestoreScratchDir) + "/" + intent.id + "/" + kDatabaseFile) {
    return Status::Corruption(bad);
  }
  return intent;
}

void Pause(int ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

Result<RestoreSwapResult> RollForward(const std::string& data_dir, const SwapIntent& intent, int step_delay_ms) {
  RestoreSwapResult out;
  out.quarantine_dir = data_dir + "/quarantine/restore-" + intent.id;
  const std::string restored = data_dir + "/" + intent.restored;
  auto restored_exists = PathExists(restored);
  if (!restored_exists.ok()) return restored_exists.status();
  if (*restored_exists) {
    for (const char* name : kDatabaseFiles) {
      const std::string from = data_dir + "/" + name;
      if (!Exists(from)) continue;
      auto to = MoveIntoFolder(from, out.quarantine_dir, name);
      if (!to.ok()) return to.status();
      Pause(step_delay_ms);
    }
    const std::string db = data_dir + "/" + kDatabaseFile;
    if (::rename(restored.c_str(), db.c_str()) != 0) {
      return Status::IOError("rename " + restored + " to " + db + ": " + ErrnoMessage(errno));
    }
    // Both folders: the old name must not come back after a power loss,
    // or the roll-forward would take the restored file for the old one.
    WALSHIP_RETURN_IF_ERROR(FsyncDirectory(data_dir));
    WALSHIP_RETURN_IF_ERROR(FsyncDirectory(data_dir + "/" + kRestoreScratchDir + "/" + intent.id));
    Pause(step_delay_ms);
  }
  // Else the rename was done: the database in place is the restored one.
  const std::string intent_path = data_dir + "/" + kRestoreSwapIntentFile;
  if (::unlink(intent_path.c_str()) != 0) return Status::IOError("remove " + intent_path + ": " + ErrnoMessage(errno));
  WALSHIP_RETURN_IF_ERROR(FsyncDirectory(data_dir));
  std::error_code ec;
  for (const char* name : kDatabaseFiles) {
    if (Exists(out.quarantine_dir + "/" + name)) out.moved.push_back(out.quarantine_dir + "/" + name);
  }
  std::filesystem::remove_all(data_dir + "/" + kRestoreScratchDir + "/" + intent.id, ec);
  std::filesystem::remove(data_dir + "/" + kRestoreScratchDir, ec);  // only when empty
  return out;
}

}  // namespace

Result<RestoreSwapResult> SwapInRestoredDatabase(const std::string& data_dir, const std::string& restored_path,
                                                 const std::string& id, int step_delay_ms) {
  const std::string context = "swap the restored database into " + data_dir;
  const SwapIntent intent{id, std::string(kRestoreScratchDir) + "/" + id + "/" + kDatabaseFile};
  if (!SafeId(id) || restored_path != data_dir + "/" + intent.restored) {
    return Status::InvalidArgument(context + ": " + restored_path + " is not " + data_dir + "/" + intent.restored);
  }
  if (Exists(data_dir + "/" + kRestoreSwapIntentFile)) {
    return Status::Conflict(context + ": another swap is not finished (" + kRestoreSwapIntentFile + ")");
  }
  const nlohmann::json j = {{"id", intent.id}, {"restored", intent.restored}};
  WALSHIP_RETURN_IF_ERROR(
      WriteFileAtomically(data_dir + "/" + kRestoreSwapIntentFile, j.dump(2) + "\n").Wrap(context + ": intent"));
  Pause(step_delay_ms);
  auto done = RollForward(data_dir, intent, step_delay_ms);
  if (!done.ok()) return done.status().Wrap(context);
  return done;
}

Result<std::optional<RestoreSwapResult>> FinishInterruptedRestoreSwap(const std::string& data_dir) {
  const std::string context = "finish the interrupted restore in " + data_dir;
  const std::string intent_path = data_dir + "/" + kRestoreSwapIntentFile;
  std::optional<RestoreSwapResult> out;
  if (Exists(intent_path)) {
    auto intent = ReadIntent(intent_path);
    if (!intent.ok()) return intent.status().Wrap(context);
    auto done = RollForward(data_dir, *intent, 0);
    if (!done.ok()) return done.status().Wrap(context);
    LogWarn("finished a restore that was interrupted: the restored database is in place",
            {{"quarantine", done->quarantine_dir}});
    out = std::move(done).value();
  }
  // Scratch folders of restores that died while building: only our copies.
  std::error_code ec;
  const std::string scratch = data_dir + "/" + kRestoreScratchDir;
  for (const auto& e : std::filesystem::directory_iterator(scratch, ec)) {
    std::error_code rm;
    std::filesystem::remove_all(e.path(), rm);
    LogWarn("removed the scratch folder of an unfinished restore", {{"path", e.path().string()}});
  }
  std::filesystem::remove(scratch, ec);  // only when empty
  return out;
}

}  // namespace walship
