// `walship restore --data DIR [--to latest | --to-time T | --to-position P]
//                 [--dry-run] [--fetch-from URL] [--backups DIR] [--segments DIR]`
//
// Offline (the node must be stopped: the command takes DIR/LOCK). Plans
// from the latest verified backup at or before the target plus the
// segments after it, verifies each segment before applying it, checks the
// result, and swaps it in atomically, moving the damaged database, its WAL
// and shm to DIR/quarantine/restore-<id>/ (see backup/restore_database.h).
// --dry-run prints the plan and changes nothing. --fetch-from asks another
// node (the standby) for segments that are missing or damaged here, and
// puts its good copies into the store (the damaged ones to quarantine).
//
// Exit codes: 0 restored to the target; 3 restored to the last verified
// transaction before the target, with the loss printed (what, why); 1 not
// restored (nothing changed; the error says why); 2 bad usage.
#pragma once

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <string>

#include "backup/restore_plan.h"
#include "base/status.h"

namespace walship {

struct RestoreArgs {
  std::string data_dir;
  std::string to;           // "latest" (the default)
  std::string to_time;      // RFC 3339
  std::string to_position;  // "TIMELINE/TXID" or "TXID"
  bool dry_run = false;
  std::string fetch_from;   // http://HOST:PORT
  std::string backups_dir;  // empty: DATA/backups
  std::string segments_dir; // empty: DATA/segments
};

inline constexpr int kRestoreExitLoss = 3;

CLI::App* AddRestoreCommand(CLI::App& app, RestoreArgs* args);
int RunRestore(const RestoreArgs& args, std::ostream& out, std::ostream& err);


}  // namespace walship
