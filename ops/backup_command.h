// `walship backup --node http://HOST:PORT`: asks a running node for a backup
// now (POST /v1/admin/backups), follows it (GET /v1/admin/backups/{id}) until
// it is verified or failed, and says how it ended. Made for system cron and
// systemd timers: a progress bar on a terminal, a plain line at most every
// 5 s otherwise, only the final line with --quiet, and an exit code to act on.
// When the node is already taking a backup it answers with that one, and the
// command follows it instead ("joined the backup already running: ID").
//
// Exit codes: 0 the backup was verified; 1 the node reports it failed;
// 2 the command could not tell how it ended: a bad argument or URL, the node
// unreachable, an HTTP error answer, an answer that is not the JSON we expect,
// the backup unknown to the node while polling (404), or --timeout elapsed
// (the backup goes on in the node). Every fault is one line on stderr; the
// final line of a verified backup goes to stdout, that of a failed one to
// stderr. Nothing here throws.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "http/node_client.h"

namespace walship {

struct BackupArgs {
  std::string node;               // http://HOST:PORT
  double timeout_seconds = 3600;  // how long to wait for the end; the backup goes on after
  int poll_ms = 250;              // between two GETs
  bool quiet = false;             // only the final line and errors
};

// Adds `backup` to `app`, parsing into `*args` (which must outlive the parse).
// Returns the `backup` subcommand.
CLI::App* AddBackupCommand(CLI::App& app, BackupArgs* args);

// Runs the command against the node over HTTP and returns the exit code. The
// progress bar is drawn only when `err` is std::cerr and stderr is a terminal.
int RunBackup(const BackupArgs& args, std::ostream& out, std::ostream& err);

// ---------------------------------------------------------------------------
// The parts, exposed for tests.


// A backup as the node describes it; every field but id and state may be
// missing. Unknown fields are ignored, and so are optional ones of the wrong type.
struct BackupView {
  std::string id;
  std::string state;  // running, verifying, verified, failed (others: still going)
  std::optional<std::string> position;
  std::optional<std::string> started_at;
  std::optional<std::string> finished_at;
  std::optional<std::string> error;
  std::optional<double> age_seconds;
  std::optional<double> pages_copied;
  std::optional<double> page_count;
  std::optional<double> percent;
  std::optional<double> pages_per_second;
  std::optional<double> bytes_per_second;
  std::optional<double> bytes_compressed;
  std::optional<double> bytes_uncompressed;

  bool verified() const { return state == "verified"; }
  bool failed() const { return state == "failed"; }
  bool finished() const { return verified() || failed(); }
};

struct StartAnswer {
  BackupView backup;
  bool already_running = false;
};

// The body of a 2xx answer to POST /v1/admin/backups ({"backup": B,
// "already_running": bool}) and to GET /v1/admin/backups/{id} ({"backup": B}).
// A body that is not that is kInvalidArgument naming what is wrong:
//   not JSON: "<html>oops</html>"     no "backup" object     backup has no string "id"
Result<StartAnswer> ParseStartAnswer(const std::string& body);
Result<BackupView> ParseBackupAnswer(const std::string& body);

// An error answer in a few words: "HTTP 503 shutting_down: the node is
// shutting down", or "HTTP 502 (not an error JSON: <html>...)".
std::string DescribeErrorAnswer(int status, const std::string& body);

// "512 B", "1.5 KiB", "5.4 MiB", "2.0 GiB".
std::string FormatBytes(double bytes);
// "0.05 s", "3.2 s", "12 min 05 s", "2 h 03 min".
std::string FormatDuration(double seconds);

// The terminal's one-line bar:
//   backup ID  [#######-------------]  38.2%  1200/5000 pages  117.2 MiB/s  verifying
std::string FormatProgressBar(const BackupView& b);
// The plain line for logs: "backup ID running: 24.0%, 1200/5000 pages, 117.2 MiB/s".
std::string FormatProgressLine(const BackupView& b);
// "backup ID verified: position 1/1234, 5.4 MiB -> 1.2 MiB in 3.2 s" or
// "backup ID failed: <error>". The duration is finished_at - started_at.
std::string FormatFinalLine(const BackupView& b);

// What the command needs from the node. A transport failure is a Status
// whose message is the whole line to print ("cannot reach URL: connection
// refused"); any HTTP answer, error statuses included, is an HttpAnswer.
struct HttpAnswer {
  int status = 0;
  std::string body;
};
class BackupApi {
 public:
  virtual ~BackupApi() = default;
  // POST /v1/admin/backups. `budget` bounds the wait for the answer.
  virtual Result<HttpAnswer> Start(std::chrono::milliseconds budget) = 0;
  // GET /v1/admin/backups/{id}.
  virtual Result<HttpAnswer> Fetch(const std::string& id, std::chrono::milliseconds budget) = 0;
};
std::unique_ptr<BackupApi> MakeHttpBackupApi(const NodeUrl& node);

// Where the progress goes and how time passes (tests pass a ManualClock and
// a `sleep` that advances it).
struct BackupUi {
  bool tty = false;  // redraw one line with \r, instead of plain lines
  int columns = 0;   // the terminal's width: the bar is cut to columns - 1 (0: no cut)
  const Clock* clock = &SystemClock::Instance();
  std::function<void(std::chrono::milliseconds)> sleep;  // empty: the real sleep
  std::chrono::milliseconds plain_every{5000};
};

// The command once the URL is parsed: starts the backup, follows it, prints,
// returns the exit code. `args.node` is not used; `node` names the node in messages.
int WatchBackup(const BackupArgs& args, const NodeUrl& node, BackupApi& api, const BackupUi& ui,
                std::ostream& out, std::ostream& err);

}  // namespace walship
