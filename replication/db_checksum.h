// The database checksum: one 64-bit value for the whole database file, kept
// up to date page by page.
//
// Each page hashes to XXH3-64 of its bytes seeded with its page number, so
// the same bytes at another page number hash differently (two swapped pages
// change the value). The value is the sum of the page hashes modulo 2^64:
// order-free, so changing one page costs one hash, a subtraction and an
// addition. Pages past the end of a file that was extended without being
// written read as zeros, and hash as zero-filled pages.
//
// Primary, standby and restore compare this value at every position; the
// empty database (no pages) has the value 0.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace walship {

class DbChecksum {
 public:
  explicit DbChecksum(uint32_t page_size);

  // Reads the database file with its own descriptor and pread.
  //
  // Contract: never call it on a database that SQLite has open in this
  // process. Closing any descriptor of that file releases all of the
  // process's POSIX locks on it, SQLite's included (see the brief). Call it
  // before SQLite opens the file (start-up) or on a copy.
  // Errors: kNotFound when missing; kCorruption when the size is not a whole
  // number of pages; kIOError when reading fails.
  static Result<DbChecksum> ComputeFromFile(const std::string& path, uint32_t page_size);

  // The hash of one page as it counts in the sum.
  static uint64_t PageHash(uint32_t page_number, std::string_view page);

  // Page `page_number` (1-based) now holds `page`. Past the end the database
  // grows, pages in between count as zero-filled.
  // kInvalidArgument for page number 0 or a page of the wrong size.
  Status UpdatePage(uint32_t page_number, std::string_view page);

  // The database now has `page_count` pages (a commit's size): pages past it
  // are dropped; new pages count as zero-filled until updated.
  void SetPageCount(uint32_t page_count);

  // Taking changes back without a copy: after Mark(), every change is
  // remembered until Forget(), and RollBack() returns to the value and pages
  // as they were at Mark(). A copy of the checksum costs 8 bytes a page
  // (20 MB for a 10 GiB database), too much for every collect of the WAL
  // capture; the changes cost 16 bytes each. Only one mark at a time: a
  // second Mark() forgets the first.
  void Mark();
  void RollBack();
  void Forget();

  uint64_t Value() const { return sum_; }
  // The hash page `page_number` (1..page_count()) counts with: PageHash of
  // its image, or of a zero-filled page when it was never updated.
  uint64_t PageHashAt(uint32_t page_number) const { return page_hashes_[page_number - 1]; }
  uint32_t page_count() const { return static_cast<uint32_t>(page_hashes_.size()); }
  uint32_t page_size() const { return page_size_; }

 private:
  uint64_t ZeroPageHash(uint32_t page_number) const;

  struct Undo {
    enum Kind : uint8_t { kSet, kPopped, kPushed } kind;
    uint32_t index;  // kSet: the slot
    uint64_t hash;   // kSet: its hash before; kPopped: the hash popped
  };

  uint32_t page_size_;
  std::vector<uint64_t> page_hashes_;  // index i holds page i + 1
  bool marked_ = false;
  uint64_t sum_at_mark_ = 0;
  std::vector<Undo> undo_;  // since Mark(), oldest first
  uint64_t sum_ = 0;
  std::string zero_page_;
};

// A Mark() for one scope: the changes made to `sum` in it are taken back at
// its end unless Keep() was called. Not copyable; one per checksum at a time.
class DbChecksumChanges {
 public:
  explicit DbChecksumChanges(DbChecksum& sum) : sum_(sum) { sum_.Mark(); }
  ~DbChecksumChanges() {
    if (!kept_) sum_.RollBack();
  }
  DbChecksumChanges(const DbChecksumChanges&) = delete;
  DbChecksumChanges& operator=(const DbChecksumChanges&) = delete;
  void Keep() {
    sum_.Forget();
    kept_ = true;
  }

 private:
  DbChecksum& sum_;
  bool kept_ = false;
};

// Page 1 of the database file at `path`, its size the page size the header
// states. Same contract as ComputeFromFile: never on a file SQLite has open
// in this process (a copy, or an immutable standby replica). kCorruption
// when the header states no valid page size.
Result<std::string> ReadPageOneFromFile(const std::string& path);

// "0x" and 16 hex digits.
std::string DbChecksumHex(uint64_t value);

}  // namespace walship
