// Small file-system helpers with the durability rules of the project:
// directories we create are fsynced into their parent; anything published is
// written to a temp file, fsynced, renamed, and its directory fsynced.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace walship {

// mkdir -p, fsyncing each parent whose entries changed.
Status EnsureDirectory(const std::string& path);

Status FsyncDirectory(const std::string& path);

// Writes a file's bytes into an open descriptor; `tmp` names it in errors.
using FillFile = std::function<Status(int fd, const std::string& tmp)>;

// The publish protocol of every file the node publishes: `fill` writes the
// bytes into the new file `tmp` (in the same folder as `path`), which is
// fsynced, renamed over `path`, and the folder fsynced. A crash leaves
// either the old `path` or the complete new one; a failure removes `tmp`.
Status PublishFile(const std::string& path, const std::string& tmp, const FillFile& fill);

// PublishFile of `contents`, through the temp file PATH.tmp.
Status WriteFileAtomically(const std::string& path, std::string_view contents);

// The same for a copy of the file `from`, streamed (copy_file_range, or
// 1 MiB reads where the file system cannot): a database-sized file never
// sits in memory. kNotFound when `from` does not exist; `to` is untouched
// on any failure.
Status CopyFileAtomically(const std::string& from, const std::string& to);

// Writes the bytes of the file `from` to the open descriptor `out` at its
// file offset (not opened O_APPEND); `to` names it in errors. kNotFound
// when `from` does not exist.
Status CopyFileBytes(const std::string& from, int out, const std::string& to);

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
