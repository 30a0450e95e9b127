// `walship segments ls|show|verify --data DIR`: offline tools over a node's
// segment store (DIR/segments). They only read; they never create, fix or
// delete a file, so they are safe to run next to a live node.
//
// Exit codes: 0 clean; 1 a segment (or the store's listing) is damaged, or
// `show` names no stored segment; 2 no --data, no such data folder, or no
// segment store in it. Every fault is one line naming the file and the fault.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <iosfwd>
#include <string>

namespace walship {

struct SegmentsArgs {
  std::string data_dir;
  uint64_t sequence = 0;  // show
  CLI::App* ls = nullptr;
  CLI::App* show = nullptr;
  CLI::App* verify = nullptr;
};

// Adds `segments` and its three subcommands to `app`, parsing into `*args`
// (which must outlive the parse). Returns the `segments` subcommand.
CLI::App* AddSegmentsCommand(CLI::App& app, SegmentsArgs* args);

// Runs the subcommand that was parsed and returns the exit code; reports go
// to `out`, faults to `err`.
int RunSegments(const SegmentsArgs& args, std::ostream& out, std::ostream& err);

// `segments verify` of DATA/segments, for other commands (`walship verify`);
// `command` prefixes the fault lines. Same exit codes.
int VerifySegmentStore(const std::string& command, const std::string& data_dir, std::ostream& out, std::ostream& err);

}  // namespace walship
