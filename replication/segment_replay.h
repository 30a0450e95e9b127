// Rebuilding a database from a segment store: the newest chain start (its
// base snapshot, or the empty file), then every segment after it, each
// decoded, checked against the chain and applied with its checksums
// verified. The first fault stops the replay and names the segment.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "replication/segment_store.h"

namespace walship {

struct ReplaySummary {
  uint64_t first_sequence = 0;  // the chain start replayed from
  uint64_t last_sequence = 0;
  uint64_t segments = 0;
  int64_t last_txid = -1;
  uint64_t db_checksum = 0;  // of the rebuilt file
  bool from_base = false;    // a base snapshot, not the empty file
};

// Writes the database to `out_path`, which must not exist yet, up to
// `to_txid` when given (else every segment).
Result<ReplaySummary> ReplaySegments(const SegmentStore& store, const std::string& out_path,
                                     std::optional<uint64_t> to_txid = std::nullopt);

}  // namespace walship
