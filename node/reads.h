// Read queries on a read-only connection (a ReadPool lease).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "node/archive.h"
#include "node/sqlite_db.h"

namespace walship {

struct ListPage {
  std::vector<Record> items;  // content left empty; content_bytes is set
  std::optional<std::string> last_key_if_more;  // set when another page follows
};

struct SearchHit {
  std::string key;
  std::string snippet;  // matches wrapped in <mark>...</mark>
  double score = 0;     // higher is better (negated bm25)
  int64_t version = 0;
  int64_t updated_at_ms = 0;
};

Result<Record> GetArchive(SqliteDb& db, const std::string& key);

// Keys starting with `prefix`, in byte order, after `after_key` when given.
Result<ListPage> ListArchives(SqliteDb& db, const std::string& prefix,
                              const std::optional<std::string>& after_key, int64_t limit);

// Every whitespace-separated word of `query` must match (a trailing '*' makes
// it a prefix); results ranked by bm25.
Result<std::vector<SearchHit>> SearchArchives(SqliteDb& db, const std::string& query, int64_t limit);

// Exposed for tests: the FTS5 query built from user text; empty if no words.
std::string BuildFtsQuery(const std::string& query);

}  // namespace walship
