#include "pg_cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "store/sql_database.h"

namespace ntm::test {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "ntm-pg-";

fs::path find_bindir() {
  if (const char* env = std::getenv("NTM_PG_BINDIR")) return env;
  fs::path best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const int v = std::atoi(e.path().filename().c_str());
    if (v > best_version && fs::exists(e.path() / "bin" / "initdb")) {
      best_version = v;
      best = e.path() / "bin";
    }
  }
  if (best.empty())
    throw std::runtime_error(
        "no PostgreSQL server found (/usr/lib/postgresql/*/bin/initdb): install Debian's "
        "postgresql package (ci/deps.d/servers.sh) or set NTM_PG_BINDIR");
  return best;
}

uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot find a free loopback port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// Quotes for /bin/sh.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int PgCluster::run(const std::string& program, const std::vector<std::string>& args) const {
  std::vector<std::string> argv;
  if (!user_.empty()) argv = {"runuser", "-u", user_, "--"};
  argv.push_back((bindir_ / program).string());
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string log = (dir_ / "commands.log").string();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execvp(cargv[0], cargv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

PgCluster::PgCluster() : bindir_(find_bindir()) {
  if (::geteuid() == 0) {
    const char* u = std::getenv("NTM_PG_USER");
    user_ = u ? u : "postgres";
    if (!::getpwnam(user_.c_str()))
      throw std::runtime_error("running as root needs an unprivileged user for PostgreSQL: no "
                               "user '" + user_ + "' (set NTM_PG_USER)");
  }
  // Clusters of test processes that died without cleaning up.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const pid_t owner = static_cast<pid_t>(std::atol(name.c_str() + std::strlen(kPrefix)));
    if (owner <= 0 || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
    dir_ = e.path();
    if (fs::exists(dir_ / "data" / "postmaster.pid")) {
      running_ = true;
      stop();
    }
    fs::remove_all(dir_, ec);
  }

  std::string tmpl = (fs::temp_directory_path() / (kPrefix + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  if (!user_.empty()) {
    const passwd* pw = ::getpwnam(user_.c_str());
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("cannot give " + dir_.string() + " to " + user_);
  }
  // The log is ours (root may write it whoever runs the server); the user appends to it.
  { std::ofstream(dir_ / "commands.log"); }
  ::chmod((dir_ / "commands.log").c_str(), 0666);
  start_reaper();
  try {
    if (run("initdb", {"-D", (dir_ / "data").string(), "-A", "trust", "-U", "ntm", "-E", "UTF8",
                       "--locale=C.UTF-8", "--no-sync"}) != 0)
      throw std::runtime_error("initdb failed:\n" + read_file(dir_ / "commands.log"));
    start(false);
  } catch (...) {
    stop();
    fs::remove_all(dir_, ec);
    throw;  // the reaper cleans nothing more and ends with this process
  }
}

void PgCluster::start(bool same_port) {
  // A port is free when we look; another program may take it before the server binds it.
  for (int attempt = 0;; ++attempt) {
    if (!same_port) port_ = free_loopback_port();
    // fsync off: a test cluster need not survive a power cut (it does survive its server being
    // killed, which restart() does: committed data is in the kernel already).
    const std::string opts = "-p " + std::to_string(port_) + " -k " + dir_.string() +
                             " -c listen_addresses=127.0.0.1 -c fsync=off"
                             " -c full_page_writes=off";
    if (run("pg_ctl", {"-D", (dir_ / "data").string(), "-l", (dir_ / "server.log").string(),
                       "-o", opts, "-w", "-t", "60", "start"}) == 0) {
      running_ = true;
      return;
    }
    if (same_port || attempt == 2)
      throw std::runtime_error("pg_ctl start failed:\n" + read_file(dir_ / "commands.log") +
                               read_file(dir_ / "server.log"));
  }
}

void PgCluster::stop() noexcept {
  if (!running_) return;
  running_ = false;
  try {
    run("pg_ctl", {"-D", (dir_ / "data").string(), "-m", "immediate", "-w", "-t", "30", "stop"});
  } catch (...) {
  }
}

void PgCluster::start_reaper() {
  // A shell in its own session waits on a pipe only this process writes to (close-on-exec, so
  // no program we start inherits it). End of file without "done" means this process died.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const std::string as_user = user_.empty() ? "" : "runuser -u " + shell_quote(user_) + " -- ";
  const std::string script =
      "trap '' INT TERM HUP; read word; [ \"$word\" = done ] && exit 0; " + as_user +
      shell_quote((bindir_ / "pg_ctl").string()) + " -D " + shell_quote((dir_ / "data").string()) +
      " -m immediate -w -t 30 stop >/dev/null 2>&1; rm -rf " + shell_quote(dir_.string());
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setsid();
    ::dup2(fds[0], 0);  // dup2 clears close-on-exec on the copy
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[0]);
  reaper_fd_ = fds[1];
  reaper_pid_ = pid;
}

PgCluster::~PgCluster() {
  stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (reaper_fd_ >= 0) {
    const char done[] = "done\n";
    [[maybe_unused]] auto n = ::write(reaper_fd_, done, sizeof(done) - 1);
    ::close(reaper_fd_);
    int status = 0;
    while (::waitpid(reaper_pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void PgCluster::restart() {
  stop();
  start(true);  // the same port: clients reconnect to the address they know
}

int PgCluster::postmaster_pid() const {
  if (!running_) return 0;
  std::ifstream in(dir_ / "data" / "postmaster.pid");
  int pid = 0;
  in >> pid;
  return pid;
}

std::string PgCluster::url(const std::string& database) const {
  return "postgresql://ntm@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PgCluster::create_database() {
  const std::string name = "ntm_test_" + std::to_string(++databases_);
  auto admin = servers::sql::open(url("postgres"));
  admin->exec_script("CREATE DATABASE " + name);
  return url(name);
}

PgCluster& PgCluster::shared() {
  static PgCluster cluster;
  return cluster;
}

}  // namespace ntm::test
