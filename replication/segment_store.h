// The segment store: a folder of sealed segment files (and base snapshots),
// by default DATA/segments.
//
// File names (the sequence decides the order; the txids are for people):
//   segment  <sequence:20 digits>-<first txid:20 digits>-<last txid:20 digits>.wseg
//   base     base-<sequence:20 digits>.db   the database a chain-start segment
//            with that sequence applies onto (absent when the chain starts
//            from an empty file)
// Everything is published durably: a temp file in the folder, fsync, rename,
// fsync of the folder. DIR/quarantine/ holds bases that were superseded
// before any segment followed them. Temp files ("tmp-" + the final name) left by a crash
// are never listed as segments; the next publish of that name overwrites them.
// Any other name in the folder is an error (see List): the store never
// guesses what a stray file means.
//
// Nothing is ever deleted, except by segment retention (RemoveSegment,
// RemoveBase; see replication/segment_retention.h), which removes only what
// no kept backup and no standby needs.
//
// Thread contract: one writer (the capture, on the writer thread) at a time;
// listing and reading may happen from any thread (they only read files).
// Retention removes from another thread (the backup pool's), one removal run
// at a time, and only segments below the newest and bases below those: files
// the writer no longer touches (it publishes above the newest and quarantines
// only a base above it). A reader that listed a file retention then removed
// gets kNotFound reading it: the shipper retries with a new listing; an
// offline tool (segments verify, restore) runs on a stopped node.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/status.h"
#include "replication/segment_codec.h"

namespace walship {

struct SegmentFileEntry {
  uint64_t sequence = 0;
  uint64_t first_txid = 0;
  uint64_t last_txid = 0;
  std::string path;
  int64_t bytes = 0;
};

class SegmentStore {
 public:
  // Creates the folder (durably) when missing.
  static Result<std::unique_ptr<SegmentStore>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }

  // Publishes a sealed segment durably under its name. Publishing the same
  // bytes again is a no-op; a different segment with the same sequence is
  // refused (kConflict) and changes nothing.
  Status Publish(const EncodedSegment& segment);

  // Copies the database snapshot at `snapshot_path` (a closed file) into the
  // store as the base of the chain-start segment `sequence`, durably.
  Status PublishBase(uint64_t sequence, const std::string& snapshot_path);
  // The same, with `fill` writing the snapshot straight into the store's
  // temp file (no second copy); refused (kConflict) when the base exists.
  Status PublishBaseFrom(uint64_t sequence, const FillFile& fill);  // FillFile: base/fs.h
  // Makes the complete file `path`, in this store's folder, the base of
  // `sequence` by a rename (no copy of a database-sized file): it is fsynced,
  // renamed, and the folder fsynced. kConflict when the base exists.
  Status AdoptBase(uint64_t sequence, const std::string& path);
  // Whether the store's base for `sequence` holds exactly the bytes of the
  // file at `path` (read in chunks). kNotFound when the store has no base.
  Result<bool> BaseHolds(uint64_t sequence, const std::string& path) const;
  // The base snapshot's path for a chain-start segment, if the store has one.
  std::optional<std::string> BasePath(uint64_t sequence) const;
  // Moves a base no segment uses (superseded by a newer base before any
  // segment followed it) into DIR/quarantine/, durably; returns where.
  // Nothing is deleted: the quarantine keeps it.
  Result<std::string> QuarantineBase(uint64_t sequence, int64_t unix_ms);
  // Moves a segment file (a damaged one, about to be replaced by a good copy
  // from another node) into DIR/quarantine/, durably; returns where.
  Result<std::string> QuarantineSegment(const SegmentFileEntry& entry, int64_t unix_ms);
  static constexpr const char* kQuarantineDir = "quarantine";

  // DIR/PRUNED-BELOW: segment retention writes the first sequence it keeps
  // (decimal, durably, temp file then rename) before it removes anything,
  // so that `segments verify` tells a store retention trimmed from one
  // whose oldest segments were lost.
  static constexpr const char* kPrunedBelowFile = "PRUNED-BELOW";
  Status RecordPrunedBelow(uint64_t first_kept);
  // The sequence PRUNED-BELOW records; 0 when retention never removed
  // anything here; kCorruption when the file holds something else.
  Result<uint64_t> PrunedBelow() const;

  // Segment retention: unlinks the segment file (or the base snapshot of
  // chain-start segment `sequence`), then fsyncs the folder, so the removal
  // is durable when this returns. kNotFound when the file is not there.
  Status RemoveSegment(const SegmentFileEntry& entry);
  Status RemoveBase(uint64_t sequence);
  // The sequences of every base snapshot in the folder, ascending.
  Result<std::vector<uint64_t>> ListBases() const;

  // Every segment file, by sequence (then name: two files may claim one
  // sequence, and List reports both); base snapshots and temp files are not
  // listed. A name that is none of these is an error naming the file
  // (kCorruption), never skipped silently.
  Result<std::vector<SegmentFileEntry>> List() const;
  Result<std::string> ReadBytes(const SegmentFileEntry& entry) const;
  // Only the header's bytes (enough for DecodeSegmentHeader), not the body:
  // a plan over the whole store reads kilobytes per segment, not megabytes.
  // A file too short or not a segment gives what it has, for the decoder to
  // name the fault.
  Result<std::string> ReadHeaderBytes(const SegmentFileEntry& entry) const;
  // The decoded, checked header of the segment with the highest sequence;
  // nullopt when the store holds no segment. A header that does not match
  // its file name is kCorruption.
  Result<std::optional<DecodedSegmentHeader>> NewestHeader() const;

  static std::string SegmentFileName(uint64_t sequence, uint64_t first_txid, uint64_t last_txid);
  static std::string BaseFileName(uint64_t sequence);
  // The sequence and txids a segment file name encodes; nullopt when `name`
  // (no folder) is not exactly a segment file name. Sets no path or size.
  static std::optional<SegmentFileEntry> ParseSegmentFileName(const std::string& name);
  // kCorruption, without naming the file (the caller does), when the header
  // says another sequence or txid range than the file's name.
  static Status CheckNameMatchesHeader(const SegmentFileEntry& entry, const SegmentHeader& header);

 private:
  explicit SegmentStore(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace walship
