// Applying segments to a database file: the page images of each frame are
// written at (page number - 1) * page size, and at each commit the file is
// cut (or grown) to the commit's size. With no SQLite connection open on the
// file this gives the primary's file byte for byte (see the brief).
//
// The database checksum is carried along, so every segment is checked on
// the way: its checksum before must be the file's, its checksum after what
// the applied frames give.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "replication/db_checksum.h"
#include "replication/segment_codec.h"

namespace walship {

class SegmentApplier {
 public:
  // `path`: the database file to write (created if missing). Its checksum
  // is computed first; no SQLite connection may have it open.
  static Result<SegmentApplier> Open(const std::string& path, uint32_t page_size);

  // Applies `segment`, or only its commits up to `stop_after_txid`.
  // kCorruption when the checksum before or after does not match (nothing is
  // written for a wrong checksum before); kIOError when writing fails.
  Status Apply(const DecodedSegment& segment, std::optional<uint64_t> stop_after_txid = std::nullopt);
  // After a crash during Apply: the file holds the segment's pages in part,
  // so its checksum before cannot match. Writing every frame again gives the
  // state after it (each page ends as the segment's last image of it); only
  // the checksum after is checked.
  Status Reapply(const DecodedSegment& segment);
  // fsyncs the file.
  Status Sync();

  const DbChecksum& checksum() const { return checksum_; }

 private:
  Status ApplyFrames(const DecodedSegment& segment, std::optional<uint64_t> stop_after_txid, bool check_before);
  SegmentApplier(std::string path, DbChecksum checksum) : path_(std::move(path)), checksum_(std::move(checksum)) {}
  std::string path_;
  DbChecksum checksum_;
};

}  // namespace walship
