// The archive record and the write operations the store accepts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace walship {

// timeline/txid: txid counts committed write transactions and never goes back;
// timeline goes up by one at each promotion.
struct Position {
  int64_t timeline = 1;
  int64_t txid = 0;
  std::string ToString() const { return std::to_string(timeline) + "/" + std::to_string(txid); }
  friend bool operator==(const Position&, const Position&) = default;
};

struct Record {
  std::string key;
  std::string content;
  std::string metadata_json = "{}";  // a JSON object, as text
  int64_t version = 0;
  std::string sha256;                // of content, hex
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  int64_t content_bytes = 0;
};

struct WriteOp {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  std::string key;
  std::string content;               // kPut
  std::string metadata_json = "{}";  // kPut, validated JSON object text
  std::string sha256;                // kPut, of content (computed off the writer thread)
  std::optional<int64_t> if_match;   // the version the caller expects
  std::string if_match_tag;          // ...and, when given, its entity tag (EntityTag())
  bool if_none_match_any = false;    // create only
};

struct OpResult {
  WriteOp::Kind kind = WriteOp::Kind::kPut;
  Record record;             // kPut: the record as stored; kDelete: key and the deleted version
  bool created = false;      // kPut: the key did not exist before
};

}  // namespace walship
