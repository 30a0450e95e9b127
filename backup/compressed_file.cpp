#include "backup/compressed_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <memory>
#include <string_view>

#include "base/fs.h"
#include "base/sha256.h"

namespace walship {
namespace {

std::string Base(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status OpenBoth(const std::string& src, const std::string& dst, std::unique_ptr<ScopedFd>* in, std::unique_ptr<ScopedFd>* out) {
  int r = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (r < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(Base(src) + ": missing");
    return Status::IOError("open " + src + ": " + ErrnoMessage(err));
  }
  *in = std::make_unique<ScopedFd>(r);
  int w = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (w < 0) return Status::IOError("create " + dst + ": " + ErrnoMessage(errno));
  *out = std::make_unique<ScopedFd>(w);
  return Status::Ok();
}

// read(2) that retries EINTR; 0 at the end of the file.
Result<size_t> ReadSome(int fd, char* buf, size_t n, const std::string& path) {
  for (;;) {
    ssize_t got = ::read(fd, buf, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) return Status::IOError("read " + path + ": " + ErrnoMessage(errno));
  }
}

Status WriteAll(int fd, std::string_view data, uint64_t* offset, const std::string& path) {
  WALSHIP_RETURN_IF_ERROR(WriteAllAt(fd, data, static_cast<int64_t>(*offset)).Wrap("write " + path));
  *offset += data.size();
  return Status::Ok();
}

constexpr uint64_t kProgressEvery = 8u << 20;

}  // namespace

Result<StreamSums> CompressFile(const std::string& src, const std::string& dst, int level,
                                const StreamProgress& progress) {
  std::unique_ptr<ScopedFd> in, out;
  WALSHIP_RETURN_IF_ERROR(OpenBoth(src, dst, &in, &out));
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  std::string in_buf(ZSTD_CStreamInSize(), '\0');
  std::string out_buf(ZSTD_CStreamOutSize(), '\0');
  Sha256Stream sha_in, sha_out;
  StreamSums sums;
  uint64_t next_progress = kProgressEvery;
  for (;;) {
    auto got = ReadSome(in->get(), in_buf.data(), in_buf.size(), src);
    if (!got.ok()) return got.status();
    const bool last = *got == 0;
    sha_in.Update(std::string_view(in_buf.data(), *got));
    sums.bytes_uncompressed += *got;
    ZSTD_inBuffer input{in_buf.data(), *got, 0};
    const ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
    bool finished = false;
    while (!finished) {
      ZSTD_outBuffer output{out_buf.data(), out_buf.size(), 0};
      const size_t remaining = ZSTD_compressStream2(cctx.get(), &output, &input, mode);
      if (ZSTD_isError(remaining)) {
        return Status::Internal("compress " + src + ": zstd: " + ZSTD_getErrorName(remaining));
      }
      const std::string_view chunk(out_buf.data(), output.pos);
      sha_out.Update(chunk);
      WALSHIP_RETURN_IF_ERROR(WriteAll(out->get(), chunk, &sums.bytes_compressed, dst));
      finished = last ? remaining == 0 : input.pos == input.size;
    }
    if (progress && sums.bytes_uncompressed >= next_progress) {
      progress(sums.bytes_uncompressed);
      next_progress = sums.bytes_uncompressed + kProgressEvery;
    }
    if (last) break;
  }
  if (::fsync(out->get()) != 0) return Status::IOError("fsync " + dst + ": " + ErrnoMessage(errno));
  sums.sha256_uncompressed = sha_in.FinishHex();
  sums.sha256_compressed = sha_out.FinishHex();
  if (progress) progress(sums.bytes_uncompressed);
  return sums;
}

Result<StreamSums> DecompressFile(const std::string& src, const std::string& dst, const StreamProgress& progress) {
  std::unique_ptr<ScopedFd> in, out;
  WALSHIP_RETURN_IF_ERROR(OpenBoth(src, dst, &in, &out));
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  std::string in_buf(ZSTD_DStreamInSize(), '\0');
  std::string out_buf(ZSTD_DStreamOutSize(), '\0');
  Sha256Stream sha_in, sha_out;
  StreamSums sums;
  const std::string name = Base(src);
  size_t frame_left = 1;  // ZSTD_decompressStream's hint: 0 exactly when a frame just ended
  uint64_t next_progress = kProgressEvery;
  for (;;) {
    auto got = ReadSome(in->get(), in_buf.data(), in_buf.size(), src);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    sha_in.Update(std::string_view(in_buf.data(), *got));
    sums.bytes_compressed += *got;
    ZSTD_inBuffer input{in_buf.data(), *got, 0};
    bool out_full = false;  // zstd may hold more output for the input it took
    while (input.pos < input.size || (out_full && frame_left != 0)) {
      if (frame_left == 0) {
        return Status::Corruption(name + ": " + std::to_string(sums.bytes_compressed - (input.size - input.pos)) +
                                  " bytes make one whole zstd frame, and more bytes follow it");
      }
      ZSTD_outBuffer output{out_buf.data(), out_buf.size(), 0};
      frame_left = ZSTD_decompressStream(dctx.get(), &output, &input);
      if (ZSTD_isError(frame_left)) {
        return Status::Corruption(name + ": zstd: " + ZSTD_getErrorName(frame_left));
      }
      const std::string_view chunk(out_buf.data(), output.pos);
      sha_out.Update(chunk);
      WALSHIP_RETURN_IF_ERROR(WriteAll(out->get(), chunk, &sums.bytes_uncompressed, dst));
      out_full = output.pos == output.size;
    }
    if (progress && sums.bytes_uncompressed >= next_progress) {
      progress(sums.bytes_uncompressed);
      next_progress = sums.bytes_uncompressed + kProgressEvery;
    }
  }
  if (sums.bytes_compressed == 0) return Status::Corruption(name + ": empty, not a zstd frame");
  if (frame_left != 0) {
    return Status::Corruption(name + ": ends inside its zstd frame after " + std::to_string(sums.bytes_compressed) +
                              " bytes (truncated)");
  }
  sums.sha256_uncompressed = sha_out.FinishHex();
  sums.sha256_compressed = sha_in.FinishHex();
  if (progress) progress(sums.bytes_uncompressed);
  return sums;
}

}  // namespace walship
