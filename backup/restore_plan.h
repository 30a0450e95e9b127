// Planning a restore: which starting point (a verified backup, a base
// snapshot of the segment store, or the empty file a chain began on) and
// which segments after it lead to the target position.
//
// The plan reads only manifests, file names and segment headers; it changes
// nothing, so `walship restore --dry-run` prints it as it is. Damage it can
// see without reading bodies (a sequence with no file, a header that does
// not decode) is recorded in the plan, not an error: the restore applies
// everything before it and reports the rest as lost (see restore_run.h).
//
// Choosing the start: the segment holding the target is found first; the
// chain it belongs to begins at the nearest chain-start segment at or
// before it. Every start inside that chain at or before the target counts
// (the chain start's base or empty file, and each verified backup whose
// segment lies in the chain), and the nearest to the target wins: fewer
// segments to apply, and a backup bridges any damaged segment before it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backup/backup_store.h"
#include "base/status.h"
#include "replication/segment_store.h"

namespace walship {

struct RestoreTarget {
  enum class Kind { kLatest, kPosition, kTime };
  Kind kind = Kind::kLatest;
  std::optional<uint64_t> timeline;  // kPosition: when the position names one
  uint64_t txid = 0;                 // kPosition
  int64_t unix_ms = 0;               // kTime: the last commit at or before it

  std::string ToString() const;
};

// What the three ways of naming a target are called where they came from:
// the command's flags, or the fields of POST /v1/admin/restore.
struct RestoreTargetNames {
  const char* to = "--to";
  const char* to_time = "--to-time";
  const char* to_position = "--to-position";
};
// At most one of the three (all empty: latest); kInvalidArgument naming the
// flag or field and the text.
Result<RestoreTarget> ParseRestoreTarget(const std::string& to, const std::string& to_time,
                                         const std::string& to_position, const RestoreTargetNames& names = {});

struct RestoreStart {
  enum class Kind { kBackup, kBase, kEmptyFile };
  Kind kind = Kind::kEmptyFile;
  std::string backup_id;  // kBackup
  std::string path;       // kBackup: its folder; kBase: the base file
  uint64_t timeline = 0;
  int64_t txid = 0;             // the position the start holds
  uint64_t db_checksum = 0;     // kBackup: from the manifest; else checked by the first segment
  uint32_t page_size = 0;
  uint64_t first_sequence = 0;  // the first segment to apply on it
  int64_t bytes = 0;            // what is read for it (compressed backup, base file)

  std::string Describe() const;
};

struct PlannedSegment {
  SegmentFileEntry entry;  // sequence always; the rest only when a file exists
  bool missing = false;    // no file holds this sequence
  std::optional<DecodedSegmentHeader> header;  // when it decodes
  std::string damage;      // why the header does not decode (empty otherwise)
};

struct RestorePlan {
  RestoreStart start;
  std::vector<PlannedSegment> segments;  // consecutive sequences from start.first_sequence
  uint64_t target_timeline = 0;
  int64_t target_txid = 0;
  int64_t target_commit_unix_ms = 0;  // 0 when no segment commit gives it (a backup alone)
  // The target is the end of the newest segment the store holds: the node
  // resumes the chain as it was. Otherwise the restored history leaves the
  // store's (a point in the past, or a loss), so it continues on a new timeline.
  bool target_is_store_end = false;
  uint64_t newest_timeline = 0;  // the store's newest segment's (0: none)
  int64_t bytes_to_read = 0;

  // The first planned segment that cannot be applied as planned, if any.
  const PlannedSegment* FirstKnownDamage() const;
};

// `backups` may be null (no backup folder). kNotFound when nothing can reach
// the target (no segment holds it and no backup is at it); kCorruption when
// the store itself cannot be listed (a stray file).
Result<RestorePlan> PlanRestore(const SegmentStore& segments, const BackupStore* backups,
                                const RestoreTarget& target);

// Lines for people: the start, each segment (sequence, txids, commit times,
// bytes, damage), the target, the totals.
std::string DescribeRestorePlan(const RestorePlan& plan);

}  // namespace walship
