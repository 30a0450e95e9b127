// Starts the real walship binary on 127.0.0.1 with an ephemeral port and a
// data folder of the test's choosing, and talks to it over real HTTP.
// The process is killed (SIGKILL) when the object goes away, if still running.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace walship::testing {

struct NodeOptions {
  std::string binary;                    // default: WALSHIP_BINARY (integration tests)
  std::string data_dir;                  // required
  std::string config_toml;               // written to data_dir/../<name>.toml when not empty
  std::vector<std::string> extra_args;   // appended after `serve ...`
  std::string listen = "127.0.0.1:0";     // a fixed port to come back on after a restart
  std::vector<std::string> env;           // NAME=VALUE added to the node's environment
  std::string log_path;                  // default: data_dir + ".log"
  int start_timeout_ms = 15000;
};

class NodeProcess {
 public:
  // Starts the node and waits until its log says it is listening. Returns
  // nullptr (and sets *error) if it exits first or times out.
  static std::unique_ptr<NodeProcess> Start(NodeOptions options, std::string* error);
  ~NodeProcess();

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& log_path() const { return log_path_; }
  std::string ReadLog() const;

  // A keep-alive client to this node, with generous timeouts.
  std::unique_ptr<httplib::Client> Client() const;

  // Sends SIGKILL and reaps the process.
  void Kill9();
  // Sends `signum`, waits up to timeout_ms; returns the exit code, or -1 on
  // timeout (the process is then killed), or 128+signal if a signal ended it.
  int SignalAndWait(int signum, int timeout_ms = 20000);
  bool Running();

 private:
  NodeProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

// Runs a command line of the walship binary to completion (not `serve`):
// returns the exit code and fills *output with stdout+stderr.
int RunWalship(const std::string& binary, const std::vector<std::string>& args, std::string* output);

// The whole content of a file ("" if it cannot be read).
std::string Slurp(const std::string& path);

// fork/exec of argv (argv[0] is the binary's path) with stdout and stderr
// appended to out_path; returns the child's pid.
pid_t SpawnTo(const std::vector<std::string>& argv, const std::string& out_path,
              const std::vector<std::string>& env = {});

}  // namespace walship::testing
