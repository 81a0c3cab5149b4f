#include "node/key_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "crypto/encoding.h"

namespace ntm::node {

crypto::X25519KeyPair load_or_create_key(const std::string& state_dir) {
  if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw std::runtime_error("options.state_dir: cannot create '" + state_dir +
                             "': " + std::strerror(errno));
  }
  const std::string path = state_dir + "/node.key";
  std::ifstream in(path);
  if (in) {
    std::string text;
    std::getline(in, text);
    auto bytes = crypto::base64_decode(text);
    if (!bytes || bytes->size() != 32) {
      throw std::runtime_error(path + ": not a base64 X25519 private key");
    }
    crypto::X25519KeyPair pair;
    std::memcpy(pair.private_key.data(), bytes->data(), 32);
    pair.public_key = crypto::x25519_public_from_private(pair.private_key);
    return pair;
  }
  auto pair = crypto::x25519_generate();
  // Written to a temporary file first, so a crash never leaves half a key behind.
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
  std::string line = crypto::base64_encode(pair.private_key) + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  }
  return pair;
}

}  // namespace ntm::node
