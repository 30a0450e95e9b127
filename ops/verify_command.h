// `walship verify --data DIR [--backup ID] [--backups DIR]`: checks, offline,
// every backup of a node's folder (as after taking one: manifest, sizes,
// SHA-256 sums, a scratch copy through PRAGMA integrity_check and the
// database checksum) and the whole segment chain; with --backup only that
// backup. Read-only but for the scratch copy (DIR/backups/.verify-<id>-<pid>.db,
// removed after).
//
// Exit codes: 0 everything verified; 1 a backup or the chain is damaged (one
// line each, naming the backup, the file and the fault, with the fault's
// code in brackets); 2 bad usage or nothing to verify.
#pragma once

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <string>

namespace walship {

struct VerifyArgs {
  std::string data_dir;
  std::string backups_dir;  // empty: DATA/backups
  std::string backup_id;    // empty: every backup
};

CLI::App* AddVerifyCommand(CLI::App& app, VerifyArgs* args);
int RunVerify(const VerifyArgs& args, std::ostream& out, std::ostream& err);

}  // namespace walship
