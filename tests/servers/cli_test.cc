// The ntm-server command line, run as a child process.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "common/state_dir.h"
#include "store/sqlite_account_store.h"
#include "test_client.h"
#include "test_database.h"

using namespace ntm;
using namespace ntm::servers;

namespace {

struct Run {
  int code = -1;
  std::string output;  // stdout and stderr
};

Run run(const std::string& args) {
  const std::string cmd = std::string(NTM_SERVER_BINARY) + " " + args + " 2>&1";
  Run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

TEST_CASE("cli: accounts add, list, disable and enable round-trip", "[servers][cli]") {
  test::TempDir dir;
  const std::string state = " --state " + (dir.path / "st").string();
  auto add = run("accounts add alice --password s3cret" + state);
  CHECK(add.code == 0);
  CHECK_THAT(add.output, Catch::Contains("added alice"));
  auto token = run("accounts add bob --token" + state);
  CHECK(token.code == 0);
  CHECK_THAT(token.output, Catch::Contains("one-time enrollment token: "));

  auto dup = run("accounts add alice --password x" + state);
  CHECK(dup.code != 0);
  CHECK_THAT(dup.output, Catch::Contains("already exists"));

  CHECK(run("accounts disable alice" + state).code == 0);
  auto list = run("accounts list" + state);
  CHECK(list.code == 0);
  CHECK_THAT(list.output, Catch::Matches("(.|\\n)*alice +[0-9a-f]{16} password +disabled(.|\\n)*"));
  CHECK_THAT(list.output, Catch::Matches("(.|\\n)*bob +[0-9a-f]{16} token +enabled(.|\\n)*"));

  CHECK(run("accounts enable alice" + state).code == 0);
  CHECK_THAT(run("accounts list" + state).output,
             Catch::Matches("(.|\\n)*alice +[0-9a-f]{16} password +enabled(.|\\n)*"));

  auto missing = run("accounts disable carol" + state);
  CHECK(missing.code == 1);
  CHECK_THAT(missing.output, Catch::Contains("no account named 'carol'"));
}

TEST_CASE("cli: accounts passwd changes the password and delete removes the account",
          "[servers][cli]") {
  test::TempDir dir;
  const auto st = dir.path / "st";
  const std::string state = " --state " + st.string();
  REQUIRE(run("accounts add alice --password old-one" + state).code == 0);
  REQUIRE(run("accounts add bob --token" + state).code == 0);
  auto pw = run("accounts passwd alice --password new-one" + state);
  CHECK(pw.code == 0);
  CHECK_THAT(pw.output, Catch::Contains("password of alice changed"));
  CHECK(run("accounts passwd bob --password now-a-password" + state).code == 0);
  {
    servers::SqliteAccountStore store((st / "ntm.db").string());
    const auto key = test::fake_static_key(1);
    CHECK(store.authenticate("alice", "new-one", key, 1).result == servers::AuthResult::ok);
    CHECK(store.authenticate("alice", "old-one", key, 2).result ==
          servers::AuthResult::bad_credentials);
    CHECK(store.authenticate("bob", "now-a-password", key, 3).result == servers::AuthResult::ok);
  }
  const auto file = dir.path / "pw.txt";
  std::ofstream(file) << "from-a-file\n";
  CHECK(run("accounts passwd alice --password-file " + file.string() + state).code == 0);
  {
    servers::SqliteAccountStore store((st / "ntm.db").string());
    CHECK(store.authenticate("alice", "from-a-file", test::fake_static_key(1), 4).result ==
          servers::AuthResult::ok);
  }
  CHECK(run("accounts passwd alice --password-stdin" + state + " < " + file.string()).code == 0);
  CHECK(run("accounts passwd alice" + state).code == 2);  // no password given
  CHECK(run("accounts passwd alice --token" + state).code == 2);
  CHECK(run("accounts passwd carol --password x" + state).code == 1);

  auto del = run("accounts delete alice" + state);
  CHECK(del.code == 0);
  CHECK_THAT(del.output, Catch::Contains("deleted alice"));
  CHECK_THAT(run("accounts list" + state).output, !Catch::Contains("alice"));
  CHECK(run("accounts delete alice" + state).code == 1);
}

TEST_CASE("cli: accounts add takes the password from stdin or a file; argv gets a warning",
          "[servers][cli]") {
  test::TempDir dir;
  const std::string state = " --state " + (dir.path / "st").string();
  const auto file = dir.path / "pw.txt";
  std::ofstream(file) << "from-a-file\n";
  auto from_file = run("accounts add alice --password-file " + file.string() + state);
  CHECK(from_file.code == 0);
  CHECK_THAT(from_file.output, !Catch::Contains("warning"));
  auto from_stdin = run("accounts add bob --password-stdin" + state + " < " + file.string());
  CHECK(from_stdin.code == 0);
  auto from_argv = run("accounts add carol --password visible" + state);
  CHECK(from_argv.code == 0);
  CHECK_THAT(from_argv.output, Catch::Contains("warning: --password puts the password"));
  auto missing = run("accounts add dave --password-file " + (dir.path / "nope").string() + state);
  CHECK(missing.code != 0);
  CHECK_THAT(missing.output, Catch::Contains((dir.path / "nope").string()));
  // The file's password is the account's.
  StateDir st(dir.path / "st");
  SqliteAccountStore store(st.database_path());
  CHECK(store.authenticate("alice", "from-a-file", test::fake_static_key(1), 1).result ==
        AuthResult::ok);
}

TEST_CASE("cli: usage errors exit 2 with a message", "[servers][cli]") {
  test::TempDir dir;
  const std::string state = " --state " + (dir.path / "st").string();
  auto both = run("accounts add alice" + state);
  CHECK(both.code == 2);
  CHECK_THAT(both.output, Catch::Contains("give one of --password-stdin, --password-file"));
  auto unknown = run("frobnicate");
  CHECK(unknown.code == 2);
  CHECK_THAT(unknown.output, Catch::Contains("unknown command 'frobnicate'"));
  auto bad_flag = run("run --listen-dc nowhere" + state);
  CHECK(bad_flag.code == 2);
  CHECK_THAT(bad_flag.output, Catch::Contains("--listen-dc: 'nowhere' is not an address"));
  auto no_state = run("run");
  CHECK(no_state.code == 2);
  CHECK_THAT(no_state.output, Catch::Contains("no state directory"));
}

TEST_CASE("cli: --help after a command prints the usage and exits 0", "[servers][cli]") {
  for (const char* args : {"run --help", "accounts add -h", "--help"}) {
    INFO(args);
    auto help = run(args);
    CHECK(help.code == 0);
    CHECK_THAT(help.output, Catch::Contains("ntm-server run [--config FILE]"));
  }
}

TEST_CASE("cli: a bad config file exits non-zero naming the line", "[servers][cli]") {
  test::TempDir dir;
  const auto conf = dir.path / "bad.conf";
  std::ofstream(conf) << "state = " << (dir.path / "st").string() << "\n"
                      << "# fine so far\n"
                      << "listen-dc = 127.0.0.1:7801\n"
                      << "listen-as 127.0.0.1:7800\n";
  auto r = run("run --config " + conf.string());
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Catch::Contains("configuration error"));
  CHECK_THAT(r.output, Catch::Contains("bad.conf:4: expected 'key = value'"));
  auto missing = run("run --config " + (dir.path / "none.conf").string());
  CHECK(missing.code == 2);
  CHECK_THAT(missing.output, Catch::Contains("cannot read config file"));
}

TEST_CASE("cli: run prints the certificate to pin and stops cleanly on SIGTERM",
          "[servers][cli]") {
  test::TempDir dir;
  const auto conf = dir.path / "ok.conf";
  std::ofstream(conf) << "state = " << (dir.path / "st").string() << "\n"
                      << "listen-as = 127.0.0.1:0\n"
                      << "listen-dc = 127.0.0.1:0\n"
                      << "listen-rs = 127.0.0.1:0\n";
  // Start, wait for the banner, send SIGTERM, expect exit code 0.
  const std::string out = (dir.path / "out.txt").string();
  const std::string cmd = std::string(NTM_SERVER_BINARY) + " run --config " + conf.string() +
                          " >" + out + " 2>&1 & pid=$!; for i in $(seq 50); do grep -q 'RS on' " +
                          out + " && break; sleep 0.1; done; kill -TERM $pid; wait $pid";
  const int status = std::system(cmd.c_str());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK_THAT(text, Catch::Contains("nodes pin the certificate"));
  CHECK_THAT(text, Catch::Contains("as-tls.pem"));
  CHECK_THAT(text, Catch::Contains("DC on 127.0.0.1:"));
}

#ifdef NTM_HAVE_POSTGRESQL
TEST_CASE("cli: accounts live in the database --database names, without a state directory",
          "[servers][cli][postgresql]") {
  test::TestDatabase database(servers::sql::Backend::postgresql);
  const std::string db = " --database " + database.location;
  CHECK(run("accounts add alice --password s3cret" + db).code == 0);
  CHECK(run("accounts disable alice" + db).code == 0);
  auto list = run("accounts list" + db);
  CHECK(list.code == 0);
  CHECK_THAT(list.output, Catch::Matches("(.|\\n)*alice +[0-9a-f]{16} password +disabled(.|\\n)*"));
  // The same accounts through the store, on that database.
  servers::SqlAccountStore store(servers::sql::open(database.location), servers::kTestPasswordCost);
  CHECK(store.find("alice")->disabled);
  // A database that is not there fails with a message, without the password.
  auto bad = run("accounts list --database postgresql://ntm:pw-x@127.0.0.1:1/nothing");
  CHECK(bad.code == 1);
  CHECK_THAT(bad.output, Catch::Contains("cannot connect to postgresql://ntm:***@127.0.0.1:1/nothing"));
  CHECK(bad.output.find("pw-x") == std::string::npos);
}
#endif
