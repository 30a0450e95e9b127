#include "replication/segment_retention.h"

#include <algorithm>

namespace walship {

namespace {

std::string Seg(uint64_t sequence) { return "segment " + std::to_string(sequence); }

// Why no rule allows removing anything, if one forbids it.
std::optional<std::string> NothingMayGo(const SegmentRetentionInput& in) {
  if (in.segments.empty()) return "the store holds no segment";
  if (in.backups.empty()) return "no verified backup: the segment store is the only way back";
  for (size_t i = 1; i < in.segments.size(); ++i) {
    if (in.segments[i].sequence == in.segments[i - 1].sequence) {
      return "two files claim " + Seg(in.segments[i].sequence) + " (run walship segments verify)";
    }
  }
  for (const KeptBackup& b : in.backups) {
    if (b.segment_sequence == 0 || !b.chain_checksum) {
      return "backup " + b.id + " cannot be continued by segments (" +
             (b.segment_sequence == 0 ? "taken at no segment" : "taken without the node's checksum") + ")";
    }
  }
  if (in.standby.configured && !in.standby.acknowledged) {
    return "the standby has not acknowledged any segment since this node started";
  }
  return std::nullopt;
}

}  // namespace

SegmentRetentionPlan PlanSegmentRetention(const SegmentRetentionInput& in) {
  SegmentRetentionPlan plan;
  if (std::optional<std::string> why = NothingMayGo(in)) {
    plan.why = *why;
    return plan;
  }
  const KeptBackup& oldest = *std::min_element(
      in.backups.begin(), in.backups.end(),
      [](const KeptBackup& a, const KeptBackup& b) { return a.segment_sequence < b.segment_sequence; });
  const auto anchor = std::find_if(in.segments.begin(), in.segments.end(), [&](const SegmentFileEntry& e) {
    return e.sequence == oldest.segment_sequence;
  });
  if (anchor == in.segments.end() || static_cast<int64_t>(anchor->last_txid) != oldest.txid) {
    plan.why = "the oldest kept backup " + oldest.id + " was taken at " + Seg(oldest.segment_sequence) + " (txid " +
               std::to_string(oldest.txid) + "), which the store " +
               (anchor == in.segments.end() ? "does not hold"
                                            : "holds ending at txid " + std::to_string(anchor->last_txid)) +
               ": the backups and the store do not match";
    return plan;
  }
  plan.floor = oldest.segment_sequence;
  plan.why = "the oldest kept backup " + oldest.id + " was taken at " + Seg(plan.floor);
  if (in.standby.configured && *in.standby.acknowledged < plan.floor - 1) {
    plan.floor = *in.standby.acknowledged + 1;
    plan.why = "the standby has acknowledged segments up to " + std::to_string(*in.standby.acknowledged);
  }
  // The floor is at most the anchor's sequence, a segment the store holds:
  // the newest segment is never below it.
  for (const SegmentFileEntry& e : in.segments) {
    if (e.sequence < plan.floor) plan.remove_segments.push_back(e);
  }
  for (uint64_t base : in.bases) {
    if (base < plan.floor) plan.remove_bases.push_back(base);
  }
  std::sort(plan.remove_bases.begin(), plan.remove_bases.end());
  return plan;
}

}  // namespace walship
