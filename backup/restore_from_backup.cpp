#include "backup/restore_from_backup.h"

#include "backup/backup_format.h"
#include "backup/compressed_file.h"
#include "base/fs.h"
#include "replication/segment_apply.h"
#include "replication/segment_chain.h"

namespace walship {

Result<RestoreSummary> RestoreFromBackup(const std::string& backup_dir, const SegmentStore& segments,
                                         const std::string& out_path, std::optional<uint64_t> to_txid) {
  const std::string context = "restore from backup " + backup_dir + " into " + out_path;
  if (FileSizeOrZero(out_path) > 0) return Status::InvalidArgument(context + ": the file exists");
  auto bytes = ReadWholeFile(backup_dir + "/" + kBackupManifestFile);
  if (!bytes.ok()) return bytes.status().Wrap(context);
  auto m = DecodeManifest(*bytes);
  if (!m.ok()) return m.status().Wrap(context);
  if (to_txid && static_cast<int64_t>(*to_txid) < m->txid) {
    return Status::InvalidArgument(context + ": the backup is at txid " + std::to_string(m->txid) +
                                   ", after the target " + std::to_string(*to_txid));
  }
  auto sums = DecompressFile(backup_dir + "/" + kBackupDataFile, out_path);
  if (!sums.ok()) return sums.status().Wrap(context);
  if (sums->sha256_uncompressed != m->sha256_uncompressed) {
    return Status::Corruption(context + ": the data decompresses to SHA-256 " + sums->sha256_uncompressed +
                              ", the manifest says " + m->sha256_uncompressed);
  }
  RestoreSummary summary;
  summary.backup_id = m->id;
  summary.backup_txid = summary.last_txid = m->txid;
  summary.db_checksum = m->db_checksum;

  // The segment that ends at the backup (when kept) and every one after it.
  auto entries = segments.List();
  if (!entries.ok()) return entries.status().Wrap(context);
  std::vector<DecodedSegmentHeader> run;
  std::vector<SegmentFileEntry> run_entries;
  for (const auto& e : *entries) {
    if (static_cast<int64_t>(e.last_txid) < m->txid) continue;
    if (to_txid && e.first_txid > *to_txid) break;
    auto seg_bytes = segments.ReadBytes(e);
    if (!seg_bytes.ok()) return seg_bytes.status().Wrap(context);
    auto h = DecodeSegmentHeader(*seg_bytes);
    if (!h.ok()) return h.status().Wrap(context + ": segment " + std::to_string(e.sequence));
    if (static_cast<int64_t>(e.last_txid) == m->txid && e.sequence != m->segment_sequence) continue;
    run.push_back(std::move(h).value());
    run_entries.push_back(e);
  }
  const bool has_anchor = !run.empty() && run.front().header.sequence == m->segment_sequence &&
                          static_cast<int64_t>(run.front().header.last_txid) == m->txid;
  const bool wants_more = !to_txid || static_cast<int64_t>(*to_txid) > m->txid;
  if (wants_more && !m->chain_checksum) {
    return Status::InvalidArgument(context + ": the backup was taken without the node's checksum (segments.capture "
                                   "off), so no segment can be proven to continue it");
  }
  if (!run.empty()) {
    auto cluster = ParseClusterId(m->cluster_id);
    if (!cluster.ok()) return cluster.status().Wrap(context + ": manifest");
    WALSHIP_RETURN_IF_ERROR(VerifySegmentChain(run, *cluster).Wrap(context));
  }
  auto applier = SegmentApplier::Open(out_path, m->page_size);
  if (!applier.ok()) return applier.status().Wrap(context);
  size_t next = has_anchor ? 1 : 0;
  if (wants_more && (next >= run.size() || static_cast<int64_t>(run[next].header.first_txid) != m->txid + 1)) {
    return Status::NotFound(context + ": no segment starts at txid " + std::to_string(m->txid + 1) +
                            " (the store's segments do not continue the backup)");
  }
  for (; wants_more && next < run.size(); ++next) {
    const SegmentHeader& h = run[next].header;
    if (h.chain_start()) {
      return Status::Corruption(context + ": segment " + std::to_string(h.sequence) +
                                " starts a new chain (a new base): the backup cannot be continued across it");
    }
    auto seg_bytes = segments.ReadBytes(run_entries[next]);
    if (!seg_bytes.ok()) return seg_bytes.status().Wrap(context);
    auto seg = DecodeSegment(*seg_bytes);
    if (!seg.ok()) return seg.status().Wrap(context + ": segment " + std::to_string(h.sequence));
    WALSHIP_RETURN_IF_ERROR(applier->Apply(*seg, to_txid).Wrap(context));
    ++summary.segments_applied;
    summary.last_txid = static_cast<int64_t>(to_txid ? std::min<uint64_t>(*to_txid, h.last_txid) : h.last_txid);
  }
  WALSHIP_RETURN_IF_ERROR(applier->Sync().Wrap(context));
  summary.db_checksum = applier->checksum().Value();
  return summary;
}

}  // namespace walship
