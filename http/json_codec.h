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

// {"ops": [{"op": "put"|"delete", "key": ..., "content": ..., "metadata": ...,
//           "if_match": N, "if_none_match": "*"}, ...]}
Result<std::vector<WriteOp>> ParseBatchBody(const std::string& content_type, const std::string& body,
                                            const Config& config);

// If-Match: 3, "3" or W/"3" (the ETag we hand out is "3"). Empty header: none.
Result<std::optional<int64_t>> ParseIfMatch(const std::string& header);
// If-None-Match: only "*" is meaningful for writes.
Result<bool> ParseIfNoneMatch(const std::string& header);
std::string ETagFor(int64_t version);

// The one renderer of records, as JSON text (the GET hot path sends it as
// is). Stored metadata that is not valid JSON renders as {}.
std::string RecordJsonText(const Record& r, bool with_content);
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
