// walship: the command line. Subcommands map to ops/*_command.cpp.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <optional>
#include <string>

#include "ops/backup_command.h"
#include "ops/restore_command.h"
#include "ops/segments_command.h"
#include "ops/serve_command.h"
#include "ops/verify_command.h"

int main(int argc, char** argv) {
  // A client that goes away mid-response must not kill the node.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"walship: a replicated storage node for SQLite"};
  app.set_version_flag("--version", std::string("walship ") + WALSHIP_VERSION);
  app.require_subcommand(1);

  std::string config_path;
  std::string listen;
  std::string data_dir;
  std::string log_level;
  std::string log_format;
  std::string role;
  std::string standby_url;
  std::string primary_url;
  std::string replication_mode;
  auto* serve = app.add_subcommand("serve", "Run the node: serve the index over HTTP");
  serve->add_option("--config", config_path, "TOML config file (see ops/walship.example.toml)")
      ->check(CLI::ExistingFile);
  serve->add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free one); overrides server.listen");
  serve->add_option("--data", data_dir, "data folder; overrides storage.data_dir");
  serve->add_option("--log-level", log_level, "trace, debug, info, warn, error; overrides log.level");
  serve->add_option("--log-format", log_format, "text or json; overrides log.format");
  serve->add_option("--role", role, "primary or standby; overrides replication.role");
  serve->add_option("--standby", standby_url, "primary: http://HOST:PORT of the standby to ship segments to");
  serve->add_option("--primary", primary_url, "standby: http://HOST:PORT of the primary (named to writers)");
  serve->add_option("--replication-mode", replication_mode, "async, or sync: a write is answered once the standby stored it");

  walship::SegmentsArgs segments_args;
  auto* segments = walship::AddSegmentsCommand(app, &segments_args);
  walship::BackupArgs backup_args;
  auto* backup = walship::AddBackupCommand(app, &backup_args);
  walship::VerifyArgs verify_args;
  auto* verify = walship::AddVerifyCommand(app, &verify_args);
  walship::RestoreArgs restore_args;
  auto* restore = walship::AddRestoreCommand(app, &restore_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (serve->parsed()) {
    walship::ConfigOverrides o;
    if (serve->count("--listen")) o.listen = listen;
    if (serve->count("--data")) o.data_dir = data_dir;
    if (serve->count("--log-level")) o.log_level = log_level;
    if (serve->count("--log-format")) o.log_format = log_format;
    if (serve->count("--role")) o.role = role;
    if (serve->count("--standby")) o.standby_url = standby_url;
    if (serve->count("--primary")) o.primary_url = primary_url;
    if (serve->count("--replication-mode")) o.replication_mode = replication_mode;
    std::optional<std::string> path;
    if (!config_path.empty()) path = config_path;
    return walship::RunServe(path, o);
  }
  if (segments->parsed()) return walship::RunSegments(segments_args, std::cout, std::cerr);
  if (backup->parsed()) return walship::RunBackup(backup_args, std::cout, std::cerr);
  if (verify->parsed()) return walship::RunVerify(verify_args, std::cout, std::cerr);
  if (restore->parsed()) return walship::RunRestore(restore_args, std::cout, std::cerr);
  return 2;
}
