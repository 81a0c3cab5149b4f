// Serves a running server's status: JSON on a Unix socket in the state directory (always; mode
// 0600, for `ntm-server status`), and the Prometheus text format over HTTP on a TCP address
// when `metrics` is set (off by default; bind it to localhost). One thread answers both, one
// request at a time.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "util/endpoint.h"

namespace ntm::servers {

class ServerApp;

// Where `PROGRAM run` serves its status: <state>/<program>.sock (ntm-server.sock, ntm-dc.sock...).
std::filesystem::path status_socket_path(const std::filesystem::path& state, const std::string& program);

class StatusServer {
 public:
  // Throws std::runtime_error naming the socket path or the metrics address.
  StatusServer(ServerApp& app, std::string program, std::filesystem::path socket_path,
               std::optional<Endpoint> metrics);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;
  // The metrics listener's bound address (port 0 resolved), if any.
  std::optional<Endpoint> metrics_endpoint() const;

 private:
  void run();
  void serve_status(int fd);
  void serve_metrics(int fd);

  ServerApp& app_;
  std::string program_;
  std::filesystem::path socket_path_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  int unix_fd_ = -1;
  int metrics_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
};

// Reads the status document from a running server's socket. Throws std::runtime_error.
std::string fetch_status(const std::filesystem::path& socket_path);

}  // namespace ntm::servers
