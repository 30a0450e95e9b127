#include "tests/support/node_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace walship::testing {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t SpawnTo(const std::vector<std::string>& argv, const std::string& out_path,
              const std::vector<std::string>& env) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));  // the child's copy only
  int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}


std::unique_ptr<NodeProcess> NodeProcess::Start(NodeOptions o, std::string* error) {
#ifdef WALSHIP_BINARY
  if (o.binary.empty()) o.binary = WALSHIP_BINARY;
#endif
  std::vector<std::string> argv = {o.binary, "serve", "--listen", o.listen, "--data", o.data_dir};
  if (!o.config_toml.empty()) {
    std::string cfg = o.data_dir + ".toml";
    std::ofstream(cfg) << o.config_toml;
    argv.push_back("--config");
    argv.push_back(cfg);
  }
  for (const auto& a : o.extra_args) argv.push_back(a);
  std::unique_ptr<NodeProcess> node(new NodeProcess());
  node->log_path_ = o.log_path.empty() ? o.data_dir + ".log" : o.log_path;
  // Each start appends; remember where this run's lines begin.
  std::ifstream existing(node->log_path_, std::ios::ate);
  std::streamoff offset = existing ? static_cast<std::streamoff>(existing.tellg()) : 0;
  if (offset < 0) offset = 0;
  node->pid_ = SpawnTo(argv, node->log_path_, o.env);
  const std::regex listening("listening url=http://127\\.0\\.0\\.1:([0-9]+)");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.start_timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = Slurp(node->log_path_);
    log = log.substr(std::min<size_t>(static_cast<size_t>(offset), log.size()));
    std::smatch m;
    if (std::regex_search(log, m, listening)) {
      node->port_ = std::stoi(m[1]);
      return node;
    }
    int status = 0;
    if (waitpid(node->pid_, &status, WNOHANG) == node->pid_) {
      node->pid_ = -1;
      if (error) *error = "walship exited before listening (status " + std::to_string(status) + "): " + log;
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (error) *error = "walship did not listen within " + std::to_string(o.start_timeout_ms) + " ms";
  node->Kill9();
  return nullptr;
}

NodeProcess::~NodeProcess() {
  if (pid_ > 0) Kill9();
}

std::string NodeProcess::ReadLog() const { return Slurp(log_path_); }

std::unique_ptr<httplib::Client> NodeProcess::Client() const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);
  c->set_connection_timeout(5, 0);
  c->set_read_timeout(30, 0);
  c->set_write_timeout(30, 0);
  return c;
}

void NodeProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool NodeProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int NodeProcess::SignalAndWait(int signum, int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, signum);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill9();
  return -1;
}

int RunWalship(const std::string& binary, const std::vector<std::string>& args, std::string* output) {
  char tmpl[] = "/tmp/walship-run-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd >= 0) close(fd);
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = SpawnTo(argv, tmpl);
  int status = 0;
  waitpid(pid, &status, 0);
  if (output) *output = Slurp(tmpl);
  unlink(tmpl);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace walship::testing
