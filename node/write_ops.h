// Applying write operations inside the writer's open transaction.
// Called only on the writer thread, with a transaction (and savepoint) open.
#pragma once

#include "base/status.h"
#include "node/archive.h"
#include "node/sqlite_db.h"

namespace walship {

// Applies one op; on error the caller rolls back its savepoint.
// Precondition failures are kPreconditionFailed; deleting a missing key is kNotFound.
Result<OpResult> ApplyWriteOp(SqliteDb& db, const WriteOp& op, int64_t now_ms);

// A record's entity tag (the ETag, without quotes): "<version>-<16 hex>",
// the hex from SHA-256 over the content's hash and the metadata. The version
// alone repeats when a key is deleted and created again; the tag does not
// unless the representation is the same.
std::string EntityTag(int64_t version, std::string_view content_sha256, std::string_view metadata_json);

// Advances the stored position by one transaction; returns the new txid.
Result<int64_t> AdvanceTxid(SqliteDb& db);

// Reads the stored position (at start-up).
Result<Position> ReadPosition(SqliteDb& db);

}  // namespace walship
