#include "backup/restore_plan.h"

#include <charconv>
#include <map>
#include <string_view>

#include "base/clock.h"
#include "replication/db_checksum.h"

namespace walship {
namespace {

std::string Txids(uint64_t first, uint64_t last) { return std::to_string(first) + "-" + std::to_string(last); }

// Every segment file the store lists, by sequence, with its header when it
// decodes. Two files claiming one sequence are damage at that sequence.
Result<std::map<uint64_t, PlannedSegment>> ReadHeaders(const SegmentStore& store) {
  auto entries = store.List();
  if (!entries.ok()) return entries.status();
  std::map<uint64_t, PlannedSegment> out;
  for (const SegmentFileEntry& e : *entries) {
    auto [it, inserted] = out.try_emplace(e.sequence);
    PlannedSegment& p = it->second;
    if (!inserted) {
      p.header.reset();
      p.damage = "two files claim sequence " + std::to_string(e.sequence) + " (" + p.entry.path + ", " + e.path + ")";
      continue;
    }
    p.entry = e;
    auto bytes = store.ReadHeaderBytes(e);
    if (!bytes.ok()) {
      p.damage = bytes.status().message();
      continue;
    }
    auto h = DecodeSegmentHeader(*bytes);
    if (!h.ok()) {
      p.damage = h.status().message();
      continue;
    }
    if (Status named = SegmentStore::CheckNameMatchesHeader(e, h->header); !named.ok()) {
      p.damage = named.message();
      continue;
    }
    p.header = std::move(h).value();
  }
  return out;
}

// The timeline of `seq`, or of the nearest segment before it whose header
// decodes (a damaged header hides its own).
uint64_t TimelineAt(const std::map<uint64_t, PlannedSegment>& all, uint64_t seq) {
  for (auto it = all.upper_bound(seq); it != all.begin();) {
    --it;
    if (it->second.header) return it->second.header->header.timeline;
  }
  return 0;
}

struct TargetPoint {
  uint64_t sequence = 0;  // 0: no segment (a backup alone)
  uint64_t timeline = 0;
  int64_t txid = 0;
  int64_t commit_unix_ms = 0;
};

int64_t CommitTimeOf(const PlannedSegment& p, int64_t txid) {
  if (!p.header) return 0;
  for (const SegmentCommit& c : p.header->header.commits) {
    if (static_cast<int64_t>(c.txid) == txid) return c.commit_unix_ms;
  }
  return 0;
}

Result<TargetPoint> FindTarget(const std::map<uint64_t, PlannedSegment>& all,
                               const std::vector<BackupListing>& backups, const RestoreTarget& target) {
  TargetPoint t;
  switch (target.kind) {
    case RestoreTarget::Kind::kLatest: {
      if (all.empty()) {
        const BackupListing* newest = nullptr;
        for (const BackupListing& b : backups) {
          if (newest == nullptr || b.manifest->txid > newest->manifest->txid) newest = &b;
        }
        if (newest == nullptr) return Status::NotFound("the segment store holds no segment and there is no verified backup");
        t.timeline = static_cast<uint64_t>(newest->manifest->timeline);
        t.txid = newest->manifest->txid;
        return t;
      }
      const PlannedSegment& p = all.rbegin()->second;
      t.sequence = p.entry.sequence;
      t.timeline = TimelineAt(all, t.sequence);
      t.txid = static_cast<int64_t>(p.entry.last_txid);
      t.commit_unix_ms = CommitTimeOf(p, t.txid);
      return t;
    }
    case RestoreTarget::Kind::kPosition: {
      // The newest segment holding the txid, on the named timeline if any.
      for (auto it = all.rbegin(); it != all.rend(); ++it) {
        const PlannedSegment& p = it->second;
        if (target.txid < p.entry.first_txid || target.txid > p.entry.last_txid) continue;
        const uint64_t timeline = TimelineAt(all, p.entry.sequence);
        if (target.timeline && *target.timeline != timeline) continue;
        t.sequence = p.entry.sequence;
        t.timeline = timeline;
        t.txid = static_cast<int64_t>(target.txid);
        t.commit_unix_ms = CommitTimeOf(p, t.txid);
        return t;
      }
      for (const BackupListing& b : backups) {
        if (b.manifest->txid != static_cast<int64_t>(target.txid)) continue;
        if (target.timeline && static_cast<int64_t>(*target.timeline) != b.manifest->timeline) continue;
        t.timeline = static_cast<uint64_t>(b.manifest->timeline);
        t.txid = b.manifest->txid;
        return t;
      }
      return Status::NotFound("no segment holds txid " + std::to_string(target.txid) +
                              (target.timeline ? " on timeline " + std::to_string(*target.timeline) : std::string()) +
                              " and no verified backup is at it");
    }
    case RestoreTarget::Kind::kTime: {
      // The newest commit at or before the time (commit times come from the
      // primary's clock, so the newest sequence wins over the larger time).
      // A segment whose commit times cannot be read (damaged, missing) lies
      // in time between its readable neighbours: when the older one has a
      // commit at or before the time, the unreadable one may hold later
      // ones, and taking the older commit would drop them silently.
      std::optional<uint64_t> newer;       // the sequence looked at before this one
      std::optional<std::string> unreadable;  // one newer than this, not yet ruled out
      for (auto it = all.rbegin(); it != all.rend(); newer = it->first, ++it) {
        const PlannedSegment& p = it->second;
        if (newer && *newer > it->first + 1) unreadable = "segment " + std::to_string(it->first + 1) + " is missing";
        if (!p.header) {
          unreadable = "segment " + std::to_string(it->first) + " is damaged (" + p.damage + ")";
          continue;
        }
        const auto& commits = p.header->header.commits;
        if (unreadable && !commits.empty() && commits.back().commit_unix_ms <= target.unix_ms) {
          return Status::Corruption("cannot tell which transaction is the last at or before " +
                                    FormatRfc3339Millis(target.unix_ms) + ": " + *unreadable +
                                    " and may hold it; use --to-position, or --fetch-from to repair the store first");
        }
        unreadable.reset();  // all its commits are later than the time, so the unreadable one's are too
        for (auto c = commits.rbegin(); c != commits.rend(); ++c) {
          if (c->commit_unix_ms > target.unix_ms) continue;
          t.sequence = p.entry.sequence;
          t.timeline = p.header->header.timeline;
          t.txid = static_cast<int64_t>(c->txid);
          t.commit_unix_ms = c->commit_unix_ms;
          return t;
        }
      }
      return Status::NotFound("no commit in the segment store is at or before " + FormatRfc3339Millis(target.unix_ms));
    }
  }
  return Status::Internal("unknown restore target");
}

// The nearest chain-start segment at or before `sequence` whose header decodes.
const PlannedSegment* ChainStartAtOrBefore(const std::map<uint64_t, PlannedSegment>& all, uint64_t sequence) {
  for (auto it = all.upper_bound(sequence); it != all.begin();) {
    --it;
    if (it->second.header && it->second.header->header.chain_start()) return &it->second;
  }
  return nullptr;
}

std::optional<uint64_t> ParseNumber(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

Result<RestoreTarget> ParseRestoreTarget(const std::string& to, const std::string& to_time,
                                         const std::string& to_position, const RestoreTargetNames& names) {
  const std::string to_name = names.to, time_name = names.to_time, position_name = names.to_position;
  const int given = !to.empty() + !to_time.empty() + !to_position.empty();
  if (given > 1) {
    return Status::InvalidArgument("give at most one of " + to_name + ", " + time_name + " and " + position_name);
  }
  RestoreTarget t;
  if (!to_time.empty()) {
    auto ms = ParseRfc3339Millis(to_time);
    if (!ms) {
      return Status::InvalidArgument(time_name + " \"" + to_time +
                                     "\": not an RFC 3339 time such as 2026-11-27T08:00:00Z or "
                                     "2026-11-27T09:00:00+01:00");
    }
    t.kind = RestoreTarget::Kind::kTime;
    t.unix_ms = *ms;
    return t;
  }
  if (!to_position.empty()) {
    t.kind = RestoreTarget::Kind::kPosition;
    const size_t slash = to_position.find('/');
    const std::string txid = slash == std::string::npos ? to_position : to_position.substr(slash + 1);
    std::optional<uint64_t> timeline;
    if (slash != std::string::npos) timeline = ParseNumber(std::string_view(to_position).substr(0, slash));
    const auto n = ParseNumber(txid);
    if (!n || *n == 0 || (slash != std::string::npos && (!timeline || *timeline == 0))) {
      return Status::InvalidArgument(position_name + " \"" + to_position +
                                     "\": not a position; use TIMELINE/TXID as write responses carry it (e.g. 1/42), "
                                     "or a txid alone");
    }
    t.txid = *n;
    t.timeline = timeline;
    return t;
  }
  if (!to.empty() && to != "latest") {
    return Status::InvalidArgument(to_name + " \"" + to + "\": only \"latest\" (use " + time_name + " or " +
                                   position_name + " for others)");
  }
  return t;
}

std::string RestoreTarget::ToString() const {
  switch (kind) {
    case Kind::kLatest:
      return "latest";
    case Kind::kPosition:
      return "position " + (timeline ? std::to_string(*timeline) + "/" : std::string()) + std::to_string(txid);
    case Kind::kTime:
      return "time " + FormatRfc3339Millis(unix_ms);
  }
  return "?";
}

std::string RestoreStart::Describe() const {
  const std::string at = " at position " + std::to_string(timeline) + "/" + std::to_string(txid);
  switch (kind) {
    case Kind::kBackup:
      return "backup " + backup_id + at + " (" + std::to_string(bytes) + " bytes compressed, checksum " +
             DbChecksumHex(db_checksum) + ")";
    case Kind::kBase:
      return "base snapshot " + path + at + " (" + std::to_string(bytes) + " bytes)";
    case Kind::kEmptyFile:
      return "the empty database the chain began on" + at;
  }
  return "?";
}

const PlannedSegment* RestorePlan::FirstKnownDamage() const {
  for (const PlannedSegment& p : segments) {
    if (p.missing || !p.header) return &p;
  }
  return nullptr;
}

Result<RestorePlan> PlanRestore(const SegmentStore& segments, const BackupStore* backups,
                                const RestoreTarget& target) {
  const std::string context = "plan restore to " + target.ToString();
  auto all = ReadHeaders(segments);
  if (!all.ok()) return all.status().Wrap(context);
  std::vector<BackupListing> verified;
  if (backups != nullptr) {
    auto listed = backups->List();
    if (!listed.ok()) return listed.status().Wrap(context);
    for (BackupListing& b : *listed) {
      if (b.state == BackupState::kVerified && b.manifest) verified.push_back(std::move(b));
    }
  }
  auto point = FindTarget(*all, verified, target);
  if (!point.ok()) return point.status().Wrap(context);

  RestorePlan plan;
  plan.target_timeline = point->timeline;
  plan.target_txid = point->txid;
  plan.target_commit_unix_ms = point->commit_unix_ms;
  if (!all->empty()) {
    const PlannedSegment& newest = all->rbegin()->second;
    plan.newest_timeline = TimelineAt(*all, newest.entry.sequence);
    plan.target_is_store_end = point->sequence == newest.entry.sequence &&
                               point->txid == static_cast<int64_t>(newest.entry.last_txid);
  } else {
    plan.target_is_store_end = true;  // nothing after it to diverge from
  }

  // The starts inside the target's chain, the nearest to the target wins.
  std::optional<RestoreStart> best;
  const PlannedSegment* chain_start = point->sequence ? ChainStartAtOrBefore(*all, point->sequence) : nullptr;
  if (chain_start != nullptr) {
    const SegmentHeader& h = chain_start->header->header;
    RestoreStart s;
    s.timeline = h.timeline;
    s.txid = static_cast<int64_t>(h.first_txid) - 1;
    s.page_size = h.page_size;
    s.first_sequence = h.sequence;
    if (auto base = segments.BasePath(h.sequence)) {
      s.kind = RestoreStart::Kind::kBase;
      s.path = *base;
      s.bytes = FileSizeOrZero(*base);
      best = s;
    } else if (h.db_pages_before == 0) {
      s.kind = RestoreStart::Kind::kEmptyFile;
      best = s;
    }
  }
  const uint64_t chain_first = chain_start ? chain_start->entry.sequence : 0;
  for (const BackupListing& b : verified) {
    const BackupManifest& m = *b.manifest;
    if (m.timeline != static_cast<int64_t>(point->timeline) || m.txid > point->txid) continue;
    // Continued by segments only when the node's checksum vouches for it and
    // its segment lies in the target's chain; else only as the target itself.
    const bool in_chain = m.chain_checksum && m.segment_sequence >= chain_first && m.segment_sequence != 0 &&
                          (point->sequence == 0 || m.segment_sequence <= point->sequence);
    if (!in_chain && m.txid != point->txid) continue;
    if (best && best->txid >= m.txid && best->kind == RestoreStart::Kind::kBackup) continue;
    if (best && best->txid > m.txid) continue;
    RestoreStart s;
    s.kind = RestoreStart::Kind::kBackup;
    s.backup_id = m.id;
    s.path = b.path;
    s.timeline = static_cast<uint64_t>(m.timeline);
    s.txid = m.txid;
    s.db_checksum = m.db_checksum;
    s.page_size = m.page_size;
    s.first_sequence = m.segment_sequence + 1;
    s.bytes = static_cast<int64_t>(m.bytes_compressed);
    best = s;
  }
  if (!best) {
    std::string why = chain_start == nullptr
                          ? "no chain-start segment at or before the target's segment decodes"
                          : "segment " + std::to_string(chain_start->entry.sequence) +
                                " starts the chain on a base snapshot the store does not have";
    return Status::NotFound(context + ": nothing to restore onto: " + why + ", and no verified backup of timeline " +
                            std::to_string(point->timeline) + " is in that chain");
  }
  plan.start = *best;
  plan.bytes_to_read = plan.start.bytes;
  if (point->txid > plan.start.txid) {
    for (uint64_t seq = plan.start.first_sequence; seq <= point->sequence; ++seq) {
      auto it = all->find(seq);
      if (it == all->end()) {
        PlannedSegment missing;
        missing.entry.sequence = seq;
        missing.missing = true;
        missing.damage = "no file in " + segments.dir() + " holds segment " + std::to_string(seq);
        plan.segments.push_back(std::move(missing));
        continue;
      }
      plan.bytes_to_read += it->second.entry.bytes;
      plan.segments.push_back(it->second);
    }
  }
  return plan;
}

std::string DescribeRestorePlan(const RestorePlan& plan) {
  std::string out = "start: " + plan.start.Describe() + "\n";
  for (const PlannedSegment& p : plan.segments) {
    const SegmentFileEntry& e = p.entry;
    out += "segment " + std::to_string(e.sequence) + ": ";
    if (p.missing) {
      out += "MISSING (" + p.damage + ")\n";
      continue;
    }
    out += "txids " + Txids(e.first_txid, e.last_txid) + ", " + std::to_string(e.bytes) + " bytes";
    if (p.header && !p.header->header.commits.empty()) {
      out += ", commits " + FormatRfc3339Millis(p.header->header.commits.front().commit_unix_ms) + " .. " +
             FormatRfc3339Millis(p.header->header.commits.back().commit_unix_ms);
    }
    if (!p.header) out += ", DAMAGED (" + p.damage + ")";
    out += "\n";
  }
  out += "target: position " + std::to_string(plan.target_timeline) + "/" + std::to_string(plan.target_txid);
  if (plan.target_commit_unix_ms != 0) out += ", committed " + FormatRfc3339Millis(plan.target_commit_unix_ms);
  out += "\n";
  out += "to read: " + std::to_string(plan.bytes_to_read) + " bytes (" + std::to_string(plan.segments.size()) +
         " segments)\n";
  if (!plan.target_is_store_end) {
    out += "after the restore the node continues on timeline " +
           std::to_string(std::max(plan.newest_timeline, plan.target_timeline) + 1) +
           " (the store holds history after the target)\n";
  }
  if (const PlannedSegment* bad = plan.FirstKnownDamage()) {
    out += "warning: segment " + std::to_string(bad->entry.sequence) +
           " cannot be applied as it is; without --fetch-from the restore stops before it\n";
  }
  return out;
}

}  // namespace walship
