// A throwaway PostgreSQL server for tests and benches: a new cluster made with initdb in a
// temporary directory, started with pg_ctl on a free loopback port, stopped and removed when
// the object is destroyed. No mock: Debian's own server (the `postgresql` package).
//
// initdb and postgres refuse to run as root, and CI runs as root: then every server command
// runs as an unprivileged user (NTM_PG_USER, default `postgres`, which Debian's package creates)
// through `runuser`, and the directory is given to that user. The binaries are found in
// NTM_PG_BINDIR or the newest /usr/lib/postgresql/<version>/bin.
//
// Clean-up even on failure: the destructor stops the server (immediate shutdown) and removes
// the directory, also while an exception unwinds. A test process killed before its destructors
// run (a crash, SIGKILL, a CTest timeout) leaves a small reaper shell behind, in its own
// session, which notices that the process is gone (its pipe closes) and does the same. And a
// cluster left behind anyway (its directory name carries the owning process's id) is stopped
// and removed by the next PgCluster made on the machine.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace ntm::test {

class PgCluster {
 public:
  // Makes and starts the cluster. Throws std::runtime_error with the failing command's output.
  PgCluster();
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // Creates a new, empty database and returns its libpq URL (trust authentication on loopback).
  std::string create_database();
  std::string url(const std::string& database) const;
  uint16_t port() const { return port_; }
  // The server's main process (its backends are its children); 0 when not running.
  int postmaster_pid() const;

  // Stops the server (immediate shutdown, as a crash) and starts it again on the same port.
  void restart();

  // One cluster per process, made on first use and removed at exit.
  static PgCluster& shared();

 private:
  void start(bool same_port);
  void start_reaper();
  void stop() noexcept;
  // Runs a PostgreSQL program (as the unprivileged user when root); output to the log file.
  int run(const std::string& program, const std::vector<std::string>& args) const;

  std::filesystem::path bindir_;
  std::filesystem::path dir_;
  std::string user_;  // empty: run as ourselves
  uint16_t port_ = 0;
  int databases_ = 0;
  bool running_ = false;
  int reaper_fd_ = -1;
  int reaper_pid_ = -1;
};

}  // namespace ntm::test
