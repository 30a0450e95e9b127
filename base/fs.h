// Small file-system helpers with the durability rules of the project:
// directories we create are fsynced into their parent; anything published is
// written to a temp file, fsynced, renamed, and its directory fsynced.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace walship {

// mkdir -p, fsyncing each parent whose entries changed.
Status EnsureDirectory(const std::string& path);

Status FsyncDirectory(const std::string& path);

// temp file in the same directory, write, fsync, rename over `path`, fsync dir.
Status WriteFileAtomically(const std::string& path, std::string_view contents);

// Moves `from` into folder `dir` (created durably when missing) as
// `new_name`, then fsyncs both folders; returns the new path. For moving
// user data aside (a quarantine), never deleting it: a file already at the
// destination is never replaced (kIOError, EEXIST).
Result<std::string> MoveIntoFolder(const std::string& from, const std::string& dir, const std::string& new_name);

Result<std::string> ReadWholeFile(const std::string& path);

// Size in bytes, 0 when the file does not exist.
int64_t FileSizeOrZero(const std::string& path);

// An exclusive advisory lock (flock) on DIR/LOCK, held for the object's
// lifetime, so two nodes never own one data folder. The file records the pid.
class DirectoryLock {
 public:
  static Result<DirectoryLock> Acquire(const std::string& dir);
  DirectoryLock(DirectoryLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirectoryLock& operator=(DirectoryLock&&) = delete;
  DirectoryLock(const DirectoryLock&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

std::string ErrnoMessage(int err);

// Owns a descriptor and closes it when destroyed (-1: none).
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd();
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// pwrite of all of `data` at `offset` (retrying short writes and EINTR).
Status WriteAllAt(int fd, std::string_view data, int64_t offset);

}  // namespace walship
