#include "replication/db_checksum.h"

#include <xxhash.h>

#include <cstdio>

#include "replication/read_only_file.h"

namespace walship {

DbChecksum::DbChecksum(uint32_t page_size) : page_size_(page_size), zero_page_(page_size, '\0') {}

uint64_t DbChecksum::PageHash(uint32_t page_number, std::string_view page) {
  return XXH3_64bits_withSeed(page.data(), page.size(), page_number);
}

uint64_t DbChecksum::ZeroPageHash(uint32_t page_number) const { return PageHash(page_number, zero_page_); }

void DbChecksum::Mark() {
  marked_ = true;
  sum_at_mark_ = sum_;
  undo_.clear();
}

void DbChecksum::RollBack() {
  if (!marked_) return;
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    switch (it->kind) {
      case Undo::kSet: page_hashes_[it->index] = it->hash; break;
      case Undo::kPopped: page_hashes_.push_back(it->hash); break;
      case Undo::kPushed: page_hashes_.pop_back(); break;
    }
  }
  sum_ = sum_at_mark_;
  Forget();
}

void DbChecksum::Forget() {
  marked_ = false;
  undo_.clear();
}

void DbChecksum::SetPageCount(uint32_t page_count) {
  while (page_hashes_.size() > page_count) {
    sum_ -= page_hashes_.back();
    if (marked_) undo_.push_back({Undo::kPopped, 0, page_hashes_.back()});
    page_hashes_.pop_back();
  }
  // No reserve(page_count) here: UpdatePage grows the file one page at a
  // time, and an exact reserve would reallocate on every page (quadratic:
  // minutes to checksum a 1 GiB file). push_back grows geometrically.
  while (page_hashes_.size() < page_count) {
    uint64_t h = ZeroPageHash(static_cast<uint32_t>(page_hashes_.size() + 1));
    page_hashes_.push_back(h);
    if (marked_) undo_.push_back({Undo::kPushed, 0, 0});
    sum_ += h;
  }
}

Status DbChecksum::UpdatePage(uint32_t page_number, std::string_view page) {
  if (page_number == 0) return Status::InvalidArgument("database checksum: page number 0");
  if (page.size() != page_size_) {
    return Status::InvalidArgument("database checksum: page " + std::to_string(page_number) + " has " +
                                   std::to_string(page.size()) + " bytes, the page size is " +
                                   std::to_string(page_size_));
  }
  if (page_number > page_hashes_.size()) SetPageCount(page_number);
  uint64_t& slot = page_hashes_[page_number - 1];
  if (marked_) undo_.push_back({Undo::kSet, page_number - 1, slot});
  sum_ -= slot;
  slot = PageHash(page_number, page);
  sum_ += slot;
  return Status::Ok();
}

Result<std::string> ReadPageOneFromFile(const std::string& path) {
  auto file = ReadOnlyFile::Open(path);
  if (!file.ok()) return file.status();
  char header[100];
  WALSHIP_RETURN_IF_ERROR(file->ReadAt(0, sizeof header, header));
  // Bytes 16-17, big-endian; 1 stands for 65536.
  const uint32_t raw = (static_cast<uint8_t>(header[16]) << 8) | static_cast<uint8_t>(header[17]);
  const uint32_t page_size = raw == 1 ? 65536 : raw;
  if (page_size < 512 || (page_size & (page_size - 1)) != 0) {
    return Status::Corruption(path + ": the header states page size " + std::to_string(raw));
  }
  std::string page(page_size, '\0');
  WALSHIP_RETURN_IF_ERROR(file->ReadAt(0, page_size, page.data()));
  return page;
}

Result<DbChecksum> DbChecksum::ComputeFromFile(const std::string& path, uint32_t page_size) {
  Result<ReadOnlyFile> file = ReadOnlyFile::Open(path);
  if (!file.ok()) return file.status();
  if (file->size() % page_size != 0) {
    return Status::Corruption("database file " + path + ": size " + std::to_string(file->size()) +
                              " is not a multiple of the page size " + std::to_string(page_size));
  }
  DbChecksum sum(page_size);
  std::string page(page_size, '\0');
  const auto pages = static_cast<uint32_t>(file->size() / page_size);
  for (uint32_t pgno = 1; pgno <= pages; ++pgno) {
    WALSHIP_RETURN_IF_ERROR(file->ReadAt(static_cast<uint64_t>(pgno - 1) * page_size, page_size, page.data()));
    // Cannot fail: the page number is at least 1 and the page has the page size.
    sum.UpdatePage(pgno, page).IgnoreError();
  }
  return sum;
}

std::string DbChecksumHex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace walship
