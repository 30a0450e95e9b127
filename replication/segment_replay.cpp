#include "replication/segment_replay.h"

#include "base/fs.h"
#include "replication/segment_apply.h"
#include "replication/segment_chain.h"

namespace walship {

Result<ReplaySummary> ReplaySegments(const SegmentStore& store, const std::string& out_path,
                                     std::optional<uint64_t> to_txid) {
  const std::string context = "replay segments of " + store.dir() + " into " + out_path;
  if (FileSizeOrZero(out_path) > 0) return Status::InvalidArgument(context + ": the file exists");
  auto entries = store.List();
  if (!entries.ok()) return entries.status().Wrap(context);
  if (entries->empty()) return Status::NotFound(context + ": the store holds no segment");

  // Headers first: find the newest chain start at or before the target.
  std::vector<DecodedSegmentHeader> headers;
  size_t start = 0;
  for (const auto& e : *entries) {
    auto bytes = store.ReadBytes(e);
    if (!bytes.ok()) return bytes.status().Wrap(context);
    auto h = DecodeSegmentHeader(*bytes);
    if (!h.ok()) return h.status().Wrap(context + ": segment " + std::to_string(e.sequence));
    if (to_txid && h->header.first_txid > *to_txid) break;
    if (h->header.chain_start()) start = headers.size();
    headers.push_back(std::move(h).value());
  }
  if (headers.empty()) return Status::NotFound(context + ": no segment at or before txid " + std::to_string(*to_txid));
  if (!headers[start].header.chain_start()) {
    return Status::Corruption(context + ": segment " + std::to_string(headers[start].header.sequence) +
                              " does not start a chain and nothing comes before it");
  }
  std::vector<DecodedSegmentHeader> chain(headers.begin() + static_cast<long>(start), headers.end());
  WALSHIP_RETURN_IF_ERROR(VerifySegmentChain(chain, chain.front().header.cluster_id).Wrap(context));

  ReplaySummary summary;
  summary.first_sequence = chain.front().header.sequence;
  if (auto base = store.BasePath(summary.first_sequence)) {
    WALSHIP_RETURN_IF_ERROR(CopyFileAtomically(*base, out_path).Wrap(context + ": base"));
    summary.from_base = true;
  } else if (chain.front().header.db_pages_before != 0) {
    return Status::NotFound(context + ": segment " + std::to_string(summary.first_sequence) +
                            " starts a chain on a base snapshot the store does not have");
  }
  auto applier = SegmentApplier::Open(out_path, chain.front().header.page_size);
  if (!applier.ok()) return applier.status().Wrap(context);
  for (const auto& h : chain) {
    const SegmentFileEntry& e = (*entries)[start++];
    auto bytes = store.ReadBytes(e);
    if (!bytes.ok()) return bytes.status().Wrap(context);
    auto seg = DecodeSegment(*bytes);
    if (!seg.ok()) return seg.status().Wrap(context + ": segment " + std::to_string(h.header.sequence));
    WALSHIP_RETURN_IF_ERROR(applier->Apply(*seg, to_txid).Wrap(context));
    ++summary.segments;
    summary.last_sequence = h.header.sequence;
    summary.last_txid = static_cast<int64_t>(to_txid ? std::min(*to_txid, h.header.last_txid) : h.header.last_txid);
  }
  WALSHIP_RETURN_IF_ERROR(applier->Sync().Wrap(context));
  summary.db_checksum = applier->checksum().Value();
  return summary;
}

}  // namespace walship
