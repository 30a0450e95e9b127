#include "node/reads.h"

#include <sstream>

namespace walship {
namespace {

// Every record query selects these six columns first, then a seventh:
// the content (Get) or its length in bytes (List).
#define WALSHIP_RECORD_COLUMNS "key, metadata, version, sha256, created_at, updated_at"

Record RecordFromRow(const Stmt& st, bool seventh_is_content) {
  Record r;
  r.key = st.ColumnText(0);
  r.metadata_json = st.ColumnText(1);
  r.version = st.ColumnInt(2);
  r.sha256 = st.ColumnText(3);
  r.created_at_ms = st.ColumnInt(4);
  r.updated_at_ms = st.ColumnInt(5);
  if (seventh_is_content) {
    r.content = st.ColumnText(6);
    r.content_bytes = static_cast<int64_t>(r.content.size());
  } else {
    r.content_bytes = st.ColumnInt(6);
  }
  return r;
}

}  // namespace

Result<Record> GetArchive(SqliteDb& db, const std::string& key) {
  auto st = db.Prepare("SELECT " WALSHIP_RECORD_COLUMNS ", content FROM archives WHERE key = ?1");
  if (!st.ok()) return st.status().Wrap("get archive " + key);
  (*st)->BindText(1, key);
  auto row = (*st)->Step();
  if (!row.ok()) return row.status().Wrap("get archive " + key);
  if (!*row) return Status::NotFound("archive " + key + " does not exist");
  return RecordFromRow(**st, /*seventh_is_content=*/true);
}

namespace {

// The smallest string greater than every string starting with `prefix`, or
// nothing if there is none. UTF-8 never holds 0xFF, but stay general.
std::optional<std::string> PrefixUpperBound(std::string prefix) {
  while (!prefix.empty()) {
    auto last = static_cast<unsigned char>(prefix.back());
    if (last < 0xFF) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::nullopt;
}

}  // namespace

Result<ListPage> ListArchives(SqliteDb& db, const std::string& prefix,
                              const std::optional<std::string>& after_key, int64_t limit) {
  // Keys hold no NUL, so key + '\0' is the smallest key after `key`: one
  // inclusive lower bound serves both the prefix and the cursor, and the
  // index range scan stops at the prefix's upper bound.
  std::string lower = prefix;
  if (after_key) {
    std::string next = *after_key + '\0';
    if (next > lower) lower = next;
  }
  auto upper = PrefixUpperBound(prefix);
  const char* sql_bounded =
      "SELECT " WALSHIP_RECORD_COLUMNS ", length(CAST(content AS BLOB)) "
      "FROM archives WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3";
  const char* sql_open =
      "SELECT " WALSHIP_RECORD_COLUMNS ", length(CAST(content AS BLOB)) "
      "FROM archives WHERE key >= ?1 ORDER BY key LIMIT ?3";
  auto st = db.Prepare(upper ? sql_bounded : sql_open);
  if (!st.ok()) return st.status().Wrap("list archives");
  (*st)->BindText(1, lower);
  if (upper) (*st)->BindText(2, *upper);
  (*st)->BindInt(3, limit + 1);
  ListPage page;
  for (;;) {
    auto row = (*st)->Step();
    if (!row.ok()) return row.status().Wrap("list archives");
    if (!*row) break;
    if (static_cast<int64_t>(page.items.size()) == limit) {
      page.last_key_if_more = page.items.back().key;
      break;
    }
    page.items.push_back(RecordFromRow(**st, /*seventh_is_content=*/false));
  }
  return page;
}

std::string BuildFtsQuery(const std::string& query) {
  std::istringstream words(query);
  std::string word;
  std::string out;
  while (words >> word) {
    bool prefix = word.size() > 1 && word.back() == '*';
    if (prefix) word.pop_back();
    std::string quoted = "\"";
    for (char c : word) {
      if (c == '"') quoted += "\"\"";
      else quoted += c;
    }
    quoted += "\"";
    if (prefix) quoted += "*";
    if (!out.empty()) out += " ";
    out += quoted;
  }
  return out;
}

Result<std::vector<SearchHit>> SearchArchives(SqliteDb& db, const std::string& query, int64_t limit) {
  std::string fts = BuildFtsQuery(query);
  if (fts.empty()) return Status::InvalidArgument("search query has no words");
  auto st = db.Prepare(
      "SELECT a.key, snippet(archives_fts, 1, '<mark>', '</mark>', '…', 16), bm25(archives_fts), "
      "a.version, a.updated_at "
      "FROM archives_fts JOIN archives a ON a.id = archives_fts.rowid "
      "WHERE archives_fts MATCH ?1 ORDER BY bm25(archives_fts), a.key LIMIT ?2");
  if (!st.ok()) return st.status().Wrap("search");
  (*st)->BindText(1, fts).BindInt(2, limit);
  std::vector<SearchHit> hits;
  for (;;) {
    auto row = (*st)->Step();
    if (!row.ok()) return row.status().Wrap("search \"" + query + "\"");
    if (!*row) break;
    SearchHit h;
    h.key = (*st)->ColumnText(0);
    h.snippet = (*st)->ColumnText(1);
    h.score = -sqlite3_column_double((*st)->raw(), 2);
    h.version = (*st)->ColumnInt(3);
    h.updated_at_ms = (*st)->ColumnInt(4);
    hits.push_back(std::move(h));
  }
  return hits;
}

}  // namespace walship
