// `ntm up`: runs a node in the foreground with its forwards, exposes, proxies and DNS responder
// until SIGTERM or SIGINT; SIGHUP re-reads the config file's rules and service addresses.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "config.h"
#include "service.h"

namespace ntm::cli {

class Daemon {
 public:
  // `file` is the config file (empty: none); `flags` are the command line's settings, applied
  // over the file at start and at every reload.
  Daemon(std::string file, std::vector<std::pair<std::string, std::string>> flags);
  // Returns the exit status: 0 after a clean stop, 1 if the node or a service failed to start,
  // 2 for a bad configuration.
  int run();

 private:
  UpConfig load() const;  // file + flags; throws ConfigError
  void apply(const UpConfig& config, bool starting);  // throws ConfigError when starting
  void reload();
  // Starts, moves or stops one of the proxies / the DNS responder when its address changed.
  void restart_service(std::unique_ptr<Service>& slot, std::string& current, const std::string& wanted,
                       const char* what, bool starting,
                       const std::function<std::unique_ptr<Service>(const HostPort&)>& make);

  std::string file_;
  std::vector<std::pair<std::string, std::string>> flags_;
  ConnectionLimit limit_{4096};
  std::map<std::string, std::unique_ptr<Service>> rules_;  // by Rule::text()
  std::unique_ptr<Service> socks5_, http_proxy_, dns_;
  std::string socks5_at_, http_proxy_at_, dns_at_;
};

}  // namespace ntm::cli
