#include "dc/dc_bus.h"

#ifdef NTM_HAVE_POSTGRESQL

#include <libpq-fe.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "crypto/random.h"
#include "store/pg_sql.h"
#include "util/log.h"

namespace ntm::servers {

namespace {

std::string channel_of(const std::string& id) { return "ntm_dc_" + id; }

std::string join(const std::vector<Endpoint>& endpoints) {
  std::string out;
  for (const auto& e : endpoints) out += (out.empty() ? "" : ",") + e.to_string();
  return out;
}

std::vector<Endpoint> split(const std::string& text) {
  std::vector<Endpoint> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (auto e = Endpoint::parse(text.substr(start, end - start))) out.push_back(*e);
    start = end + 1;
  }
  return out;
}

int64_t as_signed(uint64_t v) { return static_cast<int64_t>(v); }

class PgBus final : public DcBus {
 public:
  explicit PgBus(const std::string& url) : db_(url) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(crypto::random_u64()));
    id_ = hex;
    listen();
  }

  const std::string& id() const override { return id_; }

  std::optional<std::string> publish(const FleetRegistration& r) override {
    std::optional<std::string> before;
    auto rows = db_.query("SELECT dc FROM dc_registrations WHERE node_id = $1",
                          {as_signed(r.node_id)});
    if (!rows.empty() && rows[0].text(0) != id_) before = rows[0].text(0);
    db_.execute(
        "INSERT INTO dc_registrations (node_id, fqdn, dc, certificate, observed, private, ipv4, "
        "ipv6, updated_unix, mac1_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (node_id) DO UPDATE SET fqdn = excluded.fqdn, dc = excluded.dc, "
        "certificate = excluded.certificate, observed = excluded.observed, "
        "private = excluded.private, ipv4 = excluded.ipv4, ipv6 = excluded.ipv6, "
        "updated_unix = excluded.updated_unix, mac1_key = excluded.mac1_key",
        {as_signed(r.node_id), r.fqdn, id_, sql::blob(r.certificate), r.observed.to_string(),
         join(r.private_endpoints), sql::blob(r.addresses.v4), sql::blob(r.addresses.v6),
         static_cast<int64_t>(std::time(nullptr)), sql::blob(r.mac1_key)});
    return before;
  }

  void withdraw(uint64_t node_id) override {
    db_.execute("DELETE FROM dc_registrations WHERE node_id = $1 AND dc = $2",
                {as_signed(node_id), id_});
  }

  std::optional<FleetRegistration> find_by_fqdn(const std::string& fqdn) override {
    return first(db_.query(std::string(kSelect) + " WHERE fqdn = $1", {fqdn}));
  }

  std::optional<FleetRegistration> find_by_node(uint64_t node_id) override {
    return first(db_.query(std::string(kSelect) + " WHERE node_id = $1", {as_signed(node_id)}));
  }

  void send(const std::string& to, const std::string& text) override {
    db_.query("SELECT pg_notify($1, $2)", {channel_of(to), id_ + " " + text});
  }

  std::vector<FleetMessage> receive() override {
    std::vector<FleetMessage> out;
    PGconn* conn = db_.handle();
    if (conn == nullptr) return out;
    if (PQconsumeInput(conn) == 0) {
      // The connection broke: the next query reconnects (pg_sql.h); LISTEN again then.
      relisten_ = true;
      return out;
    }
    while (PGnotify* n = PQnotifies(conn)) {
      const std::string payload = n->extra ? n->extra : "";
      PQfreemem(n);
      const size_t space = payload.find(' ');
      if (space == std::string::npos) continue;
      out.push_back({payload.substr(0, space), payload.substr(space + 1)});
    }
    // Again now and then: a connection re-established under a query (pg_sql.h) lost its LISTEN.
    if (relisten_ || std::time(nullptr) - listened_at_ >= kRelistenSeconds) {
      try {
        listen();
      } catch (const std::exception& e) {
        NTM_LOG_WARN("DC: fleet bus: %s", e.what());
      }
    }
    return out;
  }

 private:
  static constexpr const char* kSelect =
      "SELECT node_id, fqdn, dc, certificate, observed, private, ipv4, ipv6, mac1_key FROM "
      "dc_registrations";

  void listen() {
    listened_at_ = std::time(nullptr);
    db_.exec_script("LISTEN " + channel_of(id_));
    relisten_ = false;
  }

  static std::optional<FleetRegistration> first(const std::vector<sql::Row>& rows) {
    if (rows.empty()) return std::nullopt;
    const sql::Row& row = rows[0];
    FleetRegistration r;
    r.node_id = static_cast<uint64_t>(row.int64(0));
    r.fqdn = row.text(1);
    r.dc = row.text(2);
    r.certificate = row.blob(3);
    if (auto e = Endpoint::parse(row.text(4))) r.observed = *e;
    r.private_endpoints = split(row.text(5));
    const auto v4 = row.blob(6), v6 = row.blob(7);
    if (v4.size() == r.addresses.v4.size()) std::copy(v4.begin(), v4.end(), r.addresses.v4.begin());
    if (v6.size() == r.addresses.v6.size()) std::copy(v6.begin(), v6.end(), r.addresses.v6.begin());
    const auto key = row.blob(8);
    if (key.size() == r.mac1_key.size()) std::copy(key.begin(), key.end(), r.mac1_key.begin());
    return r;
  }

  sql::PgDatabase db_;
  std::string id_;
  bool relisten_ = false;
  std::time_t listened_at_ = 0;
  static constexpr std::time_t kRelistenSeconds = 5;
};

}  // namespace

std::unique_ptr<DcBus> make_postgresql_bus(const std::string& url) {
  return std::make_unique<PgBus>(url);
}

}  // namespace ntm::servers

#else

namespace ntm::servers {
std::unique_ptr<DcBus> make_postgresql_bus(const std::string&) { return nullptr; }
}  // namespace ntm::servers

#endif
