#include "ops/restore_command.h"

#include <httplib.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <ostream>

#include "backup/restore_database.h"
#include "base/fs.h"
#include "http/node_client.h"
#include "replication/db_checksum.h"

namespace walship {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

void PrintReport(const RestoreReport& r, std::ostream& out) {
  if (r.finished_earlier) {
    out << "finished an interrupted restore first; its damaged files are in " << r.finished_earlier->quarantine_dir
        << "\n";
  }
  const RestoreBuild& b = *r.build;
  out << "restored " << r.database_path << " to position " << b.timeline << "/" << b.txid;
  if (b.commit_unix_ms != 0) out << " (committed " << FormatRfc3339Millis(b.commit_unix_ms) << ")";
  out << ": " << b.segments_applied << " segments applied";
  if (b.segments_fetched != 0) out << " (" << b.segments_fetched << " fetched)";
  if (b.segments_beyond_store_end != 0) {
    out << " (" << b.segments_beyond_store_end << " of them after this store's newest)";
  }
  if (b.wal_commits != 0) out << ", then " << b.wal_commits << " transactions from the WAL";
  out << ", checksum " << DbChecksumHex(b.db_checksum) << ", integrity_check ok\n";
  if (!b.beyond_note.empty()) out << "warning: fetching past this store's newest segment stopped: " << b.beyond_note << "\n";
  if (!b.wal_not_applied.empty()) out << "warning: from the WAL: " << b.wal_not_applied << "\n";
  if (r.new_timeline) {
    out << "the node continues on timeline " << r.timeline << " (the store holds history after this point)\n";
  }
  for (const std::string& q : b.quarantined_segments) out << "damaged segment replaced; the old copy is in " << q << "\n";
  if (r.swap) {
    if (r.swap->moved.empty()) {
      out << "there was no database to move aside\n";
    } else {
      out << "the previous database files are in " << r.swap->quarantine_dir << " (nothing was deleted):";
      for (const std::string& m : r.swap->moved) out << " " << std::filesystem::path(m).filename().string();
      out << "\n";
    }
  }
}

}  // namespace

CLI::App* AddRestoreCommand(CLI::App& app, RestoreArgs* args) {
  CLI::App* c = app.add_subcommand("restore", "Restore a node's database from its backups and segments (offline)");
  c->add_option("--data", args->data_dir, "the node's data folder (the node must be stopped)")->required();
  c->add_option("--to", args->to, "latest (the default): the newest position the store holds");
  c->add_option("--to-time", args->to_time, "the last transaction committed at or before this RFC 3339 time");
  c->add_option("--to-position", args->to_position, "TIMELINE/TXID (or TXID): restore to exactly this transaction");
  c->add_flag("--dry-run", args->dry_run, "print the plan and change nothing");
  c->add_option("--fetch-from", args->fetch_from, "http://HOST:PORT of a node (the standby) to fetch missing or "
                                                  "damaged segments from");
  c->add_option("--backups", args->backups_dir, "the backup folder, when backup.dir is not DATA/backups");
  c->add_option("--segments", args->segments_dir, "the segment store, when segments.dir is not DATA/segments");
  return c;
}

int RunRestore(const RestoreArgs& args, std::ostream& out, std::ostream& err) {
  auto target = ParseRestoreTarget(args.to, args.to_time, args.to_position);
  if (!target.ok()) {
    err << "restore: " << target.status().message() << "\n";
    return kExitUsage;
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(args.data_dir, ec)) {
    err << "restore: data folder " << args.data_dir << " does not exist\n";
    return kExitUsage;
  }
  RestoreRequest request;
  request.data_dir = args.data_dir;
  request.segments_dir = args.segments_dir.empty() ? args.data_dir + "/segments" : args.segments_dir;
  request.backups_dir = args.backups_dir.empty() ? args.data_dir + "/backups" : args.backups_dir;
  request.target = *target;
  request.dry_run = args.dry_run;
  std::unique_ptr<SegmentFetcher> fetcher;
  if (!args.fetch_from.empty()) {
    auto url = ParseNodeUrl(args.fetch_from, "--fetch-from");
    if (!url.ok()) {
      err << "restore: " << url.status().message() << "\n";
      return kExitUsage;
    }
    fetcher = std::make_unique<SegmentFetcher>(*url);
    request.fetch = [f = fetcher.get()](uint64_t sequence) { return f->Fetch(sequence); };
    request.fetch_source = url->base;
  }
  // Tests only: a kill -9 test needs a restore slow enough to land in.
  if (const char* delay = std::getenv("WALSHIP_FAILPOINT_RESTORE_STEP_SLEEP_MS")) {
    request.step_delay_ms = std::atoi(delay);
  }
  request.progress = [&out](const std::string& line) { out << "  " << line << "\n" << std::flush; };

  // The node must not run on the folder while its database is replaced.
  auto lock = DirectoryLock::Acquire(args.data_dir);
  if (!lock.ok()) {
    err << "restore: " << lock.status().message() << ": stop the node first\n";
    return kExitFailed;
  }
  if (args.dry_run) request.progress = nullptr;
  auto report = RestoreDatabase(request);
  if (!report.ok()) {
    err << "restore: " << report.status().message() << "\n";
    if (std::filesystem::exists(args.data_dir + "/" + kRestoreSwapIntentFile, ec)) {
      err << "restore: the swap did not finish; the next walship serve or walship restore on " << args.data_dir
          << " finishes it (" << kRestoreSwapIntentFile << ")\n";
    } else {
      err << "restore: the database was not replaced\n";
    }
    return kExitFailed;
  }
  if (args.dry_run) {
    out << "plan (dry run, nothing changed):\n" << DescribeRestorePlan(report->plan);
    return 0;
  }
  PrintReport(*report, out);
  if (report->build->loss) {
    err << "restore: NOT RESTORED: " << report->build->loss->Describe() << "\n";
    err << "restore: the database holds every transaction up to " << report->build->timeline << "/"
        << report->build->txid << "; to recover the rest, run again with --fetch-from http://STANDBY:PORT\n";
    return kRestoreExitLoss;
  }
  if (report->build->wal_commits_lost != 0) {
    err << "restore: NOT RESTORED: " << report->build->wal_not_applied << "\n";
    err << "restore: the database holds every transaction the segment store has, up to " << report->build->timeline
        << "/" << report->build->txid << "; the damaged WAL is kept in the quarantine folder above\n";
    return kRestoreExitLoss;
  }
  return 0;
}

}  // namespace walship
