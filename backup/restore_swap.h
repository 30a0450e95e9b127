// Swapping a restored database in place of the damaged one, so that a crash
// at any moment leaves either the original files untouched or the restored
// database complete: never a mix (an old WAL next to the new file, or the
// old file without its WAL).
//
// Layout, inside the node's data folder:
//   restore/<id>/index.db       the restored database while it is built and
//                               checked (complete and fsynced before the swap)
//   RESTORE-SWAP.json           the swap's intent, published durably once the
//                               restored file is complete; removed when done
//   quarantine/restore-<id>/    where index.db, index.db-wal and -shm go
//
// The swap: publish the intent; move -wal, -shm, then index.db into the
// quarantine folder; rename the restored file to index.db; fsync; remove the
// intent. Each step is idempotent, so FinishInterruptedRestoreSwap (run
// before anything opens the database: `serve` and `restore` both call it)
// rolls a half-done swap forward from the intent. Before the intent exists
// the original files have not been touched.
//
// Nothing of the user's is deleted: the damaged files are moved. Only a
// scratch folder restore/<id>/ that no intent names (a restore that died
// while building) is removed, as it holds nothing but our partial copy.
//
// Contract: the caller holds the data folder's lock (DirectoryLock), so no
// node has the database open.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace walship {

inline constexpr const char* kRestoreSwapIntentFile = "RESTORE-SWAP.json";
inline constexpr const char* kRestoreScratchDir = "restore";

struct RestoreSwapResult {
  std::string quarantine_dir;       // where the damaged files went
  std::vector<std::string> moved;   // each file moved there (path after the move)
};

// Swaps `restored_path` (complete, fsynced, inside DATA/restore/) in as
// DATA/index.db. `id` names the quarantine folder.
// `step_delay_ms` (tests only) pauses after each step, so a kill -9 can land
// between any two.
Result<RestoreSwapResult> SwapInRestoredDatabase(const std::string& data_dir, const std::string& restored_path,
                                                 const std::string& id, int step_delay_ms = 0);

// Finishes a swap a crash interrupted; nullopt when there was none. Also
// removes scratch folders no intent names.
Result<std::optional<RestoreSwapResult>> FinishInterruptedRestoreSwap(const std::string& data_dir);

}  // namespace walship
