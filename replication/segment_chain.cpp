#include "replication/segment_chain.h"

#include <algorithm>

#include "replication/db_checksum.h"

namespace walship {

namespace {

std::string Seg(uint64_t sequence) { return "segment " + std::to_string(sequence); }

Status CheckSequence(const std::vector<DecodedSegmentHeader>& segments, size_t i) {
  const uint64_t prev = segments[i - 1].header.sequence;
  const uint64_t cur = segments[i].header.sequence;
  if (cur == prev) return Status::Corruption(Seg(cur) + " appears twice");
  if (cur < prev) return Status::Corruption(Seg(cur) + " comes after " + Seg(prev) + ": out of order");
  if (cur == prev + 1) return Status::Ok();
  const uint64_t wanted = prev + 1;
  const bool later = std::any_of(segments.begin() + static_cast<std::ptrdiff_t>(i), segments.end(),
                                 [&](const DecodedSegmentHeader& s) { return s.header.sequence == wanted; });
  if (later) return Status::Corruption(Seg(cur) + " comes before " + Seg(wanted) + ": out of order");
  if (cur == wanted + 1) {
    return Status::Corruption(Seg(wanted) + " is missing (between " + std::to_string(prev) + " and " +
                              std::to_string(cur) + ")");
  }
  return Status::Corruption("segments " + std::to_string(wanted) + " to " + std::to_string(cur - 1) +
                            " are missing (between " + std::to_string(prev) + " and " + std::to_string(cur) + ")");
}

// The links from one segment to the one before it.
Status CheckLink(const DecodedSegmentHeader& before, const DecodedSegmentHeader& seg) {
  const SegmentHeader& p = before.header;
  const SegmentHeader& h = seg.header;
  const std::string who = Seg(h.sequence) + ": ";
  if (h.previous_sha256 != before.segment_sha256) {
    return Status::Corruption(who + "previous sha256 " + HexOf(h.previous_sha256) + " is not " + Seg(p.sequence) +
                              "'s sha256 " + HexOf(before.segment_sha256));
  }
  if (h.first_txid <= p.last_txid) {
    return Status::Corruption(who + "first txid " + std::to_string(h.first_txid) + " does not follow " +
                              Seg(p.sequence) + "'s last txid " + std::to_string(p.last_txid));
  }
  if (h.db_checksum_before != p.db_checksum_after) {
    return Status::Corruption(who + "database checksum before " + DbChecksumHex(h.db_checksum_before) + " is not " +
                              Seg(p.sequence) + "'s checksum after " + DbChecksumHex(p.db_checksum_after));
  }
  if (h.db_pages_before != p.db_pages_after) {
    return Status::Corruption(who + "database size before " + std::to_string(h.db_pages_before) + " pages is not " +
                              Seg(p.sequence) + "'s size after " + std::to_string(p.db_pages_after));
  }
  return Status::Ok();
}

}  // namespace

Status VerifySegmentChain(const std::vector<DecodedSegmentHeader>& segments, const ClusterId& cluster) {
  for (size_t i = 0; i < segments.size(); ++i) {
    const SegmentHeader& h = segments[i].header;
    if (h.cluster_id != cluster) {
      return Status::Corruption(Seg(h.sequence) + ": cluster " + HexOf(h.cluster_id) + " is not this store's " +
                                HexOf(cluster));
    }
    if (i == 0) continue;
    const SegmentHeader& prev = segments[i - 1].header;
    if (h.timeline < prev.timeline) {
      return Status::Corruption(Seg(h.sequence) + ": timeline " + std::to_string(h.timeline) + " is older than " +
                                Seg(prev.sequence) + "'s timeline " + std::to_string(prev.timeline));
    }
    WALSHIP_RETURN_IF_ERROR(CheckSequence(segments, i));
    if (!h.chain_start()) WALSHIP_RETURN_IF_ERROR(CheckLink(segments[i - 1], segments[i]));
  }
  return Status::Ok();
}

}  // namespace walship
