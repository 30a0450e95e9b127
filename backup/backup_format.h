// The backup folder format: the one place in code that names its files and
// manifest fields. docs/BACKUPS.md describes the same layout for people;
// keep the two in step. Only backup/manifest.cpp encodes the manifest and
// only backup/compressed_file.cpp the data file.
//
// BACKUP_DIR (DATA/backups unless backup.dir says otherwise):
//   <id>/                 a backup that verified: published by renaming its
//                         tmp- folder only after verification passed
//     manifest.json       see below
//     data.db.zst         the database file, one zstd frame (streaming)
//   tmp-<id>/             a backup being taken; never listed. A crash leaves
//                         it behind; the next start moves it to failed/.
//   deleting-<id>/        a backup retention is removing (a crash leaves it;
//                         the next start finishes the removal)
//   failed/<id>/          a backup that failed (taking or verifying), kept
//                         aside with whatever it wrote and
//     error.json          {"error": "...", "failed_at": "..."}
//
// An id is the UTC start time, "20261127T043132Z" (a "-2", "-3"... suffix
// when two start within one second), so ids sort by age.
//
// manifest.json is one JSON object {"manifest": M, "sha256": H} where H is
// the lowercase hex SHA-256 of M serialized compactly with sorted keys
// (nlohmann::json::dump()), so an edited manifest is detected. M:
//   format              "walship-backup"
//   format_version      kBackupFormatVersion; readers refuse a newer one and
//                       ignore fields they do not know (additions keep the
//                       version; a change of meaning raises it)
//   id, cluster_id (32 hex digits), node_id, source ("primary"|"standby")
//   timeline, txid      the position the backup holds: every transaction up
//                       to it and none after
//   segment_sequence    the segment that ends at that position (0: none)
//   page_size, page_count
//   db_checksum         "0x" + 16 hex digits (replication/db_checksum.h) of
//                       the uncompressed file; equal to the segment chain's
//                       checksum at the position when the source knew it
//   chain_checksum      true when db_checksum was checked against the
//                       node's own checksum at the position (capture or
//                       replica), so restore can go on with the segments
//   data_file           "data.db.zst"
//   bytes_uncompressed, bytes_compressed
//   sha256_uncompressed, sha256_compressed
//   zstd_level
//   started_at, finished_at          RFC 3339 UTC, milliseconds
//   started_unix_ms, finished_unix_ms
//   tool_version        walship's version
#pragma once

#include <cstdint>

namespace walship {

inline constexpr const char* kBackupFormatName = "walship-backup";
inline constexpr int kBackupFormatVersion = 1;
inline constexpr const char* kBackupManifestFile = "manifest.json";
inline constexpr const char* kBackupDataFile = "data.db.zst";
inline constexpr const char* kBackupErrorFile = "error.json";
inline constexpr const char* kBackupTempPrefix = "tmp-";
inline constexpr const char* kBackupFailedDir = "failed";

}  // namespace walship
