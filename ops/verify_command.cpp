#include "ops/verify_command.h"

#include <unistd.h>

#include <filesystem>
#include <optional>
#include <ostream>

#include "backup/backup_store.h"
#include "backup/verify_backup.h"
#include "ops/segments_command.h"
#include "replication/db_checksum.h"
#include "replication/segment_store.h"

namespace walship {
namespace {

constexpr int kExitDamaged = 1;
constexpr int kExitUsage = 2;

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

// The node's cluster, from its newest segment (no SQLite needed, so it is
// safe next to a running node); nullopt when it has none.
std::optional<std::string> NodeCluster(const std::string& data_dir) {
  if (!IsDirectory(data_dir + "/segments")) return std::nullopt;
  auto store = SegmentStore::Open(data_dir + "/segments");
  if (!store.ok()) return std::nullopt;
  auto newest = (*store)->NewestHeader();
  if (!newest.ok() || !newest->has_value()) return std::nullopt;
  return HexOf((*newest)->header.cluster_id);
}

std::string Describe(const BackupManifest& m) {
  return "position " + m.Position() + ", " + std::to_string(m.page_count) + " pages, " +
         std::to_string(m.bytes_uncompressed) + " -> " + std::to_string(m.bytes_compressed) + " bytes, checksum " +
         DbChecksumHex(m.db_checksum);
}

// Verifies one published backup; prints one line.
bool VerifyOne(const BackupStore& store, const std::string& id, const std::optional<std::string>& cluster,
               std::ostream& out, std::ostream& err) {
  VerifyBackupOptions options;
  options.expected_cluster = cluster;
  options.expected_id = id;
  // Per process: two verify runs at once must not share (or remove) one scratch file.
  options.scratch_path = store.dir() + "/.verify-" + id + "-" + std::to_string(::getpid()) + ".db";
  auto m = VerifyBackup(store.FinalDir(id), options);
  if (m.ok()) {
    out << "backup " << id << ": ok (" << Describe(*m) << ")\n";
    return true;
  }
  err << "verify: backup " << id << ": " << m.status().message() << " [" << m.status().reason() << "]\n";
  return false;
}

}  // namespace

CLI::App* AddVerifyCommand(CLI::App& app, VerifyArgs* args) {
  CLI::App* verify = app.add_subcommand("verify", "Verify a node's backups and segment chain (offline)");
  verify->add_option("--data", args->data_dir, "the node's data folder")->required();
  verify->add_option("--backup", args->backup_id, "verify only this backup (its id)");
  verify->add_option("--backups", args->backups_dir, "the backup folder, when backup.dir is not DATA/backups");
  return verify;
}

int RunVerify(const VerifyArgs& args, std::ostream& out, std::ostream& err) {
  if (!IsDirectory(args.data_dir)) {
    err << "verify: data folder " << args.data_dir << " does not exist\n";
    return kExitUsage;
  }
  const std::string dir = args.backups_dir.empty() ? args.data_dir + "/backups" : args.backups_dir;
  const std::optional<std::string> cluster = NodeCluster(args.data_dir);
  if (!cluster) out << "note: the node has no segments yet; backups' cluster ids are not checked\n";
  int code = 0;
  auto store = BackupStore::OpenExisting(dir);
  if (!store.ok()) {
    if (!args.backup_id.empty()) {
      err << "verify: " << store.status().message() << "\n";
      return kExitUsage;
    }
    out << store.status().message() << ": no backups to verify\n";
  } else {
    auto listed = store->List();
    if (!listed.ok()) {
      err << "verify: " << listed.status().message() << "\n";
      return kExitDamaged;
    }
    bool found = false;
    int verified = 0;
    for (const BackupListing& b : *listed) {
      if (!args.backup_id.empty() && b.id != args.backup_id) continue;
      found = true;
      if (b.set_aside) {
        // Set aside when it was taken: known bad, reported, not a new fault
        // unless it was asked for by name.
        out << "backup " << b.id << ": failed when taken (kept in " << b.path << "): " << b.error << "\n";
        if (!args.backup_id.empty()) code = kExitDamaged;
        continue;
      }
      if (VerifyOne(*store, b.id, cluster, out, err)) {
        ++verified;
      } else {
        code = kExitDamaged;
      }
    }
    if (!args.backup_id.empty() && !found) {
      err << "verify: no backup " << args.backup_id << " in " << dir << "\n";
      return kExitUsage;
    }
    if (args.backup_id.empty()) out << "verified " << verified << " backups in " << dir << "\n";
  }
  if (args.backup_id.empty() && IsDirectory(args.data_dir + "/segments")) {
    const int chain = VerifySegmentStore("verify: segments", args.data_dir, out, err);
    if (chain != 0) code = kExitDamaged;
  }
  return code;
}

}  // namespace walship
