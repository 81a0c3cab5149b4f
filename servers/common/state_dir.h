// The servers' state directory: the SQLite database and the key files, shared by the AS, DC and
// RS when they run from one directory (all-in-one, or split daemons on one host).
//
//   ntm.db        accounts and virtual addresses (SQLite, WAL)
//   as-tls.pem    AS TLS certificate (self-signed; nodes pin it)         mode 0644
//   as-tls.key    AS TLS private key                                      mode 0600
//   as-sign.key   AS Ed25519 signing key (base64 of the 32-byte seed)    mode 0600
//   ticket.key    AS-DC ticket key (base64, 32 bytes)                    mode 0600
//   relay.key     DC-RS relay-token key (base64, 32 bytes)               mode 0600
//
// Whichever server starts first creates a missing key (atomically: written to a temporary file
// and linked into place, so two processes starting together agree on one key).
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

#include "control/codec_util.h"
#include "crypto/ed25519.h"

namespace ntm::servers {

inline constexpr const char* kDatabaseFile = "ntm.db";
inline constexpr const char* kTlsCertFile = "as-tls.pem";
inline constexpr const char* kTlsKeyFile = "as-tls.key";
inline constexpr const char* kSignKeyFile = "as-sign.key";
inline constexpr const char* kTicketKeyFile = "ticket.key";
inline constexpr const char* kRelayKeyFile = "relay.key";
// The DC's registered nodes (node_id and address; no keys), for a quick start after a restart.
inline constexpr const char* kKnownNodesFile = "dc-nodes";
// The access policy between nodes (dc/access_policy.h), written by the operator; optional.
inline constexpr const char* kPolicyFile = "policy";
// The RS's relay table (relay ids, node ids, addresses; no keys), for a quick restart.
inline constexpr const char* kRelayTableFile = "rs-relays";

// Thrown for a state directory or key file that cannot be used; the message names the file.
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StateDir {
 public:
  // Creates the directory (mode 0700) if missing, or tightens an existing one to 0700, and
  // checks that it can be written. Throws StateError naming the path (not a directory, not
  // writable: read-only file system, full disk, permissions).
  explicit StateDir(std::filesystem::path dir);

  const std::filesystem::path& path() const { return dir_; }
  std::filesystem::path file(const char* name) const { return dir_ / name; }
  std::string database_path() const { return file(kDatabaseFile).string(); }

  // Loads the 32-byte key, creating it (random) when missing. Throws StateError for a file that
  // exists but is not a base64 32-byte key.
  control::Key32 load_or_create_key(const char* name) const;
  crypto::Ed25519PrivateKey load_or_create_signing_key() const;

 private:
  void check_writable() const;

  std::filesystem::path dir_;
};

// Reads a whole file. Throws StateError naming it.
std::string read_text_file(const std::filesystem::path& path);
// Creates `path` with `contents` and `mode` unless it exists; returns false if it existed.
// Atomic (temporary file + link). Throws StateError.
bool create_file_exclusive(const std::filesystem::path& path, const std::string& contents,
                           unsigned mode);

}  // namespace ntm::servers
