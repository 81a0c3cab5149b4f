// The local control API: the node serves JSON on a Unix stream socket (mode 0600, and only
// clients of the same user - or root - are answered, checked with SO_PEERCRED). A client sends
// one request line, a JSON object such as {"command":"status"}, and reads one JSON document
// back; the server then closes the connection. Commands: info, tunnels, stats, events, status
// (all four), ping {"peer": NAME, "timeout_ms": N}. Errors come back as {"error": "..."}.
// docs/ntm.md documents the documents. Requests are served one at a time on the server's own
// thread (a ping waits at most 10 s).
#pragma once

#include <string>
#include <thread>

namespace ntm::node {

class Node;

class ControlServer {
 public:
  // Binds `path` (replacing a stale socket file nobody listens on) and starts serving. Throws
  // std::runtime_error with a message naming the path.
  ControlServer(std::string path, Node& node);
  ~ControlServer();  // stops serving and removes the socket file
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Answers one request line (the JSON text), as the socket does: for tests.
  std::string handle(const std::string& request);

 private:
  void run();
  void serve(int fd);

  std::string path_;
  Node& node_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace ntm::node
