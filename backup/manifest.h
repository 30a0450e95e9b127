// The backup manifest (see backup/backup_format.h for every field): what a
// backup holds, where it was taken, and the sums that prove its data file.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace walship {

struct BackupManifest {
  int format_version = 0;
  std::string id;
  std::string cluster_id;  // 32 lowercase hex digits
  uint64_t node_id = 0;
  std::string source;      // "primary" or "standby"
  int64_t timeline = 0;
  int64_t txid = 0;
  uint64_t segment_sequence = 0;
  uint32_t page_size = 0;
  uint64_t page_count = 0;
  uint64_t db_checksum = 0;
  bool chain_checksum = false;
  std::string data_file;
  uint64_t bytes_uncompressed = 0;
  uint64_t bytes_compressed = 0;
  std::string sha256_uncompressed;
  std::string sha256_compressed;
  int zstd_level = 0;
  int64_t started_unix_ms = 0;
  int64_t finished_unix_ms = 0;
  std::string tool_version;

  std::string Position() const { return std::to_string(timeline) + "/" + std::to_string(txid); }
};

// A manifest is about 1 KiB; anything over this is not one.
inline constexpr size_t kMaxManifestBytes = 64 * 1024;

// manifest.json's bytes: {"manifest": M, "sha256": H} (pretty-printed; H is
// over M's compact form, so the indentation does not matter).
std::string EncodeManifest(const BackupManifest& m);

// Parses and checks manifest.json's bytes. Errors (kCorruption, each with its
// own reason, so a test or a script can tell them apart):
//   manifest_unreadable         not JSON, or not the {"manifest","sha256"} shape
//   manifest_checksum_mismatch  M changed after it was written
//   manifest_version            a format or version this build cannot read
//   manifest_invalid            a field missing or of the wrong type or range
Result<BackupManifest> DecodeManifest(std::string_view bytes);

}  // namespace walship
