#include "base/fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>

namespace walship {

std::string ErrnoMessage(int err) { return std::strerror(err); }

namespace {

std::string ParentOf(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("write " + path + ": " + ErrnoMessage(errno));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) ::close(fd_);
}

Status FsyncDirectory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("open directory " + path + ": " + ErrnoMessage(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IOError("fsync directory " + path + ": " + ErrnoMessage(err));
  return Status::Ok();
}

Status EnsureDirectory(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + " exists and is not a directory");
    return Status::Ok();
  }
  std::string parent = ParentOf(path);
  if (parent != path) WALSHIP_RETURN_IF_ERROR(EnsureDirectory(parent));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::IOError("create directory " + path + ": " + ErrnoMessage(errno));
  }
  return FsyncDirectory(parent);
}

namespace {

// read/write, for file systems where copy_file_range cannot copy.
Status CopyByReading(int in, int out, const std::string& from, const std::string& to) {
  std::string buf(1 << 20, '\0');
  for (;;) {
    const ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("read " + from + ": " + ErrnoMessage(errno));
    }
    if (n == 0) return Status::Ok();
    WALSHIP_RETURN_IF_ERROR(WriteAll(out, std::string_view(buf.data(), static_cast<size_t>(n)), to));
  }
}

Result<int> OpenToCopy(const std::string& from) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in >= 0) return in;
  const int err = errno;
  if (err == ENOENT) return Status::NotFound(from + ": no such file");
  return Status::IOError("open " + from + ": " + ErrnoMessage(err));
}

Status CopyAll(int in, int out, const std::string& from, const std::string& to) {
  bool copied_any = false;
  for (;;) {
    const ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 64 << 20, 0);
    if (n == 0) return Status::Ok();
    if (n > 0) {
      copied_any = true;
      continue;
    }
    if (errno == EINTR) continue;
    const int err = errno;
    // Not supported between these files (another file system, an old
    // kernel): copy through memory instead, from where both offsets are.
    if (!copied_any && (err == EXDEV || err == ENOSYS || err == EOPNOTSUPP || err == EINVAL)) {
      return CopyByReading(in, out, from, to);
    }
    return Status::IOError("copy " + from + " to " + to + ": " + ErrnoMessage(err));
  }
}

}  // namespace

Status PublishFile(const std::string& path, const std::string& tmp, const FillFile& fill) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("create " + tmp + ": " + ErrnoMessage(errno));
  Status s = fill(fd, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = Status::IOError("fsync " + tmp + ": " + ErrnoMessage(errno));
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::IOError("rename " + tmp + " to " + path + ": " + ErrnoMessage(errno));
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());  // never published: only this call's own partial bytes
    return s;
  }
  return FsyncDirectory(ParentOf(path));
}

Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  return PublishFile(path, path + ".tmp", [&](int fd, const std::string& tmp) { return WriteAll(fd, contents, tmp); });
}

Status CopyFileBytes(const std::string& from, int out, const std::string& to) {
  auto in = OpenToCopy(from);
  if (!in.ok()) return in.status();
  ScopedFd closer(*in);
  return CopyAll(*in, out, from, to);
}

Status CopyFileAtomically(const std::string& from, const std::string& to) {
  // The source is opened first: a missing one leaves no temp file behind.
  auto in = OpenToCopy(from);
  if (!in.ok()) return in.status();
  ScopedFd closer(*in);
  return PublishFile(to, to + ".tmp", [&](int fd, const std::string& tmp) { return CopyAll(*in, fd, from, tmp); });
}

Result<std::string> MoveIntoFolder(const std::string& from, const std::string& dir, const std::string& new_name) {
  const std::string to = dir + "/" + new_name;
  const std::string context = "move " + from + " to " + to;
  WALSHIP_RETURN_IF_ERROR(EnsureDirectory(dir).Wrap(context));
  // Never over something already there: a quarantine keeps every file.
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
    return Status::IOError(context + ": rename: " + ErrnoMessage(errno));
  }
  WALSHIP_RETURN_IF_ERROR(FsyncDirectory(dir).Wrap(context));
  WALSHIP_RETURN_IF_ERROR(FsyncDirectory(ParentOf(from)).Wrap(context));
  return to;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IOError("open " + path + ": " + ErrnoMessage(err));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::IOError("read " + path + ": " + ErrnoMessage(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

int64_t FileSizeOrZero(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_size);
}

Result<DirectoryLock> DirectoryLock::Acquire(const std::string& dir) {
  std::string path = dir + "/LOCK";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("open lock file " + path + ": " + ErrnoMessage(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder;
    char buf[32] = {};
    if (::pread(fd, buf, sizeof buf - 1, 0) > 0) holder = std::string(" (pid ") + buf + ")";
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Unavailable("data folder " + dir + " is in use by another walship process" +
                                 holder + ": lock " + path + " is held");
    }
    return Status::IOError("lock " + path + ": " + ErrnoMessage(err));
  }
  std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    int err = errno;
    ::close(fd);
    return Status::IOError("write pid to " + path + ": " + ErrnoMessage(err));
  }
  return DirectoryLock(fd);
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

Status WriteAllAt(int fd, std::string_view data, int64_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + static_cast<int64_t>(done)));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("write at byte " + std::to_string(offset + static_cast<int64_t>(done)) + ": " +
                             ErrnoMessage(errno));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace walship
