#include "common/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "crypto/encoding.h"
#include "crypto/random.h"
#include "crypto/secure.h"
#include "util/log.h"

namespace ntm::servers {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

StateDir::StateDir(std::filesystem::path dir) : dir_(std::move(dir)) {
  if (dir_.empty()) throw StateError("no state directory given (--state DIR)");
  std::error_code ec;
  if (!std::filesystem::exists(dir_, ec)) {
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
      throw StateError("cannot create state directory " + dir_.string() + ": " +
                       errno_text(errno));
  }
  if (!std::filesystem::is_directory(dir_, ec))
    throw StateError("state directory " + dir_.string() + " is not a directory");
  check_writable();
  // It holds private keys and password hashes: nobody else may list or open it, also when it
  // was created by hand or by an older version with a laxer mode.
  struct stat st{};
  if (::stat(dir_.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    if (::chmod(dir_.c_str(), st.st_mode & 0700) != 0)
      throw StateError("cannot make state directory " + dir_.string() + " private (mode 0700): " +
                       errno_text(errno));
    NTM_LOG_WARN("state directory %s was mode %04o; made it 0700", dir_.c_str(),
                 static_cast<unsigned>(st.st_mode & 07777));
  }
  // The database holds password hashes: create it private before SQLite does (with the umask).
  // SQLite gives its -wal and -shm files the database file's mode.
  create_file_exclusive(file(kDatabaseFile), "", 0600);
}

void StateDir::check_writable() const {
  // A read-only or full file system would otherwise surface later as an obscure SQLite or
  // key-file error: try a small write now and name the directory.
  const auto probe = dir_ / (".write-test." + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0) {
    const char byte = 0;
    if (::write(fd, &byte, 1) != 1 || ::fsync(fd) != 0) err = errno;
    ::close(fd);
    ::unlink(probe.c_str());
  }
  if (err == 0) return;
  std::string hint;
  if (err == EROFS) hint = " (read-only file system)";
  if (err == ENOSPC || err == EDQUOT) hint = " (the disk is full)";
  if (err == EACCES || err == EPERM) hint = " (no permission: run as the directory's owner)";
  throw StateError("state directory " + dir_.string() + " is not writable: " + errno_text(err) +
                   hint);
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StateError("cannot read " + path.string() + ": " + errno_text(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool create_file_exclusive(const std::filesystem::path& path, const std::string& contents,
                           unsigned mode) {
  if (std::filesystem::exists(path)) return false;
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(crypto::random_u32());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw StateError("cannot create " + tmp + ": " + errno_text(errno));
  ::fchmod(fd, mode);  // regardless of the umask
  size_t off = 0;
  while (off < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw StateError("cannot write " + tmp + ": " + errno_text(err));
    }
    off += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  // link() fails with EEXIST when another process created the file first: theirs wins.
  const int rc = ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0) {
    if (err == EEXIST) return false;
    throw StateError("cannot create " + path.string() + ": " + errno_text(err));
  }
  return true;
}

control::Key32 StateDir::load_or_create_key(const char* name) const {
  const auto path = file(name);
  if (!std::filesystem::exists(path)) {
    control::Key32 k;
    crypto::random_bytes(k);
    std::string text = crypto::base64_encode(k) + "\n";
    create_file_exclusive(path, text, 0600);
    crypto::secure_zero(k);
  }
  const std::string text = trim(read_text_file(path));
  auto raw = crypto::base64_decode(text);
  if (!raw || raw->size() != 32)
    throw StateError("key file " + path.string() +
                     " is not a base64-encoded 32-byte key (delete it to generate a new one)");
  control::Key32 k;
  std::copy(raw->begin(), raw->end(), k.begin());
  crypto::secure_zero(*raw);
  return k;
}

crypto::Ed25519PrivateKey StateDir::load_or_create_signing_key() const {
  return load_or_create_key(kSignKeyFile);
}

}  // namespace ntm::servers
