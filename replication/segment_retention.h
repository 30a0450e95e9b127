// Segment retention: which segment files and base snapshots of the segment
// store may be removed, as a pure function of the store's listing, the
// backups kept and what the standby has acknowledged. The caller removes what
// the plan names (SegmentStore::RemoveSegment, then RemoveBase); this file
// never touches a file.
//
// The plan keeps every segment from a floor sequence on, and removes every
// segment below it and every base snapshot below it. Rules:
//  - No verified backup: nothing is removed (the store is the only way back).
//  - Any kept verified backup that segments cannot continue (taken with no
//    segment, segment_sequence 0, or without the node's checksum): nothing is
//    removed (conservative: the store may be how such a node gets past it).
//  - The oldest kept backup's own segment (the one ending at its position)
//    must be in the store and end at the backup's txid; else nothing is
//    removed (the backups and the store do not match: a human should look).
//  - floor <= the oldest kept backup's segment_sequence: a restore from that
//    backup needs every segment after it, and its own segment is where a WAL
//    left after it continues (restore_run.cpp) and the link the first
//    segment after it is checked against.
//  - A standby is configured: floor <= its acknowledged sequence + 1 (every
//    segment it has not confirmed stays); never acknowledged (unknown since
//    this node started, or unreachable from the start): nothing is removed.
//  - The newest segment is never removed (the capture continues the chain
//    from its header): the floor is at most the oldest backup's segment,
//    which the store holds, so at most the newest.
//  - Duplicate sequences in the listing (two files claim one): nothing is
//    removed; that is damage for `walship segments verify` to name.
//  - A base snapshot is removed only below the floor: its chain-start segment
//    is removed in the same plan (or was before). A base at or above the
//    floor (its chain is still needed) stays, and so does a base above the
//    newest segment (a new chain no segment follows yet: the capture resumes
//    on it). Segments are removed oldest first, then the bases, so a crash
//    part way leaves an unbroken suffix of the chain, never a chain-start
//    segment without its base (the next run removes a base left behind).
//
// New chains and timelines change nothing above: sequences only go up across
// bases and timelines, and a restore to a target after the floor starts from
// the nearest start at or before it (a kept backup, or a kept chain start's
// base), so what lies below the floor is needed by no restore from a kept
// backup. A restore to a point before the oldest kept backup's position is
// what retention gives up, by the backup policy (backup.keep_*).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "replication/segment_store.h"

namespace walship {

// What the standby is known to hold.
struct StandbyAck {
  bool configured = false;  // this node ships to a standby
  // The newest segment a push answer confirmed the standby applied, as last
  // answered since this node started; nullopt: not known yet.
  std::optional<uint64_t> acknowledged;
};

// A kept verified backup, as far as segments matter.
struct KeptBackup {
  std::string id;
  uint64_t segment_sequence = 0;  // the segment ending at its position; 0: none
  int64_t txid = 0;
  bool chain_checksum = false;    // segments can be proven to continue it
};

struct SegmentRetentionInput {
  std::vector<SegmentFileEntry> segments;  // SegmentStore::List(), by sequence
  std::vector<uint64_t> bases;             // every base-<sequence>.db in the store
  std::vector<KeptBackup> backups;         // every verified backup retention keeps
  StandbyAck standby;
};

struct SegmentRetentionPlan {
  // The first sequence kept; 0 when a rule forbids removing anything.
  uint64_t floor = 0;
  std::vector<SegmentFileEntry> remove_segments;  // oldest first
  std::vector<uint64_t> remove_bases;             // ascending
  // Why the floor is where it is, or why nothing is removed (for the log).
  std::string why;
};

SegmentRetentionPlan PlanSegmentRetention(const SegmentRetentionInput& input);

}  // namespace walship
