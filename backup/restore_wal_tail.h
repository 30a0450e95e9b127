// The last step of a restore to the latest position: the committed
// transactions the node's own -wal holds beyond the last segment (commits
// made after the last capture, e.g. before a kill -9), when that WAL is the
// one the last segment was captured from.
//
// They count only when SQLite's own checks vouch for them: the WAL still
// has the segment's salts and continues its last frame with the checksum the
// segment recorded (or restarted after a checkpoint that came after it), and
// each frame continues the cumulative checksum. Frames after the last valid
// commit frame are not data. When a frame fails and commit frames verify
// behind it (the start-up scan's refusal), only the commits before the
// damaged frame are applied; the ones behind it are reported, not applied:
// their chain of checksums is broken, so nothing proves them.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "replication/segment_apply.h"
#include "replication/segment_format.h"

namespace walship {

struct WalTailResult {
  uint32_t commits = 0;  // transactions applied from the WAL
  uint32_t frames = 0;
  // Non-empty when the WAL held committed frames that were not applied.
  std::string not_applied;
  // Of those, commit frames that verify behind a damaged frame: committed
  // transactions no segment holds, lost unless another node has them.
  uint32_t commits_lost = 0;
};

// Applies to `applier`'s file; a missing or empty WAL applies nothing.
Result<WalTailResult> ApplyWalTail(const std::string& wal_path, const SegmentHeader& last_segment,
                                   SegmentApplier& applier);

}  // namespace walship
