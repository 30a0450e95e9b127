#include "backup/verify_backup.h"

#include <sqlite3.h>
#include <unistd.h>

#include "backup/backup_format.h"
#include "backup/compressed_file.h"
#include "base/fs.h"
#include "base/sha256.h"
#include "replication/db_checksum.h"
#include "replication/read_only_file.h"

namespace walship {
namespace {

Status Fault(const std::string& reason, const std::string& message) {
  return Status::Corruption(message).WithReason(reason);
}

// SHA-256 of a file, streamed.
Result<std::string> FileSha256(const std::string& path, uint64_t size) {
  auto file = ReadOnlyFile::Open(path);
  if (!file.ok()) return file.status();
  Sha256Stream sha;
  std::string buf(1 << 20, '\0');
  for (uint64_t at = 0; at < size; at += buf.size()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - at));
    WALSHIP_RETURN_IF_ERROR(file->ReadAt(at, n, buf.data()));
    sha.Update(std::string_view(buf.data(), n));
  }
  return sha.FinishHex();
}

Status VerifyData(const std::string& dir, const BackupManifest& m, const VerifyBackupOptions& options) {
  const std::string data = dir + "/" + kBackupDataFile;
  const std::string name = kBackupDataFile;
  if (::access(data.c_str(), F_OK) != 0) return Status::NotFound(name + ": missing").WithReason("data_missing");
  const uint64_t size = static_cast<uint64_t>(FileSizeOrZero(data));
  if (size < m.bytes_compressed) {
    return Fault("data_truncated", name + ": " + std::to_string(size) + " bytes, the manifest says " +
                                       std::to_string(m.bytes_compressed) + ": truncated");
  }
  if (size > m.bytes_compressed) {
    return Fault("data_appended", name + ": " + std::to_string(size) + " bytes, the manifest says " +
                                      std::to_string(m.bytes_compressed) + ": " +
                                      std::to_string(size - m.bytes_compressed) + " bytes appended");
  }
  auto sha = FileSha256(data, size);
  if (!sha.ok()) return sha.status().Wrap(name);
  if (*sha != m.sha256_compressed) {
    return Fault("data_checksum_mismatch",
                 name + ": SHA-256 " + *sha + " is not the manifest's " + m.sha256_compressed);
  }
  ::unlink(options.scratch_path.c_str());  // a scratch copy left by a crash is ours to replace
  auto sums = DecompressFile(data, options.scratch_path, options.progress);
  if (!sums.ok()) {
    if (sums.status().code() == Code::kCorruption) return Fault("data_undecodable", sums.status().message());
    return sums.status();
  }
  if (sums->bytes_uncompressed != m.bytes_uncompressed || sums->sha256_uncompressed != m.sha256_uncompressed) {
    return Fault("data_uncompressed_mismatch",
                 name + ": decompresses to " + std::to_string(sums->bytes_uncompressed) + " bytes with SHA-256 " +
                     sums->sha256_uncompressed + ", the manifest says " + std::to_string(m.bytes_uncompressed) +
                     " bytes with " + m.sha256_uncompressed);
  }
  WALSHIP_RETURN_IF_ERROR(IntegrityCheckClosedFile(options.scratch_path));
  auto sum = DbChecksum::ComputeFromFile(options.scratch_path, m.page_size);
  if (!sum.ok()) return sum.status().Wrap("database checksum");
  if (sum->Value() != m.db_checksum || sum->page_count() != m.page_count) {
    return Fault("db_checksum_mismatch", "database checksum " + DbChecksumHex(sum->Value()) + " over " +
                                             std::to_string(sum->page_count()) + " pages is not the manifest's " +
                                             DbChecksumHex(m.db_checksum) + " over " +
                                             std::to_string(m.page_count) + " pages");
  }
  return Status::Ok();
}

}  // namespace

// PRAGMA integrity_check on a closed file, opened immutable (no -wal or
// -shm is made next to the scratch copy, no lock taken).
Status IntegrityCheckClosedFile(const std::string& path) {
  sqlite3* db = nullptr;
  const std::string uri = "file:" + path + "?immutable=1";
  int rc = sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
  std::string result;
  if (rc == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(20)", -1, &st, nullptr);
    if (rc == SQLITE_OK) {
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!result.empty()) result += "; ";
        result += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      }
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
  }
  std::string error = rc == SQLITE_OK ? "" : std::string(sqlite3_errmsg(db));
  sqlite3_close(db);
  if (rc != SQLITE_OK) return Fault("db_integrity", "integrity_check: " + error);
  if (result != "ok") return Fault("db_integrity", "integrity_check: " + result);
  return Status::Ok();
}


Result<BackupManifest> VerifyBackup(const std::string& backup_dir, const VerifyBackupOptions& options) {
  auto bytes = ReadWholeFile(backup_dir + "/" + kBackupManifestFile);
  if (!bytes.ok()) {
    if (::access((backup_dir + "/" + kBackupManifestFile).c_str(), F_OK) != 0) {
      return Status::NotFound(std::string(kBackupManifestFile) + ": missing").WithReason("manifest_missing");
    }
    return bytes.status().Wrap(kBackupManifestFile);
  }
  auto m = DecodeManifest(*bytes);
  if (!m.ok()) return m.status();
  if (!options.expected_id.empty() && m->id != options.expected_id) {
    return Fault("manifest_id_mismatch", std::string(kBackupManifestFile) + ": id " + m->id +
                                             " is not its folder's " + options.expected_id);
  }
  if (options.expected_cluster && m->cluster_id != *options.expected_cluster) {
    return Fault("other_cluster", std::string(kBackupManifestFile) + ": cluster " + m->cluster_id +
                                      " is not this node's cluster " + *options.expected_cluster);
  }
  Status s = VerifyData(backup_dir, *m, options);
  ::unlink(options.scratch_path.c_str());
  if (!s.ok()) return s;
  return m;
}

}  // namespace walship
