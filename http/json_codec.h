// JSON bodies of the v1 API: parsing requests into write ops (with every
// limit and rule checked, errors naming the field) and rendering records.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "node/archive.h"
#include "node/config.h"
#include "node/reads.h"

namespace walship::http {

// A PUT body: application/json {"content": "...", "metadata": {...}} or
// text/plain (the body is the content). Other media types are kUnsupported.
Result<WriteOp> ParsePutBody(const std::string& key, const std::string& content_type, const std::string& body,
                             const Config& config);

// An application/json body that is an object with no field but `fields`
// (kUnsupported for another media type, kInvalidArgument naming the fault:
// "body must be " + `shape` when it is not an object).
Result<nlohmann::json> ParseJsonObjectBody(const std::string& content_type, const std::string& body,
                                           const std::vector<std::string>& fields,
                                           const std::string& shape = "a JSON object");

// {"ops": [{"op": "put"|"delete", "key": ..., "content": ..., "metadata": ...,
//           "if_match": N, "if_none_match": "*"}, ...]}
Result<std::vector<WriteOp>> ParseBatchBody(const std::string& content_type, const std::string& body,
                                            const Config& config);

// The condition of an If-Match header (or a batch op's "if_match").
struct IfMatchCondition {
  int64_t version = 0;
  std::string tag;  // the whole entity tag ("3-0123456789abcdef"), or empty: the version alone
};
// If-Match: the ETag we hand out ("3-0123456789abcdef", W/ allowed), or a bare
// version (3 or "3"), which checks the version only. Empty header: none.
Result<std::optional<IfMatchCondition>> ParseIfMatch(const std::string& header);
// If-None-Match: only "*" is meaningful for writes.
Result<bool> ParseIfNoneMatch(const std::string& header);
// "\"<EntityTag>\"": the ETag header of a record.
std::string ETagFor(const Record& r);

// The one renderer of records, as JSON text (the GET hot path sends it as
// is). Stored metadata that is not valid JSON renders as {}.
// `extra_members`, if not empty, is JSON text of more members (starting
// with a comma) that the answer adds after the record's own: writes add
// their position without a JSON value built and dumped again.
std::string RecordJsonText(const Record& r, bool with_content, std::string_view extra_members = {});
// The same record as a JSON value, for answers that add fields.
nlohmann::json RecordJson(const Record& r, bool with_content);
nlohmann::json OpResultJson(const OpResult& r);
nlohmann::json SearchHitJson(const SearchHit& h);

// Cursors are opaque to clients: the hex of the last key on the page.
std::string EncodeCursor(const std::string& key);
Result<std::string> DecodeCursor(const std::string& cursor);

// Parses a decimal query parameter in [min, max]; `name` is used in errors.
Result<int64_t> ParseLimit(const std::string& text, const std::string& name, int64_t min, int64_t max);

std::string Dump(const nlohmann::json& j);

}  // namespace walship::http
