// Streaming zstd compression of a whole file, with the SHA-256 of both
// sides taken on the way (a backup's data file; see backup_format.h).
// Memory stays a few buffers whatever the file size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"

namespace walship {

struct StreamSums {
  uint64_t bytes_uncompressed = 0;
  uint64_t bytes_compressed = 0;
  std::string sha256_uncompressed;
  std::string sha256_compressed;
};

// Called now and then with the uncompressed bytes done so far.
using StreamProgress = std::function<void(uint64_t bytes_done)>;

// Compresses `src` into `dst` (created; must not exist), one zstd frame with
// its content checksum, and fsyncs `dst` (not its folder: the caller
// publishes). kIOError naming the file on any read, write or fsync failure.
Result<StreamSums> CompressFile(const std::string& src, const std::string& dst, int level,
                                const StreamProgress& progress = {});

// Decompresses `src` into `dst` (created; must not exist; not fsynced: a
// scratch copy). kCorruption when the input is not one whole zstd frame
// ("data.db.zst: zstd: ..."), kIOError on read or write failures.
Result<StreamSums> DecompressFile(const std::string& src, const std::string& dst,
                                  const StreamProgress& progress = {});

}  // namespace walship
