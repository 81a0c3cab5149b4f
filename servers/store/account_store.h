// Account storage behind an interface (SQLite today; a networked database can replace it).
// Account names are DNS labels: 1-63 characters of a-z, 0-9 and '-', not starting or ending
// with '-'; the node's FQDN is "<name>.<domain>".
//
// Credentials: a password (scrypt, see password_hash.h) or a one-time enrollment token. A token
// is consumed by the first successful login, which binds the account to that login's static
// public key; afterwards the token is accepted only together with that same key (the enrolled
// device logging in again), and refused for any other key.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "control/codec_util.h"

namespace ntm::servers {

enum class CredentialKind : uint8_t { password = 0, token = 1 };

struct AccountInfo {
  std::string name;
  uint64_t node_id = 0;
  CredentialKind kind = CredentialKind::password;
  bool disabled = false;
  bool token_used = false;                     // token accounts: enrolled already
  std::optional<control::Key32> static_public;  // of the last successful login
  uint64_t created_unix = 0;
  uint64_t last_login_unix = 0;  // 0: never
};

enum class AuthResult : uint8_t {
  ok,
  bad_credentials,  // unknown account, wrong password or token
  token_used,       // the enrollment token was already used by another device
  disabled,         // right credentials, disabled account
};

struct AuthOutcome {
  AuthResult result = AuthResult::bad_credentials;
  uint64_t node_id = 0;  // when ok
};

// Thrown for an invalid name or an account that already exists.
class AccountError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// True for a valid account name (see above).
bool valid_account_name(std::string_view name);

class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // Creates an account with a fresh random node_id. Throws AccountError.
  virtual AccountInfo add_password_account(std::string_view name, std::string_view password) = 0;
  // Creates an account and returns its enrollment token (shown once, stored hashed).
  virtual std::pair<AccountInfo, std::string> add_token_account(std::string_view name) = 0;

  // Checks the credentials (slow on purpose). On success records the login time and the static
  // key. Never reveals whether an unknown account exists (same result, same work).
  virtual AuthOutcome authenticate(std::string_view name, std::string_view secret,
                                   const control::Key32& static_public, uint64_t now_unix) = 0;

  // false when there is no such account.
  virtual bool set_disabled(std::string_view name, bool disabled) = 0;
  // Deletes the account (its node is revoked like a disabled one's). false: no such account.
  virtual bool remove(std::string_view name) = 0;
  // Replaces the credential with a password (a token account becomes a password account). The
  // node logged in keeps its session; its next login needs the new password. false: no such
  // account. Throws AccountError for an empty password.
  virtual bool set_password(std::string_view name, std::string_view password) = 0;

  virtual std::vector<AccountInfo> list() = 0;
  virtual std::optional<AccountInfo> find(std::string_view name) = 0;
  virtual std::optional<AccountInfo> find_by_node_id(uint64_t node_id) = 0;
  // Every account's node id, and the name of each disabled one, in one query: the DC's sweep
  // checks all its registered nodes against it (one lookup each would be one query per node).
  struct Roll {
    std::unordered_set<uint64_t> node_ids;               // of every account
    std::unordered_map<uint64_t, std::string> disabled;  // node id -> account name
  };
  virtual Roll roll() = 0;
};

}  // namespace ntm::servers
