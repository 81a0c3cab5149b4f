/* Two static-peer nodes on loopback exchanging data through a tunnel, using only ntm.h: the
 * smoke test of a libntm built for another architecture (the packaging suite cross-builds libntm
 * for aarch64 and runs this under qemu-user, where no other test program of the tree can start
 * a second node: they exec helper binaries, which qemu-user without binfmt_misc cannot run).
 *
 * ntm_start() runs one node per process, so the program forks before starting any: the child is
 * "bob" (100.64.0.2), listening on virtual TCP port 7000 and echoing what it reads; the parent is
 * "alice" (100.64.0.1), which learns bob's real UDP endpoint through a pipe, connects and checks
 * that ROUNDS x CHUNK bytes come back unchanged. Both processes are bounded by alarm(). Prints
 * "two nodes ok: N bytes echoed" and exits 0 on success. */
#define _POSIX_C_SOURCE 200809L
#include <ntm.h>

#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PORT = 7000, CHUNK = 4096, ROUNDS = 32, TIME_LIMIT_S = 120 };

static int fail(const char *who, const char *what) {
  fprintf(stderr, "two_nodes %s: %s: %s\n", who, what, ntm_last_error());
  return 1;
}

static int start_node(const char *name, const char *private_key, const char *virtual_ipv4,
                      const ntm_static_peer *peer) {
  ntm_options options;
  ntm_options_init(&options, NTM_OPTIONS_VERSION);
  options.name = name;
  options.private_key = private_key;
  options.virtual_ipv4 = virtual_ipv4;
  options.listen_ipv4 = "127.0.0.1:0";
  options.listen_ipv6 = "";
  options.peers = peer;
  options.peer_count = 1;
  return ntm_start(&options);
}

static struct sockaddr_in virtual_address(const char *ip) {
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(PORT);
  inet_pton(AF_INET, ip, &addr.sin_addr);
  return addr;
}

/* bob: listens, tells alice its endpoint, echoes one connection until EOF. */
static int run_bob(int report_fd, const char *bob_key, const char *alice_public) {
  ntm_static_peer alice;
  ntm_static_peer_init(&alice, NTM_STATIC_PEER_VERSION);
  alice.name = "alice.example";
  alice.public_key = alice_public;
  alice.virtual_ipv4 = "100.64.0.1"; /* no endpoint: bob learns it from alice's handshake */
  if (start_node("bob.example", bob_key, "100.64.0.2", &alice) != NTM_OK) return fail("bob", "ntm_start");
  int listener = ntm_socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in any = virtual_address("0.0.0.0");
  if (listener < 0 || ntm_bind(listener, (struct sockaddr *)&any, sizeof any) != 0 ||
      ntm_listen(listener, 1) != 0)
    return fail("bob", "listen");
  ntm_node_info info;
  memset(&info, 0, sizeof info);
  info.version = NTM_NODE_INFO_VERSION;
  if (ntm_get_node_info(&info) != NTM_OK) return fail("bob", "ntm_get_node_info");
  char line[sizeof info.endpoint_ipv4 + 1];
  int n = snprintf(line, sizeof line, "%s\n", info.endpoint_ipv4);
  if (write(report_fd, line, (size_t)n) != n) return fail("bob", "report the endpoint");
  close(report_fd);
  int conn = ntm_accept(listener, NULL, NULL);
  if (conn < 0) return fail("bob", "ntm_accept");
  char buf[CHUNK];
  for (;;) {
    ssize_t got = ntm_recv(conn, buf, sizeof buf, 0);
    if (got == 0) break;
    if (got < 0) return fail("bob", "ntm_recv");
    for (ssize_t sent = 0; sent < got;) {
      ssize_t k = ntm_send(conn, buf + sent, (size_t)(got - sent), 0);
      if (k <= 0) return fail("bob", "ntm_send");
      sent += k;
    }
  }
  ntm_close(conn);
  ntm_close(listener);
  ntm_stop();
  return 0;
}

/* alice: connects to bob through the tunnel and checks the echo, chunk by chunk. */
static int run_alice(const char *bob_endpoint, const char *alice_key, const char *bob_public) {
  ntm_static_peer bob;
  ntm_static_peer_init(&bob, NTM_STATIC_PEER_VERSION);
  bob.name = "bob.example";
  bob.public_key = bob_public;
  bob.endpoint = bob_endpoint;
  bob.virtual_ipv4 = "100.64.0.2";
  if (start_node("alice.example", alice_key, "100.64.0.1", &bob) != NTM_OK)
    return fail("alice", "ntm_start");
  int fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in to = virtual_address("100.64.0.2");
  if (fd < 0 || ntm_connect(fd, (struct sockaddr *)&to, sizeof to) != 0)
    return fail("alice", "ntm_connect to 100.64.0.2:7000");
  char out[CHUNK], in[CHUNK];
  size_t total = 0;
  for (int round = 0; round < ROUNDS; round++) {
    for (size_t i = 0; i < sizeof out; i++) out[i] = (char)((i * 31u + (size_t)round * 7u) & 0xff);
    for (size_t sent = 0; sent < sizeof out;) {
      ssize_t k = ntm_send(fd, out + sent, sizeof out - sent, 0);
      if (k <= 0) return fail("alice", "ntm_send");
      sent += (size_t)k;
    }
    for (size_t got = 0; got < sizeof in;) {
      ssize_t k = ntm_recv(fd, in + got, sizeof in - got, 0);
      if (k <= 0) return fail("alice", "ntm_recv (bob closed early?)");
      got += (size_t)k;
    }
    if (memcmp(out, in, sizeof out) != 0) {
      fprintf(stderr, "two_nodes alice: round %d came back changed\n", round);
      return 1;
    }
    total += sizeof in;
  }
  ntm_shutdown(fd, SHUT_WR);
  ntm_close(fd);
  ntm_stop();
  printf("two nodes ok: %zu bytes echoed (libntm %s)\n", total, ntm_version());
  return 0;
}

int main(void) {
  alarm(TIME_LIMIT_S); /* a hang ends the test (SIGALRM), in both processes */
  char alice_key[NTM_KEY_TEXT_SIZE], alice_public[NTM_KEY_TEXT_SIZE];
  char bob_key[NTM_KEY_TEXT_SIZE], bob_public[NTM_KEY_TEXT_SIZE];
  if (ntm_keypair_generate(alice_key, alice_public) != NTM_OK ||
      ntm_keypair_generate(bob_key, bob_public) != NTM_OK)
    return fail("main", "ntm_keypair_generate");
  int report[2];
  if (pipe(report) != 0) return perror("pipe"), 1;
  fflush(NULL);
  pid_t child = fork();
  if (child < 0) return perror("fork"), 1;
  if (child == 0) {
    close(report[0]);
    alarm(TIME_LIMIT_S);
    _exit(run_bob(report[1], bob_key, alice_public));
  }
  close(report[1]);
  char endpoint[80];
  size_t len = 0;
  while (len + 1 < sizeof endpoint) { /* one line; EOF first means bob failed */
    ssize_t k = read(report[0], endpoint + len, 1);
    if (k <= 0 || endpoint[len] == '\n') break;
    len++;
  }
  endpoint[len] = '\0';
  close(report[0]);
  int rc = len > 0 ? run_alice(endpoint, alice_key, bob_public) : 1;
  if (rc != 0) kill(child, SIGTERM); /* bob may still wait in ntm_accept */
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "two_nodes: bob ended with status 0x%x\n", status);
    rc = 1;
  }
  return rc;
}
