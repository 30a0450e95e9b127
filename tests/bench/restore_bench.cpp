// The restore section of make bench.
//
// A fresh node (backup.schedule = "") is filled through its HTTP API to
// --restore-backup-mb MiB (the backup section's fill: 1 MiB PUTs, half prose,
// half random punctuation), backed up (POST /v1/admin/backups, polled until
// verified), then written on until the segments sealed after the backup add
// up to --restore-segments-mb MiB, and stopped (SIGTERM). Then, after a
// `sync`, `walship restore --data DIR` (to latest: the backup, every segment
// after it, integrity_check, the swap) is timed, and so is a `cp` of the
// same input bytes (the backup's data.db.zst and those segment files) plus a
// `sync`, on the same disk. Warm cache: the fill just wrote everything.
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/bench/bench.h"
#include "tests/support/node_process.h"

namespace walship::bench {
namespace {

namespace fs = std::filesystem;
using walship::testing::NodeOptions;
using walship::testing::NodeProcess;
using SteadyClock = std::chrono::steady_clock;

double MB(double bytes) { return bytes / 1e6; }

// Segment files with a sequence above `after`, and their total size.
std::vector<std::string> SegmentsAfter(const std::string& dir, uint64_t after, uint64_t* bytes) {
  std::vector<std::string> out;
  *bytes = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, m, std::regex("(\\d{20})-\\d{20}-\\d{20}\\.wseg"))) continue;
    if (std::stoull(m[1]) <= after) continue;
    out.push_back(e.path().string());
    *bytes += e.file_size(ec);
  }
  return out;
}

// Asks for a backup and polls until it is listed verified; its id and the
// manifest's segment sequence.
bool TakeBackup(const NodeProcess& node, const std::string& backups_dir, std::string* id, uint64_t* segment_sequence,
                std::string* error) {
  auto cli = node.Client();
  auto res = cli->Post("/v1/admin/backups", "", "application/json");
  if (!res || res->status != 202) {
    *error = "POST /v1/admin/backups: " + (res ? std::to_string(res->status) + " " + res->body : "no answer");
    return false;
  }
  *id = nlohmann::json::parse(res->body, nullptr, false)["backup"].value("id", "");
  const auto deadline = SteadyClock::now() + std::chrono::minutes(30);
  while (SteadyClock::now() < deadline) {
    auto r = cli->Get(("/v1/admin/backups/" + *id).c_str());
    auto j = r ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
    const std::string state = j.is_object() && j["backup"].is_object() ? j["backup"].value("state", "") : "";
    if (state == "failed") {
      *error = "backup " + *id + " failed: " + j["backup"].value("error", "");
      return false;
    }
    if (state == "verified" && j["backup"].contains("bytes_compressed")) {
      std::ifstream in(backups_dir + "/" + *id + "/manifest.json");
      auto m = nlohmann::json::parse(in, nullptr, false);
      if (!m.is_object() || !m["manifest"].is_object()) {
        *error = "backup " + *id + ": no readable manifest";
        return false;
      }
      *segment_sequence = m["manifest"].value("segment_sequence", uint64_t{0});
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  *error = "backup " + *id + " not verified within 30 minutes";
  return false;
}

double TimeShell(const std::string& command, std::string* output) {
  ::sync();
  const auto t0 = SteadyClock::now();
  const int rc = walship::testing::RunWalship("/bin/sh", {"-c", command}, output);
  const double s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  return rc == 0 ? s : -1;
}

}  // namespace

bool RunRestoreBench(const RestoreBenchArgs& a, std::string* error) {
  std::printf("\nrestore: a %lld MiB database backed up, then %lld MiB of segments after it\n",
              static_cast<long long>(a.backup_mib), static_cast<long long>(a.segment_mib));
  NodeOptions o;
  o.binary = a.walship;
  o.data_dir = a.dir + "/restore-node";
  o.config_toml = "[backup]\nschedule = \"\"\n";
  const std::string db = o.data_dir + "/index.db";
  auto node = NodeProcess::Start(o, error);
  if (!node) return false;
  FillResult fill;
  const uint64_t db_target = static_cast<uint64_t>(a.backup_mib) << 20;
  auto db_size = [&db] {
    struct stat st {};
    return ::stat(db.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  };
  if (!FillNode(*node, "restore-fill", [&] { return db_size() >= db_target; }, &fill, error)) return false;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  std::string backup_id;
  uint64_t backup_sequence = 0;
  if (!TakeBackup(*node, o.data_dir + "/backups", &backup_id, &backup_sequence, error)) return false;
  const uint64_t segment_target = static_cast<uint64_t>(a.segment_mib) << 20;
  uint64_t segment_bytes = 0;
  if (!FillNode(*node, "restore-after-backup",
                [&] {
                  SegmentsAfter(o.data_dir + "/segments", backup_sequence, &segment_bytes);
                  return segment_bytes >= segment_target;
                },
                &fill, error)) {
    return false;
  }
  auto status = node->Client()->Get("/v1/status");
  const std::string position =
      status ? nlohmann::json::parse(status->body, nullptr, false).value("position", std::string("?")) : "?";
  if (node->SignalAndWait(SIGTERM, 120000) != 0) {
    *error = "the node did not stop cleanly";
    return false;
  }
  const std::string backup_data = o.data_dir + "/backups/" + backup_id + "/data.db.zst";
  const std::vector<std::string> segments = SegmentsAfter(o.data_dir + "/segments", backup_sequence, &segment_bytes);
  const uint64_t backup_bytes = fs::file_size(backup_data);
  const uint64_t in_bytes = backup_bytes + segment_bytes;
  std::printf("  input: backup %s %.0f MB compressed (database %.0f MB), %zu segments after it %.0f MB; node "
              "position %s\n",
              backup_id.c_str(), MB(static_cast<double>(backup_bytes)), MB(static_cast<double>(db_size())),
              segments.size(), MB(static_cast<double>(segment_bytes)), position.c_str());

  std::string output;
  const double restore_s = TimeShell(a.walship + " restore --data " + o.data_dir, &output);
  if (restore_s < 0) {
    *error = "walship restore failed: " + output.substr(0, 2000);
    return false;
  }
  if (output.find("to position " + position) == std::string::npos) {
    *error = "walship restore did not reach the node's position " + position + ": " + output.substr(0, 2000);
    return false;
  }
  const uint64_t out_bytes = db_size();
  // cp of the same input bytes, then sync.
  const std::string copy = a.dir + "/restore-cp";
  std::string cp = "mkdir -p " + copy + " && cp " + backup_data;
  for (const auto& s : segments) cp += " " + s;
  cp += " " + copy + "/ && sync";
  const double cp_s = TimeShell(cp, &output);
  if (cp_s < 0) {
    *error = "cp baseline failed: " + output;
    return false;
  }
  const double cp_out_s = TimeShell("cp " + db + " " + copy + "/db && sync", &output);
  std::printf("  walship restore: %.1f s = %.1f MB/s of input (%.0f MB in, %.0f MB database out, %.1f MB/s "
              "written)\n",
              restore_s, MB(static_cast<double>(in_bytes)) / restore_s, MB(static_cast<double>(in_bytes)),
              MB(static_cast<double>(out_bytes)), MB(static_cast<double>(out_bytes)) / restore_s);
  std::printf("  cp of the same input bytes + sync: %.2f s = %.1f MB/s; restore / cp = %.1fx\n", cp_s,
              MB(static_cast<double>(in_bytes)) / cp_s, restore_s / cp_s);
  if (cp_out_s > 0) {
    std::printf("  cp of the restored database + sync: %.2f s = %.1f MB/s; restore / that = %.1fx\n", cp_out_s,
                MB(static_cast<double>(out_bytes)) / cp_out_s, restore_s / cp_out_s);
  }
  std::error_code ec;
  fs::remove_all(copy, ec);
  std::fflush(stdout);
  return true;
}

}  // namespace walship::bench
