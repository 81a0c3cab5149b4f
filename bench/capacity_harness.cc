// The server capacity benches' shared harness: see capacity_harness.h.
#include "capacity_harness.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ntm_bench {

void PhaseLink::say(const std::string &line) const {
  [[maybe_unused]] auto n = ::write(out_, line.data(), line.size());
  char ack;
  [[maybe_unused]] auto r = ::read(in_, &ack, 1);  // the parent sampled
}

PhaseChild::PhaseChild(size_t port_count, const Client &client) {
  int to_child[2], to_parent[2];
  if (::pipe(to_child) != 0) throw std::runtime_error("pipe");
  if (::pipe(to_parent) != 0) {
    ::close(to_child[0]);
    ::close(to_child[1]);
    throw std::runtime_error("pipe");
  }
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork");
  if (pid_ == 0) {
    ::close(to_child[1]);
    ::close(to_parent[0]);
    std::vector<uint16_t> ports(port_count);
    const auto size = static_cast<ssize_t>(port_count * sizeof(uint16_t));
    if (::read(to_child[0], ports.data(), static_cast<size_t>(size)) != size) ::_exit(2);
    ::_exit(client(PhaseLink(to_child[0], to_parent[1]), ports));
  }
  ::close(to_child[0]);
  ::close(to_parent[1]);
  to_child_ = to_child[1];
  from_child_ = ::fdopen(to_parent[0], "r");
}

PhaseChild::~PhaseChild() { finish(); }

void PhaseChild::start(const std::vector<uint16_t> &ports) {
  [[maybe_unused]] auto n = ::write(to_child_, ports.data(), ports.size() * sizeof(uint16_t));
}

bool PhaseChild::next(std::string &line) {
  char buf[256];
  if (from_child_ == nullptr || std::fgets(buf, sizeof(buf), from_child_) == nullptr) return false;
  line = buf;
  return true;
}

void PhaseChild::ack() { [[maybe_unused]] auto n = ::write(to_child_, "k", 1); }

bool PhaseChild::finish() {
  if (pid_ <= 0) return false;
  if (from_child_ != nullptr) std::fclose(from_child_);
  from_child_ = nullptr;
  ::close(to_child_);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int loopback_udp_socket(int buffer_bytes, int type_flags, ntm::Endpoint *local) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | type_flags, 0);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer_bytes, sizeof(buffer_bytes));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer_bytes, sizeof(buffer_bytes));
  const ntm::Endpoint lo = ntm::Endpoint::v4({127, 0, 0, 1}, 0);
  sockaddr_storage ss{};
  const unsigned len = lo.to_sockaddr(ss);
  ::bind(fd, reinterpret_cast<sockaddr *>(&ss), len);
  socklen_t l = sizeof(ss);
  ::getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &l);
  *local = *ntm::Endpoint::from_sockaddr(reinterpret_cast<sockaddr *>(&ss));
  return fd;
}

double process_cpu_s() {
  rusage r{};
  ::getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

double rss_mib() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) / 1048576.0;
}

std::string loadavg_1min() {
  std::ifstream in("/proc/loadavg");
  std::string first;
  in >> first;
  return first;
}

std::vector<std::string> split_list(const std::string &s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

}  // namespace ntm_bench
