// A file opened read-only for positioned reads (pread), with its size taken
// at open. Closes its descriptor when destroyed.
//
// Closing a descriptor releases every POSIX lock this process holds on the
// file, SQLite's included: never open the database file this way while
// SQLite has it open in this process. The -wal file carries no SQLite locks.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace walship {

class ReadOnlyFile {
 public:
  // kNotFound when the file does not exist; kIOError otherwise.
  static Result<ReadOnlyFile> Open(const std::string& path);
  ReadOnlyFile(ReadOnlyFile&& other) noexcept
      : fd_(other.fd_), size_(other.size_), path_(std::move(other.path_)) {
    other.fd_ = -1;
  }
  ReadOnlyFile& operator=(ReadOnlyFile&&) = delete;
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ~ReadOnlyFile();

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Reads exactly n bytes at offset; a file that ends early is a kIOError.
  Status ReadAt(uint64_t offset, size_t n, char* out) const;

 private:
  ReadOnlyFile(int fd, uint64_t size, std::string path) : fd_(fd), size_(size), path_(std::move(path)) {}
  int fd_;
  uint64_t size_;
  std::string path_;
};

}  // namespace walship
