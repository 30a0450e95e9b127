#include "backup/manifest.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "backup/backup_format.h"
#include "base/clock.h"
#include "base/sha256.h"
#include "replication/db_checksum.h"

namespace walship {
namespace {

using nlohmann::json;

Status Invalid(const std::string& what) {
  return Status::Corruption("manifest.json: " + what).WithReason("manifest_invalid");
}

bool IsLowerHex(const std::string& s, size_t digits) {
  if (s.size() != digits) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Field readers: each names the field in its error. nlohmann's own checks
// would throw; these never do.
Status GetString(const json& m, const char* key, std::string* out) {
  auto it = m.find(key);
  if (it == m.end()) return Invalid(std::string("\"") + key + "\" is missing");
  if (!it->is_string()) return Invalid(std::string("\"") + key + "\" is not a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

template <typename T>
Status GetInt(const json& m, const char* key, T* out) {
  auto it = m.find(key);
  if (it == m.end()) return Invalid(std::string("\"") + key + "\" is missing");
  if (!it->is_number_integer()) return Invalid(std::string("\"") + key + "\" is not an integer");
  if (it->is_number_unsigned()) {
    const auto v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      return Invalid(std::string("\"") + key + "\" is out of range");
    }
    *out = static_cast<T>(v);
    return Status::Ok();
  }
  const auto v = it->get<int64_t>();
  if (v < 0 && !std::numeric_limits<T>::is_signed) return Invalid(std::string("\"") + key + "\" is negative");
  *out = static_cast<T>(v);
  return Status::Ok();
}

Status GetBool(const json& m, const char* key, bool* out) {
  auto it = m.find(key);
  if (it == m.end()) return Invalid(std::string("\"") + key + "\" is missing");
  if (!it->is_boolean()) return Invalid(std::string("\"") + key + "\" is not true or false");
  *out = it->get<bool>();
  return Status::Ok();
}

json ToJson(const BackupManifest& m) {
  return json{{"format", kBackupFormatName},
              {"format_version", m.format_version},
              {"id", m.id},
              {"cluster_id", m.cluster_id},
              {"node_id", m.node_id},
              {"source", m.source},
              {"timeline", m.timeline},
              {"txid", m.txid},
              {"segment_sequence", m.segment_sequence},
              {"page_size", m.page_size},
              {"page_count", m.page_count},
              {"db_checksum", DbChecksumHex(m.db_checksum)},
              {"chain_checksum", m.chain_checksum},
              {"data_file", m.data_file},
              {"bytes_uncompressed", m.bytes_uncompressed},
              {"bytes_compressed", m.bytes_compressed},
              {"sha256_uncompressed", m.sha256_uncompressed},
              {"sha256_compressed", m.sha256_compressed},
              {"zstd_level", m.zstd_level},
              {"started_at", FormatRfc3339Millis(m.started_unix_ms)},
              {"finished_at", FormatRfc3339Millis(m.finished_unix_ms)},
              {"started_unix_ms", m.started_unix_ms},
              {"finished_unix_ms", m.finished_unix_ms},
              {"tool_version", m.tool_version}};
}

Status FromJson(const json& j, BackupManifest* m) {
  std::string format;
  WALSHIP_RETURN_IF_ERROR(GetString(j, "format", &format));
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "format_version", &m->format_version));
  if (format != kBackupFormatName || m->format_version < 1 || m->format_version > kBackupFormatVersion) {
    return Status::Corruption("manifest.json: format \"" + format + "\" version " +
                              std::to_string(m->format_version) + " is not one this build reads (\"" +
                              kBackupFormatName + "\" 1 to " + std::to_string(kBackupFormatVersion) + ")")
        .WithReason("manifest_version");
  }
  WALSHIP_RETURN_IF_ERROR(GetString(j, "id", &m->id));
  WALSHIP_RETURN_IF_ERROR(GetString(j, "cluster_id", &m->cluster_id));
  if (!IsLowerHex(m->cluster_id, 32)) return Invalid("\"cluster_id\" is not 32 hex digits");
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "node_id", &m->node_id));
  WALSHIP_RETURN_IF_ERROR(GetString(j, "source", &m->source));
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "timeline", &m->timeline));
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "txid", &m->txid));
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "segment_sequence", &m->segment_sequence));
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "page_size", &m->page_size));
  if (m->page_size < 512 || m->page_size > 65536 || (m->page_size & (m->page_size - 1)) != 0) {
    return Invalid("\"page_size\" " + std::to_string(m->page_size) + " is not a SQLite page size");
  }
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "page_count", &m->page_count));
  std::string sum;
  WALSHIP_RETURN_IF_ERROR(GetString(j, "db_checksum", &sum));
  if (sum.size() != 18 || sum.rfind("0x", 0) != 0 || !IsLowerHex(sum.substr(2), 16)) {
    return Invalid("\"db_checksum\" is not 0x and 16 hex digits");
  }
  m->db_checksum = std::stoull(sum.substr(2), nullptr, 16);
  WALSHIP_RETURN_IF_ERROR(GetBool(j, "chain_checksum", &m->chain_checksum));
  WALSHIP_RETURN_IF_ERROR(GetString(j, "data_file", &m->data_file));
  if (m->data_file != kBackupDataFile) return Invalid("\"data_file\" is not " + std::string(kBackupDataFile));
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "bytes_uncompressed", &m->bytes_uncompressed));
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "bytes_compressed", &m->bytes_compressed));
  if (m->bytes_uncompressed != m->page_count * m->page_size) {
    return Invalid("\"bytes_uncompressed\" is not page_count * page_size");
  }
  WALSHIP_RETURN_IF_ERROR(GetString(j, "sha256_uncompressed", &m->sha256_uncompressed));
  WALSHIP_RETURN_IF_ERROR(GetString(j, "sha256_compressed", &m->sha256_compressed));
  if (!IsLowerHex(m->sha256_uncompressed, 64)) return Invalid("\"sha256_uncompressed\" is not 64 hex digits");
  if (!IsLowerHex(m->sha256_compressed, 64)) return Invalid("\"sha256_compressed\" is not 64 hex digits");
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "zstd_level", &m->zstd_level));
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "started_unix_ms", &m->started_unix_ms));
  WALSHIP_RETURN_IF_ERROR(GetInt(j, "finished_unix_ms", &m->finished_unix_ms));
  WALSHIP_RETURN_IF_ERROR(GetString(j, "tool_version", &m->tool_version));
  return Status::Ok();
}

}  // namespace

std::string EncodeManifest(const BackupManifest& m) {
  json inner = ToJson(m);
  json outer{{"manifest", inner}, {"sha256", Sha256Hex(inner.dump())}};
  return outer.dump(2) + "\n";
}

namespace {
// The deepest nesting of arrays and objects (outside strings). A manifest is
// two levels deep; a crafted file thousands deep would make the recursive
// dump below overflow the stack.
int NestingDepth(std::string_view bytes) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : bytes) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') deepest = std::max(deepest, ++depth);
    else if (c == '}' || c == ']') --depth;
  }
  return deepest;
}
}  // namespace

Result<BackupManifest> DecodeManifest(std::string_view bytes) {
  if (bytes.size() > kMaxManifestBytes) {
    return Status::Corruption("manifest.json: " + std::to_string(bytes.size()) + " bytes, more than a manifest's " +
                              std::to_string(kMaxManifestBytes))
        .WithReason("manifest_unreadable");
  }
  if (NestingDepth(bytes) > 3) {
    return Status::Corruption("manifest.json: nested deeper than a walship manifest").WithReason("manifest_unreadable");
  }
  json outer = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (outer.is_discarded()) {
    return Status::Corruption("manifest.json: not JSON").WithReason("manifest_unreadable");
  }
  if (!outer.is_object() || !outer.contains("manifest") || !outer["manifest"].is_object() ||
      !outer.contains("sha256") || !outer["sha256"].is_string()) {
    return Status::Corruption("manifest.json: not a walship backup manifest (no \"manifest\" and \"sha256\")")
        .WithReason("manifest_unreadable");
  }
  const json& inner = outer["manifest"];
  const std::string stated = outer["sha256"].get<std::string>();
  const std::string actual = Sha256Hex(inner.dump());
  if (stated != actual) {
    return Status::Corruption("manifest.json: checksum mismatch (stated " + stated + ", computed " + actual +
                              "): the manifest was changed after it was written")
        .WithReason("manifest_checksum_mismatch");
  }
  BackupManifest m;
  WALSHIP_RETURN_IF_ERROR(FromJson(inner, &m));
  return m;
}

}  // namespace walship
