#include "http/json_codec.h"

#include <algorithm>
#include <charconv>

#include "base/clock.h"
#include "base/sha256.h"
#include "node/keys.h"
#include "node/write_ops.h"

namespace walship::http {
namespace {

using nlohmann::json;

std::string MediaType(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

// Deeper JSON is refused before parsing: nlohmann's parser is iterative but
// its serializer and destructor recurse, and 100 KB of brackets overflowed
// the stack. No archive needs more than a handful of levels.
constexpr int kMaxJsonDepth = 64;

bool NestedDeeperThan(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

Result<json> ParseJson(const std::string& body) {
  if (NestedDeeperThan(body, kMaxJsonDepth)) {
    return Status::InvalidArgument("body is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("body is not valid JSON");
  return j;
}

Status CheckMetadata(const json& metadata, const Config& config, std::string* out) {
  if (!metadata.is_object()) return Status::InvalidArgument("must be a JSON object");
  *out = metadata.dump();
  if (static_cast<int64_t>(out->size()) > config.max_metadata_bytes) {
    return Status::TooLarge("is " + std::to_string(out->size()) + " bytes, over the limit of " +
                            std::to_string(config.max_metadata_bytes));
  }
  return Status::Ok();
}

// Fills content, metadata and sha256 of a put from a JSON object; `allowed`
// lists the other fields the caller accepts.
Status FillPutFromJson(const json& j, const std::vector<std::string>& allowed, const Config& config, WriteOp* op) {
  for (const auto& [name, value] : j.items()) {
    if (name == "content" || name == "metadata") continue;
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == name;
    if (!ok) return Status::InvalidArgument("unknown field \"" + name + "\"");
  }
  auto content = j.find("content");
  if (content == j.end() || !content->is_string()) {
    return Status::InvalidArgument("\"content\" is required and must be a string");
  }
  op->content = content->get<std::string>();  // (the DOM is const here; one copy)
  auto metadata = j.find("metadata");
  if (metadata != j.end() && !metadata->is_null()) {
    WALSHIP_RETURN_IF_ERROR(CheckMetadata(*metadata, config, &op->metadata_json).Wrap("metadata"));
  }
  op->sha256 = Sha256Hex(op->content);
  return Status::Ok();
}

Result<WriteOp> ParseBatchOp(const json& j, const Config& config) {
  if (!j.is_object()) return Status::InvalidArgument("must be an object");
  auto kind = j.find("op");
  if (kind == j.end() || !kind->is_string()) return Status::InvalidArgument("\"op\" must be \"put\" or \"delete\"");
  auto key = j.find("key");
  if (key == j.end() || !key->is_string()) return Status::InvalidArgument("\"key\" is required and must be a string");
  WriteOp op;
  op.key = key->get<std::string>();
  WALSHIP_RETURN_IF_ERROR(ValidateKey(op.key, static_cast<size_t>(config.max_key_bytes)));
  if (*kind == "put") {
    op.kind = WriteOp::Kind::kPut;
    WALSHIP_RETURN_IF_ERROR(FillPutFromJson(j, {"op", "key", "if_match", "if_none_match"}, config, &op));
  } else if (*kind == "delete") {
    op.kind = WriteOp::Kind::kDelete;
    for (const auto& [name, value] : j.items()) {
      if (name != "op" && name != "key" && name != "if_match") {
        return Status::InvalidArgument("unknown field \"" + name + "\" for a delete");
      }
    }
  } else {
    return Status::InvalidArgument("\"op\" must be \"put\" or \"delete\", got \"" + kind->get<std::string>() + "\"");
  }
  if (auto m = j.find("if_match"); m != j.end() && !m->is_null()) {
    if (m->is_string()) {  // an ETag, as in the If-Match header
      auto c = ParseIfMatch(m->get<std::string>());
      if (!c.ok() || !*c) return Status::InvalidArgument("\"if_match\" must be a version number or an ETag");
      op.if_match = (*c)->version;
      op.if_match_tag = (*c)->tag;
    } else if (!m->is_number_integer() || m->get<int64_t>() < 1) {
      return Status::InvalidArgument("\"if_match\" must be a version number (an integer >= 1) or an ETag");
    } else {
      op.if_match = m->get<int64_t>();
    }
  }
  if (auto n = j.find("if_none_match"); n != j.end() && !n->is_null()) {
    if (!n->is_string() || *n != "*") return Status::InvalidArgument("\"if_none_match\" must be \"*\"");
    op.if_none_match_any = true;
  }
  if (op.if_match && op.if_none_match_any) {
    return Status::InvalidArgument("\"if_match\" and \"if_none_match\" cannot both be given");
  }
  return op;
}

}  // namespace

Result<WriteOp> ParsePutBody(const std::string& key, const std::string& content_type, const std::string& body,
                             const Config& config) {
  WriteOp op;
  op.kind = WriteOp::Kind::kPut;
  op.key = key;
  std::string type = MediaType(content_type);
  if (type == "application/json") {
    auto j = ParseJson(body);
    if (!j.ok()) return j.status();
    if (!j->is_object()) return Status::InvalidArgument("body must be a JSON object");
    WALSHIP_RETURN_IF_ERROR(FillPutFromJson(*j, {}, config, &op));
    return op;
  }
  if (type == "text/plain") {
    if (!IsValidUtf8(body)) return Status::InvalidArgument("text/plain body is not valid UTF-8");
    op.content = body;
    op.sha256 = Sha256Hex(op.content);
    return op;
  }
  return Status::Unsupported("Content-Type \"" + content_type +
                             "\" is not supported: send application/json or text/plain");
}

Result<nlohmann::json> ParseJsonObjectBody(const std::string& content_type, const std::string& body,
                                           const std::vector<std::string>& fields, const std::string& shape) {
  if (MediaType(content_type) != "application/json") {
    return Status::Unsupported("Content-Type \"" + content_type + "\" is not supported: send application/json");
  }
  auto j = ParseJson(body);
  if (!j.ok()) return j.status();
  if (!j->is_object()) return Status::InvalidArgument("body must be " + shape);
  for (const auto& [name, value] : j->items()) {
    if (std::find(fields.begin(), fields.end(), name) == fields.end()) {
      return Status::InvalidArgument("unknown field \"" + name + "\"");
    }
  }
  return j;
}

Result<std::vector<WriteOp>> ParseBatchBody(const std::string& content_type, const std::string& body,
                                            const Config& config) {
  auto j = ParseJsonObjectBody(content_type, body, {"ops"}, "a JSON object with \"ops\"");
  if (!j.ok()) return j.status();
  auto ops = j->find("ops");
  if (ops == j->end() || !ops->is_array()) return Status::InvalidArgument("\"ops\" is required and must be an array");
  if (ops->empty()) return Status::InvalidArgument("\"ops\" is empty");
  if (static_cast<int64_t>(ops->size()) > config.max_batch_ops) {
    return Status::TooLarge("batch has " + std::to_string(ops->size()) + " operations, over the limit of " +
                            std::to_string(config.max_batch_ops));
  }
  std::vector<WriteOp> out;
  out.reserve(ops->size());
  for (size_t i = 0; i < ops->size(); ++i) {
    auto op = ParseBatchOp((*ops)[i], config);
    if (!op.ok()) return op.status().Wrap("ops[" + std::to_string(i) + "]");
    out.push_back(std::move(op).value());
  }
  return out;
}

Result<std::optional<IfMatchCondition>> ParseIfMatch(const std::string& header) {
  if (header.empty()) return std::optional<IfMatchCondition>();
  std::string v = header;
  if (v == "*") return Status::InvalidArgument("If-Match: * is not supported; give the version (the ETag) you expect");
  if (v.rfind("W/", 0) == 0) v = v.substr(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  IfMatchCondition c;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), c.version);
  const char* end = v.data() + v.size();
  bool ok = !v.empty() && ec == std::errc() && c.version >= 1;
  if (ok && ptr != end) {
    // "<version>-<16 lowercase hex>": the whole tag must match
    std::string_view rest(ptr, static_cast<size_t>(end - ptr));
    ok = rest.size() == 17 && rest[0] == '-' &&
         rest.substr(1).find_first_not_of("0123456789abcdef") == std::string_view::npos;
    c.tag = v;
  }
  if (!ok) {
    return Status::InvalidArgument("If-Match \"" + header + "\" is not a version (an ETag such as \"3\")");
  }
  return std::optional<IfMatchCondition>(c);
}

Result<bool> ParseIfNoneMatch(const std::string& header) {
  if (header.empty()) return false;
  if (header == "*") return true;
  return Status::InvalidArgument("If-None-Match \"" + header + "\": only * is supported on writes");
}

std::string ETagFor(const Record& r) { return "\"" + EntityTag(r.version, r.sha256, r.metadata_json) + "\""; }

namespace {

void AppendJsonString(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          out->append("\\u00").push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(ch);  // content is valid UTF-8: checked on the way in
        }
    }
  }
  out->push_back('"');
}

}  // namespace

std::string RecordJsonText(const Record& r, bool with_content, std::string_view extra_members) {
  std::string out;
  out.reserve(256 + (with_content ? r.content.size() + r.content.size() / 8 : 0) + r.metadata_json.size() +
              extra_members.size());
  out.append("{\"key\":");
  AppendJsonString(&out, r.key);
  if (with_content) {
    out.append(",\"content\":");
    AppendJsonString(&out, r.content);
  }
  out.append(",\"metadata\":");
  // Stored metadata is compact JSON written by us; never forward it broken.
  out.append(json::accept(r.metadata_json) ? std::string_view(r.metadata_json) : std::string_view("{}"));
  out.append(",\"version\":").append(std::to_string(r.version));
  out.append(",\"sha256\":");
  AppendJsonString(&out, r.sha256);
  out.append(",\"size\":").append(std::to_string(r.content_bytes));
  out.append(",\"created_at\":\"").append(FormatRfc3339Millis(r.created_at_ms));
  out.append("\",\"updated_at\":\"").append(FormatRfc3339Millis(r.updated_at_ms)).append("\"");
  out.append(extra_members).append("}");
  return out;
}

json RecordJson(const Record& r, bool with_content) { return json::parse(RecordJsonText(r, with_content)); }

json OpResultJson(const OpResult& r) {
  if (r.kind == WriteOp::Kind::kDelete) {
    return json{{"op", "delete"}, {"key", r.record.key}, {"deleted_version", r.record.version}};
  }
  json j = RecordJson(r.record, /*with_content=*/false);
  j["op"] = "put";
  j["created"] = r.created;
  return j;
}

json SearchHitJson(const SearchHit& h) {
  return json{{"key", h.key},
              {"snippet", h.snippet},
              {"score", h.score},
              {"version", h.version},
              {"updated_at", FormatRfc3339Millis(h.updated_at_ms)}};
}

std::string EncodeCursor(const std::string& key) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(key.size() * 2);
  for (unsigned char c : key) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

Result<std::string> DecodeCursor(const std::string& cursor) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (cursor.size() % 2 != 0) return Status::InvalidArgument("cursor is malformed");
  std::string out;
  for (size_t i = 0; i < cursor.size(); i += 2) {
    int hi = nibble(cursor[i]);
    int lo = nibble(cursor[i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("cursor is malformed");
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

Result<int64_t> ParseLimit(const std::string& text, const std::string& name, int64_t min, int64_t max) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max) {
    return Status::InvalidArgument(name + " must be a whole number from " + std::to_string(min) + " to " +
                                   std::to_string(max) + ", got \"" + text + "\"");
  }
  return v;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace walship::http
