#include "node/identity.h"

#include <random>

#include "base/fs.h"

namespace walship {
namespace {

}  // namespace

Result<uint64_t> NodeId(const std::string& data_dir) {
  const std::string path = data_dir + "/node-id";
  if (FileSizeOrZero(path) > 0) {
    auto text = ReadWholeFile(path);
    if (!text.ok()) return text.status();
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text->c_str(), &end, 10);
    if (v == 0 || end == text->c_str() || (*end != '\n' && *end != '\0')) {
      return Status::Corruption(path + ": not a node id (a decimal number above 0)");
    }
    return static_cast<uint64_t>(v);
  }
  std::random_device rd;
  const uint64_t id = ((static_cast<uint64_t>(rd()) << 32) | rd()) >> 1 | 1;  // above 0, fits a signed 64-bit too
  WALSHIP_RETURN_IF_ERROR(WriteFileAtomically(path, std::to_string(id) + "\n"));
  return id;
}


Result<CaptureIdentity> ReadCaptureIdentity(SqliteDb& db, const std::string& data_dir, int64_t timeline) {
  auto st = db.Prepare("SELECT cluster_id FROM cluster_identity WHERE id = 1");
  if (!st.ok()) return st.status().Wrap("read cluster id");
  auto row = (*st)->Step();
  if (!row.ok()) return row.status().Wrap("read cluster id");
  if (!*row) return Status::Corruption("read cluster id: the cluster_identity row is missing");
  auto cluster = ParseClusterId((*st)->ColumnText(0));
  if (!cluster.ok()) return cluster.status().Wrap("read cluster id");
  auto node = NodeId(data_dir);
  if (!node.ok()) return node.status().Wrap("read node id");
  return CaptureIdentity{*cluster, *node, static_cast<uint64_t>(timeline)};
}

}  // namespace walship
