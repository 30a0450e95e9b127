#include "base/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace walship {
namespace {

namespace fs = std::filesystem;
using walship::testing::TempDir;

void WriteRaw(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

TEST(EnsureDirectoryTest, CreatesNestedDirectories) {
  TempDir tmp;
  const std::string path = tmp.Sub("a/b/c");
  ASSERT_TRUE(EnsureDirectory(path).ok());
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_TRUE(fs::is_directory(tmp.Sub("a/b")));
}

TEST(EnsureDirectoryTest, ExistingDirectoryIsOk) {
  TempDir tmp;
  ASSERT_TRUE(EnsureDirectory(tmp.Sub("x")).ok());
  ASSERT_TRUE(EnsureDirectory(tmp.Sub("x")).ok());
  ASSERT_TRUE(EnsureDirectory(tmp.path()).ok());
}

TEST(EnsureDirectoryTest, TrailingSlashIsOk) {
  TempDir tmp;
  ASSERT_TRUE(EnsureDirectory(tmp.Sub("y/z/")).ok());
  EXPECT_TRUE(fs::is_directory(tmp.Sub("y/z")));
}

TEST(EnsureDirectoryTest, FileInTheWayIsAnError) {
  TempDir tmp;
  WriteRaw(tmp.Sub("file"), "x");
  Status s = EnsureDirectory(tmp.Sub("file"));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), tmp.Sub("file") + " exists and is not a directory");
}

TEST(EnsureDirectoryTest, FileInTheWayOfAParentIsAnError) {
  TempDir tmp;
  WriteRaw(tmp.Sub("file"), "x");
  Status s = EnsureDirectory(tmp.Sub("file/sub/dir"));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), tmp.Sub("file") + " exists and is not a directory");
}

TEST(EnsureDirectoryTest, UnwritableParentIsAnIOError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  TempDir tmp;
  ASSERT_TRUE(EnsureDirectory(tmp.Sub("ro")).ok());
  ASSERT_EQ(::chmod(tmp.Sub("ro").c_str(), 0555), 0);
  Status s = EnsureDirectory(tmp.Sub("ro/sub"));
  ::chmod(tmp.Sub("ro").c_str(), 0755);
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "create directory " + tmp.Sub("ro/sub") + ": Permission denied");
}

TEST(WriteFileAtomicallyTest, CreatesThenReplacesContentAndLeavesNoTemp) {
  TempDir tmp;
  const std::string path = tmp.Sub("manifest.json");
  ASSERT_TRUE(WriteFileAtomically(path, "first version, longer than the second").ok());
  auto first = ReadWholeFile(path);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, "first version, longer than the second");

  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  auto second = ReadWholeFile(path);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, "second");  // replaced, not overwritten in place

  EXPECT_FALSE(fs::exists(path + ".tmp"));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "manifest.json");
  }
  EXPECT_EQ(entries, 1);
}

TEST(WriteFileAtomicallyTest, BinaryAndEmptyContents) {
  TempDir tmp;
  const std::string bytes("\0\x01\xff\n", 4);
  ASSERT_TRUE(WriteFileAtomically(tmp.Sub("bin"), bytes).ok());
  EXPECT_EQ(*ReadWholeFile(tmp.Sub("bin")), bytes);
  ASSERT_TRUE(WriteFileAtomically(tmp.Sub("bin"), "").ok());
  EXPECT_EQ(*ReadWholeFile(tmp.Sub("bin")), "");
  EXPECT_EQ(FileSizeOrZero(tmp.Sub("bin")), 0);
}

TEST(WriteFileAtomicallyTest, MissingDirectoryIsAnIOErrorNamingTheTempFile) {
  TempDir tmp;
  Status s = WriteFileAtomically(tmp.Sub("missing/f"), "x");
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "create " + tmp.Sub("missing/f") + ".tmp: No such file or directory");
}

// A file bigger than one read buffer, every byte depending on its offset.
std::string PatternBytes(size_t n) {
  std::string bytes(n, '\0');
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
  return bytes;
}

std::vector<std::string> FolderEntries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(CopyFileAtomicallyTest, CopiesEveryByteAndReplacesTheDestination) {
  TempDir tmp;
  const std::string bytes = PatternBytes(5 * 1024 * 1024 + 123);
  WriteRaw(tmp.Sub("base"), bytes);
  WriteRaw(tmp.Sub("replica.db"), "an older, shorter replica");
  ASSERT_TRUE(CopyFileAtomically(tmp.Sub("base"), tmp.Sub("replica.db")).ok());
  EXPECT_EQ(*ReadWholeFile(tmp.Sub("replica.db")), bytes);
  EXPECT_EQ(*ReadWholeFile(tmp.Sub("base")), bytes);  // the source is left as it was
  EXPECT_EQ(FolderEntries(tmp.path()), (std::vector<std::string>{"base", "replica.db"}));  // no temp file
}

TEST(CopyFileAtomicallyTest, EmptySource) {
  TempDir tmp;
  WriteRaw(tmp.Sub("empty"), "");
  ASSERT_TRUE(CopyFileAtomically(tmp.Sub("empty"), tmp.Sub("copy")).ok());
  EXPECT_EQ(*ReadWholeFile(tmp.Sub("copy")), "");
}

TEST(CopyFileAtomicallyTest, MissingSourceIsNotFoundAndChangesNothing) {
  TempDir tmp;
  WriteRaw(tmp.Sub("replica.db"), "keep me");
  Status s = CopyFileAtomically(tmp.Sub("nope"), tmp.Sub("replica.db"));
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), tmp.Sub("nope") + ": no such file");
  EXPECT_EQ(*ReadWholeFile(tmp.Sub("replica.db")), "keep me");
  EXPECT_EQ(FolderEntries(tmp.path()), std::vector<std::string>{"replica.db"});
}

TEST(CopyFileAtomicallyTest, SourceThatCannotBeReadIsAnIOErrorAndLeavesNoTempFile) {
  TempDir tmp;
  ASSERT_TRUE(EnsureDirectory(tmp.Sub("a-folder")).ok());
  WriteRaw(tmp.Sub("replica.db"), "keep me");
  // A folder opens read-only, then copying from it fails (EISDIR).
  Status s = CopyFileAtomically(tmp.Sub("a-folder"), tmp.Sub("replica.db"));
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "copy " + tmp.Sub("a-folder") + " to " + tmp.Sub("replica.db") + ".tmp: Is a directory");
  EXPECT_EQ(*ReadWholeFile(tmp.Sub("replica.db")), "keep me");
  EXPECT_EQ(FolderEntries(tmp.path()), (std::vector<std::string>{"a-folder", "replica.db"}));
}

TEST(CopyFileAtomicallyTest, CopiesAcrossFileSystems) {
  // /dev/shm is a tmpfs: copy_file_range may refuse (EXDEV), and the copy
  // then goes through memory.
  if (!fs::is_directory("/dev/shm")) GTEST_SKIP() << "no /dev/shm";
  TempDir tmp;
  const std::string src = "/dev/shm/walship-copy-test-" + std::to_string(::getpid());
  const std::string bytes = PatternBytes(3 * 1024 * 1024 + 7);
  WriteRaw(src, bytes);
  Status s = CopyFileAtomically(src, tmp.Sub("copy"));
  fs::remove(src);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(*ReadWholeFile(tmp.Sub("copy")), bytes);
}

TEST(CopyFileBytesTest, WritesAtTheDescriptorsOffset) {
  TempDir tmp;
  WriteRaw(tmp.Sub("src"), "tail bytes");
  WriteRaw(tmp.Sub("out"), "");
  const int fd = ::open(tmp.Sub("out").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ScopedFd closer(fd);
  ASSERT_EQ(::write(fd, "head ", 5), 5);
  ASSERT_TRUE(CopyFileBytes(tmp.Sub("src"), fd, tmp.Sub("out")).ok());
  EXPECT_EQ(*ReadWholeFile(tmp.Sub("out")), "head tail bytes");
  EXPECT_EQ(CopyFileBytes(tmp.Sub("missing"), fd, tmp.Sub("out")).code(), Code::kNotFound);
}

TEST(ReadWholeFileTest, MissingFileIsNotFound) {
  TempDir tmp;
  auto r = ReadWholeFile(tmp.Sub("nope"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), tmp.Sub("nope") + ": no such file");
}

TEST(ReadWholeFileTest, ReadsLargeFilesCompletely) {
  TempDir tmp;
  std::string big(300'000, 'x');
  for (size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(WriteFileAtomically(tmp.Sub("big"), big).ok());
  auto r = ReadWholeFile(tmp.Sub("big"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, big);
  EXPECT_EQ(FileSizeOrZero(tmp.Sub("big")), 300'000);
}

TEST(FileSizeOrZeroTest, MissingFileIsZero) {
  TempDir tmp;
  EXPECT_EQ(FileSizeOrZero(tmp.Sub("nope")), 0);
}

TEST(FsyncDirectoryTest, MissingDirectoryIsAnIOError) {
  TempDir tmp;
  EXPECT_TRUE(FsyncDirectory(tmp.path()).ok());
  Status s = FsyncDirectory(tmp.Sub("nope"));
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "open directory " + tmp.Sub("nope") + ": No such file or directory");
}

TEST(DirectoryLockTest, RecordsThePid) {
  TempDir tmp;
  auto lock = DirectoryLock::Acquire(tmp.path());
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(*ReadWholeFile(tmp.Sub("LOCK")), std::to_string(::getpid()));
}

TEST(DirectoryLockTest, SecondAcquireOnTheSameDirFailsAsUnavailable) {
  TempDir tmp;
  auto first = DirectoryLock::Acquire(tmp.path());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // flock locks belong to the open file description: a second open+flock in
  // the same process conflicts just like another process would.
  auto second = DirectoryLock::Acquire(tmp.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_EQ(second.status().message(), "data folder " + tmp.path() + " is in use by another walship process (pid " +
                                           std::to_string(::getpid()) + "): lock " + tmp.Sub("LOCK") +
                                           " is held");
  // The failed attempt must not have released or clobbered the first lock.
  auto third = DirectoryLock::Acquire(tmp.path());
  EXPECT_EQ(third.status().code(), Code::kUnavailable);
  EXPECT_EQ(*ReadWholeFile(tmp.Sub("LOCK")), std::to_string(::getpid()));
}

TEST(DirectoryLockTest, ReleasedWhenTheObjectGoesAway) {
  TempDir tmp;
  {
    auto lock = DirectoryLock::Acquire(tmp.path());
    ASSERT_TRUE(lock.ok());
    DirectoryLock moved = std::move(lock).value();  // a move keeps the lock
    EXPECT_FALSE(DirectoryLock::Acquire(tmp.path()).ok());
  }
  auto again = DirectoryLock::Acquire(tmp.path());
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST(DirectoryLockTest, DifferentDirectoriesDoNotConflict) {
  TempDir a;
  TempDir b;
  auto la = DirectoryLock::Acquire(a.path());
  auto lb = DirectoryLock::Acquire(b.path());
  EXPECT_TRUE(la.ok());
  EXPECT_TRUE(lb.ok());
}

TEST(DirectoryLockTest, MissingDirectoryIsAnIOError) {
  TempDir tmp;
  auto lock = DirectoryLock::Acquire(tmp.Sub("nope"));
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), Code::kIOError);
  EXPECT_EQ(lock.status().message(), "open lock file " + tmp.Sub("nope/LOCK") + ": No such file or directory");
}

}  // namespace
}  // namespace walship
