// Reading SQLite's write-ahead log (the -wal file) frame by frame, verifying
// what SQLite's own recovery verifies, and reporting what SQLite drops
// without a word.
//
// Layout (SQLite's walformat): a 32-byte header (magic, format version, page
// size, checkpoint sequence, salt-1, salt-2, checksum over the first 24
// bytes), then frames of a 24-byte header (page number, database size in
// pages after the commit or 0, salt-1, salt-2, cumulative checksum) and one
// page image. All header fields are big-endian; the magic's low bit says in
// which byte order the checksum reads its 32-bit words.
//
// A frame is valid when its salts equal the header's, its page number is not
// 0 and its stored checksum equals the checksum continued from the previous
// frame (the header for frame 1) over its first 8 header bytes and its page.
// Only frames up to the last valid commit frame are data.
//
// Telling a torn tail from corruption: when a frame fails, the scan goes on
// through the rest of the file, re-seeding each frame's checksum from the
// stored checksum of the frame before it. A rolled-back transaction's spilled
// frames may verify that way, but they never include a commit frame; frames
// of an older WAL generation never verify (other salts), and two of them in a
// row that verify under their own salts end the look (the node's checkpoints
// let SQLite restart the WAL in place, so a whole older generation may follow
// the newest one). So a commit frame that verifies behind a failed frame
// means committed data SQLite would silently drop: corruption.
//
// Opening and closing the -wal file with plain file calls is safe while
// SQLite has the database open: SQLite holds its POSIX locks on the database
// and -shm files, not on the -wal.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "replication/read_only_file.h"

namespace walship {

inline constexpr uint32_t kWalMagicLittleEndianChecksums = 0x377f0682;
inline constexpr uint32_t kWalMagicBigEndianChecksums = 0x377f0683;
inline constexpr uint32_t kWalFormatVersion = 3007000;
inline constexpr size_t kWalHeaderSize = 32;
inline constexpr size_t kWalFrameHeaderSize = 24;

struct WalChecksum {
  uint32_t s1 = 0;
  uint32_t s2 = 0;
  bool operator==(const WalChecksum&) const = default;
};

// "0x" and 16 hex digits: s1 then s2.
std::string WalChecksumHex(WalChecksum c);

// SQLite's cumulative WAL checksum over `data` (a multiple of 8 bytes),
// continued from `seed`, reading 32-bit words in the given byte order.
WalChecksum ContinueWalChecksum(WalChecksum seed, std::string_view data, bool big_endian_words);

struct WalHeader {
  uint32_t magic = 0;
  uint32_t format_version = 0;
  uint32_t page_size = 0;
  uint32_t checkpoint_seq = 0;
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  WalChecksum checksum;  // as stored

  bool big_endian_checksums() const { return (magic & 1) != 0; }
  size_t frame_size() const { return kWalFrameHeaderSize + page_size; }
  // Byte offset of frame `index` (1-based).
  uint64_t FrameOffset(uint32_t index) const {
    return kWalHeaderSize + static_cast<uint64_t>(index - 1) * frame_size();
  }
};

struct WalFrame {
  uint32_t index = 0;                  // 1-based position in the WAL file
  uint64_t offset = 0;                 // byte offset of the frame's 24-byte header
  uint32_t page_number = 0;
  uint32_t db_pages_after_commit = 0;  // non-zero only on a commit frame
  WalChecksum checksum;                // cumulative, stored and verified
  std::string page;                    // the page image, unless the scan was told not to keep it

  bool is_commit() const { return db_pages_after_commit != 0; }
};

// How far a capture has read one WAL generation (told apart by its salts):
// the last frame taken, always a commit frame, and the checksum stored in it.
struct WalPosition {
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  uint32_t frame = 0;    // 0: nothing of this generation taken yet
  WalChecksum checksum;  // stored in `frame`; the header's checksum when frame is 0
  bool operator==(const WalPosition&) const = default;
};

// Why the run of valid frames ended.
enum class WalStop {
  kEndOfFile,          // the file ends on a frame boundary
  kPartialFrame,       // the file ends inside a frame (or inside the header)
  kSaltMismatch,       // a frame of another generation (or with damaged salts)
  kZeroPageNumber,     // a frame naming page 0
  kChecksumMismatch,   // a frame whose checksum does not continue the chain
  kHeaderChecksum,     // the header itself fails its checksum: no frame is valid
  kCommitLimit,        // the scan took as many commit frames as it was told to
};
std::string_view WalStopName(WalStop stop);

enum class WalEnd {
  // Nothing after the last commit frame but the end of the file or frames of
  // an older generation (a restarted WAL is rewritten in place).
  kClean,
  // Uncommitted frames (a transaction in progress or rolled back) or a frame
  // that does not verify, with no verified commit frame behind it. SQLite
  // drops these too; they were never committed.
  kTornTail,
  // A frame fails and verified commit frames follow it: committed
  // transactions SQLite would drop silently.
  kCorruption,
};
std::string_view WalEndName(WalEnd end);

// Committed data behind a failed frame.
struct WalCorruption {
  uint32_t bad_frame = 0;    // the first frame that failed (0: the header)
  uint64_t bad_offset = 0;   // its byte offset
  std::string reason;        // "checksum mismatch (stored 0x..., computed 0x...)"
  uint32_t failed_frames = 0;  // frames from bad_frame to the last commit at stake that fail
  std::vector<uint32_t> commit_frames_at_stake;  // verified commit frames behind bad_frame, ascending

  // kCorruption: "wal frame 7 at byte 28952: checksum mismatch (stored 0x..,
  // computed 0x..); 3 commit frames verify behind it (frames 9, 12, 20): ..."
  Status ToStatus() const;
};

struct WalScan {
  bool empty = false;     // no header to read (missing or zero-length file)
  WalHeader header;       // valid unless empty
  bool resumed = false;   // continued after the given position (same salts)
  bool restarted = false; // a position was given but the WAL has other salts: scanned from frame 1

  // Verified frames from the first scanned up to the last commit frame.
  std::vector<WalFrame> frames;
  // Where the next capture resumes: after the last commit frame scanned, or
  // the starting point when no new commit was found.
  WalPosition next;

  uint32_t uncommitted_frames = 0;  // frames that verify after the last commit
  WalStop stop = WalStop::kEndOfFile;
  uint32_t stop_frame = 0;    // the frame the run stopped at (one past the last when at end of file)
  uint64_t stop_offset = 0;   // its byte offset
  std::string stop_detail;    // e.g. "checksum mismatch (stored 0x..., computed 0x...)"; empty at end of file

  WalEnd end = WalEnd::kClean;
  std::optional<WalCorruption> corruption;  // set exactly when end is kCorruption

  uint32_t last_commit_frame() const { return frames.empty() ? 0 : frames.back().index; }
  size_t commit_count() const {
    size_t n = 0;
    for (const WalFrame& f : frames) n += f.is_commit() ? 1 : 0;
    return n;
  }
};

// Where the scan reads bytes from: a file, or bytes in memory (tests).
class WalSource {
 public:
  virtual ~WalSource() = default;
  // The size when the source was opened; the scan reads nothing past it.
  virtual uint64_t size() const = 0;
  // Reads exactly n bytes at offset (offset + n <= size()).
  virtual Status ReadAt(uint64_t offset, size_t n, char* out) const = 0;
};

class BytesWalSource : public WalSource {
 public:
  explicit BytesWalSource(std::string_view bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, size_t n, char* out) const override;

 private:
  std::string_view bytes_;
};

class FileWalSource : public WalSource {
 public:
  // NotFound when the file does not exist.
  static Result<std::unique_ptr<FileWalSource>> Open(const std::string& path);
  uint64_t size() const override { return file_.size(); }
  // Reads through a window: a scan reads frame after frame, and one pread
  // per frame costs more than checking the frame. The window starts small
  // and doubles with each refill up to kWindowBytes, so a scan that stops
  // after a frame or two (the writer's end-of-WAL check before each
  // checkpoint) reads kilobytes, not megabytes.
  Status ReadAt(uint64_t offset, size_t n, char* out) const override;
  // Bytes read from the file so far (windows and direct reads).
  uint64_t bytes_read() const { return bytes_read_; }

  static constexpr size_t kFirstWindowBytes = 8 << 10;
  static constexpr size_t kWindowBytes = 1 << 20;

 private:
  explicit FileWalSource(ReadOnlyFile file) : file_(std::move(file)) {}
  Status ReadFile(uint64_t offset, size_t n, char* out) const;
  ReadOnlyFile file_;
  mutable std::string window_;        // bytes of the file from window_offset_
  mutable uint64_t window_offset_ = 0;
  mutable size_t next_window_bytes_ = kFirstWindowBytes;
  mutable uint64_t bytes_read_ = 0;
};

struct WalScanOptions {
  // Continue after this position when the WAL still has its salts; scan the
  // whole WAL when unset or when the WAL restarted (other salts).
  std::optional<WalPosition> after;
  // False for a scan that only classifies (the start-up check): frames then
  // carry no page image.
  bool keep_pages = true;
  // Stop after this many commit frames (the scan ends clean there, whatever
  // follows): the sealer takes exactly the commits it was handed, while the
  // writer appends more behind them.
  std::optional<size_t> commit_limit;
};

// Errors: kCorruption for a header that is not a WAL header (bad magic,
// format version or page size); kConflict, reason "wal_diverged", when the
// WAL has the position's salts but not its frame and checksum (someone else
// rewrote it); kIOError when reading fails. Damaged frames are not errors:
// they are classified in the result (see WalEnd).
Result<WalScan> ScanWal(const WalSource& source, const WalScanOptions& options = {});

// A missing or empty file gives an empty scan.
Result<WalScan> ScanWalFile(const std::string& path, const WalScanOptions& options = {});

// The -wal file's header alone (one read of 32 bytes), verified: kNotFound
// for a missing file, kCorruption for a short or invalid header.
Result<WalHeader> ReadWalHeader(const std::string& path);

}  // namespace walship
